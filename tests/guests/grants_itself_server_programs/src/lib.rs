//! A database owner reaching for more: grants its own role membership of
//! pg_execute_server_program, which `COPY ... TO PROGRAM` needs. Only a
//! superuser (or, before PostgreSQL 16, a CREATEROLE role) may; the owner is
//! refused with SQLSTATE 42501.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000063",
    down_revisions: ["934f38a4fc73"],
    message: "Guest grants itself pg_execute_server_program",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_grants_itself_server_programs";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("GRANT pg_execute_server_program TO CURRENT_USER")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
