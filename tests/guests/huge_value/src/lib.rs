//! Creates its canary table, then asks for one row of two 300 MB text
//! values. A result cap counted row by row only applies once the whole row
//! is on the host; the host should not need gigabytes to refuse it.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000022",
    down_revisions: ["934f38a4fc73"],
    message: "Guest reads one 600 MB row",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_huge_value";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.query(
        "SELECT repeat('x', 300000000) AS a, repeat('y', 300000000) AS b",
        &[],
    )?;
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
