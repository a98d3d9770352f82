//! Builds an index without blocking writes: `CREATE INDEX CONCURRENTLY`
//! cannot run inside a transaction, so the revision declares it.

use guest_sdk::{Op, Result};

guest_sdk::revision! {
    id: "c00000000001",
    down_revisions: ["934f38a4fc73"],
    message: "Index task titles concurrently",
    transactional: false,
    upgrade: upgrade,
    downgrade: downgrade,
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_index("idx_tasks_title", "tasks", ["title"]).concurrently().execute()
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_index("idx_tasks_title").concurrently().execute()
}
