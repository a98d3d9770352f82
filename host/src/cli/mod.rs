//! The command line: clap definitions, the dispatch from each command to
//! one function in a module per command area, and the only code in the
//! project that prints.

#[macro_use]
pub mod output;
mod args;
mod author;
mod db;
mod inspect;
mod migrate;
pub mod package;
mod verify;

use anyhow::Result;
use args::Context;
use author::Scaffold;
use clap::{Parser, Subcommand};
use host::plan::Direction;
use host::runtime::sandbox::Limits;
use std::path::PathBuf;
use std::process::ExitCode;

/// Schema migrations for PostgreSQL as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "host", version, about)]
pub struct Cli {
    /// Database URL (postgresql://user:password@host:port/db). Default: DATABASE_URL,
    /// APP_DATABASE__* variables, .env, else the embedded cluster of the project.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Folder holding migrations.lock. Default: the current folder if it has one, else ./migrations-wasm.
    #[arg(long, global = true, env = "HOST_MIGRATIONS")]
    pub migrations: Option<PathBuf>,
    /// Name of the heads table (Alembic's version table).
    #[arg(long, global = true, default_value = "alembic_version")]
    pub version_table: String,
    /// Name of the history table.
    #[arg(long, global = true, default_value = "host_history")]
    pub history_table: String,
    /// Schema of both tables (Alembic's version_table_schema). Default: the one
    /// schema that has the heads table, else public; never found through search_path.
    #[arg(long, global = true)]
    pub version_table_schema: Option<String>,
    /// Memory cap of compiling one component not in the compile cache yet, in
    /// MiB (every command that compiles: run, build, verify, install, ...).
    #[arg(long, global = true, default_value_t = Limits::default().compile_memory_bytes >> 20)]
    pub compile_memory_limit_mb: usize,
    #[command(subcommand)]
    pub command: Command,
}

/// What to run to, how, and within which limits.
#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// head, heads, base, an id or 4+ character prefix, +N, -N, rev+N, rev-N, label@head,
    /// label@base, label@rev, label@+N; with --sql also a `start:end` range.
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    #[command(flatten)]
    pub mode: ModeArgs,
    /// Do not record the schema fingerprint after the run (saves reading the catalog).
    #[arg(long)]
    pub no_fingerprint: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// How a command that changes the database may instead only show what it would do.
#[derive(clap::Args, Clone)]
pub struct ModeArgs {
    /// Print the SQL script instead of running it (offline mode; no database is read).
    #[arg(long)]
    pub sql: bool,
    /// Print the plan (steps, heads before and after) and change nothing.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: print JSON, and errors as JSON too.
    #[arg(long, requires = "plan")]
    pub json: bool,
}

/// Waiting for another migration run.
#[derive(clap::Args, Clone)]
pub struct LockArgs {
    /// Seconds to wait for another migration run holding the lock.
    #[arg(long, default_value_t = 60.0)]
    pub lock_timeout: f64,
}

/// What one revision may use, and how long its statements may wait.
#[derive(clap::Args, Clone)]
pub struct LimitArgs {
    /// CPU budget of one revision, in fuel units (about one per WebAssembly instruction).
    #[arg(long, default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// Memory cap of one revision, in MiB: its linear memories, tables and
    /// instances together.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    pub memory_limit_mb: usize,
    /// Wall-clock limit of one revision, in seconds (default: none).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Compiler for components not in the compile cache yet.
    #[arg(long, value_enum, env = "HOST_COMPILER", default_value = "winch")]
    pub compiler: host::runtime::sandbox::Compiler,
    #[command(flatten)]
    pub lock: LockArgs,
    /// PostgreSQL statement_timeout for each revision's statements, in seconds
    /// (host.toml can set it per revision).
    #[arg(long)]
    pub statement_timeout: Option<f64>,
    /// PostgreSQL lock_timeout for each revision's statements, in seconds: a
    /// revision queued behind a long query fails fast instead of blocking traffic.
    #[arg(long)]
    pub ddl_lock_timeout: Option<f64>,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
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
    Packages(package::PackageCommand),
    /// The embedded PostgreSQL cluster used when no database is configured.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

/// `host db ...`.
#[derive(Subcommand)]
pub enum DbAction {
    /// Show whether it exists and runs, and where.
    Status,
    /// Start it if needed and print its connection string (as the role runs use).
    Url,
    /// Stop it (its data is kept).
    Stop,
}

impl Cli {
    /// Whether errors are to be printed as JSON (`--plan --json`).
    pub fn json_errors(&self) -> bool {
        match &self.command {
            Command::Run(a) | Command::Upgrade(a) | Command::Downgrade(a) => a.mode.json,
            Command::Stamp { mode, .. } => mode.json,
            _ => false,
        }
    }
}

/// Runs the command `cli` names; its exit code, or the error to report.
pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let ctx = Context::new(&cli);
    let ctx = &ctx;
    match &cli.command {
        Command::Run(a) | Command::Upgrade(a) => migrate::migrate(ctx, Direction::Upgrade, a).await,
        Command::Downgrade(a) => migrate::migrate(ctx, Direction::Downgrade, a).await,
        Command::Stamp {
            targets,
            purge,
            mode,
            lock,
        } => migrate::stamp(ctx, targets, *purge, mode, lock).await,
        Command::Resolve {
            revision, applied, ..
        } => migrate::resolve(ctx, revision, *applied).await,
        Command::Current { verbose } => inspect::current(ctx, *verbose).await,
        Command::History {
            rev_range,
            verbose,
            indicate_current,
        } => inspect::history(ctx, rev_range.as_deref(), *verbose, *indicate_current).await,
        Command::Heads {
            resolve_dependencies,
            verbose,
        } => inspect::heads(ctx, *resolve_dependencies, *verbose),
        Command::Branches { verbose } => inspect::branches(ctx, *verbose),
        Command::Show { rev } => inspect::show(ctx, rev),
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
            let new = Scaffold {
                rev_id,
                labels: branch_label,
                message,
                no_build: *no_build,
                lang,
            };
            author::revision(ctx, head, depends_on, *splice, new).await
        }
        Command::Merge {
            message,
            revisions,
            rev_id,
            branch_label,
            no_build,
            lang,
        } => {
            let new = Scaffold {
                rev_id,
                labels: branch_label,
                message,
                no_build: *no_build,
                lang,
            };
            author::merge(ctx, revisions, new).await
        }
        Command::Fingerprint => verify::fingerprint(ctx).await,
        Command::Check => verify::check(ctx).await,
        Command::Identify => verify::identify(ctx).await,
        Command::Verify { replay, offline } => verify::verify(ctx, *replay, *offline).await,
        Command::Build { check } => author::build(ctx, *check).await,
        Command::Packages(cmd) => package::run(cmd, ctx).await,
        Command::Db { action } => db::run(ctx, action).await,
    }
}
