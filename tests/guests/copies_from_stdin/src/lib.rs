//! Starts COPY's sub-protocol on the host's connection: `COPY … FROM STDIN`
//! makes the server wait for data on it (`TO STDOUT` streams rows the query
//! path does not expect), and the client library closed the connection.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e0000000003c",
    down_revisions: ["934f38a4fc73"],
    message: "Guest starts COPY on the host's connection",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_copies_from_stdin";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("INSERT INTO canary_copies_from_stdin VALUES (1)")?;
    op.batch("COPY canary_copies_from_stdin FROM STDIN")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
