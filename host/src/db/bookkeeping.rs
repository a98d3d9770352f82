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

/// The start of the error raised when something is attached to the
/// bookkeeping tables (see [`Bookkeeping::heads_before_check_sql`]).
pub const TAMPERED: &str = "host: the bookkeeping tables are not plain tables any more";

/// The schema the bookkeeping tables are created in when none is named and
/// the database has none yet. Fixed rather than `current_schema()`, so that
/// where they land depends neither on `search_path` (a schema named like the
/// role comes first by default) nor on what a revision set.
pub const DEFAULT_SCHEMA: &str = "public";

/// Names of the bookkeeping tables, as the flags give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Alembic's heads table, one row per head.
    pub version: String,
    /// The audit trail, one row per applied or reverted revision.
    pub history: String,
    /// The schema holding both (Alembic's `version_table_schema`); when
    /// unset, the one schema that has the heads table, else [`DEFAULT_SCHEMA`].
    pub schema: Option<String>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            version: "alembic_version".into(),
            history: "host_history".into(),
            schema: None,
        }
    }
}

/// The bookkeeping tables once their schema is known: every statement the
/// host sends names them schema-qualified, so no `search_path` (the
/// server's, the role's, or one a revision set) can point it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookkeeping {
    /// The schema holding both tables.
    pub schema: String,
    /// The heads table's name.
    pub version: String,
    /// The history table's name.
    pub history: String,
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
    /// The heads table exists in more than one schema.
    #[error(
        "the heads table {table} exists in more than one schema ({schemas}), so host cannot tell which one records this database's state; name it with --version-table-schema"
    )]
    Ambiguous {
        /// The heads table's name.
        table: String,
        /// The schemas that have one, comma-separated.
        schemas: String,
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

impl Bookkeeping {
    /// The heads table, schema-qualified.
    pub fn v(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.version))
    }

    /// The history table, schema-qualified.
    pub fn h(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.history))
    }

    /// Reads the heads table; a missing table means the database is at base.
    pub async fn read_heads(&self, client: &Client) -> Result<Vec<String>, StoreError> {
        let q = format!("SELECT version_num FROM ONLY {}", self.v());
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
            v = self.v(),
            vpk = ident(&format!("{}_pkc", self.version)),
            h = self.h(),
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
            self.h(),
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
    /// heads itself) from going unnoticed. It also checks that the tables are
    /// intact (see [`Bookkeeping::intact_check`]), after `prelude`, further
    /// PL/pgSQL checks of the caller's: one block is parsed once.
    pub fn heads_before_check_sql(&self, heads: &[String], prelude: &str) -> String {
        format!(
            "DO $host$ DECLARE found pg_catalog.text[]; BEGIN {prelude}{}{} END $host$;\n",
            self.intact_check(),
            self.check_heads(heads, " FOR UPDATE", HEADS_MOVED, "the step started from")
        )
    }

    /// A statement that fails if anything that could change what the host
    /// writes or reads is attached to the bookkeeping tables: a trigger (one
    /// that blanked the hashes of each new history row made `host verify`
    /// pass), a rule, row-level security, or a child table (whose rows a
    /// plain SELECT would add to the heads). Sent before the step's own
    /// bookkeeping, in its transaction, after the revision's SQL. (PL/pgSQL.)
    fn intact_check(&self) -> String {
        let oids = format!(
            "ARRAY[{}::pg_catalog.regclass::pg_catalog.oid, {}::pg_catalog.regclass::pg_catalog.oid]",
            literal(&self.v()),
            literal(&self.h())
        );
        format!(
            "IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) ANY ({oids}) AND NOT tgisinternal) \
             OR EXISTS (SELECT FROM pg_catalog.pg_rewrite WHERE ev_class OPERATOR(pg_catalog.=) ANY ({oids})) \
             OR EXISTS (SELECT FROM pg_catalog.pg_inherits WHERE inhparent OPERATOR(pg_catalog.=) ANY ({oids})) \
             OR EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) ANY ({oids}) \
                        AND (relkind OPERATOR(pg_catalog.<>) 'r' OR relrowsecurity)) THEN \
             RAISE EXCEPTION '{TAMPERED}: a trigger, rule, row-level security or a child table is attached to % or %, which could change what the host records', {}, {}; \
             END IF; ",
            literal(&self.v()),
            literal(&self.h()),
        )
    }

    /// A statement that fails unless the heads table holds exactly `heads`.
    ///
    /// Sent after a step's own heads statements, in its transaction: a
    /// revision that wrote to the heads table itself (deleted the row the
    /// UPDATE moves, say) would otherwise leave heads that match nothing
    /// that ran, and a later run would apply the same revisions again.
    pub fn heads_check_sql(&self, heads: &[String]) -> String {
        format!(
            "DO $host$ DECLARE found pg_catalog.text[]; BEGIN {} END $host$;\n",
            self.check_heads(heads, "", HEADS_CHANGED, "the step leaves")
        )
    }

    /// PL/pgSQL that raises `error` unless the heads table holds exactly
    /// `heads`; needs `found pg_catalog.text[]` declared.
    fn check_heads(&self, heads: &[String], locking: &str, error: &str, what: &str) -> String {
        let mut sorted: Vec<&String> = heads.iter().collect();
        sorted.sort();
        let expected = sorted
            .iter()
            .map(|h| literal(h))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT COALESCE(pg_catalog.array_agg(version_num::pg_catalog.text ORDER BY version_num COLLATE pg_catalog.\"C\"), ARRAY[]::pg_catalog.text[]) INTO found FROM (SELECT version_num FROM ONLY {v}{locking}) AS heads; \
             IF NOT (found OPERATOR(pg_catalog.=) ARRAY[{expected}]::pg_catalog.text[]) THEN \
             RAISE EXCEPTION '{error}: it holds % where {what} %', found, ARRAY[{expected}]::pg_catalog.text[]; \
             END IF; ",
            v = self.v(),
        )
    }

    /// What is attached to the bookkeeping tables that could change what the
    /// host writes or reads (see [`Bookkeeping::heads_before_check_sql`]), in words;
    /// empty when they are plain tables or do not exist yet.
    pub async fn attachments(&self, client: &Client) -> Result<Vec<String>, StoreError> {
        let q = "WITH t(oid) AS (SELECT pg_catalog.to_regclass(x) FROM pg_catalog.unnest($1::pg_catalog.text[]) AS x)
            SELECT 'trigger ' || pg_catalog.quote_ident(g.tgname) || ' on ' || g.tgrelid::pg_catalog.regclass::pg_catalog.text
              FROM pg_catalog.pg_trigger g JOIN t ON g.tgrelid OPERATOR(pg_catalog.=) t.oid WHERE NOT g.tgisinternal
            UNION ALL SELECT 'rule ' || pg_catalog.quote_ident(r.rulename) || ' on ' || r.ev_class::pg_catalog.regclass::pg_catalog.text
              FROM pg_catalog.pg_rewrite r JOIN t ON r.ev_class OPERATOR(pg_catalog.=) t.oid
            UNION ALL SELECT 'child table ' || i.inhrelid::pg_catalog.regclass::pg_catalog.text || ' of ' || i.inhparent::pg_catalog.regclass::pg_catalog.text
              FROM pg_catalog.pg_inherits i JOIN t ON i.inhparent OPERATOR(pg_catalog.=) t.oid
            UNION ALL SELECT 'row-level security on ' || c.oid::pg_catalog.regclass::pg_catalog.text
              FROM pg_catalog.pg_class c JOIN t ON c.oid OPERATOR(pg_catalog.=) t.oid WHERE c.relrowsecurity
            ORDER BY 1";
        let names = vec![self.v(), self.h()];
        let rows = client
            .query(q, &[&names])
            .await
            .map_err(sql("reading what is attached to the bookkeeping tables"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The statements that move the heads table from `before` to `after`,
    /// with Alembic's semantics: UPDATE for a linear step, INSERT at a
    /// branch, DELETE at a merge.
    pub fn heads_sql(&self, before: &[String], after: &[String]) -> String {
        let removed: Vec<&String> = before.iter().filter(|h| !after.contains(h)).collect();
        let added: Vec<&String> = after.iter().filter(|h| !before.contains(h)).collect();
        let v = self.v();
        let mut out = String::new();
        if let ([old], [new]) = (removed.as_slice(), added.as_slice()) {
            out.push_str(&format!(
                "UPDATE ONLY {v} SET version_num = {} WHERE version_num = {};\n",
                literal(new),
                literal(old)
            ));
        } else {
            for old in &removed {
                out.push_str(&format!(
                    "DELETE FROM ONLY {v} WHERE version_num = {};\n",
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
                "DELETE FROM ONLY {};\n{}",
                self.v(),
                self.heads_sql(&[], after)
            )
        } else {
            self.heads_sql(before, after)
        };
        for head in after.iter().filter(|h| purge || !before.contains(h)) {
            out.push_str(&format!(
                "INSERT INTO {} (revision, direction, duration_ms, host_version) VALUES ({}, 'stamp', 0, {});\n",
                self.h(),
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
            self.h()
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
            "UPDATE ONLY {} SET outcome = NULL, transcript_blake3 = {}, schema_fingerprint = {}, duration_ms = {} WHERE id = {id};\n",
            self.h(),
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
        let q = format!("UPDATE ONLY {} SET outcome = $1 WHERE id = $2", self.h());
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
             FROM ONLY {} WHERE outcome = 'running' OR outcome LIKE 'failed:%' ORDER BY id",
            self.h()
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
            "UPDATE ONLY {} SET outcome = {} || ' (was: ' || coalesce(outcome, '') || ')' WHERE id = {id};\n",
            self.h(),
            literal(how)
        )
    }

    /// The history table, oldest first; empty when it does not exist yet.
    pub async fn history(&self, client: &Client) -> Result<Vec<HistoryRow>, StoreError> {
        let q = format!(
            "SELECT revision, direction, component_blake3, transcript_blake3, schema_fingerprint,
                    to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    duration_ms, host_version
             FROM ONLY {} ORDER BY id",
            self.h()
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
}

impl Tables {
    /// Finds the schema of the bookkeeping tables: the one named, else the one
    /// schema whose catalog has the heads table (temporary schemas aside: a
    /// revision's temporary table of that name is not the database's state),
    /// else [`DEFAULT_SCHEMA`], where they will be created.
    pub async fn locate(&self, client: &Client) -> Result<Bookkeeping, StoreError> {
        if self.schema.is_some() {
            return Ok(self.offline());
        }
        let q = "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                 WHERE c.relname OPERATOR(pg_catalog.=) $1::pg_catalog.name
                   AND n.nspname::pg_catalog.text !~~ 'pg\\_temp\\_%'
                   AND n.nspname::pg_catalog.text !~~ 'pg\\_toast\\_temp\\_%'
                 ORDER BY 1";
        let rows = client
            .query(q, &[&self.version])
            .await
            .map_err(sql("finding the heads table"))?;
        let schemas: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let schema = match schemas.as_slice() {
            [] => DEFAULT_SCHEMA.to_string(),
            [one] => one.clone(),
            _ => {
                return Err(StoreError::Ambiguous {
                    table: self.version.clone(),
                    schemas: schemas.join(", "),
                });
            }
        };
        Ok(self.in_schema(schema))
    }

    /// Locates the tables and reads the heads: a missing table means base.
    pub async fn read_heads(&self, client: &Client) -> Result<Vec<String>, StoreError> {
        self.locate(client).await?.read_heads(client).await
    }

    /// The tables as an offline script names them: in the schema named, else
    /// in [`DEFAULT_SCHEMA`] (no database is read).
    pub fn offline(&self) -> Bookkeeping {
        self.in_schema(
            self.schema
                .clone()
                .unwrap_or_else(|| DEFAULT_SCHEMA.to_string()),
        )
    }

    fn in_schema(&self, schema: String) -> Bookkeeping {
        Bookkeeping {
            schema,
            version: self.version.clone(),
            history: self.history.clone(),
        }
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
        let t = Tables::default().offline();
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let linear = t.step_sql(&rec(&v(&["a"]), &v(&["b"])));
        assert!(linear.starts_with(
            "UPDATE ONLY \"public\".\"alembic_version\" SET version_num = E'b' WHERE version_num = E'a'"
        ));
        let first = t.step_sql(&rec(&[], &v(&["a"])));
        assert!(first.starts_with("INSERT INTO \"public\".\"alembic_version\""));
        let merge = t.step_sql(&rec(&v(&["a", "b"]), &v(&["m"])));
        assert_eq!(merge.matches("DELETE").count(), 2);
        assert_eq!(
            merge
                .matches("INSERT INTO \"public\".\"alembic_version\"")
                .count(),
            1
        );
        let last = t.step_sql(&rec(&v(&["a"]), &[]));
        assert!(last.starts_with("DELETE FROM ONLY"));
        assert!(last.contains("INSERT INTO \"public\".\"host_history\""));
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
