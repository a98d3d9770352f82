//! Releases every advisory lock of its session through dynamic SQL, where the
//! statement guard's text check cannot see the function's name, then sleeps
//! so that a second run can try to come in. With the run lock held on the
//! guest's own connection, the second run took it and applied this revision
//! a second time.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000036",
    down_revisions: ["934f38a4fc73"],
    message: "Guest releases the run lock",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_releases_the_run_lock";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("DO $$ BEGIN EXECUTE 'SELECT pg_advisory_' || 'unlock_all()'; END $$")?;
    op.batch("SELECT pg_sleep(4) /* releases_the_run_lock */")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
