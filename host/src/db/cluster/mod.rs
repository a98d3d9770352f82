//! The zero-configuration default database: a PostgreSQL cluster that the host
//! creates from the system's PostgreSQL binaries in a project-local folder and
//! keeps running between runs.
//!
//! The server listens on a unix socket only (`listen_addresses=''`), so it never
//! competes for a TCP port; the port number only names the socket file. initdb
//! and postgres refuse to run as root, so a root host runs them as the
//! `postgres` OS user (else `nobody`). pg_ctl daemonises the server, which is
//! what lets it outlive the `host` process.
//!
//! Files, with `S` the state dir given to [`Cluster::new`]:
//! - `S/cluster.lock`: flock held around every init/start/stop;
//! - `S/initdb.log`: output of the last initdb;
//! - `R/data`, `R/sock`, `R/postgres.log`, where `R` is `S`, or
//!   `/tmp/host-pg-<hash of S>` when the server's user cannot enter `S`;
//!   the socket alone also moves there when its path would be too long.
//!
//! Roles: the initdb superuser `postgres` administers the cluster (creates
//! the migrating role, the project's database and scratch databases); host's
//! runs connect as [`MIGRATOR`], which owns [`DATABASE`] and nothing more
//! (see `provision.rs`).

mod binaries;
mod layout;
mod process;
mod provision;
#[cfg(test)]
mod tests;
mod user;

use binaries::find_bin_dir;
use layout::{Layout, cluster_version, conninfo, lock_state_dir};
use process::{
    live_postmaster, log_tail, output_text, pg_command, probe, start_locked, wait_ready,
};
use provision::provision;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use user::RunAs;

/// Port in the socket file name; with no TCP listener it cannot clash with other servers.
const PORT: u16 = 5432;
/// The cluster's superuser (initdb `-U`) and its administrative database.
const SUPERUSER: &str = "postgres";
/// The role host's runs connect as: LOGIN, owner of [`DATABASE`], no other attribute.
pub const MIGRATOR: &str = "migrator";
/// The project's database, owned by [`MIGRATOR`].
pub const DATABASE: &str = "app";
/// Environment variable that names the directory holding initdb, pg_ctl and postgres.
pub const BIN_ENV: &str = "HOST_PG_BIN";
/// How long a start may take until the server accepts connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `pg_ctl stop` may wait for the server to exit.
const STOP_TIMEOUT_SECS: u64 = 60;

/// A PostgreSQL cluster the host runs itself, kept in a project-local folder.
#[derive(Debug, Clone)]
pub struct Cluster {
    state_dir: PathBuf,
}

impl Cluster {
    /// The cluster that lives under `state_dir` (e.g. `<project>/.host/pg`); does nothing yet.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
        }
    }

    /// Creates the cluster, the migrating role and the project's database if
    /// needed, starts the server if it is not running and returns its connection
    /// strings; safe to call from several processes at once.
    pub async fn ensure_running(&self) -> Result<Endpoints, ClusterError> {
        let user = RunAs::current()?;
        let layout = Layout::resolve(&self.state_dir, &user)?;
        // Fast path: no lock, no child process; connecting as the migrating role
        // proves the server is usable and the role and database are in place.
        if let Some(pid_file) = live_postmaster(&layout.data_dir)
            && pid_file.status == "ready"
        {
            let (socket_dir, port) = pid_file.endpoint(&layout);
            if probe(
                &socket_dir,
                port,
                MIGRATOR,
                DATABASE,
                Duration::from_secs(2),
            )
            .await
            .is_ok()
            {
                return Ok(Endpoints::at(&socket_dir, port));
            }
        }

        let state_dir = self.state_dir.clone();
        let (guard, layout, pid_file) = tokio::task::spawn_blocking(move || {
            let lock = lock_state_dir(&state_dir)?;
            // Resolved again under the lock: another process may have created the cluster meanwhile.
            let layout = Layout::resolve(&state_dir, &user)?;
            let deadline = Instant::now() + READY_TIMEOUT;
            let pid_file = start_locked(&layout, &user, deadline)?;
            Ok::<_, ClusterError>((lock, layout, pid_file))
        })
        .await
        .map_err(|e| ClusterError::Task(e.to_string()))??;

        let (socket_dir, port) = pid_file.endpoint(&layout);
        // The lock stays held until the server answers and the role owns the
        // database, so waiting processes find both ready and never provision twice at once.
        wait_ready(&layout, &socket_dir, port, Instant::now() + READY_TIMEOUT).await?;
        provision(&socket_dir, port).await?;
        drop(guard);
        Ok(Endpoints::at(&socket_dir, port))
    }

    /// Whether the cluster exists / runs, its pid, data dir, socket dir, PostgreSQL version.
    pub fn status(&self) -> Result<ClusterStatus, ClusterError> {
        let user = RunAs::current()?;
        let layout = Layout::resolve(&self.state_dir, &user)?;
        let version = cluster_version(&layout.data_dir);
        let pid_file = live_postmaster(&layout.data_dir);
        let state = match (&version, &pid_file) {
            (None, _) => ClusterState::Absent,
            (Some(_), None) => ClusterState::Stopped,
            (Some(_), Some(p)) => match p.status.as_str() {
                "ready" => ClusterState::Running,
                "stopping" => ClusterState::Stopping,
                _ => ClusterState::Starting,
            },
        };
        let (socket_dir, port) = match &pid_file {
            Some(p) => p.endpoint(&layout),
            None => (layout.socket_dir.clone(), PORT),
        };
        Ok(ClusterStatus {
            state,
            pid: pid_file.as_ref().map(|p| p.pid as u32),
            bin_dir: find_bin_dir(version.as_deref()).ok(),
            version,
            connection_string: conninfo(&socket_dir, port, MIGRATOR, DATABASE),
            state_dir: layout.state_dir.clone(),
            data_dir: layout.data_dir.clone(),
            socket_dir,
            log_file: layout.log_file.clone(),
            run_as: user.name.clone(),
            data_relocated: layout.data_note.clone(),
            socket_relocated: layout.socket_note.clone(),
        })
    }

    /// Stops a running cluster (fast shutdown); Ok(false) when it was not running.
    pub fn stop(&self) -> Result<bool, ClusterError> {
        let user = RunAs::current()?;
        let layout = Layout::resolve(&self.state_dir, &user)?;
        // ensure_running always creates the state dir first, so without it nothing can run.
        if !layout.state_dir.is_dir() {
            return Ok(false);
        }
        let _lock = lock_state_dir(&layout.state_dir)?;
        if live_postmaster(&layout.data_dir).is_none() {
            return Ok(false);
        }
        let bin = find_bin_dir(cluster_version(&layout.data_dir).as_deref())?;
        let out = pg_command(&bin, "pg_ctl", &user, &layout.home)
            .args(["stop", "-m", "fast", "-w", "-t"])
            .arg(STOP_TIMEOUT_SECS.to_string())
            .arg("-D")
            .arg(&layout.data_dir)
            .output()
            .map_err(|e| io_error("run", bin.join("pg_ctl"), e))?;
        if !out.status.success() && live_postmaster(&layout.data_dir).is_some() {
            return Err(ClusterError::PgCtl {
                action: "stop",
                data: layout.data_dir.clone(),
                output: format!("{}; pg_ctl said:\n{}", out.status, output_text(&out)),
                log: layout.log_file.clone(),
                tail: log_tail(&layout.log_file, 0),
            });
        }
        Ok(true)
    }
}

/// The connection strings of a running cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// As [`MIGRATOR`] to [`DATABASE`]: what host's runs use.
    pub migrator: String,
    /// As the superuser to `postgres`: for creating scratch databases, never for revisions.
    pub admin: String,
}

impl Endpoints {
    fn at(socket_dir: &std::path::Path, port: u16) -> Self {
        Self {
            migrator: conninfo(socket_dir, port, MIGRATOR, DATABASE),
            admin: conninfo(socket_dir, port, SUPERUSER, SUPERUSER),
        }
    }
}

/// What `host db status` shows about the local cluster.
#[derive(Debug, Clone)]
pub struct ClusterStatus {
    /// Created / running / stopped.
    pub state: ClusterState,
    /// Postmaster pid while the server runs.
    pub pid: Option<u32>,
    /// PostgreSQL major version the cluster was created with (`PG_VERSION`).
    pub version: Option<String>,
    /// tokio-postgres connection string for the socket, as the migrating role.
    pub connection_string: String,
    /// The project state dir the cluster belongs to (canonical).
    pub state_dir: PathBuf,
    /// The PostgreSQL data directory.
    pub data_dir: PathBuf,
    /// The directory holding the unix socket.
    pub socket_dir: PathBuf,
    /// The server log.
    pub log_file: PathBuf,
    /// OS user the server runs as.
    pub run_as: String,
    /// Directory of the PostgreSQL binaries, when found.
    pub bin_dir: Option<PathBuf>,
    /// Why the data lives outside the state dir, when it does.
    pub data_relocated: Option<String>,
    /// Why the socket lives outside the state dir, when it does.
    pub socket_relocated: Option<String>,
}

/// Life-cycle state of the local cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// No cluster has been created yet.
    Absent,
    /// Created but not running.
    Stopped,
    /// The server is starting up or recovering.
    Starting,
    /// The server accepts connections.
    Running,
    /// The server is shutting down.
    Stopping,
}

impl fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (self.state, self.pid) {
            (ClusterState::Absent, _) => {
                "not created yet (the first command that needs the database creates it)".to_owned()
            }
            (ClusterState::Stopped, _) => {
                "stopped (the next command that needs the database starts it)".to_owned()
            }
            (ClusterState::Starting, Some(pid)) => format!("starting (pid {pid})"),
            (ClusterState::Running, Some(pid)) => format!("running (pid {pid})"),
            (ClusterState::Stopping, Some(pid)) => format!("stopping (pid {pid})"),
            (state, None) => format!("{state:?}").to_lowercase(),
        };
        writeln!(f, "local PostgreSQL cluster: {state}")?;
        if let Some(version) = &self.version {
            writeln!(f, "  version:  PostgreSQL {version}")?;
        }
        writeln!(f, "  project:  {}", self.state_dir.display())?;
        writeln!(f, "  data:     {}", self.data_dir.display())?;
        writeln!(f, "  socket:   {}", self.socket_dir.display())?;
        writeln!(f, "  log:      {}", self.log_file.display())?;
        writeln!(f, "  user:     {}", self.run_as)?;
        writeln!(
            f,
            "  role:     {MIGRATOR}, owner of the database {DATABASE}, not a superuser (revisions run as it; {SUPERUSER} only administers the cluster)"
        )?;
        match &self.bin_dir {
            Some(dir) => writeln!(f, "  binaries: {}", dir.display())?,
            None => writeln!(
                f,
                "  binaries: not found (apt-get install postgresql, or set {BIN_ENV})"
            )?,
        }
        write!(f, "  connect:  {}", self.connection_string)?;
        if let Some(note) = &self.data_relocated {
            write!(f, "\n\nWARNING: {note}")?;
        }
        if let Some(note) = &self.socket_relocated {
            write!(f, "\n\nnote: {note}")?;
        }
        Ok(())
    }
}

/// Why the local cluster could not be created, started, stopped or inspected.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No directory with initdb, pg_ctl and postgres was found.
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in {searched}; install them (e.g. `apt-get install postgresql`), set {BIN_ENV} to the directory that holds them, or configure a database"
    )]
    NotInstalled {
        /// The places that were searched.
        searched: String,
    },
    /// `HOST_PG_BIN` names a directory without the tools.
    #[error(
        "{BIN_ENV}={dir} has no {missing}; point it at the directory that holds initdb, pg_ctl and postgres (e.g. /usr/lib/postgresql/15/bin)"
    )]
    BadBinDir {
        /// The directory from the environment.
        dir: PathBuf,
        /// The tools it lacks.
        missing: String,
    },
    /// Running as root, but no unprivileged user exists to run PostgreSQL as.
    #[error(
        "running as root, but there is neither a `postgres` nor a `nobody` OS user to run PostgreSQL as (initdb and postgres refuse root); create one (e.g. `useradd --system postgres`) or configure a database"
    )]
    NoUser,
    /// A file system operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The path it was attempted on.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The cluster exists, but the server's user can no longer reach it.
    #[error(
        "the cluster in {data} cannot be started: user {user} cannot enter {dir} (mode {mode}); make it enterable again (e.g. `chmod o+x {dir}`)"
    )]
    Unreachable {
        /// The data directory.
        data: PathBuf,
        /// The directory that blocks.
        dir: PathBuf,
        /// Its mode, in octal.
        mode: String,
        /// The server's OS user.
        user: String,
    },
    /// A directory under /tmp belongs to someone else or is writable by others.
    #[error("refusing to use {path}: {why}; remove it and retry")]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// initdb failed.
    #[error(
        "initdb could not create a cluster in {data} ({status}); its output (also in {log}):\n{output}"
    )]
    Initdb {
        /// The data directory initdb was creating.
        data: PathBuf,
        /// The initdb log.
        log: PathBuf,
        /// Exit status.
        status: String,
        /// What initdb printed.
        output: String,
    },
    /// The cluster was created by another major version than the binaries found.
    #[error(
        "the cluster in {data} was created by PostgreSQL {cluster}, but the binaries in {bin} are PostgreSQL {binaries}; install PostgreSQL {cluster} or set {BIN_ENV} to its bin directory (or remove {data} to start over, losing its data)"
    )]
    VersionMismatch {
        /// The data directory.
        data: PathBuf,
        /// Major version in `PG_VERSION`.
        cluster: String,
        /// Directory of the binaries.
        bin: PathBuf,
        /// Major version of the binaries.
        binaries: String,
    },
    /// `pg_ctl start` or `pg_ctl stop` failed.
    #[error(
        "pg_ctl could not {action} the cluster in {data}: {output}\nlast lines of {log}:\n{tail}"
    )]
    PgCtl {
        /// `start` or `stop`.
        action: &'static str,
        /// The data directory.
        data: PathBuf,
        /// Exit status and what pg_ctl printed.
        output: String,
        /// The server log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// Processes of a killed server still run in the data directory.
    #[error(
        "processes of an earlier server (pids {pids}) still run in {data}; stop them (e.g. `kill {pids}`) and retry"
    )]
    Leftovers {
        /// The data directory.
        data: PathBuf,
        /// Their pids.
        pids: String,
    },
    /// The server started but did not accept connections in time.
    #[error(
        "PostgreSQL in {data} did not accept connections on {socket} within {} s (last error: {last_error}); last lines of {log}:\n{tail}",
        READY_TIMEOUT.as_secs()
    )]
    NotReady {
        /// The data directory.
        data: PathBuf,
        /// The socket directory.
        socket: PathBuf,
        /// The last connection error.
        last_error: String,
        /// The server log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// The migrating role or the project's database could not be set up.
    #[error(
        "the embedded cluster runs, but could not set up the role {MIGRATOR} that owns the database {DATABASE}: {step} failed: {detail}; {advice}"
    )]
    Provision {
        /// What was being done.
        step: String,
        /// The server's error.
        detail: String,
        /// What to do.
        advice: &'static str,
    },
    /// The blocking part of the start panicked or was cancelled.
    #[error("starting the local cluster failed: {0}")]
    Task(String),
}

/// A filesystem or process error with what the host was doing to which path.
fn io_error(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> ClusterError {
    ClusterError::Io {
        action,
        path: path.into(),
        source,
    }
}
