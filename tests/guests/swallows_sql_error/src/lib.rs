//! Creates its canary table, sends a statement PostgreSQL rejects (42P01),
//! ignores the error and reports success. The transaction is aborted, so the
//! step cannot commit; the operator should learn why (the SQL error the
//! revision swallowed), not only that the host's own next statement failed.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000023",
    down_revisions: ["934f38a4fc73"],
    message: "Guest swallows a SQL error",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_swallows_sql_error";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let _ignored = op.execute("UPDATE no_such_table SET x = 1", &[]);
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
