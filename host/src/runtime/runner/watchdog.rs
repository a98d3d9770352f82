//! The lock-wait watchdog. `--ddl-lock-timeout` (or a revision's
//! `lock_timeout` in `host.toml`) is set as the server's `lock_timeout` in the
//! revision's own session, where its SQL can turn it off again (`SET LOCAL
//! lock_timeout = 0`, through dynamic SQL if need be) and queue the traffic
//! behind an exclusive lock for as long as it likes. So the host also watches
//! from the run lock's connection, which the guest never reaches, and cancels
//! a statement of the revision that has waited for a lock past the limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::Client;

/// Cancels the statement backend `pid` runs if it has waited for a lock
/// longer than `limit` (plus a margin that lets the server's own
/// `lock_timeout`, with its exact error, act first); sets `fired` when it
/// did. Runs until dropped, or until the watching connection fails (the
/// step then finds that connection closed before it commits).
pub(super) async fn watch(lock: &Client, pid: i32, limit: Duration, fired: &AtomicBool) {
    let margin = limit / 10 + Duration::from_millis(50);
    let every = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let waiting = "SELECT FROM pg_catalog.pg_locks l
                 WHERE l.pid OPERATOR(pg_catalog.=) $1 AND NOT l.granted
                   AND l.waitstart OPERATOR(pg_catalog.<) (pg_catalog.clock_timestamp()
                       OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $2::pg_catalog.float8))
                 LIMIT 1";
    let cancel = format!("SELECT pg_catalog.pg_cancel_backend($1) WHERE EXISTS ({waiting})");
    let waited = (limit + margin).as_secs_f64();
    loop {
        tokio::time::sleep(every).await;
        match lock.query_opt(waiting, &[&pid, &waited]).await {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(_) => return,
        }
        // Set before the cancel lands: the step may see the cancelled statement
        // fail before this future runs again.
        fired.store(true, Ordering::SeqCst);
        match lock.query_opt(&cancel, &[&pid, &waited]).await {
            Ok(Some(row)) if row.get::<_, bool>(0) => {}
            // The lock was granted in between: nothing was cancelled.
            Ok(_) => fired.store(false, Ordering::SeqCst),
            Err(_) => return,
        }
    }
}
