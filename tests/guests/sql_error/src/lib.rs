//! Creates its canary table, then a table that already exists: PostgreSQL's
//! 42P07 must reach the operator and the step must roll back.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000002",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hits a SQL error",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_sql_error";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.create_table("projects")
        .column(Column::new("id", Type::Integer))
        .execute()
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
