//! Data-migration benchmark: creates `bulk_rows`, inserts ROWS rows through
//! the SDK's bulk path (`execute_many`, pipelined by the host) and then
//! updates them in batches of UPDATE_BATCH ids. bench/data/native does the
//! same work with tokio-postgres; bench/run compares the two.

use guest_sdk::{Op, Result, Value};

guest_sdk::revision! {
    id: "d00000000001",
    down_revisions: [],
    message: "Bulk insert and batched update of 1,000,000 rows",
    upgrade: upgrade,
    downgrade: downgrade,
}

const ROWS: i64 = 1_000_000;
/// Rows handed to the host per `execute_many` call.
const INSERT_CHUNK: i64 = 10_000;
/// Ids per UPDATE statement.
const UPDATE_BATCH: i64 = 10_000;

fn upgrade(op: &mut Op) -> Result<()> {
    op.batch(
        "CREATE TABLE bulk_rows (id bigint PRIMARY KEY, name text NOT NULL, qty bigint NOT NULL);",
    )?;
    let mut start = 0;
    while start < ROWS {
        let end = (start + INSERT_CHUNK).min(ROWS);
        let rows: Vec<Vec<Value>> = (start..end)
            .map(|i| {
                vec![
                    Value::Int8(i),
                    Value::Text(format!("row {i}")),
                    Value::Int8(i % 97),
                ]
            })
            .collect();
        op.execute_many(
            "INSERT INTO bulk_rows (id, name, qty) VALUES ($1, $2, $3)",
            &rows,
        )?;
        start = end;
    }
    let batches: Vec<Vec<Value>> = (0..(ROWS + UPDATE_BATCH - 1) / UPDATE_BATCH)
        .map(|b| {
            vec![
                Value::Int8(b * UPDATE_BATCH),
                Value::Int8((b + 1) * UPDATE_BATCH),
            ]
        })
        .collect();
    op.execute_many(
        "UPDATE bulk_rows SET qty = qty + 1, name = name || '!' WHERE id >= $1 AND id < $2",
        &batches,
    )?;
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.batch("DROP TABLE bulk_rows;")
}
