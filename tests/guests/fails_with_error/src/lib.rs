//! Creates its canary table, then returns an error: the step must roll back.

use guest_sdk::{Column, Error, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000001",
    down_revisions: ["934f38a4fc73"],
    message: "Guest returns an error",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_fails_with_error";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    Err(Error::msg(
        "deliberate failure: fails_with_error always refuses to upgrade",
    ))
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
