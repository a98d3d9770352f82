//! Hides a COMMIT from a guard that skips leading comments without nesting:
//! in `/* a /* b */ c */ COMMIT` the first `*/` closes only the inner comment,
//! so the server runs the COMMIT.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000031",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hides a COMMIT behind nested comments",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commit_behind_nested_comments";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("/* a /* b */ c */ COMMIT")?;
    op.batch("CREATE TABLE canary_after_commit (id integer); DELETE FROM host_history")?;
    op.batch("/* a /* b */ c */ BEGIN")?;
    panic!("escaped the transaction");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()?;
    op.drop_table("canary_after_commit").if_exists().execute()
}
