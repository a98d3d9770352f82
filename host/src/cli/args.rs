//! What the flags mean to the library: the global flags every command shares
//! ([`Context`]), and the run flags as one [`RunOptions`] and [`Limits`].

use super::output::terminal_safe;
use super::{Cli, LimitArgs, LockArgs, RunArgs};
use anyhow::{Context as _, Result};
use host::db::bookkeeping::Tables;
use host::db::connect::{self, Database};
use host::db::role;
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
                schema: cli.version_table_schema.clone(),
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

    /// Connects for a command that runs revisions, and says on stderr when the
    /// role hands them the server's programs or files (unless the user
    /// accepted that with `HOST_ALLOW_SUPERUSER`).
    pub async fn connect_for_revisions(&self) -> Result<Database> {
        let db = self.connect().await?;
        if allowed(std::env::var(role::ALLOW_ENV).ok().as_deref()) {
            return Ok(db);
        }
        match role::reach(&db.client).await {
            Ok(reach) => {
                if let Some(warning) = reach.warning() {
                    eprintln!("warning: {}", terminal_safe(&warning));
                }
            }
            Err(e) => eprintln!("warning: {}", terminal_safe(&e.to_string())),
        }
        Ok(db)
    }

    /// Run options for commands without run flags: the tables, else defaults.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            tables: self.tables.clone(),
            ..RunOptions::default()
        }
    }
}

/// Whether `HOST_ALLOW_SUPERUSER` accepts a role that reaches the server:
/// set to anything but empty or `0`.
fn allowed(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// A sandbox compiling into the project's cache.
pub fn sandbox(project: &Project, limits: Limits) -> Result<Sandbox> {
    sandbox_caching_in(project.cache_dir(), limits)
}

/// A sandbox compiling into `cache`; when there is no key to seal the cache
/// with, one line on stderr says so (once per process) and what to do, and
/// everything is compiled afresh.
pub fn sandbox_caching_in(cache: PathBuf, limits: Limits) -> Result<Sandbox> {
    static NOTED: std::sync::Once = std::sync::Once::new();
    let sandbox = Sandbox::new(Some(cache), limits)?;
    if let Some(why) = sandbox.cache_unavailable() {
        NOTED.call_once(|| {
            let line = format!("note: compiled code and offline scripts are not cached: {why}");
            eprintln!("{}", super::output::terminal_safe(&line));
        });
    }
    Ok(sandbox)
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

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn the_superuser_warning_is_silenced_by_any_value_but_empty_or_zero() {
        assert!(!allowed(None));
        assert!(!allowed(Some("")));
        assert!(!allowed(Some("0")));
        assert!(allowed(Some("1")));
        assert!(allowed(Some("yes")));
    }
}
