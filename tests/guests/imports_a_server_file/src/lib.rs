//! Reads a file of the database server into a large object with the
//! server-side `lo_import`, which needs a superuser (or pg_read_server_files
//! with lo_compat_privileges); the owner is refused with SQLSTATE 42501.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000064",
    down_revisions: ["934f38a4fc73"],
    message: "Guest imports a file of the server",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_imports_a_server_file";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("SELECT lo_import('/etc/passwd')")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
