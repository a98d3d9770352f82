//! Tries to open a TCP connection to a local PostgreSQL and records the
//! outcome instead of failing: under the host's deny-by-default WASI the
//! attempt should come back as an error, and the upgrade still succeeds.

use guest_sdk::{Column, Op, Result, Type, Value};

guest_sdk::revision! {
    id: "f00000000003",
    down_revisions: ["934f38a4fc73"],
    message: "Tries to open a socket",
    upgrade: upgrade,
    downgrade: downgrade,
}

const TABLE: &str = "wasi_attempts";
const ADDR: &str = "127.0.0.1:5432";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(TABLE)
        .if_not_exists()
        .column(Column::new("what", Type::Text))
        .column(Column::new("outcome", Type::Text))
        .execute()?;

    let what = format!("tcp connect {ADDR}");
    let outcome = match std::net::TcpStream::connect(ADDR) {
        Ok(s) => format!("ok: connected, local {:?}", s.local_addr().ok()),
        Err(e) => format!("err: {e}"),
    };
    eprintln!("wants_network: {what} -> {outcome}");
    op.execute(
        "INSERT INTO wasi_attempts (what, outcome) VALUES ($1, $2)",
        &[Value::Text(what), Value::Text(outcome)],
    )?;
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(TABLE).if_exists().execute()
}
