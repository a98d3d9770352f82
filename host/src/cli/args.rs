//! What the flags mean to the library: the global flags every command shares
//! ([`Context`]), and the run flags as one [`RunOptions`] and [`Limits`].

use super::{Cli, LimitArgs, LockArgs, RunArgs};
use anyhow::{Context as _, Result};
use host::db::bookkeeping::Tables;
use host::db::connect::{self, Database};
use host::project::Project;
use host::runtime::runner::RunOptions;
use host::runtime::sandbox::{Limits, Sandbox};
use std::path::PathBuf;
use std::time::Duration;

/// The global flags, resolved once: the project folder, the bookkeeping
/// tables and the database flag.
pub struct Context {
    /// The project folder (it may not hold a project yet).
    pub root: PathBuf,
    /// The heads and history tables.
    pub tables: Tables,
    database_url: Option<String>,
    compile_memory_bytes: usize,
}

impl Context {
    /// Reads the global flags of `cli`.
    pub fn new(cli: &Cli) -> Context {
        Context {
            root: Project::locate(cli.migrations.as_deref()),
            tables: Tables {
                version: cli.version_table.clone(),
                history: cli.history_table.clone(),
            },
            database_url: cli.database_url.clone(),
            compile_memory_bytes: cli.compile_memory_limit_mb << 20,
        }
    }

    /// The sandbox limits of commands without run flags: the defaults, and
    /// the compile memory cap asked for.
    pub fn limits(&self) -> Limits {
        Limits {
            compile_memory_bytes: self.compile_memory_bytes,
            ..Limits::default()
        }
    }

    /// Opens the project at the root.
    pub fn project(&self) -> Result<Project> {
        Ok(Project::open(&self.root)?)
    }

    /// Connects to the configured database, or to the project's embedded cluster.
    pub async fn connect(&self) -> Result<Database> {
        Ok(connect::open(self.database_url.as_deref(), &self.root).await?)
    }

    /// Run options for commands without run flags: the tables, else defaults.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            tables: self.tables.clone(),
            ..RunOptions::default()
        }
    }
}

/// A sandbox compiling into the project's cache.
pub fn sandbox(project: &Project, limits: Limits) -> Result<Sandbox> {
    Ok(Sandbox::new(Some(project.cache_dir()), limits)?)
}

impl RunArgs {
    /// The run options these flags ask for (no progress printer yet).
    pub fn options(&self, tables: Tables) -> Result<RunOptions> {
        let l = &self.limits;
        Ok(RunOptions {
            lock_timeout: l.lock.timeout()?,
            tables,
            fingerprint: !self.no_fingerprint,
            statement_timeout: optional_secs(l.statement_timeout, "--statement-timeout")?,
            ddl_lock_timeout: optional_secs(l.ddl_lock_timeout, "--ddl-lock-timeout")?,
            progress: None,
        })
    }
}

impl LockArgs {
    /// How long to wait for another run's lock.
    pub fn timeout(&self) -> Result<Duration> {
        secs(self.lock_timeout, "--lock-timeout")
    }
}

impl LimitArgs {
    /// The sandbox limits of one revision; the compile cap is a global flag.
    pub fn limits(&self, ctx: &Context) -> Result<Limits> {
        Ok(Limits {
            fuel: self.fuel,
            memory_bytes: self.memory_limit_mb << 20,
            compile_memory_bytes: ctx.compile_memory_bytes,
            timeout: optional_secs(self.timeout, "--timeout")?,
            compiler: self.compiler,
        })
    }
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("{what} must be a non-negative number of seconds"))
}

fn optional_secs(s: Option<f64>, what: &str) -> Result<Option<Duration>> {
    s.map(|t| secs(t, what)).transpose()
}
