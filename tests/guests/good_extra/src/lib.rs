//! A well-behaved revision on top of the TaskMan-v2 head.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000006",
    down_revisions: ["934f38a4fc73"],
    message: "Add a notes table",
    upgrade: upgrade,
    downgrade: downgrade,
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table("notes")
        .column(Column::new("id", Type::BigSerial).primary_key())
        .column(Column::new("body", Type::Text).not_null())
        .execute()
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table("notes").execute()
}
