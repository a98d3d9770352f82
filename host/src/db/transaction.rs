//! Ending a step's transaction on failure, and knowing what that ended. A
//! guest that got past the statement guard may have committed the host's
//! transaction and opened another; a plain ROLLBACK would then undo only the
//! second, and "rolled back" would be a claim nobody checked.

use std::time::Duration;

use tokio_postgres::Client;

/// What a checked rollback found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolledBack {
    /// The transaction that was rolled back is the one the step began (or the
    /// connection is gone, and the server aborts an open transaction then).
    Own,
    /// The step's transaction had been ended before: committed, or replaced
    /// by another; its work may be in the database.
    Escaped,
}

/// Rolls back the open transaction; if the connection is gone, the server
/// already did. Bounded: behind a silent network the ROLLBACK would wait
/// forever, and the process exiting closes the connection, which rolls back.
pub async fn rollback(client: &Client) {
    let _ = tokio::time::timeout(Duration::from_secs(10), client.batch_execute("ROLLBACK")).await;
}

/// Rolls back the open transaction and checks that it was `txid`, the one
/// read when the step began: the current transaction's id before the
/// ROLLBACK (unreadable in an aborted transaction), and `txid`'s status
/// after it, which must not be "committed".
///
/// One sequence stays out of its sight: the guest rolled back the step's
/// transaction itself, committed work outside any, then opened a transaction
/// and made it fail. Only the statement guard stands against that (it refuses
/// every statement that ends or opens a transaction, as the server reads it).
pub async fn rollback_checked(client: &Client, txid: &str) -> RolledBack {
    let txid: String = txid.chars().filter(char::is_ascii_digit).collect();
    let current = first_value(client, "SELECT pg_catalog.txid_current()::pg_catalog.text").await;
    rollback(client).await;
    let status = first_value(
        client,
        &format!("SELECT pg_catalog.txid_status({txid})::pg_catalog.text"),
    )
    .await;
    let replaced = current.is_some_and(|c| c != txid);
    if replaced || status.as_deref() == Some("committed") {
        RolledBack::Escaped
    } else {
        RolledBack::Own
    }
}

/// The first column of the first row `query` returns, if it succeeds.
async fn first_value(client: &Client, query: &str) -> Option<String> {
    let msgs = client.simple_query(query).await.ok()?;
    msgs.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    })
}
