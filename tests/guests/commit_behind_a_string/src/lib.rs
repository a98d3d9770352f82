//! Like `escapes_transaction`, but hides its COMMIT and BEGIN from a lexical
//! check: in `name'\'` the quote follows an identifier ending in `e`, which
//! is not an E'' string to PostgreSQL, so with standard_conforming_strings
//! the backslash is literal and the string ends right there. A check that
//! reads it as E'\'...' sees one long string and no COMMIT.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000020",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hides a COMMIT behind a string",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commit_behind_a_string";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch(r#"SELECT name'\'; COMMIT; SELECT '1'"#)?;
    op.batch("CREATE TABLE canary_after_commit (id integer); DELETE FROM host_history")?;
    op.batch(r#"SELECT name'\'; BEGIN; SELECT '1'"#)?;
    panic!("escaped the transaction");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()?;
    op.drop_table("canary_after_commit").if_exists().execute()
}
