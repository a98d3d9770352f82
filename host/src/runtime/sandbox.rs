//! The WebAssembly sandbox: one engine, a linker that offers a guest only the
//! project's own interfaces, CPU (fuel) and memory limits, and an on-disk
//! cache of compiled components.

use crate::lock::WIT_PACKAGE;
use crate::plan::Direction;
use crate::project::{VerifiedComponent, write_atomically};
use crate::runtime::codec::PgValue;
use crate::runtime::session::{DbError, QueryResult, Session};
use crate::runtime::wasi::Captured;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    world: "migration",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

use pgwasm::migration::types as wit;
use pgwasm::migration::types::{Direction as WitDirection, Level, Mode, Value};

/// Instructions between yields to the executor, so a wall-clock timeout can fire.
const YIELD_INTERVAL: u64 = 50_000_000;

/// Which compiler turns components into native code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compiler {
    /// Wasmtime's baseline compiler: about three times faster to compile a
    /// migration-sized guest, and guests spend their time waiting on SQL.
    Winch,
    /// The optimising compiler: for guests that compute a lot themselves.
    Cranelift,
}

impl Compiler {
    fn name(self) -> &'static str {
        match self {
            Compiler::Winch => "winch",
            Compiler::Cranelift => "cranelift",
        }
    }
}

/// Resource limits for one guest call.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Fuel (roughly, WebAssembly instructions) a call may burn.
    pub fuel: u64,
    /// Linear memory cap in bytes.
    pub memory_bytes: usize,
    /// Wall-clock limit of one call, if any.
    pub timeout: Option<Duration>,
    /// The compiler.
    pub compiler: Compiler,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 20_000_000_000,
            memory_bytes: 512 << 20,
            timeout: None,
            compiler: Compiler::Winch,
        }
    }
}

/// Which export to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `upgrade()`.
    Upgrade,
    /// `downgrade()`.
    Downgrade,
}

impl From<Direction> for Call {
    fn from(d: Direction) -> Call {
        match d {
            Direction::Upgrade => Call::Upgrade,
            Direction::Downgrade => Call::Downgrade,
        }
    }
}

/// What a revision says about itself through `info()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Revision id.
    pub id: String,
    /// Parents.
    pub down_revisions: Vec<String>,
    /// Branch labels.
    pub branch_labels: Vec<String>,
    /// Dependencies.
    pub depends_on: Vec<String>,
    /// Message.
    pub message: String,
    /// Runs in a transaction.
    pub transactional: bool,
}

/// Why a guest could not be prepared or did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The engine could not be configured.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component.
    #[error(
        "revision {revision}: the component is not valid WebAssembly ({detail}); rebuild it with `host build`"
    )]
    Compile {
        /// Revision id.
        revision: String,
        /// What wasmtime said.
        detail: String,
    },
    /// The component imports something the sandbox does not grant.
    #[error(
        "revision {revision}: the component imports {}, which the sandbox does not grant; {hint}",
        imports.join(", ")
    )]
    Imports {
        /// Revision id.
        revision: String,
        /// Imports not granted.
        imports: Vec<String>,
        /// How to fix it.
        hint: &'static str,
    },
    /// The component does not export the migration world.
    #[error(
        "revision {revision}: the component does not implement the {WIT_PACKAGE} migration world ({detail}); rebuild it against this host's wit/ with `host build`"
    )]
    World {
        /// Revision id.
        revision: String,
        /// What wasmtime said.
        detail: String,
    },
    /// The guest returned an error.
    #[error("revision {revision} ({call}) returned an error: {message}{}", sql.as_ref().map(|e| format!("; last SQL error: {e}")).unwrap_or_default())]
    Guest {
        /// Revision id.
        revision: String,
        /// Which export.
        call: &'static str,
        /// The guest's message.
        message: String,
        /// The last SQL error the guest saw, if any.
        sql: Option<Box<DbError>>,
    },
    /// The guest trapped or hit a limit.
    #[error("revision {revision} ({call}) was stopped: {cause}")]
    Trap {
        /// Revision id.
        revision: String,
        /// Which export.
        call: &'static str,
        /// Why, with the limit and how to raise it.
        cause: String,
    },
    /// The compile cache could not be written.
    #[error("cannot write the compile cache in {path}: {source}")]
    Cache {
        /// The cache folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Per-call state of a guest: its SQL session, limits and WASI context.
pub struct GuestState {
    session: Session,
    limits: StoreLimits,
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
    fn new(session: Session, prepared: &Prepared, direction: WitDirection, memory: usize) -> Self {
        let (wasi, captured) = crate::runtime::wasi::context(&prepared.blake3);
        GuestState {
            session,
            limits: StoreLimitsBuilder::new()
                .memory_size(memory)
                .instances(64)
                .tables(64)
                .memories(64)
                .trap_on_grow_failure(true)
                .build(),
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
    fn flush_output(&self) {
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

thread_local! {
    /// Reused for hashing compiled artifacts (hundreds of KB each).
    static ARTIFACT_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A compiled component, checked and ready to instantiate.
pub struct Prepared {
    revision: String,
    blake3: String,
    pre: MigrationPre<GuestState>,
    config: BTreeMap<String, String>,
}

impl Prepared {
    /// The same guest, reading `config` through `context.config` (package parameters).
    pub fn with_config(self, config: BTreeMap<String, String>) -> Prepared {
        Prepared { config, ..self }
    }
}

/// The engine, linker and compile cache shared by every guest of a run;
/// clones share the engine and cache.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    linker: Linker<GuestState>,
    cache_dir: Option<PathBuf>,
    limits: Limits,
}

impl Sandbox {
    /// A sandbox with the given limits; compiled code is cached in `cache_dir`.
    pub fn new(cache_dir: Option<PathBuf>, limits: Limits) -> Result<Sandbox, SandboxError> {
        let mut config = Config::new();
        config.strategy(match limits.compiler {
            Compiler::Winch => wasmtime::Strategy::Winch,
            Compiler::Cranelift => wasmtime::Strategy::Cranelift,
        });
        config.consume_fuel(true);
        // Determinism: the same component and SQL results give the same run.
        config.cranelift_nan_canonicalization(true);
        config.wasm_relaxed_simd(false);
        let engine = Engine::new(&config).map_err(|e| SandboxError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        Migration::add_to_linker::<_, HasSelf<GuestState>>(&mut linker, |s| s)
            .map_err(|e| SandboxError::Engine(e.to_string()))?;
        // Linked for every guest, but only components whose imports pass
        // `wasi::refused_imports` are instantiated against it.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| SandboxError::Engine(e.to_string()))?;
        Ok(Sandbox {
            engine,
            linker,
            cache_dir,
            limits,
        })
    }

    /// The limits guests run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where compiled code is cached, if anywhere.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Key of a component in the compile cache: its hash and the engine's compatibility hash.
    fn cache_key(&self, blake3: &str) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        format!(
            "{blake3}-{}-{:016x}",
            self.limits.compiler.name(),
            h.finish()
        )
    }

    /// Checks a component without compiling it: well-formed (validated unless
    /// the compile cache already holds it), exporting the migration world's
    /// functions and importing only what it may. A plan is checked this way
    /// before its first SQL; compiling can then overlap the database's work.
    pub fn check(
        &self,
        comp: &VerifiedComponent,
        granted: &BTreeSet<String>,
    ) -> Result<(), SandboxError> {
        let invalid = |detail: String| SandboxError::Compile {
            revision: comp.revision.clone(),
            detail: one_line(&detail, 300),
        };
        let cached = self.cache_dir.as_ref().is_some_and(|dir| {
            dir.join(format!("{}.cwasm", self.cache_key(&comp.blake3)))
                .exists()
        });
        if !cached {
            wasmparser::Validator::new()
                .validate_all(&comp.bytes)
                .map_err(|e| invalid(e.to_string()))?;
        }
        let surface = component_surface(&comp.bytes).map_err(invalid)?;
        for export in ["info", "upgrade", "downgrade"] {
            if !surface.exports.iter().any(|e| e == export) {
                return Err(SandboxError::World {
                    revision: comp.revision.clone(),
                    detail: format!("no export named `{export}`"),
                });
            }
        }
        refuse_imports(&comp.revision, &surface.imports, granted)
    }

    /// Compiles (or loads from the cache) a verified component and checks its imports.
    pub fn prepare(
        &self,
        comp: &VerifiedComponent,
        granted: &BTreeSet<String>,
    ) -> Result<Prepared, SandboxError> {
        let component = self.compile(comp)?;
        let revision = comp.revision.clone();
        let imports: Vec<String> = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        refuse_imports(&revision, &imports, granted)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(MigrationPre::new)
            .map_err(|e| SandboxError::World {
                revision: revision.clone(),
                detail: one_line(&format!("{e:#}"), 300),
            })?;
        Ok(Prepared {
            revision,
            blake3: comp.blake3.clone(),
            pre,
            config: BTreeMap::new(),
        })
    }

    fn compile(&self, comp: &VerifiedComponent) -> Result<Component, SandboxError> {
        let compile_err = |e: wasmtime::Error| SandboxError::Compile {
            revision: comp.revision.clone(),
            detail: one_line(&format!("{e:#}"), 300),
        };
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, &comp.bytes).map_err(compile_err);
        };
        let key = self.cache_key(&comp.blake3);
        if let Some(c) = self.load_cached(dir, &key) {
            return Ok(c);
        }
        let component = Component::new(&self.engine, &comp.bytes).map_err(compile_err)?;
        let artifact = component.serialize().map_err(compile_err)?;
        store_cached(dir, &key, &artifact).map_err(|source| SandboxError::Cache {
            path: dir.clone(),
            source,
        })?;
        Ok(component)
    }

    /// A cached artifact, only if its recorded blake3 matches its bytes: a
    /// truncated or altered file is native code we must never execute.
    fn load_cached(&self, dir: &Path, key: &str) -> Option<Component> {
        let path = dir.join(format!("{key}.cwasm"));
        let recorded = std::fs::read_to_string(dir.join(format!("{key}.cwasm.blake3"))).ok()?;
        // Hashed through one reused buffer, then mapped rather than copied:
        // a thousand-revision run would otherwise copy and fault in every
        // artifact twice.
        let matches = ARTIFACT_BUFFER.with_borrow_mut(|buf| {
            buf.clear();
            std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_to_end(&mut f, buf))
                .is_ok_and(|_| blake3::hash(buf).to_hex().as_str() == recorded.trim())
        });
        if !matches {
            return None;
        }
        // SAFETY: the artifact was written by this host, atomically (a new
        // file renamed into place, never changed in place), and its bytes match
        // the hash recorded next to it.
        unsafe { Component::deserialize_file(&self.engine, &path) }.ok()
    }

    /// Calls `info()`; any SQL it attempts is refused.
    pub async fn info(&self, prepared: &Prepared) -> Result<Info, SandboxError> {
        let state = GuestState::new(
            Session::new(crate::runtime::session::Backend::Inert),
            prepared,
            WitDirection::Upgrade,
            self.limits.memory_bytes,
        );
        let mut store = self.store(state)?;
        let trap = |e| self.trap(&prepared.revision, "info", e, None);
        let m = prepared
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(trap)?;
        let i = m.call_info(&mut store).await.map_err(trap)?;
        Ok(Info {
            id: i.id,
            down_revisions: i.down_revisions,
            branch_labels: i.branch_labels,
            depends_on: i.depends_on,
            message: i.message,
            transactional: i.transactional,
        })
    }

    /// Runs `upgrade()` or `downgrade()` with its SQL going to `session`; gives
    /// the session back so its transcript can be recorded.
    pub async fn run(
        &self,
        prepared: &Prepared,
        call: Call,
        session: Session,
    ) -> (Result<(), SandboxError>, Session) {
        let direction = match call {
            Call::Upgrade => WitDirection::Upgrade,
            Call::Downgrade => WitDirection::Downgrade,
        };
        let name = match call {
            Call::Upgrade => "upgrade",
            Call::Downgrade => "downgrade",
        };
        let mut session = session;
        session.set_result_cap(self.limits.memory_bytes);
        // The same component with other parameters is another run.
        session.record_config(&prepared.config);
        let state = GuestState::new(session, prepared, direction, self.limits.memory_bytes);
        let mut store = match self.store(state) {
            Ok(s) => s,
            Err(e) => {
                return (
                    Err(e),
                    Session::new(crate::runtime::session::Backend::Inert),
                );
            }
        };
        let outcome = async {
            let m = prepared.pre.instantiate_async(&mut store).await?;
            match call {
                Call::Upgrade => m.call_upgrade(&mut store).await,
                Call::Downgrade => m.call_downgrade(&mut store).await,
            }
        };
        let outcome = match self.limits.timeout {
            Some(t) => tokio::time::timeout(t, outcome).await.ok(),
            None => Some(outcome.await),
        };
        if outcome.is_none() {
            store.data().session.cancel().await;
        }
        let result = match outcome {
            None => Err(SandboxError::Trap {
                revision: prepared.revision.clone(),
                call: name,
                cause: format!(
                    "it ran longer than the {:?} timeout; raise --timeout if the revision legitimately needs longer",
                    self.limits.timeout.unwrap_or_default()
                ),
            }),
            Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(message))) => Err(SandboxError::Guest {
                revision: prepared.revision.clone(),
                call: name,
                message: one_line(&message, 1000),
                sql: store.data().session.last_error().cloned().map(Box::new),
            }),
            Some(Err(e)) => {
                let sql = store.data().session.last_error().cloned();
                Err(self.trap(&prepared.revision, name, e, sql))
            }
        };
        let state = store.into_data();
        state.flush_output();
        (result, state.session)
    }

    fn store(&self, state: GuestState) -> Result<Store<GuestState>, SandboxError> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
            .set_fuel(self.limits.fuel)
            .and_then(|_| store.fuel_async_yield_interval(Some(YIELD_INTERVAL)))
            .map_err(|e| SandboxError::Engine(e.to_string()))?;
        Ok(store)
    }

    /// Turns a wasmtime error into a message naming the limit and how to raise it.
    fn trap(
        &self,
        revision: &str,
        call: &'static str,
        e: wasmtime::Error,
        sql: Option<DbError>,
    ) -> SandboxError {
        let text = format!("{e:#}");
        let cause = match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => format!(
                "it used up its CPU budget of {} fuel units (an endless loop?); raise --fuel if it legitimately needs more",
                self.limits.fuel
            ),
            Some(Trap::StackOverflow) => {
                "its call stack overflowed (unbounded recursion?)".to_string()
            }
            Some(Trap::UnreachableCodeReached) => {
                format!(
                    "it trapped: wasm `unreachable` was executed (a panic in the guest); {}",
                    one_line(first_line(&text), 300)
                )
            }
            Some(t) => format!("it trapped: {t}"),
            None if text.contains("forcing trap when growing memory") => format!(
                "it tried to grow its memory past the cap of {} MiB; raise --memory-limit-mb if it legitimately needs more",
                self.limits.memory_bytes >> 20
            ),
            None => format!("it failed: {}", one_line(first_line(&text), 300)),
        };
        let cause = match sql {
            Some(e) => format!("{cause}; last SQL error: {e}"),
            None => cause,
        };
        SandboxError::Trap {
            revision: revision.to_string(),
            call,
            cause,
        }
    }
}

/// Log bytes a guest may write through `context.log` per call; the log is
/// for people, not a data channel.
const LOG_BYTES: usize = 64 << 10;

/// What a component imports and exports at its top level.
struct Surface {
    imports: Vec<String>,
    exports: Vec<String>,
}

/// Reads a component's top-level imports and exports without compiling it.
fn component_surface(bytes: &[u8]) -> Result<Surface, String> {
    let mut surface = Surface {
        imports: Vec::new(),
        exports: Vec::new(),
    };
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::Version {
                encoding: wasmparser::Encoding::Module,
                ..
            } if depth == 0 => {
                return Err(
                    "attempted to parse a wasm module with a component parser: this is a core module, which `host build` turns into a component".into(),
                );
            }
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => break,
            },
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let import = import.map_err(|e| e.to_string())?;
                    // A type import (a world's `use`) brings no behaviour; wasmtime
                    // does not list it among the imports either.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        surface.imports.push(import.name.name.to_string());
                    }
                }
            }
            wasmparser::Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|e| e.to_string())?;
                    surface.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(surface)
}

/// Refuses imports outside the project's world and the harmless WASI, unless granted.
fn refuse_imports(
    revision: &str,
    imports: &[String],
    granted: &BTreeSet<String>,
) -> Result<(), SandboxError> {
    let refused = crate::imports::refused(imports.iter().map(String::as_str), granted);
    if refused.is_empty() {
        return Ok(());
    }
    let hint = if refused
        .iter()
        .any(|i| crate::imports::GRANTABLE.iter().any(|g| i.starts_with(g)))
    {
        "the sandbox gives no files and no network; if the toolchain only links these interfaces and the revision does not use them, grant them in host.toml ([revisions.<id>] grant = [\"wasi:filesystem\"])"
    } else if refused.iter().any(|i| i.starts_with("pgwasm:")) {
        "it was built against another version of the WIT package; rebuild it against this host's wit/ with `host build`"
    } else {
        "only pgwasm:migration and the wasi:cli/io/clocks/random interfaces are available"
    };
    Err(SandboxError::Imports {
        revision: revision.to_string(),
        imports: refused,
        hint,
    })
}

/// Guest-supplied text made safe for one terminal line: control characters
/// (line breaks, terminal escapes) escaped, and at most `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push_str(&format!(
                "… ({} more bytes)",
                text.len() - text.char_indices().nth(n).map_or(0, |(i, _)| i)
            ));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes a guest's log line to stderr; a closed stderr must not stop a migration.
fn log_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Writes a compiled artifact and its hash, each atomically, artifact first.
fn store_cached(dir: &Path, key: &str, artifact: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomically(&dir.join(format!("{key}.cwasm")), artifact)?;
    write_atomically(
        &dir.join(format!("{key}.cwasm.blake3")),
        blake3::hash(artifact).to_hex().as_bytes(),
    )
}
