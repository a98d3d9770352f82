//! A migrations project on disk: the folder holding `migrations.lock` and the
//! components it names. Files are read through a cap-std handle rooted at the
//! project folder, so a lock entry cannot reach outside it.

pub mod settings;
mod write;
pub use settings::{Grants, RevisionSettings, SETTINGS_FILE, Settings, read_grants};
pub use write::{write_atomically, write_lock};

use crate::graph::{Graph, GraphError};
use crate::lock::{LOCK_FILE, Lock, LockError, LockedRevision};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Folder, under the project, where the host keeps its state (compile cache, embedded cluster).
pub const STATE_DIR: &str = ".host";

/// Where compiled components are cached for the project at `root`, before
/// (or without) opening it.
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("cache")
}

/// Why a project could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The lock file is missing or invalid.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The project folder cannot be opened.
    #[error("cannot open the migrations folder {path}: {source}")]
    Open {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The lock's revisions do not form a valid graph.
    #[error("{path}: {source}")]
    Graph {
        /// The lock file.
        path: PathBuf,
        /// What is wrong with the graph.
        source: GraphError,
    },
    /// A component file cannot be read.
    #[error(
        "revision {revision}: cannot read its component {file} in {root}: {source}; rebuild it with `host build` or restore the file"
    )]
    Component {
        /// Revision id.
        revision: String,
        /// Path from the lock.
        file: String,
        /// Project folder.
        root: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `host.toml` is invalid.
    #[error("{path}: {message}")]
    Settings {
        /// The settings file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A component's bytes do not match the lock.
    #[error(
        "revision {revision}: component {file} has blake3 {actual}, but {LOCK_FILE} expects {expected}; the file changed after it was locked. Nothing was run. Restore the reviewed file, or rebuild and re-lock with `host build` if the change is intended"
    )]
    HashMismatch {
        /// Revision id.
        revision: String,
        /// Path from the lock.
        file: String,
        /// blake3 from the lock.
        expected: String,
        /// blake3 of the file on disk.
        actual: String,
    },
}

/// An opened project.
#[derive(Debug)]
pub struct Project {
    root: PathBuf,
    dir: Dir,
    /// The lock file's contents.
    pub lock: Lock,
    /// The revision graph the lock describes.
    pub graph: Graph,
    /// What `host.toml` says: grants per revision, package parameters, trust.
    pub host_toml: Settings,
}

/// A component read from disk whose hash matched the lock.
#[derive(Debug, Clone)]
pub struct VerifiedComponent {
    /// Revision id.
    pub revision: String,
    /// Where the component came from, as people know it (its file in the
    /// project, or a package's), for messages.
    pub file: String,
    /// Component bytes.
    pub bytes: Vec<u8>,
    /// blake3, lowercase hex.
    pub blake3: String,
}

impl Project {
    /// Finds the project folder: an explicit one, else the current folder when it
    /// holds a lock, else `./migrations-wasm`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        let here = PathBuf::from(".");
        if here.join(LOCK_FILE).exists() {
            return here;
        }
        PathBuf::from("migrations-wasm")
    }

    /// Opens the project at `root`: reads the lock and builds the graph.
    pub fn open(root: &Path) -> Result<Project, ProjectError> {
        let dir = Dir::open_ambient_dir(root, ambient_authority()).map_err(|source| {
            ProjectError::Open {
                path: root.to_path_buf(),
                source,
            }
        })?;
        let lock_path = root.join(LOCK_FILE);
        let text = match dir.read_to_string(LOCK_FILE) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LockError::Missing {
                    dir: root.to_path_buf(),
                }
                .into());
            }
            Err(source) => {
                return Err(LockError::Io {
                    path: lock_path,
                    source,
                }
                .into());
            }
        };
        let lock = Lock::parse(&text, &lock_path)?;
        let graph = lock.graph().map_err(|source| ProjectError::Graph {
            path: lock_path,
            source,
        })?;
        Ok(Project {
            host_toml: Settings::read(root)?,
            root: root.to_path_buf(),
            dir,
            lock,
            graph,
        })
    }

    /// The project folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the host keeps state for this project.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Where compiled components are cached for this project.
    pub fn cache_dir(&self) -> PathBuf {
        cache_dir(&self.root)
    }

    /// The WASI packages granted to a revision.
    pub fn granted(&self, id: &str) -> BTreeSet<String> {
        self.settings(id).grant
    }

    /// What `host.toml` sets for a revision.
    pub fn settings(&self, id: &str) -> RevisionSettings {
        self.host_toml
            .revisions
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// What a revision reads through `context.config`: its package's
    /// parameters from host.toml; nothing for the project's own revisions.
    pub fn config(&self, id: &str) -> BTreeMap<String, String> {
        self.lock
            .get(id)
            .and_then(|r| r.package_name())
            .and_then(|p| self.host_toml.packages.get(p))
            .cloned()
            .unwrap_or_default()
    }

    /// The lock entry of a revision in the graph.
    pub fn locked(&self, id: &str) -> &LockedRevision {
        // The graph was built from the lock's revisions in order, so its index
        // finds the entry without a scan (history of 100,000 revisions).
        self.graph
            .position(id)
            .and_then(|i| self.lock.revisions.get(i))
            .filter(|r| r.id == id)
            .expect("graph and lock hold the same revisions")
    }

    /// Reads a revision's component and checks it against the lock's blake3.
    pub fn load_component(&self, id: &str) -> Result<VerifiedComponent, ProjectError> {
        let entry = self.locked(id);
        read_verified(&self.dir, &self.root, id, &entry.file, &entry.blake3)
    }

    /// A reader of the given revisions' components that worker threads can own.
    pub fn reader<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<ComponentReader, ProjectError> {
        let dir = self.dir.try_clone().map_err(|source| ProjectError::Open {
            path: self.root.clone(),
            source,
        })?;
        let entries = ids
            .into_iter()
            .map(|id| {
                let e = self.locked(id);
                (id.to_string(), (e.file.clone(), e.blake3.clone()))
            })
            .collect();
        Ok(ComponentReader {
            root: self.root.clone(),
            dir,
            entries,
        })
    }
}

/// Reads and verifies components of a project from any thread, without
/// borrowing the [`Project`].
#[derive(Debug)]
pub struct ComponentReader {
    root: PathBuf,
    dir: Dir,
    entries: BTreeMap<String, (String, String)>,
}

impl ComponentReader {
    /// Reads a revision's component and checks it against the lock's blake3.
    pub fn load(&self, id: &str) -> Result<VerifiedComponent, ProjectError> {
        let (file, blake3) = self
            .entries
            .get(id)
            .expect("readers are made for the revisions they read");
        read_verified(&self.dir, &self.root, id, file, blake3)
    }
}

fn read_verified(
    dir: &Dir,
    root: &Path,
    id: &str,
    file: &str,
    expected: &str,
) -> Result<VerifiedComponent, ProjectError> {
    let bytes = dir.read(file).map_err(|source| ProjectError::Component {
        revision: id.to_string(),
        file: file.to_string(),
        root: root.to_path_buf(),
        source,
    })?;
    let actual = blake3::hash(&bytes).to_hex().to_string();
    if actual != expected.to_ascii_lowercase() {
        return Err(ProjectError::HashMismatch {
            revision: id.to_string(),
            file: file.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(VerifiedComponent {
        revision: id.to_string(),
        file: file.to_string(),
        bytes,
        blake3: actual,
    })
}
