//! Turns the server's lock_timeout off through dynamic SQL (where no text
//! check sees it), then asks for an exclusive lock on a table that traffic
//! holds: with `--ddl-lock-timeout` enforced only by the setting, it queued
//! behind the traffic, and every later query on the table behind it, for as
//! long as the traffic lasted.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e0000000003a",
    down_revisions: ["934f38a4fc73"],
    message: "Guest turns off lock_timeout",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_turns_off_lock_timeout";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("DO $$ BEGIN EXECUTE 'SET LOCAL lock_' || 'timeout = 0'; END $$")?;
    op.batch("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
