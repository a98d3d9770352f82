//! Creates its canary table, then asks for 5,000,000 rows. The guest's
//! memory cap stops it once the rows are copied in; the host should not
//! need gigabytes of its own memory to get there.

use core::hint::black_box;

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000018",
    down_revisions: ["934f38a4fc73"],
    message: "Guest reads 5 million rows",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_huge_result";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let rows = op.query(
        "SELECT g, 'some text value' AS t FROM generate_series(1, 5000000) g",
        &[],
    )?;
    black_box(rows);
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
