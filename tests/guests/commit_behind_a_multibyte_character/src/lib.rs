//! Switches the session's client encoding to SJIS through dynamic SQL, then
//! sends a string whose UTF-8 bytes SJIS reads differently: in `E'ß\'`
//! (bytes C3 9F 5C 27) SJIS takes 9F 5C as one character, so the backslash
//! that escapes the quote for the statement guard (which reads UTF-8) is gone
//! for the server, the quote closes the string, and the `COMMIT` the guard
//! saw inside it runs.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e0000000003b",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hides a COMMIT behind a multibyte character",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commit_behind_a_multibyte_character";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("DO $$ BEGIN EXECUTE 'SET client_' || 'encoding = ' || quote_literal('SJIS'); END $$")?;
    op.batch("SELECT E'ß\\'; COMMIT; SELECT 1 --'")?;
    op.batch("SELECT pg_sleep(0)")
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
