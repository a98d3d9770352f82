//! The server process: initdb, pg_ctl start and stop, reading
//! `postmaster.pid`, telling a live server from a stale pid, and waiting
//! until it accepts connections.

use super::binaries::{binaries_major, find_bin_dir};
use super::layout::{Layout, cluster_version, create_dirs, prepare_tmp_dir};
use super::user::{RunAs, hand_over};
use super::{ClusterError, PORT, SUPERUSER, io_error};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Single-quotes for /bin/sh, which pg_ctl uses to run postgres with `-o`.
pub(super) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// What `postmaster.pid` says about a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PidFile {
    pub(super) pid: i32,
    pub(super) port: Option<u16>,
    pub(super) socket_dir: Option<PathBuf>,
    /// `starting`, `ready`, `stopping`, `standby`, or empty while being written.
    pub(super) status: String,
}

impl PidFile {
    /// Parses `postmaster.pid`: pid, port, socket directory and status lines;
    /// `None` without a positive pid on the first line.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let pid = lines.first()?.parse::<i32>().ok().filter(|pid| *pid > 0)?;
        Some(Self {
            pid,
            port: lines.get(3).and_then(|l| l.parse().ok()),
            socket_dir: lines.get(4).filter(|l| !l.is_empty()).map(PathBuf::from),
            status: lines.get(7).copied().unwrap_or_default().to_owned(),
        })
    }

    /// Reads `postmaster.pid` in `data_dir`, if there is a usable one.
    pub(super) fn read(data_dir: &Path) -> Option<Self> {
        Self::parse(&fs::read_to_string(data_dir.join("postmaster.pid")).ok()?)
    }

    /// Where the running server really listens, which outranks the layout's guess.
    pub(super) fn endpoint(&self, layout: &Layout) -> (PathBuf, u16) {
        (
            self.socket_dir
                .clone()
                .unwrap_or_else(|| layout.socket_dir.clone()),
            self.port.unwrap_or(PORT),
        )
    }
}

/// The pid file of the server running in `data_dir`, if one runs.
pub(super) fn live_postmaster(data_dir: &Path) -> Option<PidFile> {
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
pub(super) fn is_zombie(stat: &str) -> bool {
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

/// A PostgreSQL tool as the server's user, in a clean, predictable environment.
pub(super) fn pg_command(bin: &Path, tool: &str, user: &RunAs, cwd: &Path) -> Command {
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

/// A child's stdout and stderr, trimmed, as one text.
pub(super) fn output_text(out: &Output) -> String {
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
pub(super) fn log_tail(log: &Path, from: u64) -> String {
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

/// Creates and starts the cluster unless it runs; the caller holds the lock.
pub(super) fn start_locked(
    layout: &Layout,
    user: &RunAs,
    deadline: Instant,
) -> Result<PidFile, ClusterError> {
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
    prepare_files(layout, user)?;

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
    pg_ctl_start(&bin, layout, user, deadline)
}

/// The directories, socket folder and log a start needs, owned by the server's user.
fn prepare_files(layout: &Layout, user: &RunAs) -> Result<(), ClusterError> {
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
    hand_over(&layout.log_file, user, 0o600)
}

/// `pg_ctl start` on an existing cluster, and the pid file the server wrote.
fn pg_ctl_start(
    bin: &Path,
    layout: &Layout,
    user: &RunAs,
    deadline: Instant,
) -> Result<PidFile, ClusterError> {
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
    let out = pg_command(bin, "pg_ctl", user, &layout.home)
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
pub(super) fn initdb(bin: &Path, layout: &Layout, user: &RunAs) -> Result<(), ClusterError> {
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

/// Why a probe did not connect.
#[derive(Debug)]
pub(super) struct Unanswered {
    /// The server answered that the database does not exist (SQLSTATE 3D000).
    pub(super) missing_database: bool,
    /// The error in words.
    pub(super) text: String,
}

/// Connects once over the socket as `user` to `dbname`; the handshake only
/// completes on a server that is ready.
pub(super) async fn probe(
    socket_dir: &Path,
    port: u16,
    user: &str,
    dbname: &str,
    timeout: Duration,
) -> Result<(), Unanswered> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(socket_dir)
        .port(port)
        .user(user)
        .dbname(dbname)
        .connect_timeout(timeout);
    let connect = config.connect(tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| Unanswered {
            missing_database: false,
            text: format!("no answer within {} ms", timeout.as_millis()),
        })?
        .map_err(|e| Unanswered {
            missing_database: e.code()
                == Some(&tokio_postgres::error::SqlState::UNDEFINED_DATABASE),
            text: crate::db::error::describe(&e),
        })?;
    drop(client);
    // Polled without a client, the connection sends Terminate, so the server logs no EOF.
    let _ = tokio::time::timeout(timeout, connection).await;
    Ok(())
}

/// Probes the socket as the superuser until the server answers or `deadline` passes.
pub(super) async fn wait_ready(
    layout: &Layout,
    socket_dir: &Path,
    port: u16,
    deadline: Instant,
) -> Result<(), ClusterError> {
    loop {
        let last_error = match probe(
            socket_dir,
            port,
            SUPERUSER,
            SUPERUSER,
            Duration::from_secs(2),
        )
        .await
        {
            Ok(()) => return Ok(()),
            // A start interrupted while the project's database took over `postgres`
            // leaves none; the server that says so is ready, and provisioning makes a new one.
            Err(e) if e.missing_database => return Ok(()),
            Err(e) => e.text,
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
