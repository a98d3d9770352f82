//! The host side of the WIT world: what a guest's `sql` and `context` imports
//! do, the per-call state behind them, and values crossing to and from the codec.

use std::collections::BTreeMap;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::budget::Budget;
use super::pgwasm::migration::types::{Direction as WitDirection, Level, Mode, Value};
use super::wasi::Captured;
use super::{Prepared, one_line, pgwasm, wit};
use crate::runtime::codec::PgValue;
use crate::runtime::session::{DbError, QueryResult, Session};

/// Log bytes a guest may write through `context.log` per call; the log is
/// for people, not a data channel.
const LOG_BYTES: usize = 64 << 10;

/// Per-call state of a guest: its SQL session, memory budget and WASI context.
pub struct GuestState {
    pub(super) session: Session,
    pub(super) budget: Budget,
    direction: WitDirection,
    revision: String,
    config: BTreeMap<String, String>,
    wasi: WasiCtx,
    table: ResourceTable,
    captured: Captured,
    /// Bytes of `context.log` messages written so far in this call.
    logged: usize,
}

impl GuestState {
    pub(super) fn new(
        session: Session,
        prepared: &Prepared,
        direction: WitDirection,
        memory: usize,
    ) -> Self {
        let (wasi, captured) = super::wasi::context(&prepared.blake3);
        GuestState {
            session,
            budget: Budget::new(memory),
            direction,
            revision: prepared.revision.clone(),
            config: prepared.config.clone(),
            wasi,
            table: ResourceTable::new(),
            captured,
            logged: 0,
        }
    }

    /// Sends what the guest wrote to stdout and stderr to the log.
    pub(super) fn flush_output(&self) {
        for (name, pipe) in [
            ("stdout", &self.captured.stdout),
            ("stderr", &self.captured.stderr),
        ] {
            let bytes = pipe.contents();
            let shown = &bytes[..bytes.len().min(LOG_BYTES)];
            if shown.len() < bytes.len() {
                log_line(&format!(
                    "  [{}] {name}: (showing the first {} of {} bytes)",
                    self.revision,
                    shown.len(),
                    bytes.len()
                ));
            }
            for line in String::from_utf8_lossy(shown).lines() {
                log_line(&format!(
                    "  [{}] {name}: {}",
                    self.revision,
                    one_line(line, 4000)
                ));
            }
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn to_codec(v: Value) -> PgValue {
    match v {
        Value::Null => PgValue::Null,
        Value::Boolean(b) => PgValue::Boolean(b),
        Value::Int2(i) => PgValue::Int2(i),
        Value::Int4(i) => PgValue::Int4(i),
        Value::Int8(i) => PgValue::Int8(i),
        Value::Float4(f) => PgValue::Float4(f),
        Value::Float8(f) => PgValue::Float8(f),
        Value::Numeric(s) => PgValue::Numeric(s),
        Value::Text(s) => PgValue::Text(s),
        Value::Bytea(b) => PgValue::Bytea(b),
        Value::Json(s) => PgValue::Json(s),
        Value::Jsonb(s) => PgValue::Jsonb(s),
        Value::Uuid(s) => PgValue::Uuid(s),
        Value::Date(s) => PgValue::Date(s),
        Value::Time(s) => PgValue::Time(s),
        Value::Timestamp(s) => PgValue::Timestamp(s),
        Value::Timestamptz(s) => PgValue::Timestamptz(s),
        Value::TextArray(a) => PgValue::TextArray(a),
        Value::Int8Array(a) => PgValue::Int8Array(a),
    }
}

fn to_wit(v: PgValue) -> Value {
    match v {
        PgValue::Null => Value::Null,
        PgValue::Boolean(b) => Value::Boolean(b),
        PgValue::Int2(i) => Value::Int2(i),
        PgValue::Int4(i) => Value::Int4(i),
        PgValue::Int8(i) => Value::Int8(i),
        PgValue::Float4(f) => Value::Float4(f),
        PgValue::Float8(f) => Value::Float8(f),
        PgValue::Numeric(s) => Value::Numeric(s),
        PgValue::Text(s) => Value::Text(s),
        PgValue::Bytea(b) => Value::Bytea(b),
        PgValue::Json(s) => Value::Json(s),
        PgValue::Jsonb(s) => Value::Jsonb(s),
        PgValue::Uuid(s) => Value::Uuid(s),
        PgValue::Date(s) => Value::Date(s),
        PgValue::Time(s) => Value::Time(s),
        PgValue::Timestamp(s) => Value::Timestamp(s),
        PgValue::Timestamptz(s) => Value::Timestamptz(s),
        PgValue::TextArray(a) => Value::TextArray(a),
        PgValue::Int8Array(a) => Value::Int8Array(a),
    }
}

fn wit_error(e: DbError) -> wit::DbError {
    wit::DbError {
        sqlstate: e.sqlstate,
        message: e.message,
        detail: e.detail,
        hint: e.hint,
    }
}

fn wit_rows(r: QueryResult) -> wit::Rows {
    wit::Rows {
        columns: r
            .columns
            .into_iter()
            .map(|(name, type_name)| wit::Column { name, type_name })
            .collect(),
        values: r
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(to_wit).collect())
            .collect(),
    }
}

impl wit::Host for GuestState {}

impl pgwasm::migration::sql::Host for GuestState {
    async fn execute(
        &mut self,
        statement: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<u64, wit::DbError>> {
        let params: Vec<PgValue> = params.into_iter().map(to_codec).collect();
        Ok(self
            .session
            .execute(&statement, &params)
            .await
            .map_err(wit_error))
    }

    async fn query(
        &mut self,
        statement: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<wit::Rows, wit::DbError>> {
        let params: Vec<PgValue> = params.into_iter().map(to_codec).collect();
        Ok(self
            .session
            .query(&statement, &params)
            .await
            .map(wit_rows)
            .map_err(wit_error))
    }

    async fn batch(&mut self, script: String) -> wasmtime::Result<Result<(), wit::DbError>> {
        Ok(self.session.batch(&script).await.map_err(wit_error))
    }

    async fn execute_many(
        &mut self,
        statement: String,
        rows: Vec<Vec<Value>>,
    ) -> wasmtime::Result<Result<u64, wit::DbError>> {
        let rows: Vec<Vec<PgValue>> = rows
            .into_iter()
            .map(|r| r.into_iter().map(to_codec).collect())
            .collect();
        Ok(self
            .session
            .execute_many(&statement, &rows)
            .await
            .map_err(wit_error))
    }
}

impl pgwasm::migration::context::Host for GuestState {
    async fn run_mode(&mut self) -> wasmtime::Result<Mode> {
        Ok(if self.session.is_offline() {
            Mode::Offline
        } else {
            Mode::Online
        })
    }

    async fn run_direction(&mut self) -> wasmtime::Result<WitDirection> {
        Ok(self.direction)
    }

    async fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.get(&key).cloned())
    }

    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Debug => return Ok(()),
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        if self.logged > LOG_BYTES {
            return Ok(());
        }
        self.logged += message.len();
        let note = if self.logged > LOG_BYTES {
            " (further log lines of this call dropped)"
        } else {
            ""
        };
        log_line(&format!(
            "  [{}] {level}: {}{note}",
            self.revision,
            one_line(&message, 4000)
        ));
        Ok(())
    }
}

/// Writes a guest's log line to stderr; a closed stderr must not stop a migration.
fn log_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
