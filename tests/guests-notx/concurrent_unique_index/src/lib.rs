//! A concurrent unique index that fails when the data has duplicates, leaving
//! PostgreSQL's INVALID index behind: the case a non-transactional revision
//! must report instead of half-hiding.

use guest_sdk::{Op, Result};

guest_sdk::revision! {
    id: "c00000000002",
    down_revisions: ["934f38a4fc73"],
    message: "Make project owners unique, concurrently",
    transactional: false,
    upgrade: upgrade,
    downgrade: downgrade,
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_index("idx_projects_owner_unique", "projects", ["owner"])
        .unique()
        .concurrently()
        .execute()
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_index("idx_projects_owner_unique").concurrently().execute()
}
