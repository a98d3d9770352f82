//! The commands that move the database: `run`/`upgrade`/`downgrade`, `stamp`
//! and `resolve`, each also able to only print its SQL or its plan.

use super::args::{Context, sandbox};
use super::output::{describe_heads, print_plan, terminal_safe};
use super::{LockArgs, ModeArgs, RunArgs};
use anyhow::Result;
use host::graph::Revision;
use host::plan::{self, Direction, Range, Target};
use host::project::Project;
use host::runtime::runner::{self, RunOptions};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// `host run|upgrade|downgrade <target>`.
pub async fn migrate(ctx: &Context, direction: Direction, a: &RunArgs) -> Result<ExitCode> {
    let project = ctx.project()?;
    let opts = a.options(ctx.tables.clone())?;
    if a.mode.sql {
        let range = Range::parse(&a.target)?;
        let sandbox = sandbox(&project, a.limits.limits(ctx)?)?;
        let script = runner::offline_script(&project, &sandbox, direction, &range, &opts).await?;
        say_raw!("{script}");
        return Ok(ExitCode::SUCCESS);
    }
    let target = Target::parse(&a.target)?;
    let db = if a.mode.plan {
        ctx.connect().await?
    } else {
        ctx.connect_for_revisions().await?
    };
    let client = db.client.clone();
    let heads = opts.tables.read_heads(&client).await?;
    let plan = runner::make_plan(&project, direction, &target, &heads)?;
    if plan.is_empty() && !a.mode.plan {
        // The common case at deploy time: one query, no lock, no WebAssembly engine.
        say!(
            "Nothing to do; the database is at {}",
            describe_heads(&project, &heads)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if a.mode.plan {
        print_plan(&project, &plan, a.mode.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let sandbox = sandbox(&project, a.limits.limits(ctx)?)?;
    let opts = RunOptions {
        progress: Some(step_printer(&project)),
        ..opts
    };
    // The run lock lives on a connection the guest never reaches.
    let lock = host::db::connect::connect(&db.config, &db.origin).await?;
    let result = runner::migrate(
        &project, &client, &lock, &sandbox, direction, &target, &opts,
    )
    .await;
    if result.is_err() && STEP_OPEN.swap(false, Ordering::SeqCst) {
        say!(" failed");
    }
    let report = result?;
    let at = describe_heads(&project, &report.heads);
    if report.steps.is_empty() {
        say!("Nothing to do; the database is at {at}");
    } else {
        say!("The database is at {at}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a `Running …` line has been started and not yet ended.
static STEP_OPEN: AtomicBool = AtomicBool::new(false);

/// Prints each step when it starts and its time when it commits, so a long
/// compile or revision shows while it happens.
fn step_printer(project: &Project) -> runner::Progress {
    let graph = project.graph.clone();
    runner::Progress::new(move |event| match event {
        runner::Event::Started {
            revision,
            direction,
        } => {
            let rev = graph.get(revision).expect("planned revisions exist");
            let line = format!(
                "Running {} {}, {}",
                direction,
                arrow(rev, direction),
                rev.message
            );
            say_raw!("{}", terminal_safe(&line));
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            STEP_OPEN.store(true, Ordering::SeqCst);
        }
        runner::Event::Finished(s) => {
            STEP_OPEN.store(false, Ordering::SeqCst);
            say!(
                " ({:.1} ms, {} SQL calls)",
                s.duration.as_secs_f64() * 1000.0,
                s.statements
            );
        }
    })
}

/// `parent -> rev` (upgrade) or `rev -> parent` (downgrade), as Alembic logs it.
fn arrow(rev: &Revision, direction: Direction) -> String {
    match direction {
        Direction::Upgrade => format!("{} -> {}", rev.parents.join(", "), rev.id),
        Direction::Downgrade => format!("{} -> {}", rev.id, rev.parents.join(", ")),
    }
}

/// `host stamp <targets>`: set the heads table without running revisions.
pub async fn stamp(
    ctx: &Context,
    targets: &[String],
    purge: bool,
    mode: &ModeArgs,
    lock: &LockArgs,
) -> Result<ExitCode> {
    let project = ctx.project()?;
    let targets = targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = RunOptions {
        lock_timeout: lock.timeout()?,
        fingerprint: false,
        ..ctx.options()
    };
    if mode.sql {
        // Offline: the database is not read, so the stamp starts from base.
        let after = plan::stamp(&project.graph, &[], &targets, true)?;
        say_raw!(
            "BEGIN;\n{}{}COMMIT;\n",
            opts.tables.offline().ensure_sql(),
            opts.tables.offline().stamp_sql(&[], &after, purge)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let client = ctx.connect().await?.client;
    if mode.plan {
        let before = opts.tables.read_heads(&client).await?;
        let after = plan::stamp(&project.graph, &before, &targets, purge)?;
        let stamp_plan = plan::Plan {
            steps: Vec::new(),
            heads_before: before,
            heads_after: after,
        };
        print_plan(&project, &stamp_plan, mode.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (before, after) = runner::stamp(&project, &client, &targets, purge, &opts).await?;
    say!(
        "Stamped {} -> {}",
        describe_heads(&project, &before),
        describe_heads(&project, &after)
    );
    Ok(ExitCode::SUCCESS)
}

/// `host resolve <rev> --applied|--reverted`: record a manual repair.
pub async fn resolve(ctx: &Context, revision: &str, applied: bool) -> Result<ExitCode> {
    let project = ctx.project()?;
    let client = ctx.connect().await?.client;
    let heads = runner::resolve(&project, &client, revision, applied, &ctx.options()).await?;
    say!(
        "Resolved {revision} as {}; the database is at {}",
        if applied { "applied" } else { "reverted" },
        describe_heads(&project, &heads)
    );
    Ok(ExitCode::SUCCESS)
}
