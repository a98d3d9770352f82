//! One step of an online run: the transaction it runs in (or, outside one, its
//! unfinished-run record), the guest call, the schema fingerprint, and the
//! bookkeeping committed with it, with failures sorted into what to report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::{Event, Progress, RunError, RunOptions, RunReport, StepReport, rollback, watchdog};
use crate::db::bookkeeping::{Bookkeeping, StepRecord, StoreError, invalid_indexes};
use crate::db::connect::HOST_SEARCH_PATH;
use crate::db::error::describe;
use crate::db::transaction::{RolledBack, rollback_checked};
use crate::fingerprint::{FingerprintError, Schema};
use crate::plan::{self, Plan};
use crate::project::{Project, RevisionSettings};
use crate::runtime::pipeline::{Pipeline, Ready};
use crate::runtime::sandbox::{Call, Prepared, Sandbox, SandboxError};
use crate::runtime::session::{Backend, Session};
use futures_util::future::Either;

/// Marker of the error raised when a revision's transaction was replaced.
const ESCAPED: &str = "host: the revision ended the transaction it ran in";

/// PL/pgSQL that fails unless the current transaction is the one with `txid`.
fn same_transaction_check(txid: &str) -> String {
    let txid: String = txid.chars().filter(char::is_ascii_digit).collect();
    format!(
        "IF pg_catalog.txid_current()::pg_catalog.text OPERATOR(pg_catalog.<>) '{txid}' THEN RAISE EXCEPTION '{ESCAPED}'; END IF; "
    )
}

/// Session settings a revision outside a transaction may have changed, set
/// back to what the host's own statements run with.
const RESET_SESSION: &str = "RESET statement_timeout; RESET lock_timeout; SET client_encoding = 'UTF8'; SET search_path = pg_catalog, pg_temp;\n";

/// Settings the host's own statements after a revision's SQL depend on, set
/// again, since the revision may have changed them: `client_encoding` to one
/// whose bytes the host cannot decode as UTF-8 (a non-ASCII name then crashed
/// the fingerprint read), and `search_path` to one that puts a schema of
/// look-alike catalog views or operators before `pg_catalog`. The encoding is
/// set for the session (it must hold after COMMIT, for the next step); the
/// path only for the step's transaction.
const PIN_SESSION: &str =
    "SET client_encoding = 'UTF8'; SET LOCAL search_path = pg_catalog, pg_temp;\n";

/// Runs a plan's steps, each in its own transaction with its bookkeeping.
/// The caller holds the lock and has checked that the plan starts from the
/// database's current heads.
pub async fn execute(
    project: &Project,
    client: &Arc<Client>,
    lock: Option<&Client>,
    sandbox: &Sandbox,
    plan: &Plan,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    let tables = opts.tables.locate(client).await?;
    execute_in(project, client, lock, sandbox, plan, opts, &tables).await
}

/// [`execute`] with the bookkeeping tables already located by the caller.
pub(super) async fn execute_in(
    project: &Project,
    client: &Arc<Client>,
    lock: Option<&Client>,
    sandbox: &Sandbox,
    plan: &Plan,
    opts: &RunOptions,
    tables: &Bookkeeping,
) -> Result<RunReport, RunError> {
    let mut heads = plan.heads_before.clone();
    let mut pipeline = Pipeline::start(project, sandbox, &plan.revisions())?;
    pipeline.first_ready().await?;
    tables.ensure(client).await?;
    // The watchdog needs the backend to watch; read only when it may run.
    let watched = lock.is_some()
        && (opts.ddl_lock_timeout.is_some()
            || plan
                .steps
                .iter()
                .any(|s| project.settings(&s.revision).lock_timeout.is_some()));
    let pid = match watched {
        true => Some(backend_pid(client).await?),
        false => None,
    };
    let mut report = RunReport {
        steps: Vec::new(),
        heads: heads.clone(),
    };
    let last = plan.steps.len().saturating_sub(1);
    for (n, step) in plan.steps.iter().enumerate() {
        Progress::emit(
            &opts.progress,
            Event::Started {
                revision: &step.revision,
                direction: step.direction,
            },
        );
        let ready = pipeline.next().await.expect("one component per step")?;
        let run = StepRun {
            project,
            client,
            lock,
            sandbox,
            opts,
            tables,
            pid,
            cancelled: AtomicBool::new(false),
            step,
            heads: &heads,
            last: n == last,
        };
        report.steps.push(run.run(ready).await?);
        heads = step.heads_after.clone();
        Progress::emit(
            &opts.progress,
            Event::Finished(report.steps.last().expect("just pushed")),
        );
    }
    report.heads = heads;
    Ok(report)
}

/// Everything one step needs, so its phases can be separate functions.
struct StepRun<'a> {
    project: &'a Project,
    client: &'a Arc<Client>,
    /// The connection holding the run lock, when the caller took one.
    lock: Option<&'a Client>,
    sandbox: &'a Sandbox,
    opts: &'a RunOptions,
    /// The bookkeeping tables, located once per run.
    tables: &'a Bookkeeping,
    /// The guest connection's backend, when a lock-wait watchdog may watch it.
    pid: Option<i32>,
    /// Set when the watchdog cancelled a statement of this step.
    cancelled: AtomicBool,
    step: &'a plan::Step,
    /// Heads before this step, which is also where a failed step leaves them.
    heads: &'a [String],
    /// Whether this is the plan's last step.
    last: bool,
}

impl StepRun<'_> {
    /// Runs the step: opens it, calls the guest, commits it with its bookkeeping.
    async fn run(&self, ready: Ready) -> Result<StepReport, RunError> {
        let Ready {
            prepared: prep,
            blake3,
        } = ready;
        let transactional = self.project.locked(&self.step.revision).transactional;
        let begin = begin_sql(
            transactional,
            &self.project.settings(&self.step.revision),
            self.opts,
        );
        let untransacted = if transactional {
            None
        } else {
            Some(
                self.tables
                    .start_untransacted(
                        self.client,
                        &self.step.revision,
                        self.step.direction,
                        &blake3,
                    )
                    .await?,
            )
        };
        let txid = self.begin(&begin, transactional).await?;
        let txid = txid.as_deref();
        let (session, duration) = self.call_guest(&prep, untransacted, txid).await?;
        let fingerprint = self.fingerprint(txid, &session).await?;
        let transcript = session.transcript_hash();
        let record = StepRecord {
            revision: &self.step.revision,
            direction: self.step.direction,
            heads_before: self.heads,
            heads_after: &self.step.heads_after,
            component_blake3: &blake3,
            transcript_blake3: &transcript,
            schema_fingerprint: fingerprint.as_deref(),
            duration,
        };
        let tables = self.tables;
        // Still the step's own transaction, and the heads what it started
        // from; then the step's bookkeeping, and the heads what it leaves.
        let prelude = txid.map(same_transaction_check).unwrap_or_default();
        let checked = |sql: String| {
            format!(
                "{PIN_SESSION}{}{sql}{}",
                tables.heads_before_check_sql(self.heads, &prelude),
                tables.heads_check_sql(&self.step.heads_after)
            )
        };
        let bookkeeping = match untransacted {
            None => checked(tables.step_sql(&record)),
            Some(id) => format!(
                "{RESET_SESSION}BEGIN;\n{}",
                checked(tables.finish_untransacted_sql(id, &record))
            ),
        };
        self.commit(&bookkeeping, &session, txid).await?;
        Ok(StepReport {
            revision: self.step.revision.clone(),
            direction: self.step.direction,
            duration,
            statements: session.statements(),
            transcript,
        })
    }

    /// Sends the step's opening statement, if it has one. The transaction's id
    /// is read with BEGIN (same round trip) and checked again before COMMIT: if
    /// a guest ended the transaction in a way the statement guard missed, the
    /// run says so instead of claiming a rollback.
    async fn begin(&self, begin: &str, transactional: bool) -> Result<Option<String>, RunError> {
        if begin.is_empty() {
            return Ok(None);
        }
        let query = if transactional {
            format!("{begin} SELECT pg_catalog.txid_current()::pg_catalog.text")
        } else {
            begin.to_string()
        };
        let msgs = self
            .client
            .simple_query(&query)
            .await
            .map_err(|e| RunError::Commit {
                revision: self.step.revision.clone(),
                what: "BEGIN",
                detail: describe(&e),
                heads: self.heads.to_vec(),
            })?;
        Ok(msgs.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        }))
    }

    /// Calls the guest with its SQL going to the database; on failure, rolls
    /// back or records the unfinished run outside a transaction.
    async fn call_guest(
        &self,
        prep: &Prepared,
        untransacted: Option<i64>,
        txid: Option<&str>,
    ) -> Result<(Session, Duration), RunError> {
        let started = Instant::now();
        let run = self.sandbox.run(
            prep,
            Call::from(self.step.direction),
            Session::new(Backend::Online(self.client.clone())),
        );
        let (outcome, session) = match (self.lock, self.pid, self.lock_timeout()) {
            (Some(lock), Some(pid), Some(limit)) => {
                let run = std::pin::pin!(run);
                let watch = std::pin::pin!(watchdog::watch(lock, pid, limit, &self.cancelled));
                match futures_util::future::select(run, watch).await {
                    Either::Left((done, _)) => done,
                    // The watching connection failed; commit refuses a closed lock.
                    Either::Right(((), run)) => run.await,
                }
            }
            _ => run.await,
        };
        let duration = started.elapsed();
        match outcome {
            Ok(()) => Ok((session, duration)),
            Err(source) => Err(self.guest_failed(source, untransacted, txid).await),
        }
    }

    async fn guest_failed(
        &self,
        source: SandboxError,
        untransacted: Option<i64>,
        txid: Option<&str>,
    ) -> RunError {
        let heads = self.heads.to_vec();
        let Some(id) = untransacted else {
            if let Err(escaped) = self.roll_back(txid).await {
                return escaped;
            }
            if let Some(waited) = self.lock_wait_cancelled() {
                return waited;
            }
            return RunError::Guest { source, heads };
        };
        let _ = self.client.batch_execute(RESET_SESSION).await;
        if let Err(e) = self
            .tables
            .fail_untransacted(self.client, id, &source.to_string())
            .await
        {
            return e.into();
        }
        RunError::Untransacted {
            revision: self.step.revision.clone(),
            error: Box::new(source),
            heads,
            invalid: invalid_indexes(self.client).await,
        }
    }

    /// How long a statement of this step may wait for a lock: the revision's
    /// own `lock_timeout`, else `--ddl-lock-timeout`.
    fn lock_timeout(&self) -> Option<Duration> {
        self.project
            .settings(&self.step.revision)
            .lock_timeout
            .or(self.opts.ddl_lock_timeout)
    }

    /// The error to report when the watchdog cancelled a statement of this step.
    fn lock_wait_cancelled(&self) -> Option<RunError> {
        if !self.cancelled.load(Ordering::SeqCst) {
            return None;
        }
        Some(RunError::LockWait {
            revision: self.step.revision.clone(),
            limit: self.lock_timeout().unwrap_or_default(),
            heads: self.heads.to_vec(),
        })
    }

    /// Rolls back the step's transaction and, inside one, checks that what was
    /// rolled back is the transaction the step began (`txid`): if the guest
    /// ended it in a way the statement guard missed, its work may be
    /// committed, and the run must say so rather than "rolled back".
    async fn roll_back(&self, txid: Option<&str>) -> Result<(), RunError> {
        let Some(txid) = txid else {
            rollback(self.client).await;
            return Ok(());
        };
        match rollback_checked(self.client, txid).await {
            RolledBack::Own => Ok(()),
            RolledBack::Escaped => Err(RunError::Escaped {
                revision: self.step.revision.clone(),
                heads: self.heads.to_vec(),
            }),
        }
    }

    /// The schema is fingerprinted once per run, after its last step, when a
    /// single head names the state (so it is comparable with the lock).
    async fn fingerprint(
        &self,
        txid: Option<&str>,
        session: &Session,
    ) -> Result<Option<String>, RunError> {
        if !(self.opts.fingerprint && self.last && self.step.heads_after.len() == 1) {
            return Ok(None);
        }
        // In an aborted transaction this fails too, and the read below says why.
        let _ = self.client.batch_execute(PIN_SESSION).await;
        let e = match Schema::read(self.client, &self.opts.scope()).await {
            Ok(schema) => return Ok(Some(schema.fingerprint())),
            Err(FingerprintError::Unsupported(_)) => return Ok(None),
            Err(e) => e,
        };
        self.roll_back(txid).await?;
        let what = "reading the schema fingerprint";
        let revision = self.step.revision.clone();
        let heads = self.heads.to_vec();
        // In an aborted transaction every read fails with 25P02: the cause is
        // the SQL error the revision ignored.
        Err(
            match (e.to_string().contains("25P02"), session.last_error()) {
                (true, Some(cause)) => RunError::ignored_sql_error(revision, what, cause, heads),
                _ => RunError::Commit {
                    revision,
                    what,
                    detail: e.to_string(),
                    heads,
                },
            },
        )
    }

    /// Sends the bookkeeping and COMMIT; a failure is reported as the SQL error
    /// the guest ignored, as the guest ending the transaction, or as itself.
    async fn commit(
        &self,
        bookkeeping: &str,
        session: &Session,
        txid: Option<&str>,
    ) -> Result<(), RunError> {
        // The lock is a session lock: if its connection closed, another run
        // may already be under way, so the step must not commit.
        if self.lock.is_some_and(Client::is_closed) {
            self.roll_back(txid).await?;
            return Err(RunError::Commit {
                revision: self.step.revision.clone(),
                what: "holding the run lock",
                detail: "the connection that held it closed, so another run may have started"
                    .to_string(),
                heads: self.heads.to_vec(),
            });
        }
        // A revision's session-level SET of the path outlives its COMMIT.
        let Err(e) = self
            .client
            .batch_execute(&format!("{bookkeeping}COMMIT; {HOST_SEARCH_PATH}"))
            .await
        else {
            return Ok(());
        };
        self.roll_back(txid).await?;
        let revision = self.step.revision.clone();
        let heads = self.heads.to_vec();
        // The guest carried on in an aborted transaction (SQLSTATE 25P02), so
        // the error to report is the one it ignored.
        let aborted = e.as_db_error().is_some_and(|d| d.code().code() == "25P02");
        if let (true, Some(waited)) = (aborted, self.lock_wait_cancelled()) {
            return Err(waited);
        }
        if let (true, Some(cause)) = (aborted, session.last_error()) {
            let what = "the revision's transaction";
            return Err(RunError::ignored_sql_error(revision, what, cause, heads));
        }
        if e.as_db_error()
            .is_some_and(|d| d.message().contains(ESCAPED))
        {
            return Err(RunError::Escaped { revision, heads });
        }
        Err(RunError::Commit {
            revision,
            what: "recording the step and committing",
            detail: describe(&e),
            heads,
        })
    }
}

/// The backend process of the guest's connection.
async fn backend_pid(client: &Client) -> Result<i32, StoreError> {
    let row = client
        .query_one("SELECT pg_catalog.pg_backend_pid()", &[])
        .await
        .map_err(|source| StoreError::Sql {
            what: "reading the connection's backend process id",
            source,
        })?;
    Ok(row.get(0))
}

/// The statement that opens a step: BEGIN inside a transaction, and the
/// step's timeouts. Outside a transaction the settings are the session's,
/// reset afterwards.
fn begin_sql(transactional: bool, settings: &RevisionSettings, opts: &RunOptions) -> String {
    // The revision gets the database's own search_path, not the host's pinned one.
    let (mut begin, set) = if transactional {
        (
            String::from("BEGIN; SET LOCAL search_path TO DEFAULT;"),
            "SET LOCAL",
        )
    } else {
        (String::from("SET search_path TO DEFAULT;"), "SET")
    };
    let timeouts = [
        (
            "statement_timeout",
            settings.statement_timeout.or(opts.statement_timeout),
        ),
        (
            "lock_timeout",
            settings.lock_timeout.or(opts.ddl_lock_timeout),
        ),
    ];
    for (name, value) in timeouts {
        if let Some(d) = value {
            begin.push_str(&format!(" {set} {name} = {};", d.as_millis().max(1)));
        }
    }
    begin
}
