//! The WebAssembly sandbox: one engine, a linker that offers a guest only the
//! project's own interfaces, CPU (fuel) and memory limits, a memory cap on
//! compiling, and an on-disk cache of compiled components.
//!
//! Layout: this file sets up the engine and runs calls; `guest.rs` is what a
//! guest's imports do, `cache.rs` the compile cache, `surface.rs` the check of
//! what a component imports and exports, `shape.rs` what instantiating it will
//! create, `budget.rs` the one memory budget of a call, `child.rs` the
//! compile child process, [`wasi`] the deny-by-default WASI.

mod budget;
mod cache;
mod child;
mod guest;
mod shape;
mod surface;
pub mod wasi;

pub use child::serve_or_enable as serve_compile_child_or_enable;
pub use guest::GuestState;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store, Trap};

use crate::lock::WIT_PACKAGE;
use crate::plan::Direction;
use crate::project::VerifiedComponent;
use crate::runtime::session::{DbError, Session};
use budget::Overrun;
use shape::{Instances, component_shape};
use surface::{component_surface, refuse_imports};

wasmtime::component::bindgen!({
    world: "migration",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

use pgwasm::migration::types as wit;
use pgwasm::migration::types::Direction as WitDirection;

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
    /// Cap in bytes on what a call makes the host hold for it: its linear
    /// memories, tables and instances together.
    pub memory_bytes: usize,
    /// Cap in bytes on the memory compiling one component may take.
    pub compile_memory_bytes: usize,
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
            // The real components need at most 768 MiB to compile (the
            // JavaScript one with Cranelift on eight threads; see
            // `child.rs`); twice that stops hostile ones well before the
            // gigabytes they would take.
            compile_memory_bytes: 1536 << 20,
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
    /// Compiling the component would take more memory than its cap.
    #[error(
        "revision {revision}: compiling {file} needs more than the compile memory cap of {limit_mib} MiB ({detail}); raise --compile-memory-limit-mb if you trust this component and it legitimately needs more"
    )]
    CompileCap {
        /// Revision id.
        revision: String,
        /// The component's file.
        file: String,
        /// The cap, in MiB.
        limit_mib: usize,
        /// How the compiler stopped.
        detail: String,
    },
    /// The compile child process could not be started.
    #[error("revision {revision}: cannot start the compiler process {exe}: {source}")]
    CompileProcess {
        /// Revision id.
        revision: String,
        /// The executable.
        exe: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The compile child process failed for another reason than the component.
    #[error("revision {revision}: the compiler process failed: {detail}")]
    CompileFailed {
        /// Revision id.
        revision: String,
        /// What it said.
        detail: String,
    },
    /// What the component creates cannot be known before it runs.
    #[error(
        "revision {revision}: the component instantiates a component it does not define, so what it creates cannot be charged to its memory cap before it runs; rebuild it with `host build`"
    )]
    Unbounded {
        /// Revision id.
        revision: String,
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

/// A compiled component, checked and ready to instantiate.
pub struct Prepared {
    revision: String,
    blake3: String,
    /// What instantiating it creates, charged before it does.
    instances: Instances,
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
        // `surface::refuse_imports` are instantiated against it.
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
        self.instances_of(comp)?;
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
        let instances = self.instances_of(comp)?;
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
            instances,
            pre,
            config: BTreeMap::new(),
        })
    }

    /// What instantiating `comp` creates; refused when the file cannot tell.
    fn instances_of(&self, comp: &VerifiedComponent) -> Result<Instances, SandboxError> {
        let shape = component_shape(&comp.bytes).map_err(|detail| SandboxError::Compile {
            revision: comp.revision.clone(),
            detail: one_line(&detail, 300),
        })?;
        if shape.opaque {
            return Err(SandboxError::Unbounded {
                revision: comp.revision.clone(),
            });
        }
        Ok(shape.instances)
    }

    /// Compiles a component the cache does not hold: in a child process under
    /// the compile cap when the binary enabled it, else in this one. Returns
    /// the compiled code too, for the cache.
    fn compile_fresh(
        &self,
        comp: &VerifiedComponent,
    ) -> Result<(wasmtime::component::Component, Vec<u8>), SandboxError> {
        let compile_err = |e: wasmtime::Error| SandboxError::Compile {
            revision: comp.revision.clone(),
            detail: one_line(&format!("{e:#}"), 300),
        };
        let Some(exe) = child::exe() else {
            let component = wasmtime::component::Component::new(&self.engine, &comp.bytes)
                .map_err(compile_err)?;
            let artifact = component.serialize().map_err(compile_err)?;
            return Ok((component, artifact));
        };
        let limit = self.limits.compile_memory_bytes;
        let artifact =
            child::compile(exe, self.limits.compiler, limit, &comp.bytes).map_err(|f| match f {
                child::Failure::Start(source) => SandboxError::CompileProcess {
                    revision: comp.revision.clone(),
                    exe: exe.to_path_buf(),
                    source,
                },
                child::Failure::Invalid(detail) => SandboxError::Compile {
                    revision: comp.revision.clone(),
                    detail,
                },
                child::Failure::Other(detail) => SandboxError::CompileFailed {
                    revision: comp.revision.clone(),
                    detail,
                },
                child::Failure::OutOfMemory(detail) => SandboxError::CompileCap {
                    revision: comp.revision.clone(),
                    file: comp.file.clone(),
                    limit_mib: limit >> 20,
                    detail,
                },
            })?;
        // SAFETY: compiled by this binary in its own child process from these
        // verified bytes, and read from a pipe only this process holds; no
        // file anyone else could have written is involved.
        let component =
            unsafe { wasmtime::component::Component::deserialize(&self.engine, &artifact) }
                .map_err(compile_err)?;
        Ok((component, artifact))
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
        let outcome = async {
            store.data_mut().budget.admit(&prepared.instances)?;
            let m = prepared.pre.instantiate_async(&mut store).await?;
            m.call_info(&mut store).await
        }
        .await;
        let i = outcome.map_err(|e| {
            let overrun = store.data().budget.overrun().cloned();
            self.trap(&prepared.revision, "info", e, None, overrun)
        })?;
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
            store.data_mut().budget.admit(&prepared.instances)?;
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
                let overrun = store.data().budget.overrun().cloned();
                Err(self.trap(&prepared.revision, name, e, sql, overrun))
            }
        };
        let state = store.into_data();
        state.flush_output();
        (result, state.session)
    }

    fn store(&self, state: GuestState) -> Result<Store<GuestState>, SandboxError> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.budget);
        store
            .set_fuel(self.limits.fuel)
            .and_then(|_| store.fuel_async_yield_interval(Some(YIELD_INTERVAL)))
            .map_err(|e| SandboxError::Engine(e.to_string()))?;
        Ok(store)
    }

    /// Turns a wasmtime error into a message naming the limit and how to
    /// raise it; `overrun` is why the call's budget refused, if it did.
    fn trap(
        &self,
        revision: &str,
        call: &'static str,
        e: wasmtime::Error,
        sql: Option<DbError>,
        overrun: Option<Overrun>,
    ) -> SandboxError {
        let text = format!("{e:#}");
        // The budget's refusal first, however wasmtime wrapped it.
        let cause = if let Some(o) = &overrun {
            o.cause(self.limits.memory_bytes)
        } else {
            match e.downcast_ref::<Trap>() {
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
                // wasmtime's own count of instances, memories and tables, in
                // case the component's shape was read wrong.
                None if text.contains("resource limit exceeded") => format!(
                    "it tried to create more instances, memories or tables than the sandbox allows ({}); this component was not made for it",
                    one_line(first_line(&text), 300)
                ),
                None => format!("it failed: {}", one_line(first_line(&text), 300)),
            }
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

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
