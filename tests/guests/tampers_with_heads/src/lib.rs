//! Writes to the host's heads table from inside its own step: it deletes the
//! row the host's bookkeeping is about to move and plants an older head. The
//! host's UPDATE then matches nothing, and without a check the run would
//! commit heads that say the database is back at the root revision.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000034",
    down_revisions: ["934f38a4fc73"],
    message: "Guest rewrites the heads table",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_tampers_with_heads";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("DELETE FROM alembic_version; INSERT INTO alembic_version VALUES ('c7bb9a9f0570')")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
