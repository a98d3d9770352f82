//! The SQL a guest sends, proxied into the step's transaction, with a
//! transcript hash of everything sent so a run can be proved later.

use crate::runtime::codec::{self, PgValue};
use crate::runtime::inline;
use futures_util::TryStreamExt;
use futures_util::future::try_join_all;
use std::fmt;
use std::sync::Arc;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

/// Rows per pipelined chunk of `execute-many`: large enough to hide the round
/// trip, small enough to bound the memory of queued requests.
const PIPELINE_CHUNK: usize = 1024;

/// Sent ahead of every statement text of a guest, in the same flight. The
/// server converts a statement's text from the session's `client_encoding`
/// when it reads the message; under an encoding such as SJIS, GBK or BIG5 the
/// UTF-8 bytes the statement guard read can mean other characters (in
/// `E'ß\'` SJIS takes the backslash as half of one, and the quote then ends
/// the string), so a `COMMIT` the guard saw inside a string ran. A guest can
/// change the setting where no text check sees it (dynamic SQL), so it is set
/// back before each text rather than refused.
const PIN_ENCODING: &str = "SET client_encoding = 'UTF8'";

/// Sends `request` right behind [`PIN_ENCODING`], pipelined: the server reads
/// the guest's text only after the setting is back, at no extra round trip.
async fn pinned<T>(
    client: &Client,
    request: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, DbError> {
    let (pin, answer) =
        futures_util::future::join(client.batch_execute(PIN_ENCODING), request).await;
    let answer = answer.map_err(DbError::from_pg)?;
    // In an aborted transaction both fail; a request that ran although the
    // setting could not be put back ran under an encoding nobody checked.
    pin.map_err(DbError::from_pg)?;
    Ok(answer)
}

/// An error PostgreSQL (or the host on its behalf) reported for a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// SQLSTATE.
    pub sqlstate: String,
    /// Primary message.
    pub message: String,
    /// Optional detail.
    pub detail: Option<String>,
    /// Optional hint.
    pub hint: Option<String>,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::db::error::write_reported(
            f,
            &self.sqlstate,
            &self.message,
            self.detail.as_deref(),
            self.hint.as_deref(),
        )
    }
}

impl DbError {
    fn host(sqlstate: &str, message: impl Into<String>) -> DbError {
        DbError {
            sqlstate: sqlstate.to_string(),
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    fn from_pg(err: tokio_postgres::Error) -> DbError {
        if let Some(db) = err.as_db_error() {
            return DbError {
                sqlstate: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
                hint: db.hint().map(str::to_string),
            };
        }
        // Not from the server: a parameter that could not be encoded, or a lost connection.
        let message = crate::db::error::source_chain(&err);
        let state = if err.is_closed() { "08006" } else { "22023" };
        DbError::host(state, message)
    }
}

/// A query's result: column names and types, then rows.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// (name, type name) per column.
    pub columns: Vec<(String, String)>,
    /// Row-major values.
    pub rows: Vec<Vec<PgValue>>,
}

/// Where a guest's SQL goes.
pub enum Backend {
    /// A live connection, inside the transaction the runner opened.
    Online(Arc<Client>),
    /// Offline mode (`--sql`): statements are written into a script, with
    /// their parameters inlined as literals; queries are refused.
    Offline(String),
    /// No database at all: any SQL is refused (used to read `info()`).
    Inert,
}

/// The SQL channel of one guest call.
pub struct Session {
    backend: Backend,
    transcript: blake3::Hasher,
    statements: u64,
    last_error: Option<DbError>,
    result_cap: usize,
}

/// Bytes a value takes once handed to a guest, roughly.
fn approximate_size(v: &PgValue) -> usize {
    16 + match v {
        PgValue::Bytea(b) => b.len(),
        PgValue::TextArray(a) => a
            .iter()
            .map(|x| 16 + x.as_ref().map_or(0, String::len))
            .sum(),
        PgValue::Int8Array(a) => a.len() * 16,
        other => other.as_text().map_or(8, str::len),
    }
}

fn refs(params: &[PgValue]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Session {
    /// A session over the given backend.
    pub fn new(backend: Backend) -> Session {
        Session {
            backend,
            transcript: blake3::Hasher::new(),
            statements: 0,
            last_error: None,
            result_cap: usize::MAX,
        }
    }

    /// blake3 of the canonical encoding of everything sent so far, lowercase hex.
    pub fn transcript_hash(&self) -> String {
        self.transcript.clone().finalize().to_hex().to_string()
    }

    /// Number of SQL calls the guest made.
    pub fn statements(&self) -> u64 {
        self.statements
    }

    /// The last error a statement returned to the guest, if any.
    pub fn last_error(&self) -> Option<&DbError> {
        self.last_error.as_ref()
    }

    /// Feeds one call into the transcript: a tag, the statement and every
    /// parameter, each length-prefixed so no two call sequences collide.
    fn record(&mut self, tag: u8, statement: &str, rows: &[&[PgValue]]) {
        self.statements += 1;
        let h = &mut self.transcript;
        h.update(&[tag]);
        h.update(&(statement.len() as u64).to_le_bytes());
        h.update(statement.as_bytes());
        h.update(&(rows.len() as u64).to_le_bytes());
        for row in rows {
            h.update(&(row.len() as u64).to_le_bytes());
            for p in *row {
                let text = format!("{p:?}");
                h.update(&(text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
        }
    }

    /// Feeds the guest's configuration (package parameters) into the
    /// transcript; nothing when there is none, so plain revisions keep
    /// their transcripts.
    pub fn record_config(&mut self, config: &std::collections::BTreeMap<String, String>) {
        if config.is_empty() {
            return;
        }
        let h = &mut self.transcript;
        h.update(b"C");
        h.update(&(config.len() as u64).to_le_bytes());
        for (k, v) in config {
            for s in [k, v] {
                h.update(&(s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
    }

    /// Caps the bytes of one query result (the guest's memory cap).
    pub fn set_result_cap(&mut self, bytes: usize) {
        self.result_cap = bytes;
    }

    /// Asks the server to cancel the statement in flight, if any: a call
    /// stopped by the host's deadline must not leave its query running.
    pub async fn cancel(&self) {
        if let Backend::Online(client) = &self.backend {
            let _ = client
                .cancel_token()
                .cancel_query(tokio_postgres::NoTls)
                .await;
        }
    }

    /// Whether SQL is written out rather than run.
    pub fn is_offline(&self) -> bool {
        matches!(self.backend, Backend::Offline(_))
    }

    /// The script written in offline mode (empty otherwise).
    pub fn into_script(self) -> String {
        match self.backend {
            Backend::Offline(s) => s,
            _ => String::new(),
        }
    }

    fn client(&mut self) -> Result<Arc<Client>, DbError> {
        match &self.backend {
            Backend::Online(c) => Ok(c.clone()),
            Backend::Offline(_) => Err(DbError::host(
                "0A000",
                "query is not available in offline (--sql) mode: no database is read when SQL is generated; \
                 a revision that must read data should check context.run-mode() and skip or explain",
            )),
            Backend::Inert => Err(DbError::host(
                "0A000",
                "SQL is not allowed here: info() must not touch the database",
            )),
        }
    }

    /// In offline mode, appends statements to the script; false when online.
    fn write(&mut self, statement: &str, rows: &[&[PgValue]]) -> Result<bool, DbError> {
        let Backend::Offline(script) = &mut self.backend else {
            return Ok(false);
        };
        for params in rows {
            let text = inline::inline_params(statement, params)
                .map_err(|e| DbError::host("08P01", e.to_string()))?;
            refuse_meta_command(&text)?;
            script.push_str(&crate::sql::lex::terminate(&text));
            script.push('\n');
        }
        Ok(true)
    }

    /// Refuses statements that would end or replace the revision's transaction.
    fn guard(statement: &str) -> Result<(), DbError> {
        crate::sql::guard::check(statement).map_err(|r| if r.command.starts_with("COPY") {
            DbError {
                sqlstate: "0A000".to_string(),
                message: format!(
                    "{} is not available to a revision: its data would travel on the host's own connection (and in a --sql script psql would read the lines after it as data)",
                    r.command
                ),
                detail: None,
                hint: Some("insert rows with execute-many (pipelined), or COPY from a file the server reads".to_string()),
            }
        } else { DbError {
            sqlstate: "2D000".to_string(),
            message: format!(
                "{} is not allowed in a revision: the host runs each revision in its own transaction and ends it itself",
                r.command
            ),
            detail: None,
            hint: Some(
                "remove it; a revision that must run outside a transaction declares transactional: false".to_string(),
            ),
        }})
    }

    fn keep<T>(&mut self, r: Result<T, DbError>) -> Result<T, DbError> {
        if let Err(e) = &r {
            self.last_error = Some(e.clone());
        }
        r
    }

    /// Runs one statement; returns the affected row count.
    pub async fn execute(&mut self, statement: &str, params: &[PgValue]) -> Result<u64, DbError> {
        self.record(b'E', statement, &[params]);
        let r = async {
            Self::guard(statement)?;
            if self.write(statement, &[params])? {
                return Ok(0);
            }
            let client = self.client()?;
            if params.is_empty() {
                // One round trip instead of prepare + execute.
                let msgs = pinned(&client, client.simple_query(statement)).await?;
                let mut n = 0;
                for m in msgs {
                    if let tokio_postgres::SimpleQueryMessage::CommandComplete(c) = m {
                        n = c;
                    }
                }
                return Ok(n);
            }
            pinned(&client, client.execute(statement, &refs(params))).await
        }
        .await;
        self.keep(r)
    }

    /// Runs one statement and returns its rows.
    pub async fn query(
        &mut self,
        statement: &str,
        params: &[PgValue],
    ) -> Result<QueryResult, DbError> {
        self.record(b'Q', statement, &[params]);
        let r = async {
            Self::guard(statement)?;
            let client = self.client()?;
            let st = pinned(&client, client.prepare(statement)).await?;
            // Rows are decoded as they arrive and counted against the guest's
            // memory cap: a result the guest could never hold must not be
            // buffered whole on the host first.
            let stream = client
                .query_raw(&st, refs(params))
                .await
                .map_err(DbError::from_pg)?;
            let columns = st
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), codec::type_name(c.type_())))
                .collect();
            let mut stream = std::pin::pin!(stream);
            let mut out = Vec::new();
            let mut bytes = 0usize;
            while let Some(row) = stream.try_next().await.map_err(DbError::from_pg)? {
                let mut values = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    let v = codec::decode_column(&row, i)
                        .map_err(|e| DbError::host("0A000", e.to_string()))?;
                    bytes += approximate_size(&v);
                    values.push(v);
                }
                out.push(values);
                if bytes > self.result_cap {
                    return Err(DbError::host(
                        "54000",
                        format!(
                            "the query's result passed {} MiB, more than the revision may hold under its memory cap; select fewer rows or columns, or page with LIMIT and a key",
                            self.result_cap >> 20
                        ),
                    ));
                }
            }
            Ok(QueryResult { columns, rows: out })
        }
        .await;
        self.keep(r)
    }

    /// Runs a script of statements without parameters.
    pub async fn batch(&mut self, script: &str) -> Result<(), DbError> {
        self.record(b'B', script, &[]);
        let r = async {
            Self::guard(script)?;
            // A script has no parameters: it is written as it is.
            if let Backend::Offline(out) = &mut self.backend {
                refuse_meta_command(script)?;
                out.push_str(&crate::sql::lex::terminate(script));
                out.push('\n');
                return Ok(());
            }
            let client = self.client()?;
            pinned(&client, client.batch_execute(script)).await
        }
        .await;
        self.keep(r)
    }

    /// Runs one statement per parameter row, pipelined; returns the total row count.
    pub async fn execute_many(
        &mut self,
        statement: &str,
        rows: &[Vec<PgValue>],
    ) -> Result<u64, DbError> {
        let borrowed: Vec<&[PgValue]> = rows.iter().map(Vec::as_slice).collect();
        self.record(b'M', statement, &borrowed);
        let r = async {
            Self::guard(statement)?;
            if self.write(statement, &borrowed)? {
                return Ok(0);
            }
            let client = self.client()?;
            let st = pinned(&client, client.prepare(statement)).await?;
            let mut total = 0;
            for chunk in rows.chunks(PIPELINE_CHUNK) {
                let params: Vec<Vec<&(dyn ToSql + Sync)>> = chunk.iter().map(|r| refs(r)).collect();
                let counts = try_join_all(params.iter().map(|p| client.execute(&st, p)))
                    .await
                    .map_err(DbError::from_pg)?;
                total += counts.iter().sum::<u64>();
            }
            Ok(total)
        }
        .await;
        self.keep(r)
    }
}

/// Refuses offline text that psql would partly run as a meta-command: the
/// script is applied with `psql -f`, where `\!` runs a shell command.
fn refuse_meta_command(text: &str) -> Result<(), DbError> {
    match crate::sql::lex::meta_command(text) {
        None => Ok(()),
        Some(at) => Err(DbError::host(
            "42601",
            format!(
                "the statement has a backslash outside quotes at byte {at}; psql would run the rest of the line as a meta-command (\\! runs a shell command) when the script is applied, so it is not written. PostgreSQL rejects such a statement too: remove the backslash or put it inside a string"
            ),
        )),
    }
}
