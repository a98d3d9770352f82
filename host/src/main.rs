//! The `host` command line.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use host::db::bookkeeping::Tables;
use host::db::cluster::Cluster;
use host::db::connect;
use host::graph::Revision;
use host::plan::{self, Direction, Range, Target};
use host::project::{Project, STATE_DIR};
use host::runtime::runner::{self, RunOptions};
use host::runtime::sandbox::{Limits, Sandbox};
use host::verify;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::Client;

/// Writes a line to stdout, ignoring a closed pipe (`host history | head`):
/// output is a report, and a migration must never die because nobody reads it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Like `say!` without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod cli;

/// Schema migrations for PostgreSQL as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "host", version, about)]
struct Cli {
    /// Database URL (postgresql://user:password@host:port/db). Default: DATABASE_URL,
    /// APP_DATABASE__* variables, .env, else the embedded cluster of the project.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Folder holding migrations.lock. Default: the current folder if it has one, else ./migrations-wasm.
    #[arg(long, global = true, env = "HOST_MIGRATIONS")]
    migrations: Option<PathBuf>,
    /// Name of the heads table (Alembic's version table).
    #[arg(long, global = true, default_value = "alembic_version")]
    version_table: String,
    /// Name of the history table.
    #[arg(long, global = true, default_value = "host_history")]
    history_table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// head, heads, base, an id or 4+ character prefix, +N, -N, rev+N, rev-N, label@head,
    /// label@base, label@rev, label@+N; with --sql also a `start:end` range.
    #[arg(allow_hyphen_values = true)]
    target: String,
    #[command(flatten)]
    mode: ModeArgs,
    /// Do not record the schema fingerprint after the run (saves reading the catalog).
    #[arg(long)]
    no_fingerprint: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// How a command that changes the database may instead only show what it would do.
#[derive(clap::Args, Clone)]
struct ModeArgs {
    /// Print the SQL script instead of running it (offline mode; no database is read).
    #[arg(long)]
    sql: bool,
    /// Print the plan (steps, heads before and after) and change nothing.
    #[arg(long)]
    plan: bool,
    /// With --plan: print JSON, and errors as JSON too.
    #[arg(long, requires = "plan")]
    json: bool,
}

/// Waiting for another migration run.
#[derive(clap::Args, Clone)]
struct LockArgs {
    /// Seconds to wait for another migration run holding the lock.
    #[arg(long, default_value_t = 60.0)]
    lock_timeout: f64,
}

#[derive(clap::Args, Clone)]
struct LimitArgs {
    /// CPU budget of one revision, in fuel units (about one per WebAssembly instruction).
    #[arg(long, default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Memory cap of one revision, in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit_mb: usize,
    /// Wall-clock limit of one revision, in seconds (default: none).
    #[arg(long)]
    timeout: Option<f64>,
    /// Compiler for components not in the compile cache yet.
    #[arg(long, value_enum, env = "HOST_COMPILER", default_value = "winch")]
    compiler: host::runtime::sandbox::Compiler,
    #[command(flatten)]
    lock: LockArgs,
    /// PostgreSQL statement_timeout for each revision's statements, in seconds
    /// (host.toml can set it per revision).
    #[arg(long)]
    statement_timeout: Option<f64>,
    /// PostgreSQL lock_timeout for each revision's statements, in seconds: a
    /// revision queued behind a long query fails fast instead of blocking traffic.
    #[arg(long)]
    ddl_lock_timeout: Option<f64>,
}

#[derive(Subcommand)]
enum Command {
    /// Upgrade to a target (same as `upgrade`): `host run head`.
    Run(RunArgs),
    /// Apply revisions up to a target.
    Upgrade(RunArgs),
    /// Revert revisions down to a target (`-1`, a revision id, `base`).
    Downgrade(RunArgs),
    /// Set the heads table to the given revisions without running any.
    Stamp {
        /// Targets: revision ids, heads, base, label@head, ...
        #[arg(required = true)]
        targets: Vec<String>,
        /// Empty the heads table first (also clears revisions the project does not know).
        #[arg(long)]
        purge: bool,
        #[command(flatten)]
        mode: ModeArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Record how you repaired a revision that ran outside a transaction and did not finish.
    Resolve {
        /// The unfinished revision.
        revision: String,
        /// Its work is complete now: move the heads as if it had succeeded.
        #[arg(
            long,
            conflicts_with = "reverted",
            required_unless_present = "reverted"
        )]
        applied: bool,
        /// Its work is undone: leave the heads where they are.
        #[arg(long)]
        reverted: bool,
    },
    /// Show the revision(s) the database is at.
    Current {
        /// Also show each revision's message, parents and hash.
        #[arg(long, short)]
        verbose: bool,
    },
    /// List the revisions, newest first (reads only the lock).
    History {
        /// Only revisions in `start:end` (e.g. `a1b2:head`, `base:`).
        #[arg(long, short = 'r', allow_hyphen_values = true)]
        rev_range: Option<String>,
        /// Show parents, component paths, hashes and messages.
        #[arg(long, short)]
        verbose: bool,
        /// Mark the database's current revisions (connects to it).
        #[arg(long, short)]
        indicate_current: bool,
    },
    /// List the project's heads (reads only the lock).
    Heads {
        /// Treat dependencies as edges: a revision only depended on is not a head.
        #[arg(long)]
        resolve_dependencies: bool,
        /// Show details of each head.
        #[arg(long, short)]
        verbose: bool,
    },
    /// List branch points and the branches that leave them.
    Branches {
        /// Show details of each revision.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Show one revision.
    Show {
        /// A revision id, prefix, head, base, label@head, ...
        #[arg(allow_hyphen_values = true)]
        rev: String,
    },
    /// Scaffold a new revision crate (fresh 12-hex id), build it and lock it.
    Revision {
        /// The revision's message.
        #[arg(short, long)]
        message: String,
        /// Parent: `head` (default), `base` for a new root, a revision or `label@head`.
        #[arg(long, default_value = "head")]
        head: String,
        /// Branch label(s) starting at the new revision.
        #[arg(long)]
        branch_label: Vec<String>,
        /// Revision(s) the new one depends on without descending from them.
        #[arg(long)]
        depends_on: Vec<String>,
        /// Use this id instead of a random one.
        #[arg(long)]
        rev_id: Option<String>,
        /// Allow a parent that is not a head (starts a new branch).
        #[arg(long)]
        splice: bool,
        /// Write the crate but do not build or lock it.
        #[arg(long)]
        no_build: bool,
        /// Language of the revision: rust (a crate), c, python or js.
        #[arg(long, default_value = "rust", value_parser = ["rust", "c", "python", "js"])]
        lang: String,
    },
    /// Scaffold a merge revision of several heads, build it and lock it.
    Merge {
        /// The revision's message.
        #[arg(short, long)]
        message: String,
        /// Revisions to merge (`heads` for all heads).
        #[arg(required = true)]
        revisions: Vec<String>,
        /// Use this id instead of a random one.
        #[arg(long)]
        rev_id: Option<String>,
        /// Branch label(s) starting at the merge.
        #[arg(long)]
        branch_label: Vec<String>,
        /// Write the crate but do not build or lock it.
        #[arg(long)]
        no_build: bool,
        /// Language of the merge revision: rust (a crate), c, python or js.
        #[arg(long, default_value = "rust", value_parser = ["rust", "c", "python", "js"])]
        lang: String,
    },
    /// Replay the chain on a scratch database and record each revision's
    /// transcript and schema fingerprint in migrations.lock.
    Fingerprint,
    /// Compare the live schema with what its current revision should give; list drift in words.
    Check,
    /// Find which revision the live schema matches, whatever the heads table says.
    Identify,
    /// Verify components, and the database's history, against the lock.
    Verify {
        /// Also replay the chain on a scratch database and compare transcripts and fingerprints.
        #[arg(long)]
        replay: bool,
        /// Check only the files, not a database.
        #[arg(long)]
        offline: bool,
    },
    /// Build the revision crates into components and write migrations.lock.
    Build {
        /// Rebuild and compare with the lock instead of writing it.
        #[arg(long)]
        check: bool,
    },
    #[command(flatten)]
    Packages(cli::package::PackageCommand),
    /// The embedded PostgreSQL cluster used when no database is configured.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Subcommand)]
enum DbAction {
    /// Show whether it exists and runs, and where.
    Status,
    /// Start it if needed and print its connection string.
    Url,
    /// Stop it (its data is kept).
    Stop,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Run(a) | Command::Upgrade(a) | Command::Downgrade(a) => a.mode.json,
        Command::Stamp { mode, .. } => mode.json,
        _ => false,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) if json => {
            let kind = e
                .downcast_ref::<plan::PlanError>()
                .map(|p| p.kind())
                .unwrap_or_else(|| match e.downcast_ref::<runner::RunError>() {
                    Some(runner::RunError::Plan(p)) => p.kind(),
                    _ => "error",
                });
            let body = serde_json::json!({"error": {"kind": kind, "message": e.to_string()}});
            say!("{body}");
            ExitCode::FAILURE
        }
        // Every error's own text names its cause; the chain would repeat it.
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let root = Project::locate(cli.migrations.as_deref());
    let tables = Tables {
        version: cli.version_table.clone(),
        history: cli.history_table.clone(),
    };
    match &cli.command {
        Command::Run(a) | Command::Upgrade(a) => {
            migrate(&cli, &root, tables, Direction::Upgrade, a).await
        }
        Command::Downgrade(a) => migrate(&cli, &root, tables, Direction::Downgrade, a).await,
        Command::Stamp {
            targets,
            purge,
            mode:
                ModeArgs {
                    sql,
                    plan: show_plan,
                    json,
                },
            lock: LockArgs { lock_timeout },
        } => {
            let project = Project::open(&root)?;
            let targets = targets
                .iter()
                .map(|t| Target::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            let opts = RunOptions {
                lock_timeout: secs(*lock_timeout, "--lock-timeout")?,
                tables,
                fingerprint: false,
                ..RunOptions::default()
            };
            if *sql {
                // Offline: the database is not read, so the stamp starts from base.
                let after = plan::stamp(&project.graph, &[], &targets, true)?;
                say_raw!(
                    "BEGIN;\n{}{}COMMIT;\n",
                    opts.tables.ensure_sql(),
                    opts.tables.stamp_sql(&[], &after, *purge)
                );
                return Ok(ExitCode::SUCCESS);
            }
            let (client, _) = connect(&cli, &root).await?;
            if *show_plan {
                let before = opts.tables.read_heads(&client).await?;
                let after = plan::stamp(&project.graph, &before, &targets, *purge)?;
                let stamp_plan = plan::Plan {
                    steps: Vec::new(),
                    heads_before: before,
                    heads_after: after,
                };
                if *json {
                    say!("{}", serde_json::to_string(&stamp_plan)?);
                } else {
                    say!(
                        "heads: {} -> {}",
                        describe_heads(&project, &stamp_plan.heads_before),
                        describe_heads(&project, &stamp_plan.heads_after)
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let (before, after) = runner::stamp(&project, &client, &targets, *purge, &opts).await?;
            say!(
                "Stamped {} -> {}",
                describe_heads(&project, &before),
                describe_heads(&project, &after)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Resolve {
            revision, applied, ..
        } => {
            let project = Project::open(&root)?;
            let (client, _) = connect(&cli, &root).await?;
            let opts = RunOptions {
                tables,
                ..RunOptions::default()
            };
            let heads = runner::resolve(&project, &client, revision, *applied, &opts).await?;
            say!(
                "Resolved {revision} as {}; the database is at {}",
                if *applied { "applied" } else { "reverted" },
                describe_heads(&project, &heads)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Current { verbose } => current(&cli, &root, &tables, *verbose).await,
        Command::History {
            rev_range,
            verbose,
            indicate_current,
        } => {
            let project = Project::open(&root)?;
            let current = if *indicate_current {
                let (client, _) = connect(&cli, &root).await?;
                tables.read_heads(&client).await?
            } else {
                Vec::new()
            };
            history(&project, rev_range.as_deref(), &current, *verbose)
        }
        Command::Heads {
            resolve_dependencies,
            verbose,
        } => {
            let project = Project::open(&root)?;
            let heads = if *resolve_dependencies {
                project.graph.resolved_heads()
            } else {
                project.graph.heads()
            };
            let effective: BTreeSet<&str> = project.graph.resolved_heads().into_iter().collect();
            for h in heads {
                let rev = project.graph.get(h).expect("heads exist");
                let mark = if effective.contains(h) {
                    "(head)"
                } else {
                    "(effective head)"
                };
                if *verbose {
                    print_verbose(&project, rev, &format!(" {mark}"));
                } else {
                    say!("{h}{} {mark}", labels_text(rev));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Branches { verbose } => {
            let project = Project::open(&root)?;
            for bp in project.graph.branch_points() {
                let rev = project.graph.get(bp).expect("branch points exist");
                if *verbose {
                    print_verbose(&project, rev, " (branchpoint)");
                } else {
                    say!("{bp}{} (branchpoint), {}", labels_text(rev), rev.message);
                }
                for child in project.graph.children(bp) {
                    let c = project.graph.get(child).expect("children exist");
                    say!(
                        "    -> {child}{}{}, {}",
                        labels_text(c),
                        marks(&project, c),
                        c.message
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { rev } => {
            let project = Project::open(&root)?;
            let point = plan::resolve(&project.graph, &Target::parse(rev)?, &BTreeSet::new())?;
            let plan::Point::At(ids) = point else {
                bail!("{rev} is base, which is not a revision");
            };
            for id in ids {
                let r = project.graph.get(&id).expect("resolved ids exist");
                print_verbose(&project, r, &marks(&project, r));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Revision {
            message,
            head,
            branch_label,
            depends_on,
            rev_id,
            splice,
            no_build,
            lang,
        } => {
            let project = Project::open(&root)?;
            let graph = &project.graph;
            let parents = match plan::resolve(graph, &Target::parse(head)?, &BTreeSet::new())? {
                plan::Point::Below(_) => Vec::new(),
                plan::Point::At(ids) => ids,
            };
            for p in &parents {
                if !*splice && !graph.heads().contains(&p.as_str()) {
                    bail!(
                        "{p} is not a head, so the new revision would start a branch; pass --splice to do that, or --head head"
                    );
                }
            }
            let deps = depends_on
                .iter()
                .map(|d| match graph.label_owner(d) {
                    Some(owner) => Ok(owner.to_string()),
                    None => graph.resolve(d).map(str::to_string),
                })
                .collect::<Result<Vec<_>, _>>()?;
            scaffold(
                &root,
                &project,
                rev_id,
                parents,
                branch_label,
                deps,
                message,
                *no_build,
                lang.parse().unwrap_or(host::build::Language::Rust),
            )
            .await
        }
        Command::Merge {
            message,
            revisions,
            rev_id,
            branch_label,
            no_build,
            lang,
        } => {
            let project = Project::open(&root)?;
            let mut parents = Vec::new();
            for r in revisions {
                match plan::resolve(&project.graph, &Target::parse(r)?, &BTreeSet::new())? {
                    plan::Point::At(ids) => parents.extend(ids),
                    plan::Point::Below(_) => {
                        bail!("base cannot be merged; name revisions or `heads`")
                    }
                }
            }
            let parents = project
                .graph
                .sorted(parents.into_iter().collect::<BTreeSet<_>>());
            if parents.len() < 2 {
                bail!(
                    "a merge needs at least two revisions, got {}; the project's heads are {}",
                    parents.join(", "),
                    project.graph.heads().join(", ")
                );
            }
            scaffold(
                &root,
                &project,
                rev_id,
                parents,
                branch_label,
                Vec::new(),
                message,
                *no_build,
                lang.parse().unwrap_or(host::build::Language::Rust),
            )
            .await
        }
        Command::Fingerprint => {
            let Verifying {
                project,
                client,
                cfg,
                opts,
                sandbox,
            } = verifying(&cli, &root, tables).await?;
            let scratch = verify::Scratch::create(&client, &cfg).await?;
            let scratch_name = scratch.name().to_string();
            let replayed = verify::replay(&project, &sandbox, &scratch.client, &opts).await;
            scratch.drop().await?;
            say!("replayed on the scratch database {scratch_name} (dropped)");
            let mut lock = project.lock.clone();
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
            let path = host::project::write_lock(&root, &lock).map_err(|e| {
                anyhow::anyhow!(
                    "cannot write {}: {e}",
                    root.join(host::lock::LOCK_FILE).display()
                )
            })?;
            say!("recorded in {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let Verifying {
                project,
                client,
                cfg,
                opts,
                sandbox,
            } = verifying(&cli, &root, tables).await?;
            let drift = verify::check(&project, &client, &sandbox, &cfg, &opts).await?;
            let at = describe_heads(&project, &drift.heads);
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
        Command::Identify => {
            let Verifying {
                project,
                client,
                cfg,
                opts,
                sandbox,
            } = verifying(&cli, &root, tables).await?;
            let found = verify::identify(&project, &client, &sandbox, &cfg, &opts).await?;
            let recorded = if found.recorded.is_empty() {
                "nothing (base)".to_string()
            } else {
                found.recorded.join(", ")
            };
            say!("The heads table says: {recorded}");
            match found.matches.as_slice() {
                [] => {
                    say!("The schema matches no revision of this project. Closest:");
                    for (rev, diff) in &found.closest {
                        say!("  {rev}: {} difference(s)", diff.len());
                        for d in diff.iter().take(5) {
                            say!("    {d}");
                        }
                    }
                    Ok(ExitCode::from(1))
                }
                matches => {
                    say!("The schema matches: {}", matches.join(", "));
                    let best = matches.last().expect("non-empty");
                    if found.recorded != [best.clone()] {
                        say!("Fix the bookkeeping with: host stamp --purge {best}");
                    } else {
                        say!("The bookkeeping is right.");
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Verify { replay, offline } => {
            let project = Project::open(&root)?;
            let opts = RunOptions {
                tables,
                ..RunOptions::default()
            };
            let mut findings = verify::verify_components(&project);
            say!(
                "components: {} revision(s) checked against the lock",
                project.lock.revisions.len()
            );
            if !*offline {
                let (client, _, cfg) = connect_with_config(&cli, &root).await?;
                let history = verify::verify_history(&project, &client, &opts).await?;
                say!("history: checked against the lock");
                findings.extend(history);
                if *replay {
                    let sandbox =
                        Sandbox::new(Some(project.state_dir().join("cache")), Limits::default())?;
                    let scratch = verify::Scratch::create(&client, &cfg).await?;
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
        Command::Build { check } => {
            let sandbox =
                Sandbox::new(Some(root.join(STATE_DIR).join("cache")), Limits::default())?;
            let lock =
                host::build::build(&root, &sandbox, *check, &mut |e| eprintln!("{e}")).await?;
            let verb = if *check { "match" } else { "locked in" };
            say!(
                "{} revision(s) {verb} {}",
                lock.revisions.len(),
                root.join(host::lock::LOCK_FILE).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Packages(cmd) => cli::package::run(cmd, &root).await,
        Command::Db { action } => {
            let cluster = Cluster::new(root.join(STATE_DIR).join("pg"));
            match action {
                DbAction::Status => say!("{}", cluster.status()?),
                DbAction::Url => say!("{}", cluster.ensure_running().await?),
                DbAction::Stop => {
                    if cluster.stop()? {
                        say!("stopped the embedded cluster");
                    } else {
                        say!("the embedded cluster was not running");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What the verification commands work with.
struct Verifying {
    project: Project,
    client: Arc<Client>,
    cfg: tokio_postgres::Config,
    opts: RunOptions,
    sandbox: Sandbox,
}

/// Opens the project, connects, and makes a sandbox for replays.
async fn verifying(cli: &Cli, root: &Path, tables: Tables) -> Result<Verifying> {
    let project = Project::open(root)?;
    let (client, _, cfg) = connect_with_config(cli, root).await?;
    let sandbox = Sandbox::new(Some(project.state_dir().join("cache")), Limits::default())?;
    Ok(Verifying {
        project,
        client,
        cfg,
        opts: RunOptions {
            tables,
            ..RunOptions::default()
        },
        sandbox,
    })
}

/// Writes a revision crate, then builds and locks the project.
#[allow(clippy::too_many_arguments)]
async fn scaffold(
    root: &Path,
    project: &Project,
    rev_id: &Option<String>,
    parents: Vec<String>,
    labels: &[String],
    depends_on: Vec<String>,
    message: &str,
    no_build: bool,
    lang: host::build::Language,
) -> Result<ExitCode> {
    let id = rev_id
        .clone()
        .unwrap_or_else(host::build::scaffold::new_revision_id);
    if project.graph.contains(&id) {
        bail!("revision id {id} already exists in this project; pass another --rev-id");
    }
    let rev = host::build::scaffold::NewRevision {
        id: id.clone(),
        down_revisions: parents,
        branch_labels: labels.to_vec(),
        depends_on,
        message: message.to_string(),
        created: std::time::SystemTime::now(),
    };
    let guest_sdk = std::env::var_os("HOST_GUEST_SDK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("guest-sdk")
        });
    let generated = if lang == host::build::Language::Rust {
        let folder = host::build::scaffold::write_revision(root, &rev, &guest_sdk)?;
        root.join(&folder).join("src").join("lib.rs")
    } else {
        let folder = host::build::scaffold::templates::write_revision(root, &rev, lang)?;
        root.join(&folder).join(lang.entry_file())
    };
    say!("Generated {}", generated.display());
    if no_build {
        say!("Not built: run `host build` once the revision is written");
        return Ok(ExitCode::SUCCESS);
    }
    let sandbox = Sandbox::new(Some(root.join(STATE_DIR).join("cache")), Limits::default())?;
    let lock = host::build::build(root, &sandbox, false, &mut |e| eprintln!("{e}")).await?;
    say!(
        "Revision {id} built and locked ({} revisions in {})",
        lock.revisions.len(),
        root.join(host::lock::LOCK_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Connects to the configured database, or to the project's embedded cluster.
async fn connect(cli: &Cli, root: &Path) -> Result<(Arc<Client>, String)> {
    let (client, origin, _) = connect_with_config(cli, root).await?;
    Ok((client, origin))
}

/// Like `connect`, also giving the connection settings (to reach a scratch database).
async fn connect_with_config(
    cli: &Cli,
    root: &Path,
) -> Result<(Arc<Client>, String, tokio_postgres::Config)> {
    let dotenv = std::fs::read_to_string(".env")
        .map(|t| connect::parse_dotenv(&t))
        .unwrap_or_default();
    let env = |k: &str| std::env::var(k).ok();
    let (url, origin) = match connect::resolve(cli.database_url.as_deref(), &env, &dotenv) {
        Some(c) => (c.url, c.origin),
        None => {
            let cluster = Cluster::new(root.join(STATE_DIR).join("pg"));
            let url = cluster.ensure_running().await.map_err(|e| {
                anyhow::anyhow!(
                    "no database is configured (--database-url, DATABASE_URL, APP_DATABASE__*), and the embedded cluster could not start: {e}"
                )
            })?;
            (url, "the embedded cluster".to_string())
        }
    };
    let cfg = connect::parse(&url, &origin)?;
    let client = connect::connect(&cfg, &origin).await?;
    Ok((client, origin, cfg))
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("{what} must be a non-negative number of seconds"))
}

fn limits(a: &LimitArgs) -> Result<Limits> {
    Ok(Limits {
        fuel: a.fuel,
        memory_bytes: a.memory_limit_mb << 20,
        timeout: a.timeout.map(|t| secs(t, "--timeout")).transpose()?,
        compiler: a.compiler,
    })
}

/// Whether a `Running …` line has been started and not yet ended.
static STEP_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
            say_raw!(
                "Running {} {}, {}",
                direction,
                arrow(rev, direction),
                rev.message
            );
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            STEP_OPEN.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        runner::Event::Finished(s) => {
            STEP_OPEN.store(false, std::sync::atomic::Ordering::SeqCst);
            say!(
                " ({:.1} ms, {} SQL calls)",
                s.duration.as_secs_f64() * 1000.0,
                s.statements
            );
        }
    })
}

async fn migrate(
    cli: &Cli,
    root: &Path,
    tables: Tables,
    direction: Direction,
    a: &RunArgs,
) -> Result<ExitCode> {
    let project = Project::open(root)?;
    let opts = RunOptions {
        lock_timeout: secs(a.limits.lock.lock_timeout, "--lock-timeout")?,
        tables,
        fingerprint: !a.no_fingerprint,
        statement_timeout: a
            .limits
            .statement_timeout
            .map(|t| secs(t, "--statement-timeout"))
            .transpose()?,
        ddl_lock_timeout: a
            .limits
            .ddl_lock_timeout
            .map(|t| secs(t, "--ddl-lock-timeout"))
            .transpose()?,
        progress: None,
    };
    if a.mode.sql {
        let range = Range::parse(&a.target)?;
        let sandbox = Sandbox::new(Some(project.state_dir().join("cache")), limits(&a.limits)?)?;
        let script = runner::offline_script(&project, &sandbox, direction, &range, &opts).await?;
        say_raw!("{script}");
        return Ok(ExitCode::SUCCESS);
    }
    let target = Target::parse(&a.target)?;
    let (client, _) = connect(cli, root).await?;
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
        if a.mode.json {
            say!("{}", serde_json::to_string(&plan)?);
        } else {
            for s in &plan.steps {
                say!("{} {}", s.direction, s.revision);
            }
            say!(
                "heads: {} -> {}",
                describe_heads(&project, &plan.heads_before),
                describe_heads(&project, &plan.heads_after)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sandbox = Sandbox::new(Some(project.state_dir().join("cache")), limits(&a.limits)?)?;
    let opts = RunOptions {
        progress: Some(step_printer(&project)),
        ..opts
    };
    let result = runner::migrate(&project, &client, &sandbox, direction, &target, &opts).await;
    if result.is_err() && STEP_OPEN.swap(false, std::sync::atomic::Ordering::SeqCst) {
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

/// `parent -> rev` (upgrade) or `rev -> parent` (downgrade), as Alembic logs it.
fn arrow(rev: &Revision, direction: Direction) -> String {
    match direction {
        Direction::Upgrade => format!("{} -> {}", rev.parents.join(", "), rev.id),
        Direction::Downgrade => format!("{} -> {}", rev.id, rev.parents.join(", ")),
    }
}

fn describe_heads(project: &Project, heads: &[String]) -> String {
    if heads.is_empty() {
        return "base".to_string();
    }
    let project_heads = project.graph.heads();
    heads
        .iter()
        .map(|h| {
            if project_heads.contains(&h.as_str()) {
                format!("{h} (head)")
            } else {
                h.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn current(cli: &Cli, root: &Path, tables: &Tables, verbose: bool) -> Result<ExitCode> {
    let project = Project::open(root)?;
    let (client, origin) = connect(cli, root).await?;
    let heads = tables.read_heads(&client).await?;
    if verbose {
        say!("Current revision(s) for {origin}:");
    }
    for h in &heads {
        let Some(rev) = project.graph.get(h) else {
            bail!(
                "the database's heads table names revision {h}, which is not in this project's lock; use the lock that wrote it, or `host stamp --purge <rev>`"
            );
        };
        if verbose {
            print_verbose(&project, rev, &marks(&project, rev));
        } else {
            say!("{h}{}{}", labels_text(rev), marks(&project, rev));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parents_text(parents: &[String]) -> String {
    if parents.is_empty() {
        "<base>".to_string()
    } else {
        parents.join(", ")
    }
}

fn labels_text(rev: &Revision) -> String {
    if rev.branch_labels.is_empty() {
        String::new()
    } else {
        format!(" ({})", rev.branch_labels.join(", "))
    }
}

/// Alembic's markers: head, base, branchpoint, mergepoint.
fn marks(project: &Project, rev: &Revision) -> String {
    let mut m = Vec::new();
    if project.graph.heads().contains(&rev.id.as_str()) {
        m.push("head");
    }
    if rev.parents.is_empty() {
        m.push("base");
    }
    if project.graph.children(&rev.id).len() > 1 {
        m.push("branchpoint");
    }
    if rev.parents.len() > 1 {
        m.push("mergepoint");
    }
    if m.is_empty() {
        String::new()
    } else {
        format!(" ({})", m.join(", "))
    }
}

fn print_verbose(project: &Project, rev: &Revision, mark: &str) {
    let locked = project.locked(&rev.id);
    say!("Rev: {}{mark}", rev.id);
    say!("Parent: {}", parents_text(&rev.parents));
    if !rev.branch_labels.is_empty() {
        say!("Branch names: {}", rev.branch_labels.join(", "));
    }
    if !rev.depends_on.is_empty() {
        say!("Depends on: {}", rev.depends_on.join(", "));
    }
    if !locked.transactional {
        say!("Transactional: no");
    }
    say!("Component: {}", locked.file);
    say!("blake3: {}", locked.blake3);
    say!("\n    {}\n", rev.message);
}

fn history(
    project: &Project,
    range: Option<&str>,
    current: &[String],
    verbose: bool,
) -> Result<ExitCode> {
    let applied = plan::applied_set(&project.graph, current)?;
    let members = match range {
        Some(r) => Some(plan::range_members(
            &project.graph,
            &Range::parse(r)?,
            &applied,
        )?),
        None => None,
    };
    for rev in project.graph.topological().rev() {
        if members.as_ref().is_some_and(|m| !m.contains(&rev.id)) {
            continue;
        }
        let mut mark = marks(project, rev);
        if current.contains(&rev.id) {
            mark = if mark.is_empty() {
                " (current)".to_string()
            } else {
                mark.replace(')', ", current)")
            };
        }
        if verbose {
            print_verbose(project, rev, &mark);
        } else {
            say!(
                "{} -> {}{}{mark}, {}",
                parents_text(&rev.parents),
                rev.id,
                labels_text(rev),
                rev.message
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
