//! Reads a file of the database server with `pg_read_file` and keeps it in
//! its canary table, where anyone who can read the table finds it. Only a
//! superuser or a member of pg_read_server_files may; any other role is
//! refused with SQLSTATE 42501.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000061",
    down_revisions: ["934f38a4fc73"],
    message: "Guest reads a file of the server",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_reads_server_files";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("loot", Type::Text))
        .execute()?;
    op.batch("INSERT INTO canary_reads_server_files SELECT pg_read_file('/etc/passwd')")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
