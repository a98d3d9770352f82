//! Hides a COMMIT from a guard that ends `--` comments only at a line feed:
//! PostgreSQL also ends them at a carriage return, so after `-- x\r` the
//! server runs the COMMIT.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000030",
    down_revisions: ["934f38a4fc73"],
    message: "Guest hides a COMMIT behind a carriage return",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_commit_behind_a_carriage_return";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch("SELECT 1 -- x\r; COMMIT; --\n")?;
    op.batch("CREATE TABLE canary_after_commit (id integer); DELETE FROM host_history")?;
    op.batch("SELECT 1 -- x\r; BEGIN; --\n")?;
    panic!("escaped the transaction");
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()?;
    op.drop_table("canary_after_commit").if_exists().execute()
}
