//! Outside a transaction, `DISCARD ALL` releases every advisory lock of the
//! session (and resets its settings and prepared statements); then the
//! revision sleeps so that a second run can try to come in. With the run
//! lock on the guest's own connection, the second run took it and applied
//! this revision again.

use guest_sdk::{Op, Result};

guest_sdk::revision! {
    id: "c00000000003",
    down_revisions: ["934f38a4fc73"],
    message: "Discard the session outside a transaction",
    transactional: false,
    upgrade: upgrade,
    downgrade: downgrade,
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.batch("DISCARD ALL")?;
    op.batch("CREATE TABLE discarded_session (id int)")?;
    op.batch("SELECT pg_sleep(3) /* discards_its_session */")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.batch("DROP TABLE IF EXISTS discarded_session")
}
