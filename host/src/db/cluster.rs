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

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Port in the socket file name; with no TCP listener it cannot clash with other servers.
const PORT: u16 = 5432;
/// Role and database the connection string names (initdb `-U`).
const SUPERUSER: &str = "postgres";
/// Environment variable that names the directory holding initdb, pg_ctl and postgres.
pub const BIN_ENV: &str = "HOST_PG_BIN";
/// Where Debian and Ubuntu install one directory per PostgreSQL major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// How long a start may take until the server accepts connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `pg_ctl stop` may wait for the server to exit.
const STOP_TIMEOUT_SECS: u64 = 60;
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// Tools that must all be present in the chosen binary directory.
const TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

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

    /// Creates the cluster if needed, starts it if it is not running and returns a
    /// tokio-postgres connection string; safe to call from several processes at once.
    pub async fn ensure_running(&self) -> Result<String, ClusterError> {
        let user = RunAs::current()?;
        let layout = Layout::resolve(&self.state_dir, &user)?;
        // Fast path: no lock, no child process; a connect proves the server is usable.
        if let Some(pid_file) = live_postmaster(&layout.data_dir)
            && pid_file.status == "ready"
        {
            let (socket_dir, port) = pid_file.endpoint(&layout);
            if probe(&socket_dir, port, Duration::from_secs(2))
                .await
                .is_ok()
            {
                return Ok(conninfo(&socket_dir, port));
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
        // The lock stays held until the server answers, so waiting processes find it ready.
        wait_ready(&layout, &socket_dir, port, Instant::now() + READY_TIMEOUT).await?;
        drop(guard);
        Ok(conninfo(&socket_dir, port))
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
            connection_string: conninfo(&socket_dir, port),
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

/// What `host db status` shows about the local cluster.
#[derive(Debug, Clone)]
pub struct ClusterStatus {
    /// Created / running / stopped.
    pub state: ClusterState,
    /// Postmaster pid while the server runs.
    pub pid: Option<u32>,
    /// PostgreSQL major version the cluster was created with (`PG_VERSION`).
    pub version: Option<String>,
    /// tokio-postgres connection string for the socket.
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
    /// The blocking part of the start panicked or was cancelled.
    #[error("starting the local cluster failed: {0}")]
    Task(String),
}

fn io_error(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> ClusterError {
    ClusterError::Io {
        action,
        path: path.into(),
        source,
    }
}

/// The OS user the server runs as.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
    /// Root host: children switch to `uid`/`gid` and the server's directories are chowned.
    switch: bool,
}

impl RunAs {
    fn current() -> Result<Self, ClusterError> {
        // SAFETY: geteuid/getegid cannot fail and touch no memory.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid != 0 {
            let name = user_by_uid(euid)
                .map(|(name, _, _)| name)
                .unwrap_or_else(|| format!("uid {euid}"));
            return Ok(Self {
                name,
                uid: euid,
                gid: egid,
                switch: false,
            });
        }
        for name in ["postgres", "nobody"] {
            if let Some((name, uid, gid)) = user_by_name(name)
                && uid != 0
            {
                return Ok(Self {
                    name,
                    uid,
                    gid,
                    switch: true,
                });
            }
        }
        Err(ClusterError::NoUser)
    }
}

fn user_by_name(name: &str) -> Option<(String, u32, u32)> {
    let name = std::ffi::CString::new(name).ok()?;
    passwd_entry(|pwd, buf, len, result| {
        // SAFETY: all pointers are valid for the call; `len` is the size of `buf`.
        unsafe { libc::getpwnam_r(name.as_ptr(), pwd, buf, len, result) }
    })
}

fn user_by_uid(uid: u32) -> Option<(String, u32, u32)> {
    passwd_entry(|pwd, buf, len, result| {
        // SAFETY: as in user_by_name.
        unsafe { libc::getpwuid_r(uid, pwd, buf, len, result) }
    })
}

/// Runs a reentrant passwd lookup, growing the string buffer until it fits.
fn passwd_entry(
    lookup: impl Fn(*mut libc::passwd, *mut libc::c_char, usize, *mut *mut libc::passwd) -> i32,
) -> Option<(String, u32, u32)> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain data; all-zero is a valid (empty) value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = lookup(&mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some((name.to_string_lossy().into_owned(), pwd.pw_uid, pwd.pw_gid));
    }
}

/// Where the cluster's files live, decided the same way by every call.
#[derive(Debug, Clone)]
struct Layout {
    /// Canonical project state dir; holds the lock and initdb.log.
    state_dir: PathBuf,
    /// `state_dir`, or `tmp_dir` when the data had to move.
    home: PathBuf,
    tmp_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    data_note: Option<String>,
    socket_note: Option<String>,
    /// A directory on the way to `state_dir` the server's user cannot enter.
    blocked: Option<(PathBuf, DirPerm)>,
}

impl Layout {
    fn resolve(state_dir: &Path, user: &RunAs) -> Result<Self, ClusterError> {
        let state_dir =
            absolute_lenient(state_dir).map_err(|e| io_error("resolve", state_dir, e))?;
        let tmp_dir = PathBuf::from(format!(
            "/tmp/host-pg-{}",
            short_hash(state_dir.as_os_str().as_bytes())
        ));
        let blocked = if user.switch {
            first_blocked(&ancestor_perms(&state_dir), user.uid, user.gid)
        } else {
            None
        };
        // An existing cluster wins over a fresh decision, so a permission change never
        // silently swaps the data for an empty cluster.
        let (home, data_note) = if cluster_version(&state_dir.join("data")).is_some() {
            (state_dir.clone(), None)
        } else if cluster_version(&tmp_dir.join("data")).is_some() || blocked.is_some() {
            let why = match &blocked {
                Some((dir, perm)) => format!(
                    "user {} cannot enter {} (mode {:o}, owner uid {})",
                    user.name,
                    dir.display(),
                    perm.mode & 0o7777,
                    perm.uid
                ),
                None => {
                    "it was created there while the project folder was not reachable".to_owned()
                }
            };
            let fix = match &blocked {
                Some((dir, _)) => format!(
                    "make the folders above the project enterable (e.g. `chmod o+x {}`), ",
                    dir.display()
                ),
                None => String::new(),
            };
            let note = format!(
                "the database lives in {tmp}, not in the project ({state}), because {why}. \
                 Files under /tmp can be deleted at reboot or by tmp cleaners, and with them this \
                 database. To keep it in the project: {fix}run `host db stop`, then \
                 `mv {tmp}/data {state}/data`.",
                tmp = tmp_dir.display(),
                state = state_dir.display(),
            );
            (tmp_dir.clone(), Some(note))
        } else {
            (state_dir.clone(), None)
        };
        let socket_dir = home.join("sock");
        let (socket_dir, socket_note) = match socket_dir_problem(&socket_dir, PORT) {
            None => (socket_dir, None),
            Some(problem) => {
                let note = format!(
                    "the socket lives in {}/sock because {} {problem}",
                    tmp_dir.display(),
                    socket_dir.display()
                );
                (tmp_dir.join("sock"), Some(note))
            }
        };
        Ok(Self {
            data_dir: home.join("data"),
            log_file: home.join("postgres.log"),
            state_dir,
            home,
            tmp_dir,
            socket_dir,
            data_note,
            socket_note,
            blocked,
        })
    }

    fn initdb_log(&self) -> PathBuf {
        self.state_dir.join("initdb.log")
    }
}

/// Makes `path` absolute and resolves symlinks in the part that exists, so the same
/// folder always hashes the same whether or not it has been created yet.
fn absolute_lenient(path: &Path) -> io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let parts: Vec<Component<'_>> = abs.components().collect();
    for split in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..split].iter().collect();
        if let Ok(mut resolved) = fs::canonicalize(&prefix) {
            for part in &parts[split..] {
                match part {
                    Component::ParentDir => {
                        resolved.pop();
                    }
                    Component::Normal(name) => resolved.push(name),
                    _ => {}
                }
            }
            return Ok(resolved);
        }
    }
    Ok(abs)
}

/// FNV-1a, because the name must stay the same across Rust releases (std's hasher may change).
fn short_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:012x}", hash >> 16)
}

/// Owner, group and mode of a directory, as far as entering it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirPerm {
    mode: u32,
    uid: u32,
    gid: u32,
}

/// Unix search permission; supplementary groups don't count because a process that
/// switches from root to `uid` drops them.
fn can_traverse(perm: DirPerm, uid: u32, gid: u32) -> bool {
    let bit = if uid == 0 {
        return true;
    } else if perm.uid == uid {
        0o100
    } else if perm.gid == gid {
        0o010
    } else {
        0o001
    };
    perm.mode & bit != 0
}

/// The outermost directory on the way to the state dir that `uid` cannot enter.
fn first_blocked(
    dirs: &[(PathBuf, Option<DirPerm>)],
    uid: u32,
    gid: u32,
) -> Option<(PathBuf, DirPerm)> {
    dirs.iter().find_map(|(dir, perm)| match perm {
        // Missing directories are created enterable.
        Some(perm) if !can_traverse(*perm, uid, gid) => Some((dir.clone(), *perm)),
        _ => None,
    })
}

/// `/`, then each directory down to `path` itself, with permissions where it exists.
fn ancestor_perms(path: &Path) -> Vec<(PathBuf, Option<DirPerm>)> {
    let mut dirs: Vec<_> = path
        .ancestors()
        .map(|dir| {
            let perm = fs::metadata(dir).ok().map(|m| DirPerm {
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
            });
            (dir.to_path_buf(), perm)
        })
        .collect();
    dirs.reverse();
    dirs
}

/// Why PostgreSQL could not put its socket into `dir`, or a connection string could not
/// name it: `sun_path` is short, and `unix_socket_directories` is a quoted list.
fn socket_dir_problem(dir: &Path, port: u16) -> Option<String> {
    let Some(text) = dir.to_str() else {
        return Some("is not valid UTF-8".to_owned());
    };
    let socket_len = text.len() + format!("/.s.PGSQL.{port}").len();
    if socket_len > MAX_SOCKET_PATH {
        return Some(format!(
            "would make a socket path of {socket_len} bytes (unix sockets allow {MAX_SOCKET_PATH})"
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, ',' | '"' | '\'' | '\\') || c.is_control())
    {
        return Some(format!(
            "contains {c:?}, which PostgreSQL cannot take in a socket directory"
        ));
    }
    None
}

/// A conninfo value, quoted when it contains whitespace.
fn conninfo_value(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn conninfo(socket_dir: &Path, port: u16) -> String {
    format!(
        "host={} port={port} user={SUPERUSER} dbname=postgres",
        conninfo_value(&socket_dir.to_string_lossy())
    )
}

/// Single-quotes for /bin/sh, which pg_ctl uses to run postgres with `-o`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The major version in the data dir's `PG_VERSION`, when a cluster exists there.
fn cluster_version(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join("PG_VERSION")).ok()?;
    let version = text.trim();
    (!version.is_empty()).then(|| version.to_owned())
}

/// What `postmaster.pid` says about a server.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PidFile {
    pid: i32,
    port: Option<u16>,
    socket_dir: Option<PathBuf>,
    /// `starting`, `ready`, `stopping`, `standby`, or empty while being written.
    status: String,
}

impl PidFile {
    fn parse(text: &str) -> Option<Self> {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let pid = lines.first()?.parse::<i32>().ok().filter(|pid| *pid > 0)?;
        Some(Self {
            pid,
            port: lines.get(3).and_then(|l| l.parse().ok()),
            socket_dir: lines.get(4).filter(|l| !l.is_empty()).map(PathBuf::from),
            status: lines.get(7).copied().unwrap_or_default().to_owned(),
        })
    }

    fn read(data_dir: &Path) -> Option<Self> {
        Self::parse(&fs::read_to_string(data_dir.join("postmaster.pid")).ok()?)
    }

    /// Where the running server really listens, which outranks the layout's guess.
    fn endpoint(&self, layout: &Layout) -> (PathBuf, u16) {
        (
            self.socket_dir
                .clone()
                .unwrap_or_else(|| layout.socket_dir.clone()),
            self.port.unwrap_or(PORT),
        )
    }
}

/// The pid file of the server running in `data_dir`, if one runs.
fn live_postmaster(data_dir: &Path) -> Option<PidFile> {
    let pid_file = PidFile::read(data_dir)?;
    (process_state(pid_file.pid, data_dir) == Liveness::Postmaster).then_some(pid_file)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// No such process: postgres itself treats the pid file as stale.
    Gone,
    /// A zombie, or a live process elsewhere: postgres would wrongly think it still runs.
    Impostor,
    /// A live process with its working directory in the data dir (or one we cannot inspect).
    Postmaster,
}

/// Tells a real postmaster from a dead one or a recycled pid; postgres chdirs into its
/// data dir, which a recycled pid almost never shares.
fn process_state(pid: i32, data_dir: &Path) -> Liveness {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !Path::new("/proc/self").exists() {
        // SAFETY: signal 0 only checks whether the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        let exists = rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        return if exists {
            Liveness::Postmaster
        } else {
            Liveness::Gone
        };
    }
    match fs::read_to_string(proc_dir.join("stat")) {
        Ok(stat) if is_zombie(&stat) => return Liveness::Impostor,
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Liveness::Gone,
        Err(_) => return Liveness::Postmaster,
    }
    match fs::read_link(proc_dir.join("cwd")) {
        Ok(cwd) if fs::canonicalize(data_dir).is_ok_and(|d| d == cwd) => Liveness::Postmaster,
        Ok(_) => Liveness::Impostor,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Liveness::Gone,
        Err(_) => Liveness::Postmaster,
    }
}

/// `/proc/<pid>/stat` has the state letter after the parenthesised command name.
fn is_zombie(stat: &str) -> bool {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Live processes whose working directory is `data_dir`: backends of a killed postmaster.
fn processes_in(data_dir: &Path) -> Vec<i32> {
    let Ok(data_dir) = fs::canonicalize(data_dir) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let dir = PathBuf::from(format!("/proc/{pid}"));
            fs::read_link(dir.join("cwd")).is_ok_and(|cwd| cwd == data_dir)
                && fs::read_to_string(dir.join("stat")).is_ok_and(|s| !is_zombie(&s))
        })
        .collect()
}

/// The directory with initdb, pg_ctl and postgres.
fn find_bin_dir(cluster_major: Option<&str>) -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        let missing: Vec<&str> = TOOLS
            .into_iter()
            .filter(|t| !dir.join(t).is_file())
            .collect();
        if missing.is_empty() {
            return Ok(dir);
        }
        return Err(ClusterError::BadBinDir {
            dir,
            missing: missing.join(", "),
        });
    }
    let has_tools = |dir: &Path| TOOLS.iter().all(|t| dir.join(t).is_file());

    let mut versions: Vec<(Vec<u32>, String, PathBuf)> = fs::read_dir(DEBIAN_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            let key = version_key(&name)?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((key, name, bin))
        })
        .collect();
    versions.sort();
    // The cluster's own major version first: a newer install cannot open older data.
    if let Some(major) = cluster_major
        && let Some((_, _, bin)) = versions.iter().find(|(_, name, _)| name == major)
    {
        return Ok(bin.clone());
    }
    if let Some((_, _, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&dir) {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Ok(dir);
    }
    Err(ClusterError::NotInstalled {
        searched: format!("{DEBIAN_ROOT}/*/bin, `pg_config --bindir` and PATH"),
    })
}

/// `15` → [15], `9.6` → [9, 6]; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Major version from `pg_ctl --version` output such as `pg_ctl (PostgreSQL) 15.14 (Debian …)`.
fn major_of(version_output: &str) -> Option<String> {
    let number = version_output
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let first: u32 = parts.next()?.parse().ok()?;
    // Before 10 the major version had two parts.
    match (first < 10).then(|| parts.next()).flatten() {
        Some(second) => Some(format!("{first}.{second}")),
        None => Some(first.to_string()),
    }
}

fn binaries_major(bin: &Path) -> Option<String> {
    if let Ok(rest) = bin.strip_prefix(DEBIAN_ROOT)
        && let Some(Component::Normal(name)) = rest.components().next()
        && rest.ends_with("bin")
    {
        return name.to_str().map(str::to_owned);
    }
    let out = Command::new(bin.join("pg_ctl"))
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    major_of(&String::from_utf8_lossy(&out.stdout))
}

/// A PostgreSQL tool as the server's user, in a clean, predictable environment.
fn pg_command(bin: &Path, tool: &str, user: &RunAs, cwd: &Path) -> Command {
    let mut cmd = Command::new(bin.join(tool));
    if user.switch {
        cmd.uid(user.uid).gid(user.gid);
    }
    // The server's user may not be able to enter the caller's working directory.
    cmd.current_dir(cwd).stdin(Stdio::null());
    // PGDATA, PGPORT, PGCTLTIMEOUT… from the caller's environment must not redirect the tools.
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
    // English messages, which the log checks below rely on.
    cmd.env("LC_ALL", "C");
    cmd
}

fn output_text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stderr.trim());
    }
    text
}

/// Last lines the log got since byte `from` (or before, when it got none).
fn log_tail(log: &Path, from: u64) -> String {
    const WINDOW: u64 = 4096;
    let Ok(mut file) = File::open(log) else {
        return "(no log)".to_owned();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = if len > from {
        from.max(len.saturating_sub(WINDOW))
    } else {
        len.saturating_sub(WINDOW)
    };
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return "(log unreadable)".to_owned();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let keep = lines.len().saturating_sub(20);
    let tail = lines[keep..].join("\n");
    if tail.trim().is_empty() {
        "(empty)".to_owned()
    } else {
        tail
    }
}

/// Creates each missing directory of `path` with `mode`, regardless of the umask.
fn create_dirs(path: &Path, mode: u32) -> Result<(), ClusterError> {
    let missing: Vec<&Path> = path.ancestors().take_while(|dir| !dir.exists()).collect();
    for dir in missing.into_iter().rev() {
        match DirBuilder::new().mode(mode).create(dir) {
            Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(|e| io_error("set permissions of", dir, e))?,
            // Another process won the race; its directory is just as good.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error("create directory", dir, e)),
        }
    }
    Ok(())
}

/// Creates `/tmp/host-pg-…` and makes sure nobody else controls it: /tmp is world-writable,
/// so someone could have planted a directory or a symlink there.
fn prepare_tmp_dir(dir: &Path) -> Result<(), ClusterError> {
    match DirBuilder::new().mode(0o755).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error("create directory", dir, e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| io_error("inspect", dir, e))?;
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let why = if !meta.is_dir() {
        Some("it is not a directory".to_owned())
    } else if meta.uid() != euid {
        Some(format!(
            "it belongs to uid {}, not to uid {euid}",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "others may write to it (mode {:o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    if let Some(why) = why {
        return Err(ClusterError::UnsafeDir {
            path: dir.to_path_buf(),
            why,
        });
    }
    // The server's user has to pass through it.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| io_error("set permissions of", dir, e))
}

/// A directory (or file) owned by the server's user with `mode`.
fn hand_over(path: &Path, user: &RunAs, mode: u32) -> Result<(), ClusterError> {
    if user.switch {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| io_error("change the owner of", path, e))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("set permissions of", path, e))
}

fn lock_state_dir(state_dir: &Path) -> Result<File, ClusterError> {
    let state_dir = absolute_lenient(state_dir).map_err(|e| io_error("resolve", state_dir, e))?;
    create_dirs(&state_dir, 0o755)?;
    let path = state_dir.join("cluster.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(|e| io_error("open", &path, e))?;
    // flock(LOCK_EX); the descriptor is close-on-exec, so the daemonised server never inherits it.
    file.lock().map_err(|e| io_error("lock", &path, e))?;
    Ok(file)
}

/// Creates and starts the cluster unless it runs; the caller holds the lock.
fn start_locked(layout: &Layout, user: &RunAs, deadline: Instant) -> Result<PidFile, ClusterError> {
    if let Some(pid_file) = live_postmaster(&layout.data_dir) {
        return Ok(pid_file);
    }
    if layout.home == layout.state_dir
        && let Some((dir, perm)) = &layout.blocked
    {
        return Err(ClusterError::Unreachable {
            data: layout.data_dir.clone(),
            dir: dir.clone(),
            mode: format!("{:o}", perm.mode & 0o7777),
            user: user.name.clone(),
        });
    }
    if layout.home == layout.tmp_dir || layout.socket_dir.starts_with(&layout.tmp_dir) {
        prepare_tmp_dir(&layout.tmp_dir)?;
    }
    create_dirs(&layout.home, 0o755)?;
    create_dirs(&layout.socket_dir, 0o700)?;
    // trust authentication: whoever reaches the socket is superuser, so only its owner may.
    hand_over(&layout.socket_dir, user, 0o700)?;
    rotate_log(&layout.log_file)?;
    // The shell pg_ctl starts opens the log as the server's user.
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&layout.log_file)
        .map_err(|e| io_error("create", &layout.log_file, e))?;
    hand_over(&layout.log_file, user, 0o600)?;

    let existing = cluster_version(&layout.data_dir);
    let bin = find_bin_dir(existing.as_deref())?;
    match existing {
        None => initdb(&bin, layout, user)?,
        Some(cluster) => {
            if let Some(binaries) = binaries_major(&bin)
                && binaries != cluster
            {
                return Err(ClusterError::VersionMismatch {
                    data: layout.data_dir.clone(),
                    cluster,
                    bin,
                    binaries,
                });
            }
            clear_stale_pid_file(layout, deadline)?;
        }
    }

    let log_start = fs::metadata(&layout.log_file).map(|m| m.len()).unwrap_or(0);
    let socket = layout
        .socket_dir
        .to_str()
        .expect("socket_dir_problem admits UTF-8 only");
    let options = format!(
        "-k {} -c listen_addresses='' -p {PORT}",
        shell_quote(socket)
    );
    let wait_secs = deadline
        .saturating_duration_since(Instant::now())
        .as_secs()
        .max(1);
    // Relative paths: pg_ctl pastes -D and -l into a shell command inside double quotes,
    // where a `$` or `"` in the project path would be interpreted.
    let out = pg_command(&bin, "pg_ctl", user, &layout.home)
        .args(["start", "-w", "-t", &wait_secs.to_string(), "-D", "data"])
        .args(["-l", "postgres.log", "-o", &options])
        .output()
        .map_err(|e| io_error("run", bin.join("pg_ctl"), e))?;
    if !out.status.success() {
        return Err(ClusterError::PgCtl {
            action: "start",
            data: layout.data_dir.clone(),
            output: format!("{}; pg_ctl said:\n{}", out.status, output_text(&out)),
            log: layout.log_file.clone(),
            tail: log_tail(&layout.log_file, log_start),
        });
    }
    PidFile::read(&layout.data_dir).ok_or_else(|| ClusterError::PgCtl {
        action: "start",
        data: layout.data_dir.clone(),
        output: format!(
            "the server exited right after starting: {}",
            output_text(&out)
        ),
        log: layout.log_file.clone(),
        tail: log_tail(&layout.log_file, log_start),
    })
}

/// Keeps one old log: the server appends for as long as the cluster lives, so only a
/// start (when no server holds the file) can cut it.
fn rotate_log(log: &Path) -> Result<(), ClusterError> {
    const LIMIT: u64 = 16 << 20;
    if fs::metadata(log).is_ok_and(|m| m.len() > LIMIT) {
        let old = log.with_extension("log.old");
        fs::rename(log, &old).map_err(|e| io_error("rotate", log, e))?;
    }
    Ok(())
}

/// Runs initdb into a scratch directory and renames it into place, so an interrupted
/// initdb never leaves something that looks like a cluster.
fn initdb(bin: &Path, layout: &Layout, user: &RunAs) -> Result<(), ClusterError> {
    let scratch = layout.home.join("data.init");
    if scratch.exists() {
        // Left by an interrupted initdb; the lock guarantees none is running now.
        fs::remove_dir_all(&scratch).map_err(|e| io_error("remove", &scratch, e))?;
    }
    DirBuilder::new()
        .mode(0o700)
        .create(&scratch)
        .map_err(|e| io_error("create directory", &scratch, e))?;
    hand_over(&scratch, user, 0o700)?;
    let out = pg_command(bin, "initdb", user, &layout.home)
        .args(["-D", "data.init", "--auth=trust", "--no-sync", "-E", "UTF8"])
        .args(["--locale=C", "-U", SUPERUSER])
        .output()
        .map_err(|e| io_error("run", bin.join("initdb"), e))?;
    let log = layout.initdb_log();
    let text = output_text(&out);
    fs::write(&log, format!("{text}\n")).map_err(|e| io_error("write", &log, e))?;
    if !out.status.success() {
        // Best effort: the next attempt removes it anyway.
        let _ = fs::remove_dir_all(&scratch);
        return Err(ClusterError::Initdb {
            data: layout.data_dir.clone(),
            log,
            status: out.status.to_string(),
            output: text,
        });
    }
    fs::rename(&scratch, &layout.data_dir).map_err(|e| io_error("rename", &scratch, e))
}

/// Removes lock files postgres would refuse to override: ones naming a zombie or a
/// recycled pid. A pid that is simply gone is left to postgres, which also frees the
/// old shared memory then.
fn clear_stale_pid_file(layout: &Layout, deadline: Instant) -> Result<(), ClusterError> {
    let Some(pid_file) = PidFile::read(&layout.data_dir) else {
        return Ok(());
    };
    if process_state(pid_file.pid, &layout.data_dir) != Liveness::Impostor {
        return Ok(());
    }
    // Backends of a killed postmaster exit soon after it; starting earlier would let two
    // generations of processes share one data dir.
    loop {
        let leftovers = processes_in(&layout.data_dir);
        if leftovers.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let pids: Vec<String> = leftovers.iter().map(i32::to_string).collect();
            return Err(ClusterError::Leftovers {
                data: layout.data_dir.clone(),
                pids: pids.join(" "),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (socket_dir, port) = pid_file.endpoint(layout);
    let socket_lock = socket_dir.join(format!(".s.PGSQL.{port}.lock"));
    let names_same_pid = fs::read_to_string(&socket_lock)
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok())
        == Some(pid_file.pid);
    let mut stale = vec![layout.data_dir.join("postmaster.pid")];
    if names_same_pid {
        stale.push(socket_lock);
        stale.push(socket_dir.join(format!(".s.PGSQL.{port}")));
    }
    for path in stale {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove stale", path, e)),
        }
    }
    Ok(())
}

/// Connects once over the socket; the handshake only completes on a server that is ready.
async fn probe(socket_dir: &Path, port: u16, timeout: Duration) -> Result<(), String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(socket_dir)
        .port(port)
        .user(SUPERUSER)
        .dbname("postgres")
        .connect_timeout(timeout);
    let connect = config.connect(tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
        .map_err(|e| e.to_string())?;
    drop(client);
    // Polled without a client, the connection sends Terminate, so the server logs no EOF.
    let _ = tokio::time::timeout(timeout, connection).await;
    Ok(())
}

async fn wait_ready(
    layout: &Layout,
    socket_dir: &Path,
    port: u16,
    deadline: Instant,
) -> Result<(), ClusterError> {
    loop {
        let last_error = match probe(socket_dir, port, Duration::from_secs(2)).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(ClusterError::NotReady {
                data: layout.data_dir.clone(),
                socket: socket_dir.to_path_buf(),
                last_error,
                log: layout.log_file.clone(),
                tail: log_tail(&layout.log_file, 0),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(mode: u32, uid: u32, gid: u32) -> DirPerm {
        DirPerm { mode, uid, gid }
    }

    #[test]
    fn traversal_follows_owner_then_group_then_others() {
        // Owner bits apply to the owner even when "others" would allow more.
        assert!(!can_traverse(perm(0o601, 101, 0), 101, 104));
        assert!(can_traverse(perm(0o700, 101, 0), 101, 104));
        assert!(can_traverse(perm(0o710, 0, 104), 101, 104));
        assert!(!can_traverse(perm(0o701, 0, 104), 101, 104));
        assert!(can_traverse(perm(0o701, 0, 0), 101, 104));
        assert!(!can_traverse(perm(0o700, 0, 0), 101, 104));
        assert!(can_traverse(perm(0o000, 5, 5), 0, 0));
    }

    #[test]
    fn first_blocked_reports_the_outermost_closed_directory() {
        let dirs = vec![
            (PathBuf::from("/"), Some(perm(0o755, 0, 0))),
            (PathBuf::from("/root"), Some(perm(0o700, 0, 0))),
            (PathBuf::from("/root/p"), Some(perm(0o700, 0, 0))),
            (PathBuf::from("/root/p/.host"), None),
        ];
        let (dir, p) = first_blocked(&dirs, 101, 104).unwrap();
        assert_eq!(dir, PathBuf::from("/root"));
        assert_eq!(p.mode, 0o700);
        assert_eq!(first_blocked(&dirs[..1], 101, 104), None);
        // Directories yet to be created do not block.
        assert_eq!(first_blocked(&dirs[3..], 101, 104), None);
    }

    #[test]
    fn socket_dir_falls_back_when_the_path_is_too_long() {
        // "/.s.PGSQL.5432" is 14 bytes, so a 93-byte directory just fits.
        let fits = format!("/{}", "a".repeat(92));
        assert_eq!(socket_dir_problem(Path::new(&fits), 5432), None);
        let too_long = format!("/{}", "a".repeat(93));
        let problem = socket_dir_problem(Path::new(&too_long), 5432).unwrap();
        assert!(problem.contains("108 bytes"), "{problem}");
        assert_eq!(
            socket_dir_problem(Path::new("/tmp/with space/sock"), 5432),
            None
        );
        assert!(socket_dir_problem(Path::new("/tmp/a,b/sock"), 5432).is_some());
        assert!(socket_dir_problem(Path::new("/tmp/it's/sock"), 5432).is_some());
    }

    #[test]
    fn conninfo_quotes_only_when_needed() {
        assert_eq!(
            conninfo(Path::new("/tmp/x/sock"), 5432),
            "host=/tmp/x/sock port=5432 user=postgres dbname=postgres"
        );
        let quoted = conninfo(Path::new("/tmp/a b/sock"), 5432);
        assert!(quoted.starts_with("host='/tmp/a b/sock' "));
        let parsed: tokio_postgres::Config = quoted.parse().unwrap();
        assert_eq!(
            parsed.get_hosts(),
            &[tokio_postgres::config::Host::Unix(PathBuf::from(
                "/tmp/a b/sock"
            ))]
        );
        assert_eq!(conninfo_value(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn shell_quote_survives_single_quotes() {
        assert_eq!(shell_quote("/a b"), "'/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn short_hash_is_stable() {
        // Fixed values: the fallback folder name must not change between builds.
        assert_eq!(short_hash(b""), "cbf29ce48422");
        assert_eq!(short_hash(b"/root/p/.host/pg").len(), 12);
        assert_ne!(short_hash(b"/a"), short_hash(b"/b"));
    }

    #[test]
    fn pid_file_parses_all_fields() {
        let text = "4242\n/p/data\n1700000000\n5432\n/p/sock\n\n  123456     7\nready   \n";
        let pid_file = PidFile::parse(text).unwrap();
        assert_eq!(pid_file.pid, 4242);
        assert_eq!(pid_file.port, Some(5432));
        assert_eq!(pid_file.socket_dir, Some(PathBuf::from("/p/sock")));
        assert_eq!(pid_file.status, "ready");
        let partial = PidFile::parse("4242\n/p/data\n").unwrap();
        assert_eq!(partial.status, "");
        assert_eq!(partial.socket_dir, None);
        assert!(PidFile::parse("").is_none());
        assert!(PidFile::parse("-1\n").is_none());
    }

    #[test]
    fn versions_parse() {
        assert_eq!(version_key("15"), Some(vec![15]));
        assert_eq!(version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(version_key("common"), None);
        let mut keys = [version_key("9.6"), version_key("16"), version_key("10")];
        keys.sort();
        assert_eq!(keys.last().unwrap(), &Some(vec![16]));
        assert_eq!(
            major_of("pg_ctl (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)").as_deref(),
            Some("15")
        );
        assert_eq!(
            major_of("pg_ctl (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(
            major_of("pg_ctl (PostgreSQL) 17beta1").as_deref(),
            Some("17")
        );
        assert_eq!(
            binaries_major(Path::new("/usr/lib/postgresql/16/bin")).as_deref(),
            Some("16")
        );
    }

    #[test]
    fn zombies_are_recognised() {
        assert!(is_zombie("123 (postgres) Z 1 123 123 0"));
        assert!(is_zombie("123 (odd) name) Z 1"));
        assert!(!is_zombie("123 (postgres) S 1 123"));
    }

    #[test]
    fn absolute_lenient_resolves_the_existing_prefix() {
        let cwd = std::env::current_dir().unwrap();
        let resolved = absolute_lenient(Path::new("no/such/dir/../x")).unwrap();
        assert_eq!(resolved, fs::canonicalize(&cwd).unwrap().join("no/such/x"));
        assert_eq!(
            absolute_lenient(Path::new("/")).unwrap(),
            PathBuf::from("/")
        );
    }
}
