//! Creates its canary table, COMMITs the host's transaction from inside the
//! revision, creates a second table and empties the history outside it,
//! opens a new transaction and then panics. The step is not all-or-nothing
//! unless the host refuses or detects transaction control from a guest.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000019",
    down_revisions: ["934f38a4fc73"],
    message: "Guest commits the host's transaction",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_escapes_transaction";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("COMMIT")?;
    op.batch("CREATE TABLE canary_after_commit (id integer); DELETE FROM host_history")?;
    op.batch("BEGIN")?;
    panic!("escaped the transaction");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()?;
    op.drop_table("canary_after_commit").if_exists().execute()
}
