//! Executes a plan: verifies every component before any SQL, then runs each
//! step in its own transaction together with its bookkeeping, under the
//! advisory lock.
//!
//! Layout: this file holds the run's options, errors, events and report and
//! takes the lock; `step.rs` runs one step online, `offline.rs` renders a plan
//! as a script (remembered in [`script_cache`]), `admin.rs` stamps and resolves.

mod admin;
mod offline;
pub mod script_cache;
mod step;
mod watchdog;

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

pub use admin::{resolve, stamp};
pub use offline::offline_script;
pub use step::execute;

use crate::db::bookkeeping::{Bookkeeping, StoreError, Tables, invalid_indexes};
use crate::fingerprint::Scope;
use crate::plan::{self, Direction, Plan, PlanError, Target};
use crate::project::{Project, ProjectError};
use crate::runtime::pipeline::PrepareError;
use crate::runtime::sandbox::{Sandbox, SandboxError};
use crate::runtime::session::DbError;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The target or the current state does not give a plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A component is missing or does not match the lock.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A guest failed, trapped or hit a limit; its step was rolled back.
    #[error("{source}. The revision was rolled back; the database is still at {}", heads_text(.heads))]
    Guest {
        /// What happened.
        source: SandboxError,
        /// Heads after the rollback.
        heads: Vec<String>,
    },
    /// A guest could not be prepared (compile, imports, world).
    #[error("{0}. Nothing was run")]
    Prepare(SandboxError),
    /// Bookkeeping failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Committing a step failed; it was not applied.
    #[error("revision {revision}: {what} failed: {detail}. The revision was rolled back, nothing of it applied; the database is still at {}", heads_text(.heads))]
    Commit {
        /// Revision id.
        revision: String,
        /// Which statement.
        what: &'static str,
        /// The error.
        detail: String,
        /// Heads after the failure.
        heads: Vec<String>,
    },
    /// A revision outside a transaction failed part way.
    #[error(
        "{error}. The revision runs outside a transaction, so what it did before failing stays{}; the heads table is still at {}. Later runs refuse to continue until you repair the schema and run `host resolve {revision} --reverted` (or `--applied` if you completed its work by hand)",
        invalid_text(.invalid), heads_text(.heads)
    )]
    Untransacted {
        /// Revision id.
        revision: String,
        /// What happened.
        error: Box<SandboxError>,
        /// Heads (unchanged).
        heads: Vec<String>,
        /// INVALID indexes in the database now.
        invalid: Vec<String>,
    },
    /// A statement of the revision waited for a lock past its lock timeout
    /// with the server's `lock_timeout` turned off, and the host cancelled it.
    #[error(
        "revision {revision} waited longer than its lock timeout of {limit:?} for a lock that another session holds, with the server's lock_timeout turned off by its own SQL, so the host cancelled the statement. The revision was rolled back; the database is still at {}. Retry when the blocking transaction is done, or raise --ddl-lock-timeout",
        heads_text(.heads)
    )]
    LockWait {
        /// Revision id.
        revision: String,
        /// The lock timeout that applied.
        limit: Duration,
        /// Heads (unchanged).
        heads: Vec<String>,
    },
    /// A revision ended the host's transaction itself.
    #[error(
        "revision {revision} ended the transaction the host ran it in (COMMIT or ROLLBACK in its SQL), so part of its work may have been committed outside the host's control; the heads table was not moved and stays at {}. Run `host check` to see what changed, repair the schema by hand, and fix the revision",
        heads_text(.heads)
    )]
    Escaped {
        /// Revision id.
        revision: String,
        /// Heads (unchanged).
        heads: Vec<String>,
    },
    /// An earlier revision outside a transaction did not finish.
    #[error(
        "revision {revision} ran outside a transaction at {started_at} and did not finish ({outcome}); part of it may be applied{}. Repair the schema, then run `host resolve {revision} --applied` if its work is complete or `host resolve {revision} --reverted` if it is undone. Nothing was run",
        invalid_text(.invalid)
    )]
    Unresolved {
        /// Revision id.
        revision: String,
        /// When it started.
        started_at: String,
        /// `running` or `failed: ...`.
        outcome: String,
        /// INVALID indexes in the database now.
        invalid: Vec<String>,
    },
}

impl From<PrepareError> for RunError {
    fn from(e: PrepareError) -> RunError {
        match e {
            PrepareError::Project(e) => RunError::Project(e),
            PrepareError::Sandbox(e) => RunError::Prepare(e),
        }
    }
}

impl RunError {
    /// The step failed because its guest ignored an SQL error and carried on
    /// in the aborted transaction: the error to report is the one it ignored.
    fn ignored_sql_error(
        revision: String,
        what: &'static str,
        cause: &DbError,
        heads: Vec<String>,
    ) -> RunError {
        RunError::Commit {
            revision,
            what,
            detail: format!(
                "the revision ignored an SQL error and returned success; PostgreSQL had aborted the transaction at that error: {cause}"
            ),
            heads,
        }
    }
}

/// The INVALID indexes an unfinished revision left behind, for an error message.
fn invalid_text(invalid: &[String]) -> String {
    if invalid.is_empty() {
        String::new()
    } else {
        format!(
            ": INVALID indexes left behind: {} (drop each with DROP INDEX CONCURRENTLY, or REINDEX it)",
            invalid.join(", ")
        )
    }
}

/// Heads as the messages show them: `base` when there are none.
fn heads_text(heads: &[String]) -> String {
    if heads.is_empty() {
        "base".to_string()
    } else {
        heads.join(", ")
    }
}

/// What a run tells its caller while it goes, so a long compile or revision
/// shows as it happens rather than after the whole run.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step begins: its component is being made ready, then it runs.
    Started {
        /// The revision of the step.
        revision: &'a str,
        /// Which way it runs.
        direction: Direction,
    },
    /// A step committed.
    Finished(&'a StepReport),
}

/// Receives a run's [`Event`]s; the library itself never prints.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(Event<'_>) + Send + Sync>);

impl Progress {
    /// Wraps a callback.
    pub fn new(f: impl Fn(Event<'_>) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }

    fn emit(progress: &Option<Progress>, event: Event<'_>) {
        if let Some(p) = progress {
            (p.0)(event);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long to wait for another migrator.
    pub lock_timeout: Duration,
    /// Names of the bookkeeping tables.
    pub tables: Tables,
    /// Record the schema fingerprint after a run's last step.
    pub fingerprint: bool,
    /// PostgreSQL `statement_timeout` for every statement of a revision.
    pub statement_timeout: Option<Duration>,
    /// PostgreSQL `lock_timeout` for every statement of a revision: a
    /// revision queued behind a long query fails fast instead of blocking
    /// the traffic queued behind it.
    pub ddl_lock_timeout: Option<Duration>,
    /// Where the run reports each step as it starts and ends.
    pub progress: Option<Progress>,
}

impl RunOptions {
    /// What the fingerprint covers: everything but the bookkeeping tables.
    pub fn scope(&self) -> Scope {
        Scope {
            exclude_tables: vec![self.tables.version.clone(), self.tables.history.clone()],
            ..Scope::default()
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            lock_timeout: Duration::from_secs(60),
            tables: Tables::default(),
            fingerprint: true,
            statement_timeout: None,
            ddl_lock_timeout: None,
            progress: None,
        }
    }
}

/// One step that ran.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Revision id.
    pub revision: String,
    /// Which way.
    pub direction: Direction,
    /// Guest call time.
    pub duration: Duration,
    /// SQL calls the guest made.
    pub statements: u64,
    /// blake3 of the SQL transcript.
    pub transcript: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Steps applied, in order.
    pub steps: Vec<StepReport>,
    /// Heads after the run.
    pub heads: Vec<String>,
}

/// Plans a move to `target` from the database's current heads.
pub fn make_plan(
    project: &Project,
    direction: Direction,
    target: &Target,
    heads: &[String],
) -> Result<Plan, PlanError> {
    match direction {
        Direction::Upgrade => plan::upgrade(&project.graph, heads, target),
        Direction::Downgrade => plan::downgrade(&project.graph, heads, target),
    }
}

/// Moves the database to `target`.
///
/// The run lock is held on `lock`, a connection of its own: the guest's SQL
/// goes through `client`, and a session lock on that connection could be
/// released by it (`pg_advisory_unlock_all()` spelled through dynamic SQL,
/// `DISCARD ALL` outside a transaction), letting a second run in.
pub async fn migrate(
    project: &Project,
    client: &Arc<Client>,
    lock: &Client,
    sandbox: &Sandbox,
    direction: Direction,
    target: &Target,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    // Callers answer a no-op run before building a sandbox (see the CLI);
    // here the plan is made once, under the lock.
    locked(lock, opts, async {
        let tables = opts.tables.locate(client).await?;
        refuse_unfinished(client, &tables).await?;
        // Another run may have moved the database while we waited for the lock.
        let heads = tables.read_heads(client).await?;
        let plan = make_plan(project, direction, target, &heads)?;
        if plan.is_empty() {
            return Ok(RunReport {
                steps: Vec::new(),
                heads,
            });
        }
        step::execute_in(project, client, Some(lock), sandbox, &plan, opts, &tables).await
    })
    .await
}

/// Runs `work` (a future, so it starts only when awaited) under the run lock.
async fn locked<T>(
    client: &Client,
    opts: &RunOptions,
    work: impl std::future::Future<Output = Result<T, RunError>>,
) -> Result<T, RunError> {
    opts.tables.lock(client, opts.lock_timeout).await?;
    let result = work.await;
    // A lost connection releases the lock by itself; a failed unlock must not hide the real error.
    let unlocked = opts.tables.unlock(client).await;
    let r = result?;
    unlocked?;
    Ok(r)
}

/// Stops a run while an earlier revision outside a transaction is unfinished.
async fn refuse_unfinished(client: &Client, tables: &Bookkeeping) -> Result<(), RunError> {
    if let Some(u) = tables.unfinished(client).await?.into_iter().next() {
        return Err(RunError::Unresolved {
            revision: u.revision,
            started_at: u.started_at,
            outcome: u.outcome,
            invalid: invalid_indexes(client).await,
        });
    }
    Ok(())
}

use crate::db::transaction::rollback;
