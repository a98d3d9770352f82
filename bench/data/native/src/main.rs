//! The work of bench/data/guest done natively: in one transaction, create
//! `bulk_rows`, insert ROWS rows with a prepared statement pipelined in chunks
//! (tokio-postgres pipelines concurrent queries on one connection), then
//! update them in batches of UPDATE_BATCH ids. Usage: bench-data-native URL

use futures_util::future::try_join_all;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

const ROWS: i64 = 1_000_000;
const INSERT_CHUNK: i64 = 10_000;
const UPDATE_BATCH: i64 = 10_000;
/// Queries in flight at once, as the host's execute-many does.
const PIPELINE: usize = 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: bench-data-native URL")?;
    let (mut client, conn) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("connection: {e}");
        }
    });
    let tx = client.transaction().await?;
    tx.batch_execute(
        "CREATE TABLE bulk_rows (id bigint PRIMARY KEY, name text NOT NULL, qty bigint NOT NULL);",
    )
    .await?;
    let insert = tx
        .prepare("INSERT INTO bulk_rows (id, name, qty) VALUES ($1, $2, $3)")
        .await?;
    let mut start = 0;
    while start < ROWS {
        let end = (start + INSERT_CHUNK).min(ROWS);
        let rows: Vec<(i64, String, i64)> = (start..end)
            .map(|i| (i, format!("row {i}"), i % 97))
            .collect();
        for chunk in rows.chunks(PIPELINE) {
            try_join_all(chunk.iter().map(|(id, name, qty)| {
                let params: [&(dyn ToSql + Sync); 3] = [id, name, qty];
                let insert = &insert;
                let tx = &tx;
                async move { tx.execute(insert, &params).await }
            }))
            .await?;
        }
        start = end;
    }
    let update = tx
        .prepare(
            "UPDATE bulk_rows SET qty = qty + 1, name = name || '!' WHERE id >= $1 AND id < $2",
        )
        .await?;
    let bounds: Vec<(i64, i64)> = (0..(ROWS + UPDATE_BATCH - 1) / UPDATE_BATCH)
        .map(|b| (b * UPDATE_BATCH, (b + 1) * UPDATE_BATCH))
        .collect();
    let updated: u64 = try_join_all(bounds.iter().map(|(lo, hi)| {
        let update = &update;
        let tx = &tx;
        async move { tx.execute(update, &[lo, hi]).await }
    }))
    .await?
    .iter()
    .sum();
    tx.commit().await?;
    println!("inserted {ROWS} rows, updated {updated}");
    Ok(())
}
