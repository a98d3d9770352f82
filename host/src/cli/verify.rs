//! The commands that prove the schema and its history: `fingerprint`,
//! `check`, `identify` and `verify`. Replays run on a scratch database
//! beside the configured one and drop it afterwards.

use super::args::{Context, sandbox};
use super::output::describe_heads;
use anyhow::Result;
use host::db::connect::ScratchSite;
use host::project::Project;
use host::runtime::runner::RunOptions;
use host::runtime::sandbox::Sandbox;
use host::verify;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_postgres::Client;

/// What the verification commands work with.
struct Verifying {
    project: Project,
    client: Arc<Client>,
    site: ScratchSite,
    opts: RunOptions,
    sandbox: Sandbox,
}

/// Opens the project, connects, and makes a sandbox for replays.
async fn verifying(ctx: &Context) -> Result<Verifying> {
    let project = ctx.project()?;
    let db = ctx.connect_for_revisions().await?;
    let sandbox = sandbox(&project, ctx.limits())?;
    Ok(Verifying {
        project,
        site: db.scratch_site().await?,
        client: db.client,
        opts: ctx.options(),
        sandbox,
    })
}

/// `host fingerprint`: replay the chain and record transcripts and fingerprints.
pub async fn fingerprint(ctx: &Context) -> Result<ExitCode> {
    let v = verifying(ctx).await?;
    let scratch = verify::Scratch::create(&v.site).await?;
    let scratch_name = scratch.name().to_string();
    let replayed = verify::replay(&v.project, &v.sandbox, &scratch.client, &v.opts).await;
    scratch.drop().await?;
    say!("replayed on the scratch database {scratch_name} (dropped)");
    let mut lock = v.project.lock.clone();
    for r in replayed? {
        let entry = lock
            .revisions
            .iter_mut()
            .find(|e| e.id == r.revision)
            .expect("replayed revisions are locked");
        entry.transcript = Some(r.transcript);
        entry.fingerprint = Some(r.schema.fingerprint());
        say!(
            "{}  fingerprint {}",
            r.revision,
            entry.fingerprint.as_deref().unwrap_or("")
        );
    }
    let root = &ctx.root;
    let path = host::project::write_lock(root, &lock).map_err(|e| {
        anyhow::anyhow!(
            "cannot write {}: {e}",
            root.join(host::lock::LOCK_FILE).display()
        )
    })?;
    say!("recorded in {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `host check`: drift between the live schema and its current revision.
pub async fn check(ctx: &Context) -> Result<ExitCode> {
    let v = verifying(ctx).await?;
    let drift = verify::check(&v.project, &v.client, &v.sandbox, &v.site, &v.opts).await?;
    let at = describe_heads(&v.project, &drift.heads);
    if drift.differences.is_empty() {
        say!(
            "No drift: the schema is exactly what {at} gives (fingerprint {})",
            drift.live
        );
        return Ok(ExitCode::SUCCESS);
    }
    say!("Drift: the schema differs from what {at} gives:");
    for d in &drift.differences {
        say!("  {d}");
    }
    Ok(ExitCode::from(1))
}

/// `host identify`: which revision the live schema is, whatever the heads say.
pub async fn identify(ctx: &Context) -> Result<ExitCode> {
    let v = verifying(ctx).await?;
    let found = verify::identify(&v.project, &v.client, &v.sandbox, &v.site, &v.opts).await?;
    let recorded = if found.recorded.is_empty() {
        "nothing (base)".to_string()
    } else {
        found.recorded.join(", ")
    };
    say!("The heads table says: {recorded}");
    let [.., best] = found.matches.as_slice() else {
        say!("The schema matches no revision of this project. Closest:");
        for (rev, diff) in &found.closest {
            say!("  {rev}: {} difference(s)", diff.len());
            for d in diff.iter().take(5) {
                say!("    {d}");
            }
        }
        return Ok(ExitCode::from(1));
    };
    say!("The schema matches: {}", found.matches.join(", "));
    if found.recorded != [best.clone()] {
        say!("Fix the bookkeeping with: host stamp --purge {best}");
    } else {
        say!("The bookkeeping is right.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `host verify`: components, then the database's history, then a replay.
pub async fn verify(ctx: &Context, replay: bool, offline: bool) -> Result<ExitCode> {
    let project = ctx.project()?;
    let opts = ctx.options();
    let mut findings = verify::verify_components(&project);
    say!(
        "components: {} revision(s) checked against the lock",
        project.lock.revisions.len()
    );
    if !offline {
        let db = if replay {
            ctx.connect_for_revisions().await?
        } else {
            ctx.connect().await?
        };
        let history = verify::verify_history(&project, &db.client, &opts).await?;
        say!("history: checked against the lock");
        findings.extend(history);
        if replay {
            let sandbox = sandbox(&project, ctx.limits())?;
            let scratch = verify::Scratch::create(&db.scratch_site().await?).await?;
            let replayed = verify::replay(&project, &sandbox, &scratch.client, &opts).await;
            scratch.drop().await?;
            findings.extend(verify::verify_replay(&project, &replayed?));
            say!("replay: transcripts and fingerprints compared with the lock");
        }
    }
    if findings.is_empty() {
        say!("Verified: everything matches migrations.lock");
        return Ok(ExitCode::SUCCESS);
    }
    for f in &findings {
        say!("FAILED: {}", f.message());
    }
    let code = findings
        .iter()
        .map(verify::Finding::exit_code)
        .min()
        .unwrap_or(1);
    Ok(ExitCode::from(code))
}
