//! Proving what ran: replaying the chain on a scratch database to learn each
//! revision's transcript and schema fingerprint, checking a live schema for
//! drift, finding where a database with wrong bookkeeping stands, and
//! verifying a database's history against the lock.

use crate::db::bookkeeping::StoreError;
use crate::db::connect::ScratchSite;
use crate::db::error::describe;
use crate::fingerprint::{FingerprintError, Schema};
use crate::plan::{self, Plan};
use crate::project::{Project, ProjectError};
use crate::runtime::runner::{self, RunError, RunOptions};
use crate::runtime::sandbox::Sandbox;
use crate::sql::quote::ident;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio_postgres::Client;

/// Why a verification could not be carried out (as opposed to finding a problem).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The scratch database could not be made or reached.
    #[error(
        "cannot {what} the scratch database {name}: {detail}; the replay needs a role that may CREATE DATABASE on this server"
    )]
    Scratch {
        /// create, connect to, drop.
        what: &'static str,
        /// Its name.
        name: String,
        /// What failed.
        detail: String,
    },
    /// The role may not create databases, and no one else makes them for it.
    #[error(
        "cannot create the scratch database {name}: role \"{role}\" may not create databases (SQLSTATE 42501); `host fingerprint`, `host check`, `host identify` and `host verify --replay` replay the chain on a scratch database beside the configured one, so grant the role CREATEDB (`ALTER ROLE \"{role}\" CREATEDB`; it reaches no file or program of the server) or run the command as a role that has it"
    )]
    ScratchDenied {
        /// The scratch database's name.
        name: String,
        /// The role that tried.
        role: String,
    },
    /// A revision failed during the replay.
    #[error("replaying the chain on a scratch database failed: {0}")]
    Replay(#[from] RunError),
    /// The catalog could not be read.
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    /// Bookkeeping could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lock has no fingerprints yet.
    #[error(
        "migrations.lock has no schema fingerprint for {0}; record them with `host fingerprint` and commit the lock"
    )]
    NoFingerprint(String),
    /// The heads table names a revision the project does not have.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
}

/// A database that exists for one replay and is dropped afterwards.
pub struct Scratch {
    admin: Arc<Client>,
    name: String,
    /// Connection to the scratch database.
    pub client: Arc<Client>,
}

impl Scratch {
    /// The scratch database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates an empty database at `site`, owned by its migrating role.
    pub async fn create(site: &ScratchSite) -> Result<Scratch, VerifyError> {
        let admin = &site.admin;
        let name = format!(
            "host_scratch_{}",
            &blake3::hash(
                format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes()
            )
            .to_hex()[..12]
        );
        let fail = |what, detail: String| VerifyError::Scratch {
            what,
            name: name.clone(),
            detail,
        };
        let owner = match &site.owner {
            Some(role) => format!(" OWNER {}", ident(role)),
            None => String::new(),
        };
        if let Err(e) = admin
            .batch_execute(&format!("CREATE DATABASE {}{owner}", ident(&name)))
            .await
        {
            if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
                return Err(VerifyError::ScratchDenied {
                    name,
                    role: site.config.get_user().unwrap_or("?").to_owned(),
                });
            }
            return Err(fail("create", describe(&e)));
        }
        let mut scratch_cfg = site.config.clone();
        scratch_cfg.dbname(&name);
        match crate::db::connect::connect(&scratch_cfg, "the scratch database").await {
            Ok(client) => Ok(Scratch {
                admin: admin.clone(),
                name,
                client,
            }),
            Err(e) => {
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {}", ident(&name)))
                    .await;
                Err(fail("connect to", e.to_string()))
            }
        }
    }

    /// Drops the database.
    pub async fn drop(self) -> Result<(), VerifyError> {
        drop(self.client);
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident(&self.name)
            ))
            .await
            .map_err(|e| VerifyError::Scratch {
                what: "drop",
                name: self.name.clone(),
                detail: describe(&e),
            })
    }
}

/// What one revision produced in a replay.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// Revision id.
    pub revision: String,
    /// blake3 of its upgrade's SQL transcript.
    pub transcript: String,
    /// The schema with it and its ancestors applied.
    pub schema: Schema,
}

fn scratch_options(opts: &RunOptions) -> RunOptions {
    RunOptions {
        fingerprint: false,
        progress: None,
        ..opts.clone()
    }
}

/// Replays every revision in topological order on an empty database, each
/// time with exactly the revision and its ancestors applied (other branches
/// are reverted first), and reads the schema after it.
pub async fn replay(
    project: &Project,
    sandbox: &Sandbox,
    scratch: &Arc<Client>,
    opts: &RunOptions,
) -> Result<Vec<Replayed>, VerifyError> {
    let graph = &project.graph;
    let opts = scratch_options(opts);
    let mut applied = BTreeSet::new();
    let mut out = Vec::new();
    for rev in graph.topological() {
        let goal = graph.ancestors([rev.id.as_str()]);
        let extra: BTreeSet<String> = applied.difference(&goal).cloned().collect();
        if !extra.is_empty() {
            let down = plan::downgrade_from(graph, &applied, extra);
            runner::execute(project, scratch, None, sandbox, &down, &opts).await?;
        }
        applied = applied.intersection(&goal).cloned().collect();
        let up = plan::upgrade_to(graph, &applied, std::slice::from_ref(&rev.id));
        let report = runner::execute(project, scratch, None, sandbox, &up, &opts).await?;
        applied = goal;
        let transcript = report
            .steps
            .iter()
            .rfind(|s| s.revision == rev.id)
            .map(|s| s.transcript.clone())
            .unwrap_or_default();
        out.push(Replayed {
            revision: rev.id.clone(),
            transcript,
            schema: Schema::read(scratch, &opts.scope()).await?,
        });
    }
    Ok(out)
}

/// The schema a database at `heads` should have, from a replay on `scratch`.
pub async fn expected_schema(
    project: &Project,
    sandbox: &Sandbox,
    scratch: &Arc<Client>,
    heads: &[String],
    opts: &RunOptions,
) -> Result<Schema, VerifyError> {
    let applied = plan::applied_set(&project.graph, heads)?;
    let up: Plan = plan::upgrade_to(
        &project.graph,
        &BTreeSet::new(),
        &project.graph.sorted(applied),
    );
    runner::execute(project, scratch, None, sandbox, &up, &scratch_options(opts)).await?;
    Ok(Schema::read(scratch, &opts.scope()).await?)
}

/// The outcome of `host check`.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The database's heads.
    pub heads: Vec<String>,
    /// Fingerprint of the live schema.
    pub live: String,
    /// Differences in words; empty when the schema is as expected.
    pub differences: Vec<String>,
}

/// Compares the live schema with what its current heads should give.
pub async fn check(
    project: &Project,
    client: &Arc<Client>,
    sandbox: &Sandbox,
    site: &ScratchSite,
    opts: &RunOptions,
) -> Result<Drift, VerifyError> {
    let heads = opts.tables.read_heads(client).await?;
    plan::applied_set(&project.graph, &heads)?;
    let live = Schema::read(client, &opts.scope()).await?;
    let live_fp = live.fingerprint();
    // Fast path: the lock already knows the answer.
    if let [head] = heads.as_slice()
        && project.locked(head).fingerprint.as_deref() == Some(live_fp.as_str())
    {
        return Ok(Drift {
            heads,
            live: live_fp,
            differences: Vec::new(),
        });
    }
    let scratch = Scratch::create(site).await?;
    let expected = expected_schema(project, sandbox, &scratch.client, &heads, opts).await;
    scratch.drop().await?;
    let label = if heads.is_empty() {
        "base".to_string()
    } else {
        heads.join(", ")
    };
    Ok(Drift {
        differences: Schema::diff(&expected?, &live, &label),
        heads,
        live: live_fp,
    })
}

/// The outcome of `host identify`.
#[derive(Debug, Clone)]
pub struct Identified {
    /// What the heads table says.
    pub recorded: Vec<String>,
    /// Revisions whose expected schema equals the live one.
    pub matches: Vec<String>,
    /// When nothing matches: the closest revisions and what differs.
    pub closest: Vec<(String, Vec<String>)>,
}

/// Finds which revision the live schema corresponds to, whatever the heads table says.
pub async fn identify(
    project: &Project,
    client: &Arc<Client>,
    sandbox: &Sandbox,
    site: &ScratchSite,
    opts: &RunOptions,
) -> Result<Identified, VerifyError> {
    // Read raw rows: the table may name revisions the project lacks.
    let recorded = opts.tables.read_heads(client).await?;
    let live = Schema::read(client, &opts.scope()).await?;
    let fp = live.fingerprint();
    let mut matches: Vec<String> = project
        .lock
        .revisions
        .iter()
        .filter(|r| r.fingerprint.as_deref() == Some(fp.as_str()))
        .map(|r| r.id.clone())
        .collect();
    let have_all = project
        .lock
        .revisions
        .iter()
        .all(|r| r.fingerprint.is_some());
    let mut closest = Vec::new();
    if matches.is_empty() || !have_all {
        let scratch = Scratch::create(site).await?;
        let replayed = replay(project, sandbox, &scratch.client, opts).await;
        scratch.drop().await?;
        let mut scored: Vec<(String, Vec<String>)> = replayed?
            .into_iter()
            .map(|r| {
                let diff = Schema::diff(&r.schema, &live, &r.revision);
                (r.revision, diff)
            })
            .collect();
        for (rev, diff) in &scored {
            if diff.is_empty() && !matches.contains(rev) {
                matches.push(rev.clone());
            }
        }
        if matches.is_empty() {
            scored.sort_by_key(|(_, d)| d.len());
            closest = scored.into_iter().take(3).collect();
        }
    }
    Ok(Identified {
        recorded,
        matches,
        closest,
    })
}

/// A problem `host verify` found; each kind has its own exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A component on disk differs from the lock (exit 3).
    Component(String),
    /// The history names a revision the lock does not have (exit 4).
    UnknownRevision(String),
    /// A recorded component hash differs from the lock (exit 4).
    HistoryComponent(String),
    /// A recorded or replayed transcript differs from the lock (exit 5).
    Transcript(String),
    /// A recorded or replayed fingerprint differs from the lock (exit 6).
    Fingerprint(String),
}

impl Finding {
    /// The process exit code for this kind of finding.
    pub fn exit_code(&self) -> u8 {
        match self {
            Finding::Component(_) => 3,
            Finding::UnknownRevision(_) | Finding::HistoryComponent(_) => 4,
            Finding::Transcript(_) => 5,
            Finding::Fingerprint(_) => 6,
        }
    }

    /// The finding in words.
    pub fn message(&self) -> &str {
        match self {
            Finding::Component(m)
            | Finding::UnknownRevision(m)
            | Finding::HistoryComponent(m)
            | Finding::Transcript(m)
            | Finding::Fingerprint(m) => m,
        }
    }
}

/// Checks every component against the lock.
pub fn verify_components(project: &Project) -> Vec<Finding> {
    project
        .lock
        .revisions
        .iter()
        .filter_map(|r| match project.load_component(&r.id) {
            Ok(_) => None,
            Err(e @ ProjectError::HashMismatch { .. })
            | Err(e @ ProjectError::Component { .. }) => Some(Finding::Component(e.to_string())),
            Err(e) => Some(Finding::Component(e.to_string())),
        })
        .collect()
}

/// Checks a database's history rows against the lock.
pub async fn verify_history(
    project: &Project,
    client: &Client,
    opts: &RunOptions,
) -> Result<Vec<Finding>, VerifyError> {
    let mut out = Vec::new();
    let tables = opts.tables.locate(client).await?;
    for attached in tables.attachments(client).await? {
        out.push(Finding::HistoryComponent(format!(
            "{attached}: it can change what the host records in its bookkeeping, so the history cannot be trusted; drop it and compare the history with the lock again"
        )));
    }
    for row in tables.history(client).await? {
        if row.direction != "upgrade" {
            continue;
        }
        let at = format!("history row of {} at {}", row.revision, row.applied_at);
        let Some(locked) = project.lock.get(&row.revision) else {
            out.push(Finding::UnknownRevision(format!(
                "{at}: revision {} is not in the lock",
                row.revision
            )));
            continue;
        };
        if row.component_blake3.as_deref() != Some(locked.blake3.as_str()) {
            out.push(Finding::HistoryComponent(format!(
                "{at}: the component that ran had blake3 {}, the lock says {}",
                row.component_blake3.as_deref().unwrap_or("(none)"),
                locked.blake3
            )));
        }
        if let (Some(ran), Some(want)) = (&row.transcript_blake3, &locked.transcript)
            && ran != want
        {
            out.push(Finding::Transcript(format!(
                "{at}: it sent SQL with transcript {ran}, the lock's replay sent {want}"
            )));
        }
        if let (Some(seen), Some(want)) = (&row.schema_fingerprint, &locked.fingerprint)
            && seen != want
        {
            out.push(Finding::Fingerprint(format!(
                "{at}: the schema after it had fingerprint {seen}, the lock expects {want}; `host check` lists the differences"
            )));
        }
    }
    Ok(out)
}

/// Compares a replay with the lock's transcripts and fingerprints.
pub fn verify_replay(project: &Project, replayed: &[Replayed]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in replayed {
        let locked = project.locked(&r.revision);
        if let Some(want) = &locked.transcript
            && *want != r.transcript
        {
            out.push(Finding::Transcript(format!(
                "replay of {}: transcript {} differs from the lock's {want}",
                r.revision, r.transcript
            )));
        }
        let fp = r.schema.fingerprint();
        if let Some(want) = &locked.fingerprint
            && *want != fp
        {
            out.push(Finding::Fingerprint(format!(
                "replay of {}: schema fingerprint {fp} differs from the lock's {want}",
                r.revision
            )));
        }
    }
    out
}
