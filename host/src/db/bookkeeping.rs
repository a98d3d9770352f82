//! The host's bookkeeping in the database: Alembic's heads table, the
//! history table beside it, and the advisory lock that serialises runs.

use super::error::describe;
use crate::plan::Direction;
use crate::sql::quote::{ident, literal};
use std::time::{Duration, Instant};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

/// The start of the error raised when the heads table does not hold what a
/// step starts from (see [`Tables::heads_before_check_sql`]).
pub const HEADS_MOVED: &str = "host: the heads table does not hold the heads this step started from, so another writer (the revision itself, or a run that did not wait for the lock) changed it";

/// The start of the error raised when the heads table does not hold what a
/// step leaves (see [`Tables::heads_check_sql`]).
pub const HEADS_CHANGED: &str = "host: the heads table does not hold what this step leaves, so something in the step (the revision itself?) wrote to it";

/// Names of the bookkeeping tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Alembic's heads table, one row per head.
    pub version: String,
    /// The audit trail, one row per applied or reverted revision.
    pub history: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            version: "alembic_version".into(),
            history: "host_history".into(),
        }
    }
}

/// Why bookkeeping failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A bookkeeping statement failed.
    #[error("{what} failed: {}", describe(.source))]
    Sql {
        /// What the host was doing.
        what: &'static str,
        /// The error.
        source: tokio_postgres::Error,
    },
    /// Another migrator held the lock too long.
    #[error(
        "another migration run holds the lock on this database ({holder}) and did not finish within {waited:?}; wait for it, or raise --lock-timeout"
    )]
    LockTimeout {
        /// Who holds it (pid, application, user).
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
}

/// Wraps a failed bookkeeping statement with what the host was doing.
fn sql(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Sql { what, source }
}

/// A revision that ran outside a transaction and did not finish.
#[derive(Debug, Clone)]
pub struct Unfinished {
    /// History row id.
    pub id: i64,
    /// Revision id.
    pub revision: String,
    /// Upgrade or downgrade.
    pub direction: String,
    /// When it started, UTC.
    pub started_at: String,
    /// `running` (the host died) or `failed: <error>`.
    pub outcome: String,
}

/// Indexes PostgreSQL left INVALID (a failed `CREATE INDEX CONCURRENTLY`).
pub async fn invalid_indexes(client: &Client) -> Vec<String> {
    let q = "SELECT n.nspname || '.' || c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid ORDER BY 1";
    match client.query(q, &[]).await {
        Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
        Err(_) => Vec::new(),
    }
}

/// An applied or reverted revision, as the history table records it.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    /// Revision id.
    pub revision: String,
    /// Upgrade or downgrade.
    pub direction: String,
    /// blake3 of the component that ran.
    pub component_blake3: Option<String>,
    /// blake3 of the SQL transcript.
    pub transcript_blake3: Option<String>,
    /// Schema fingerprint after the step, when the run recorded it.
    pub schema_fingerprint: Option<String>,
    /// When, in UTC, ISO 8601.
    pub applied_at: String,
    /// How long, in milliseconds.
    pub duration_ms: f64,
    /// Host version that did it.
    pub host_version: String,
}

/// What one step leaves in the bookkeeping tables.
#[derive(Debug, Clone)]
pub struct StepRecord<'a> {
    /// Revision id.
    pub revision: &'a str,
    /// Which way.
    pub direction: Direction,
    /// Heads table rows before the step.
    pub heads_before: &'a [String],
    /// Heads table rows after the step.
    pub heads_after: &'a [String],
    /// blake3 of the component.
    pub component_blake3: &'a str,
    /// blake3 of the SQL transcript.
    pub transcript_blake3: &'a str,
    /// Schema fingerprint after the step, when it was read.
    pub schema_fingerprint: Option<&'a str>,
    /// Wall time of the guest call.
    pub duration: Duration,
}

impl Tables {
    /// Reads the heads table; a missing table means the database is at base.
    pub async fn read_heads(&self, client: &Client) -> Result<Vec<String>, StoreError> {
        let q = format!("SELECT version_num FROM {}", ident(&self.version));
        match client.simple_query(&q).await {
            Ok(msgs) => Ok(msgs
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .collect()),
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(Vec::new()),
            Err(e) => Err(StoreError::Sql {
                what: "reading the heads table",
                source: e,
            }),
        }
    }

    /// The DDL that creates both tables if they are missing.
    pub fn ensure_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {v} (version_num VARCHAR(32) NOT NULL, CONSTRAINT {vpk} PRIMARY KEY (version_num));
CREATE TABLE IF NOT EXISTS {h} (
    id BIGSERIAL PRIMARY KEY,
    revision VARCHAR(32) NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('upgrade', 'downgrade', 'stamp')),
    component_blake3 TEXT,
    transcript_blake3 TEXT,
    schema_fingerprint TEXT,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    duration_ms DOUBLE PRECISION NOT NULL,
    host_version TEXT NOT NULL);
ALTER TABLE {h} ADD COLUMN IF NOT EXISTS schema_fingerprint TEXT;
ALTER TABLE {h} ADD COLUMN IF NOT EXISTS outcome TEXT;
",
            v = ident(&self.version),
            vpk = ident(&format!("{}_pkc", self.version)),
            h = ident(&self.history),
        )
    }

    /// Creates both tables if they are missing.
    pub async fn ensure(&self, client: &Client) -> Result<(), StoreError> {
        client
            .batch_execute(&self.ensure_sql())
            .await
            .map_err(sql("creating the bookkeeping tables"))
    }

    /// The statements that record one step: heads table rows and a history
    /// row. Sent in the step's own transaction.
    pub fn step_sql(&self, rec: &StepRecord<'_>) -> String {
        let mut out = self.heads_sql(rec.heads_before, rec.heads_after);
        out.push_str(&format!(
            "INSERT INTO {} (revision, direction, component_blake3, transcript_blake3, schema_fingerprint, duration_ms, host_version) VALUES ({}, {}, {}, {}, {}, {}, {});\n",
            ident(&self.history),
            literal(rec.revision),
            literal(&rec.direction.to_string()),
            literal(rec.component_blake3),
            literal(rec.transcript_blake3),
            rec.schema_fingerprint.map(literal).unwrap_or_else(|| "NULL".into()),
            rec.duration.as_secs_f64() * 1000.0,
            literal(crate::VERSION),
        ));
        out
    }

    /// A statement that fails unless the heads table holds exactly `heads`,
    /// the ones a step starts from. It locks the rows it reads, so a
    /// concurrent writer's change is waited for and then seen: sent before a
    /// step's own heads statements, it stops an UPDATE that would match
    /// nothing (a run that did not hold the lock, a revision that moved the
    /// heads itself) from going unnoticed.
    pub fn heads_before_check_sql(&self, heads: &[String]) -> String {
        self.check_heads_sql(heads, " FOR UPDATE", HEADS_MOVED, "the step started from")
    }

    /// A statement that fails unless the heads table holds exactly `heads`.
    ///
    /// Sent after a step's own heads statements, in its transaction: a
    /// revision that wrote to the heads table itself (deleted the row the
    /// UPDATE moves, say) would otherwise leave heads that match nothing
    /// that ran, and a later run would apply the same revisions again.
    pub fn heads_check_sql(&self, heads: &[String]) -> String {
        self.check_heads_sql(heads, "", HEADS_CHANGED, "the step leaves")
    }

    fn check_heads_sql(&self, heads: &[String], locking: &str, error: &str, what: &str) -> String {
        let mut sorted: Vec<&String> = heads.iter().collect();
        sorted.sort();
        let expected = sorted
            .iter()
            .map(|h| literal(h))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "DO $host$ DECLARE found pg_catalog.text[]; BEGIN \
             SELECT COALESCE(pg_catalog.array_agg(version_num::pg_catalog.text ORDER BY version_num COLLATE pg_catalog.\"C\"), ARRAY[]::pg_catalog.text[]) INTO found FROM (SELECT version_num FROM {v}{locking}) AS heads; \
             IF NOT (found OPERATOR(pg_catalog.=) ARRAY[{expected}]::pg_catalog.text[]) THEN \
             RAISE EXCEPTION '{error}: it holds % where {what} %', found, ARRAY[{expected}]::pg_catalog.text[]; \
             END IF; END $host$;\n",
            v = ident(&self.version),
        )
    }

    /// The statements that move the heads table from `before` to `after`,
    /// with Alembic's semantics: UPDATE for a linear step, INSERT at a
    /// branch, DELETE at a merge.
    pub fn heads_sql(&self, before: &[String], after: &[String]) -> String {
        let removed: Vec<&String> = before.iter().filter(|h| !after.contains(h)).collect();
        let added: Vec<&String> = after.iter().filter(|h| !before.contains(h)).collect();
        let v = ident(&self.version);
        let mut out = String::new();
        if let ([old], [new]) = (removed.as_slice(), added.as_slice()) {
            out.push_str(&format!(
                "UPDATE {v} SET version_num = {} WHERE version_num = {};\n",
                literal(new),
                literal(old)
            ));
        } else {
            for old in &removed {
                out.push_str(&format!(
                    "DELETE FROM {v} WHERE version_num = {};\n",
                    literal(old)
                ));
            }
            for new in &added {
                out.push_str(&format!(
                    "INSERT INTO {v} (version_num) VALUES ({});\n",
                    literal(new)
                ));
            }
        }
        out
    }

    /// The statements of `stamp`: the heads table set to `after` (emptied
    /// first with `purge`), and a history row per new head.
    pub fn stamp_sql(&self, before: &[String], after: &[String], purge: bool) -> String {
        let mut out = if purge {
            format!(
                "DELETE FROM {};\n{}",
                ident(&self.version),
                self.heads_sql(&[], after)
            )
        } else {
            self.heads_sql(before, after)
        };
        for head in after.iter().filter(|h| purge || !before.contains(h)) {
            out.push_str(&format!(
                "INSERT INTO {} (revision, direction, duration_ms, host_version) VALUES ({}, 'stamp', 0, {});\n",
                ident(&self.history),
                literal(head),
                literal(crate::VERSION),
            ));
        }
        out
    }

    /// Records that a revision outside a transaction is starting (committed
    /// at once, so a crash leaves it visible); returns the history row's id.
    pub async fn start_untransacted(
        &self,
        client: &Client,
        revision: &str,
        direction: Direction,
        component_blake3: &str,
    ) -> Result<i64, StoreError> {
        let q = format!(
            "INSERT INTO {} (revision, direction, component_blake3, duration_ms, host_version, outcome) VALUES ($1, $2, $3, 0, $4, 'running') RETURNING id",
            ident(&self.history)
        );
        let row = client
            .query_one(
                &q,
                &[
                    &revision,
                    &direction.to_string(),
                    &component_blake3,
                    &crate::VERSION,
                ],
            )
            .await
            .map_err(sql(
                "recording the start of a revision outside a transaction",
            ))?;
        Ok(row.get(0))
    }

    /// The statements that complete a revision that ran outside a transaction.
    pub fn finish_untransacted_sql(&self, id: i64, rec: &StepRecord<'_>) -> String {
        let mut out = self.heads_sql(rec.heads_before, rec.heads_after);
        out.push_str(&format!(
            "UPDATE {} SET outcome = NULL, transcript_blake3 = {}, schema_fingerprint = {}, duration_ms = {} WHERE id = {id};\n",
            ident(&self.history),
            literal(rec.transcript_blake3),
            rec.schema_fingerprint.map(literal).unwrap_or_else(|| "NULL".into()),
            rec.duration.as_secs_f64() * 1000.0,
        ));
        out
    }

    /// Marks a history row as failed, with the error.
    pub async fn fail_untransacted(
        &self,
        client: &Client,
        id: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let q = format!(
            "UPDATE {} SET outcome = $1 WHERE id = $2",
            ident(&self.history)
        );
        client
            .execute(&q, &[&format!("failed: {error}"), &id])
            .await
            .map_err(sql("recording a failed revision"))?;
        Ok(())
    }

    /// Revisions that ran outside a transaction and did not finish.
    pub async fn unfinished(&self, client: &Client) -> Result<Vec<Unfinished>, StoreError> {
        let q = format!(
            "SELECT id, revision, direction, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), outcome
             FROM {} WHERE outcome = 'running' OR outcome LIKE 'failed:%' ORDER BY id",
            ident(&self.history)
        );
        let rows = match client.query(&q, &[]).await {
            Ok(r) => r,
            Err(e) if matches!(e.code(), Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(sql("reading unfinished revisions")(e)),
        };
        Ok(rows
            .iter()
            .map(|r| Unfinished {
                id: r.get(0),
                revision: r.get(1),
                direction: r.get(2),
                started_at: r.get(3),
                outcome: r.get(4),
            })
            .collect())
    }

    /// Marks an unfinished row resolved by the user.
    pub fn resolve_sql(&self, id: i64, applied: bool) -> String {
        let how = if applied {
            "resolved as applied"
        } else {
            "resolved as reverted"
        };
        format!(
            "UPDATE {} SET outcome = {} || ' (was: ' || coalesce(outcome, '') || ')' WHERE id = {id};\n",
            ident(&self.history),
            literal(how)
        )
    }

    /// The history table, oldest first; empty when it does not exist yet.
    pub async fn history(&self, client: &Client) -> Result<Vec<HistoryRow>, StoreError> {
        let q = format!(
            "SELECT revision, direction, component_blake3, transcript_blake3, schema_fingerprint,
                    to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    duration_ms, host_version
             FROM {} ORDER BY id",
            ident(&self.history)
        );
        let rows = match client.query(&q, &[]).await {
            Ok(r) => r,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
            Err(e) => return Err(sql("reading the history table")(e)),
        };
        Ok(rows
            .iter()
            .map(|r| HistoryRow {
                revision: r.get(0),
                direction: r.get(1),
                component_blake3: r.get(2),
                transcript_blake3: r.get(3),
                schema_fingerprint: r.get(4),
                applied_at: r.get(5),
                duration_ms: r.get(6),
                host_version: r.get(7),
            })
            .collect())
    }

    /// The advisory lock key for this set of tables: two projects with their
    /// own heads tables in one database do not block each other.
    pub fn lock_key(&self) -> i64 {
        let h = blake3::hash(format!("pgwasm-host/{}", self.version).as_bytes());
        i64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// Takes the session-level advisory lock, waiting up to `timeout`.
    pub async fn lock(&self, client: &Client, timeout: Duration) -> Result<(), StoreError> {
        let key = self.lock_key();
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let row = client
                .query_one("SELECT pg_catalog.pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(sql("taking the migration lock"))?;
            if row.get::<_, bool>(0) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(StoreError::LockTimeout {
                    holder: self.lock_holder(client).await,
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Releases the advisory lock.
    pub async fn unlock(&self, client: &Client) -> Result<(), StoreError> {
        client
            .execute(
                "SELECT pg_catalog.pg_advisory_unlock($1)",
                &[&self.lock_key()],
            )
            .await
            .map_err(sql("releasing the migration lock"))?;
        Ok(())
    }

    async fn lock_holder(&self, client: &Client) -> String {
        let key = self.lock_key();
        let (hi, lo) = (
            ((key as u64) >> 32) as u32,
            (key as u64 & 0xffff_ffff) as u32,
        );
        let q = "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.client_addr::text, 'local')
                 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())";
        match client.query(q, &[&(hi as i64), &(lo as i64)]).await {
            Ok(rows) if !rows.is_empty() => rows
                .iter()
                .map(|r| {
                    format!(
                        "pid {} application {:?} user {} from {}",
                        r.get::<_, i32>(0),
                        r.get::<_, String>(1),
                        r.get::<_, String>(2),
                        r.get::<_, String>(3)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => "holder unknown".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(before: &'a [String], after: &'a [String]) -> StepRecord<'a> {
        StepRecord {
            revision: "b",
            direction: Direction::Upgrade,
            heads_before: before,
            heads_after: after,
            component_blake3: "00",
            transcript_blake3: "11",
            schema_fingerprint: None,
            duration: Duration::from_millis(3),
        }
    }

    #[test]
    fn quoting_cannot_be_escaped() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's \\ x"), "E'it''s \\\\ x'");
    }

    #[test]
    fn heads_rows_follow_alembic() {
        let t = Tables::default();
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let linear = t.step_sql(&rec(&v(&["a"]), &v(&["b"])));
        assert!(linear.starts_with(
            "UPDATE \"alembic_version\" SET version_num = E'b' WHERE version_num = E'a'"
        ));
        let first = t.step_sql(&rec(&[], &v(&["a"])));
        assert!(first.starts_with("INSERT INTO \"alembic_version\""));
        let merge = t.step_sql(&rec(&v(&["a", "b"]), &v(&["m"])));
        assert_eq!(merge.matches("DELETE").count(), 2);
        assert_eq!(merge.matches("INSERT INTO \"alembic_version\"").count(), 1);
        let last = t.step_sql(&rec(&v(&["a"]), &[]));
        assert!(last.starts_with("DELETE FROM"));
        assert!(last.contains("INSERT INTO \"host_history\""));
    }

    #[test]
    fn lock_key_depends_on_table() {
        let a = Tables::default();
        let b = Tables {
            version: "other_version".into(),
            ..Default::default()
        };
        assert_ne!(a.lock_key(), b.lock_key());
    }
}
