//! Creates its canary table, then panics with a message of its own; with
//! `panic = "abort"` that is a WebAssembly trap, and the step must roll back.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000011",
    down_revisions: ["934f38a4fc73"],
    message: "Guest panics with a message",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_panics_with_message";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    panic!("custom message");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
