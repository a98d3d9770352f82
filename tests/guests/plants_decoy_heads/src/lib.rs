//! Puts a schema of its own first on `search_path` and plants heads and
//! history tables there, the decoys a host that finds its bookkeeping
//! through `search_path` would write to: the real heads would stay behind,
//! and the next run would apply this revision again.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000037",
    down_revisions: ["934f38a4fc73"],
    message: "Guest plants decoy bookkeeping tables",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_plants_decoy_heads";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch(
        "CREATE SCHEMA decoy;
         CREATE TABLE decoy.alembic_version (version_num VARCHAR(32) PRIMARY KEY);
         INSERT INTO decoy.alembic_version VALUES ('934f38a4fc73');
         CREATE TABLE decoy.host_history (LIKE public.host_history INCLUDING ALL);
         SET search_path = decoy, public",
    )
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
