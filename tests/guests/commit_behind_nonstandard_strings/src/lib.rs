//! Turns `standard_conforming_strings` off through dynamic SQL, where no text
//! check sees the setting's name, then hides a COMMIT in `'\''`: with
//! standard strings that opens a long string, without them it is a closed
//! one and the server runs the COMMIT behind it.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000032",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hides a COMMIT behind nonstandard strings",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commit_behind_nonstandard_strings";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch(
        "DO $$ BEGIN EXECUTE 'SET standard_' || 'conforming_strings = off'; END $$; \
         SET escape_string_warning = off",
    )?;
    op.batch(r"SELECT '\''; COMMIT; SELECT '1'")?;
    op.batch("CREATE TABLE canary_after_commit (id integer); DELETE FROM host_history")?;
    op.batch(r"SELECT '\''; BEGIN; SELECT '1'")?;
    panic!("escaped the transaction");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()?;
    op.drop_table("canary_after_commit").if_exists().execute()
}
