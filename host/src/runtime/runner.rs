//! Executes a plan: verifies every component before any SQL, then runs each
//! step in its own transaction together with its bookkeeping, under the
//! advisory lock.

use crate::db::bookkeeping::{StepRecord, StoreError, Tables, describe, invalid_indexes};
use crate::fingerprint::{FingerprintError, Schema, Scope};
use crate::plan::{self, Direction, Plan, PlanError, Range, Target};
use crate::project::{Project, ProjectError};
use crate::runtime::pipeline::{Pipeline, PrepareError, Ready};
use crate::runtime::sandbox::{Call, Sandbox, SandboxError};
use crate::runtime::script_cache::{self, Script, ScriptCache};
use crate::runtime::session::{Backend, Session};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

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

/// When the transaction failed because the guest ignored an SQL error (it
/// carried on in an aborted transaction, SQLSTATE 25P02), the error to report
/// is the one it ignored.
fn swallowed(
    e: &tokio_postgres::Error,
    session: &Session,
) -> Option<impl FnOnce(String, Vec<String>) -> RunError> {
    let aborted = e.as_db_error().is_some_and(|d| d.code().code() == "25P02");
    let cause = session.last_error()?.clone();
    aborted.then_some({
        move |revision: String, heads: Vec<String>| RunError::Commit {
            revision,
            what: "the revision's transaction",
            detail: format!(
                "the revision ignored an SQL error and returned success; PostgreSQL had aborted the transaction at that error: {cause}"
            ),
            heads,
        }
    })
}

/// Marker of the error raised when a revision's transaction was replaced.
const ESCAPED: &str = "host: the revision ended the transaction it ran in";

/// SQL that fails unless the current transaction is the one with `txid`.
fn same_transaction_sql(txid: &str) -> String {
    let txid: String = txid.chars().filter(char::is_ascii_digit).collect();
    format!(
        "DO $host$ BEGIN IF txid_current()::text <> '{txid}' THEN RAISE EXCEPTION '{ESCAPED}'; END IF; END $host$;\n"
    )
}

/// Session settings a revision outside a transaction may have changed.
const RESET_TIMEOUTS: &str = "RESET statement_timeout; RESET lock_timeout;\n";

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
pub async fn migrate(
    project: &Project,
    client: &Arc<Client>,
    sandbox: &Sandbox,
    direction: Direction,
    target: &Target,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    // Callers answer a no-op run before building a sandbox (see the CLI);
    // here the plan is made once, under the lock.
    locked(
        client,
        opts,
        migrate_locked(project, client, sandbox, direction, target, opts),
    )
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

async fn migrate_locked(
    project: &Project,
    client: &Arc<Client>,
    sandbox: &Sandbox,
    direction: Direction,
    target: &Target,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    refuse_unfinished(client, opts).await?;
    // Another run may have moved the database while we waited for the lock.
    let heads = opts.tables.read_heads(client).await?;
    let plan = make_plan(project, direction, target, &heads)?;
    if plan.is_empty() {
        return Ok(RunReport {
            steps: Vec::new(),
            heads,
        });
    }
    execute(project, client, sandbox, &plan, opts).await
}

/// Runs a plan's steps, each in its own transaction with its bookkeeping.
/// The caller holds the lock and has checked that the plan starts from the
/// database's current heads.
pub async fn execute(
    project: &Project,
    client: &Arc<Client>,
    sandbox: &Sandbox,
    plan: &Plan,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    let mut heads = plan.heads_before.clone();
    let mut pipeline = Pipeline::start(project, sandbox, &plan.revisions())?;
    pipeline.first_ready().await?;
    opts.tables.ensure(client).await?;
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
        let Ready {
            prepared: prep,
            blake3,
        } = pipeline.next().await.expect("one component per step")?;
        let blake3 = &blake3;
        let transactional = project.locked(&step.revision).transactional;
        let settings = project.settings(&step.revision);
        // Outside a transaction the settings are the session's, reset afterwards.
        let (mut begin, set) = if transactional {
            (String::from("BEGIN;"), "SET LOCAL")
        } else {
            (String::new(), "SET")
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
        let untransacted = if transactional {
            None
        } else {
            Some(
                opts.tables
                    .start_untransacted(client, &step.revision, step.direction, blake3)
                    .await?,
            )
        };
        // The transaction's id is read with BEGIN (same round trip) and
        // checked again before COMMIT: if a guest ended the transaction in a
        // way the statement guard missed, the run says so instead of claiming
        // a rollback.
        let mut txid = None;
        if !begin.is_empty() {
            let query = if transactional {
                format!("{begin} SELECT txid_current()::text")
            } else {
                begin.clone()
            };
            let msgs = client
                .simple_query(&query)
                .await
                .map_err(|e| RunError::Commit {
                    revision: step.revision.clone(),
                    what: "BEGIN",
                    detail: describe(&e),
                    heads: heads.clone(),
                })?;
            txid = msgs.iter().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            });
        }
        let started = Instant::now();
        let (outcome, session) = sandbox
            .run(
                &prep,
                Call::from(step.direction),
                Session::new(Backend::Online(client.clone())),
            )
            .await;
        let duration = started.elapsed();
        if let Err(source) = outcome {
            let Some(id) = untransacted else {
                rollback(client).await;
                return Err(RunError::Guest { source, heads });
            };
            let _ = client.batch_execute(RESET_TIMEOUTS).await;
            opts.tables
                .fail_untransacted(client, id, &source.to_string())
                .await?;
            return Err(RunError::Untransacted {
                revision: step.revision.clone(),
                error: Box::new(source),
                heads,
                invalid: invalid_indexes(client).await,
            });
        }
        // The schema is fingerprinted once per run, after its last step, when a
        // single head names the state (so it is comparable with the lock).
        let fingerprint = if opts.fingerprint && n == last && step.heads_after.len() == 1 {
            match Schema::read(client, &opts.scope()).await {
                Ok(schema) => Some(schema.fingerprint()),
                Err(FingerprintError::Unsupported(_)) => None,
                Err(e) => {
                    if transactional {
                        rollback(client).await;
                    }
                    // In an aborted transaction every read fails with 25P02:
                    // the cause is the SQL error the revision ignored.
                    let detail = match (e.to_string().contains("25P02"), session.last_error()) {
                        (true, Some(cause)) => format!(
                            "the revision ignored an SQL error and returned success; PostgreSQL had aborted the transaction at that error: {cause}"
                        ),
                        _ => e.to_string(),
                    };
                    return Err(RunError::Commit {
                        revision: step.revision.clone(),
                        what: "reading the schema fingerprint",
                        detail,
                        heads,
                    });
                }
            }
        } else {
            None
        };
        let transcript = session.transcript_hash();
        let record = StepRecord {
            revision: &step.revision,
            direction: step.direction,
            heads_before: &heads,
            heads_after: &step.heads_after,
            component_blake3: blake3,
            transcript_blake3: &transcript,
            schema_fingerprint: fingerprint.as_deref(),
            duration,
        };
        let bookkeeping = match untransacted {
            None => format!(
                "{}{}",
                txid.as_deref()
                    .map(same_transaction_sql)
                    .unwrap_or_default(),
                opts.tables.step_sql(&record)
            ),
            Some(id) => format!(
                "{RESET_TIMEOUTS}BEGIN;\n{}",
                opts.tables.finish_untransacted_sql(id, &record)
            ),
        };
        if let Err(e) = client.batch_execute(&format!("{bookkeeping}COMMIT")).await {
            rollback(client).await;
            if let Some(swallowed) = swallowed(&e, &session) {
                return Err(swallowed(step.revision.clone(), heads));
            }
            if e.as_db_error()
                .is_some_and(|d| d.message().contains(ESCAPED))
            {
                return Err(RunError::Escaped {
                    revision: step.revision.clone(),
                    heads,
                });
            }
            return Err(RunError::Commit {
                revision: step.revision.clone(),
                what: "recording the step and committing",
                detail: describe(&e),
                heads,
            });
        }
        heads = step.heads_after.clone();
        report.steps.push(StepReport {
            revision: step.revision.clone(),
            direction: step.direction,
            duration,
            statements: session.statements(),
            transcript,
        });
        Progress::emit(
            &opts.progress,
            Event::Finished(report.steps.last().expect("just pushed")),
        );
    }
    report.heads = heads;
    Ok(report)
}

/// Stops a run while an earlier revision outside a transaction is unfinished.
async fn refuse_unfinished(client: &Client, opts: &RunOptions) -> Result<(), RunError> {
    if let Some(u) = opts.tables.unfinished(client).await?.into_iter().next() {
        return Err(RunError::Unresolved {
            revision: u.revision,
            started_at: u.started_at,
            outcome: u.outcome,
            invalid: invalid_indexes(client).await,
        });
    }
    Ok(())
}

/// Records how the user repaired an unfinished revision outside a
/// transaction: `applied` moves the heads as if it had completed.
pub async fn resolve(
    project: &Project,
    client: &Arc<Client>,
    revision: &str,
    applied: bool,
    opts: &RunOptions,
) -> Result<Vec<String>, RunError> {
    locked(client, opts, async {
        let unfinished = opts.tables.unfinished(client).await?;
        let Some(u) = unfinished.iter().find(|u| u.revision == revision) else {
            return Err(RunError::Plan(PlanError::Range(format!(
                "revision {revision} has no unfinished run to resolve{}",
                if unfinished.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; unfinished: {}",
                        unfinished
                            .iter()
                            .map(|u| u.revision.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ))));
        };
        let heads = opts.tables.read_heads(client).await?;
        let mut applied_set = plan::applied_set(&project.graph, &heads)?;
        let after = match (applied, u.direction.as_str()) {
            (false, _) => heads.clone(),
            (true, "downgrade") => {
                applied_set.remove(revision);
                project.graph.heads_of(&applied_set)
            }
            (true, _) => {
                applied_set.insert(revision.to_string());
                project.graph.heads_of(&applied_set)
            }
        };
        let script = format!(
            "BEGIN;\n{}{}COMMIT;",
            opts.tables.heads_sql(&heads, &after),
            opts.tables.resolve_sql(u.id, applied)
        );
        client
            .batch_execute(&script)
            .await
            .map_err(|e| RunError::Commit {
                revision: revision.to_string(),
                what: "recording the resolution",
                detail: describe(&e),
                heads: heads.clone(),
            })?;
        Ok(after)
    })
    .await
}

/// Rolls back the open transaction; if the connection is gone, the server
/// already did. Bounded: behind a silent network the ROLLBACK would wait
/// forever, and the process exiting closes the connection, which rolls back.
async fn rollback(client: &Client) {
    let _ = tokio::time::timeout(Duration::from_secs(10), client.batch_execute("ROLLBACK")).await;
}

/// Writes the heads table to `targets` without running any revision
/// (`stamp`); returns the heads before and after.
pub async fn stamp(
    project: &Project,
    client: &Arc<Client>,
    targets: &[Target],
    purge: bool,
    opts: &RunOptions,
) -> Result<(Vec<String>, Vec<String>), RunError> {
    locked(client, opts, async {
        let before = opts.tables.read_heads(client).await?;
        let after = plan::stamp(&project.graph, &before, targets, purge)?;
        let script = format!(
            "BEGIN;\n{}{}COMMIT;",
            opts.tables.ensure_sql(),
            opts.tables.stamp_sql(&before, &after, purge)
        );
        if let Err(e) = client.batch_execute(&script).await {
            rollback(client).await;
            return Err(RunError::Commit {
                revision: after.join(", "),
                what: "stamping the heads table",
                detail: describe(&e),
                heads: before,
            });
        }
        Ok((before, after))
    })
    .await
}

/// Offline mode (`--sql`): runs the plan for `range` with every guest's SQL
/// written into one script (one transaction per revision, bookkeeping
/// included) instead of sent; no database is read.
pub async fn offline_script(
    project: &Project,
    sandbox: &Sandbox,
    direction: Direction,
    range: &Range,
    opts: &RunOptions,
) -> Result<String, RunError> {
    let plan = plan::offline(&project.graph, direction, range)?;
    // Every component is checked as for an online run; only those whose
    // output is not remembered yet are compiled and run.
    Pipeline::check(project, sandbox, &plan.revisions())?;
    let scripts = ScriptCache::new(sandbox.cache_dir().map(|d| d.join("offline")));
    let hashes: Vec<String> = plan
        .steps
        .iter()
        .map(|s| project.locked(&s.revision).blake3.to_ascii_lowercase())
        .collect();
    let keys: Vec<String> = plan
        .steps
        .iter()
        .zip(&hashes)
        .map(|(s, blake3)| {
            // Package parameters change what a guest writes.
            let config = project.config(&s.revision);
            script_cache::key(blake3, s.direction, sandbox.limits(), &config)
        })
        .collect();
    let mut hits: Vec<Option<Script>> = keys.iter().map(|k| scripts.get(k)).collect();
    let misses: Vec<String> = plan
        .steps
        .iter()
        .zip(&hits)
        .filter(|(_, hit)| hit.is_none())
        .map(|(s, _)| s.revision.clone())
        .collect();
    let mut pipeline = Pipeline::compile(project, sandbox, &misses)?;
    let mut out = format!(
        "-- Generated by host {} (offline mode): {direction} from {} to {}\n-- Each revision runs in its own transaction together with its bookkeeping.\n\nBEGIN;\n{}COMMIT;\n",
        crate::VERSION,
        heads_text(&plan.heads_before),
        heads_text(&plan.heads_after),
        opts.tables.ensure_sql(),
    );
    let mut heads = plan.heads_before.clone();
    for (n, step) in plan.steps.iter().enumerate() {
        let blake3 = &hashes[n];
        let rev = project
            .graph
            .get(&step.revision)
            .expect("planned revisions exist");
        let Script { transcript, sql } = match hits[n].take() {
            Some(script) => script,
            None => {
                let ready = pipeline.next().await.expect("one component per miss")?;
                let session = Session::new(Backend::Offline(String::new()));
                let (outcome, session) = sandbox
                    .run(&ready.prepared, Call::from(step.direction), session)
                    .await;
                if let Err(source) = outcome {
                    return Err(RunError::Guest { source, heads });
                }
                let script = Script {
                    transcript: session.transcript_hash(),
                    sql: session.into_script(),
                };
                scripts.put(&keys[n], &script);
                script
            }
        };
        // A revision outside a transaction runs statement by statement; only
        // its bookkeeping is transactional.
        let (open, close) = if project.locked(&step.revision).transactional {
            ("BEGIN;\n", "")
        } else {
            ("-- outside a transaction\n", "BEGIN;\n")
        };
        out.push_str(&format!(
            "\n-- Running {} {} ({}), {}\n{open}{}{close}",
            step.direction,
            step.revision,
            if rev.parents.is_empty() {
                "root".to_string()
            } else {
                format!("after {}", rev.parents.join(", "))
            },
            rev.message.replace('\n', " "),
            sql
        ));
        out.push_str(&opts.tables.step_sql(&StepRecord {
            revision: &step.revision,
            direction: step.direction,
            heads_before: &heads,
            heads_after: &step.heads_after,
            component_blake3: blake3,
            transcript_blake3: &transcript,
            schema_fingerprint: None,
            duration: Duration::ZERO,
        }));
        out.push_str("COMMIT;\n");
        heads = step.heads_after.clone();
    }
    Ok(out)
}
