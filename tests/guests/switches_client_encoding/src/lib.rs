//! Creates a table with a non-ASCII name, then switches the session's
//! `client_encoding` to LATIN1: the host's own catalog read after it then
//! received bytes that are not UTF-8, and the host panicked.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000039",
    down_revisions: ["934f38a4fc73"],
    message: "Guest switches the client encoding",
    upgrade: upgrade,
    downgrade: downgrade,
}

const TABLE: &str = "café_encoding";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(TABLE)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("SET client_encoding = 'LATIN1'")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(TABLE).if_exists().execute()
}
