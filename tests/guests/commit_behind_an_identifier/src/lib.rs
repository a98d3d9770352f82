//! Like `escapes_transaction`, but hides its COMMIT and BEGIN from a lexical
//! check: `é$$` is one identifier to PostgreSQL (identifiers take non-ASCII
//! letters and `$`), while a check that only knows ASCII identifiers sees a
//! `$$` dollar quote running to the next `é$$`, and no COMMIT.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000021",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hides a COMMIT behind an identifier",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commit_behind_an_identifier";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("SELECT 1 AS é$$; COMMIT; SELECT 1 AS é$$")?;
    op.batch("CREATE TABLE canary_after_commit (id integer); DELETE FROM host_history")?;
    op.batch("SELECT 1 AS é$$; BEGIN; SELECT 1 AS é$$")?;
    panic!("escaped the transaction");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()?;
    op.drop_table("canary_after_commit").if_exists().execute()
}
