//! Commits work outside its step's transaction: dblink opens a second
//! connection to the same database and creates a table there, which survives
//! when the step is rolled back. Creating the extension needs a superuser;
//! where an administrator installed it, dblink still refuses a non-superuser
//! a connection without a password (SQLSTATE 2F003).

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000062",
    down_revisions: ["934f38a4fc73"],
    message: "Guest commits through dblink",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commits_through_dblink";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("CREATE EXTENSION IF NOT EXISTS dblink")?;
    op.batch(
        "SELECT dblink_exec('dbname=' || current_database(), 'CREATE TABLE escaped_through_dblink (id integer)')",
    )?;
    Err(guest_sdk::Error::msg("fails after the work on the other connection committed"))
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
