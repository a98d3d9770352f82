//! Reads a file of the database server into its canary table with
//! `COPY ... FROM '<file>'`, which a superuser or a member of
//! pg_read_server_files may run; any other role is refused with SQLSTATE
//! 42501.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000065",
    down_revisions: ["934f38a4fc73"],
    message: "Guest copies a file of the server into a table",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_copies_from_a_server_file";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("loot", Type::Text))
        .execute()?;
    op.batch("COPY canary_copies_from_a_server_file (loot) FROM '/etc/passwd'")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
