//! Runs a shell command on the database server: `COPY ... TO PROGRAM` as the
//! migrating role. A superuser (or a member of pg_execute_server_program)
//! runs `touch` as the server's OS user; any other role is refused with
//! SQLSTATE 42501. Guests have no file system of their own, so the file it
//! makes is named here and removed by the test before the run.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000060",
    down_revisions: ["934f38a4fc73"],
    message: "Guest runs a shell command on the server",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_copies_to_program";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("COPY (SELECT 1) TO PROGRAM 'touch /tmp/host-e00000000060-ran-a-program'")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
