//! Creates its canary table, then makes 1,000,000 trivial SQL calls. Each is
//! cheap in fuel, so only the wall-clock timeout can bound it: stopped, the
//! step must roll back; finished within the limits, it applies.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000010",
    down_revisions: ["934f38a4fc73"],
    message: "Guest makes a million SQL calls",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_million_calls";
const CALLS: u32 = 1_000_000;

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    for _ in 0..CALLS {
        op.execute("SELECT 1", &[])?;
    }
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
