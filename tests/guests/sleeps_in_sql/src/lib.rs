//! Creates its canary table, then blocks in one statement for 30 s: fuel
//! does not count time spent waiting on PostgreSQL, so only the wall-clock
//! `--timeout` can stop it, and stopping it must not wait for the statement.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000017",
    down_revisions: ["934f38a4fc73"],
    message: "Guest sleeps in SQL",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_sleeps_in_sql";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.execute("SELECT pg_sleep(30)", &[])?;
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
