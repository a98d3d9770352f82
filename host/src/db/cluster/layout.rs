//! Where the cluster's files live (state dir, data, socket, log, the
//! `/tmp` fallback) and the filesystem work of creating and locking them.

use super::user::RunAs;
use super::{ClusterError, PORT, io_error};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Where the cluster's files live, decided the same way by every call.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// Canonical project state dir; holds the lock and initdb.log.
    pub(super) state_dir: PathBuf,
    /// `state_dir`, or `tmp_dir` when the data had to move.
    pub(super) home: PathBuf,
    pub(super) tmp_dir: PathBuf,
    pub(super) data_dir: PathBuf,
    pub(super) socket_dir: PathBuf,
    pub(super) log_file: PathBuf,
    pub(super) data_note: Option<String>,
    pub(super) socket_note: Option<String>,
    /// A directory on the way to `state_dir` the server's user cannot enter.
    pub(super) blocked: Option<(PathBuf, DirPerm)>,
}

impl Layout {
    /// Decides every path for `state_dir` as seen by `user`, without creating any.
    pub(super) fn resolve(state_dir: &Path, user: &RunAs) -> Result<Self, ClusterError> {
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

    /// Where the output of the last initdb is kept.
    pub(super) fn initdb_log(&self) -> PathBuf {
        self.state_dir.join("initdb.log")
    }
}

/// Makes `path` absolute and resolves symlinks in the part that exists, so the same
/// folder always hashes the same whether or not it has been created yet.
pub(super) fn absolute_lenient(path: &Path) -> io::Result<PathBuf> {
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
pub(super) fn short_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:012x}", hash >> 16)
}

/// Owner, group and mode of a directory, as far as entering it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirPerm {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// Unix search permission; supplementary groups don't count because a process that
/// switches from root to `uid` drops them.
pub(super) fn can_traverse(perm: DirPerm, uid: u32, gid: u32) -> bool {
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
pub(super) fn first_blocked(
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
pub(super) fn socket_dir_problem(dir: &Path, port: u16) -> Option<String> {
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
pub(super) fn conninfo_value(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The tokio-postgres connection string for `user` and `dbname` on the socket in `socket_dir`.
pub(super) fn conninfo(socket_dir: &Path, port: u16, user: &str, dbname: &str) -> String {
    format!(
        "host={} port={port} user={} dbname={}",
        conninfo_value(&socket_dir.to_string_lossy()),
        conninfo_value(user),
        conninfo_value(dbname)
    )
}

/// The major version in the data dir's `PG_VERSION`, when a cluster exists there.
pub(super) fn cluster_version(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join("PG_VERSION")).ok()?;
    let version = text.trim();
    (!version.is_empty()).then(|| version.to_owned())
}

/// Creates each missing directory of `path` with `mode`, regardless of the umask.
pub(super) fn create_dirs(path: &Path, mode: u32) -> Result<(), ClusterError> {
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
pub(super) fn prepare_tmp_dir(dir: &Path) -> Result<(), ClusterError> {
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

/// Takes the lock held around every init, start and stop of this cluster.
pub(super) fn lock_state_dir(state_dir: &Path) -> Result<File, ClusterError> {
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
