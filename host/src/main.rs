//! The `host` command line.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use host::cluster::Cluster;
use host::config;
use host::plan::{Direction, Target};
use host::project::Project;
use host::runner::{self, RunOptions};
use host::sandbox::{Limits, Sandbox};
use host::store::Tables;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::Client;

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
    /// head, heads, base, a revision id (or 4+ character prefix), +N or -N.
    #[arg(allow_hyphen_values = true)]
    target: String,
    /// CPU budget of one revision, in fuel units (about one per WebAssembly instruction).
    #[arg(long, default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Memory cap of one revision, in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit_mb: usize,
    /// Wall-clock limit of one revision, in seconds (default: none).
    #[arg(long)]
    timeout: Option<f64>,
    /// Seconds to wait for another migration run holding the lock.
    #[arg(long, default_value_t = 60.0)]
    lock_timeout: f64,
}

#[derive(Subcommand)]
enum Command {
    /// Upgrade to a target (same as `upgrade`): `host run head`.
    Run(RunArgs),
    /// Apply revisions up to a target.
    Upgrade(RunArgs),
    /// Revert revisions down to a target (`-1`, a revision id, `base`).
    Downgrade(RunArgs),
    /// Show the revision(s) the database is at.
    Current {
        /// Also show each revision's message, parents and hash.
        #[arg(long, short)]
        verbose: bool,
    },
    /// List the revisions, newest first (reads only the lock).
    History {
        /// Show parents, component paths, hashes and messages.
        #[arg(long, short)]
        verbose: bool,
    },
    /// List the project's heads (reads only the lock).
    Heads,
    /// Build the revision crates into components and write migrations.lock.
    Build {
        /// Rebuild and compare with the lock instead of writing it.
        #[arg(long)]
        check: bool,
    },
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
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
        Command::Current { verbose } => current(&cli, &root, &tables, *verbose).await,
        Command::History { verbose } => history(&Project::open(&root)?, *verbose),
        Command::Heads => {
            let project = Project::open(&root)?;
            for h in project.graph.heads() {
                println!("{h} (head)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Build { check } => {
            let sandbox = Sandbox::new(
                Some(root.join(host::project::STATE_DIR).join("cache")),
                Limits::default(),
            )?;
            let lock = host::componentize::build(&root, &sandbox, *check).await?;
            let verb = if *check { "match" } else { "locked in" };
            println!(
                "{} revision(s) {verb} {}",
                lock.revisions.len(),
                root.join(host::lock::LOCK_FILE).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Db { action } => {
            let cluster = Cluster::new(root.join(host::project::STATE_DIR).join("pg"));
            match action {
                DbAction::Status => println!("{}", cluster.status()?),
                DbAction::Url => println!("{}", cluster.ensure_running().await?),
                DbAction::Stop => {
                    if cluster.stop()? {
                        println!("stopped the embedded cluster");
                    } else {
                        println!("the embedded cluster was not running");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Connects to the configured database, or to the project's embedded cluster.
async fn connect(cli: &Cli, root: &std::path::Path) -> Result<(Arc<Client>, String)> {
    let dotenv = std::fs::read_to_string(".env")
        .map(|t| config::parse_dotenv(&t))
        .unwrap_or_default();
    let env = |k: &str| std::env::var(k).ok();
    let (url, origin) = match config::resolve(cli.database_url.as_deref(), &env, &dotenv) {
        Some(c) => (c.url, c.origin),
        None => {
            let cluster = Cluster::new(root.join(host::project::STATE_DIR).join("pg"));
            let url = cluster
                .ensure_running()
                .await
                .context("no database is configured (--database-url, DATABASE_URL, APP_DATABASE__*), and the embedded cluster could not start")?;
            (url, "the embedded cluster".to_string())
        }
    };
    let cfg = config::parse(&url, &origin)?;
    let client = config::connect(&cfg, &origin).await?;
    Ok((client, origin))
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("{what} must be a non-negative number of seconds"))
}

async fn migrate(
    cli: &Cli,
    root: &std::path::Path,
    tables: Tables,
    direction: Direction,
    a: &RunArgs,
) -> Result<ExitCode> {
    let project = Project::open(root)?;
    let target = Target::parse(&a.target)?;
    let limits = Limits {
        fuel: a.fuel,
        memory_bytes: a.memory_limit_mb << 20,
        timeout: a.timeout.map(|t| secs(t, "--timeout")).transpose()?,
    };
    let opts = RunOptions {
        lock_timeout: secs(a.lock_timeout, "--lock-timeout")?,
        tables,
    };
    let (client, _) = connect(cli, root).await?;
    let sandbox = Sandbox::new(Some(project.state_dir().join("cache")), limits)?;
    let report = runner::migrate(&project, &client, &sandbox, direction, &target, &opts).await?;
    for s in &report.steps {
        let rev = project
            .graph
            .get(&s.revision)
            .expect("planned revisions exist");
        let arrow = match s.direction {
            Direction::Upgrade => format!("{} -> {}", rev.parents.join(", "), rev.id),
            Direction::Downgrade => format!("{} -> {}", rev.id, rev.parents.join(", ")),
        };
        println!(
            "Running {} {arrow}, {} ({:.1} ms, {} SQL calls)",
            s.direction,
            rev.message,
            s.duration.as_secs_f64() * 1000.0,
            s.statements
        );
    }
    let at = describe_heads(&project, &report.heads);
    if report.steps.is_empty() {
        println!("Nothing to do; the database is at {at}");
    } else {
        println!("The database is at {at}");
    }
    Ok(ExitCode::SUCCESS)
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

async fn current(
    cli: &Cli,
    root: &std::path::Path,
    tables: &Tables,
    verbose: bool,
) -> Result<ExitCode> {
    let project = Project::open(root)?;
    let (client, origin) = connect(cli, root).await?;
    let heads = tables.read_heads(&client).await?;
    if verbose {
        println!("Current revision(s) for {origin}:");
    }
    let project_heads = project.graph.heads();
    for h in &heads {
        let Some(rev) = project.graph.get(h) else {
            bail!(
                "the database's heads table names revision {h}, which is not in this project's lock; use the lock that wrote it, or stamp the database"
            );
        };
        let mark = if project_heads.contains(&h.as_str()) {
            " (head)"
        } else {
            ""
        };
        if verbose {
            let locked = project.locked(h);
            println!("Rev: {h}{mark}");
            println!("Parent: {}", parents_text(&rev.parents));
            println!("Component: {} (blake3 {})", locked.file, locked.blake3);
            println!("\n    {}\n", rev.message);
        } else {
            println!("{h}{mark}");
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

fn history(project: &Project, verbose: bool) -> Result<ExitCode> {
    let heads = project.graph.heads();
    for rev in project.graph.topological().rev() {
        let mut marks = Vec::new();
        if heads.contains(&rev.id.as_str()) {
            marks.push("head");
        }
        if rev.parents.is_empty() {
            marks.push("base");
        }
        let mark = if marks.is_empty() {
            String::new()
        } else {
            format!(" ({})", marks.join(", "))
        };
        if verbose {
            let locked = project.locked(&rev.id);
            println!("Rev: {}{mark}", rev.id);
            println!("Parent: {}", parents_text(&rev.parents));
            if !rev.branch_labels.is_empty() {
                println!("Branch names: {}", rev.branch_labels.join(", "));
            }
            if !rev.depends_on.is_empty() {
                println!("Depends on: {}", rev.depends_on.join(", "));
            }
            println!("Component: {}", locked.file);
            println!("blake3: {}", locked.blake3);
            println!("\n    {}\n", rev.message);
        } else {
            let parents = if rev.parents.is_empty() {
                "<base>".to_string()
            } else {
                rev.parents.join(", ")
            };
            println!("{parents} -> {}{mark}, {}", rev.id, rev.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}
