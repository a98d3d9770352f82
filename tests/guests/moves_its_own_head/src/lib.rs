//! Moves the heads table to its own id before the host's bookkeeping does:
//! the host's `UPDATE … WHERE version_num = <parent>` then matches no row,
//! which is exactly what a second run that got past the run lock would see.
//! The heads end up right, but a bookkeeping write that changed nothing must
//! not pass as a recorded step.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000035",
    down_revisions: ["934f38a4fc73"],
    message: "Guest moves its own head",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_moves_its_own_head";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("UPDATE alembic_version SET version_num = 'e00000000035'")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
