//! Creates its canary table, then sends one 100 MiB statement: `SELECT 1`
//! padded with spaces. Under a memory cap below that the cap must stop it;
//! otherwise PostgreSQL gets it, and either way the host must stay up and
//! the result must be all or nothing.

use core::hint::black_box;

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000009",
    down_revisions: ["934f38a4fc73"],
    message: "Guest sends a 100 MiB statement",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_huge_sql";
const SIZE: usize = 100 << 20;

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let mut statement = String::with_capacity(SIZE);
    statement.push_str("SELECT 1");
    while statement.len() < SIZE {
        statement.push(black_box(' '));
    }
    op.execute(black_box(&statement), &[])?;
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
