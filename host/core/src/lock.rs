//! `migrations.lock`: the project's list of revisions, their graph edges and
//! the blake3 of every component. It is what the host trusts; components are
//! checked against it before they are compiled.

use crate::graph::{Graph, GraphError, Revision};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the lock, at the root of a migrations project.
pub const LOCK_FILE: &str = "migrations.lock";

/// Format version written by this host; older or newer files are refused.
pub const LOCK_VERSION: u32 = 1;

/// The WIT package a component must be built against.
pub const WIT_PACKAGE: &str = "pgwasm:migration@0.1.0";

/// The parsed lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Format version of the file.
    pub version: u32,
    /// WIT package the components were built against.
    pub wit: String,
    /// Every revision, in a topological order (parents first).
    #[serde(rename = "revision", default)]
    pub revisions: Vec<LockedRevision>,
}

/// One revision as locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRevision {
    /// Revision id (Alembic's `revision`).
    pub id: String,
    /// Parents (Alembic's `down_revision`).
    #[serde(default)]
    pub down_revisions: Vec<String>,
    /// Branch labels that start at this revision.
    #[serde(default)]
    pub branch_labels: Vec<String>,
    /// Dependencies that are not parents.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The revision's message.
    pub message: String,
    /// Whether the revision runs inside a transaction.
    #[serde(default = "default_true")]
    pub transactional: bool,
    /// Component path, relative to the project folder.
    pub file: String,
    /// blake3 of the component, lowercase hex.
    pub blake3: String,
    /// Source crate folder, relative to the project folder, when the host built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// blake3 of the revision's sources, the WIT and the toolchain version,
    /// for languages whose toolchains do not build byte-identical components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources_blake3: Option<String>,
    /// blake3 of the SQL transcript of `upgrade`, from a replay (`host fingerprint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Schema fingerprint after this revision (with its ancestors), from a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// `namespace/name@version` of the package it was installed from (`host install`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// OCI digest of the revision's artifact manifest, for installed revisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
}

impl LockedRevision {
    /// `namespace/name` of the package it came from, if any.
    pub fn package_name(&self) -> Option<&str> {
        let p = self.package.as_deref()?;
        Some(p.rsplit_once('@').map_or(p, |(name, _)| name))
    }
}

fn default_true() -> bool {
    true
}

/// Why a lock file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file is not there.
    #[error(
        "no {LOCK_FILE} in {dir}: point --migrations (or HOST_MIGRATIONS) at the folder that holds it, or create one with `host build`"
    )]
    Missing {
        /// Folder that was searched.
        dir: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or misses fields.
    #[error("{path} is not a valid lock file: {message}; regenerate it with `host build`")]
    Syntax {
        /// The lock file.
        path: PathBuf,
        /// What the parser said, with the line.
        message: String,
    },
    /// The file was written by another format version.
    #[error(
        "{path} has lock format version {found}, this host reads version {LOCK_VERSION}; use a matching host or regenerate it with `host build`"
    )]
    Version {
        /// The lock file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
    },
    /// The components were built against another WIT package.
    #[error(
        "{path} was built against WIT package {found}, this host implements {WIT_PACKAGE}; rebuild the revisions with `host build`"
    )]
    Wit {
        /// The lock file.
        path: PathBuf,
        /// WIT package named in the file.
        found: String,
    },
    /// A revision's hash is not 64 hex digits.
    #[error(
        "{path}: revision {id} has a malformed blake3 {hash:?}; regenerate the lock with `host build`"
    )]
    Hash {
        /// The lock file.
        path: PathBuf,
        /// Revision id.
        id: String,
        /// The malformed value.
        hash: String,
    },
}

impl Lock {
    /// An empty lock for the current format.
    pub fn new() -> Self {
        Lock {
            version: LOCK_VERSION,
            wit: WIT_PACKAGE.to_string(),
            revisions: Vec::new(),
        }
    }

    /// Parses lock text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Lock, LockError> {
        let lock: Lock = toml::from_str(text).map_err(|e| LockError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Version {
                path: path.to_path_buf(),
                found: lock.version,
            });
        }
        if lock.wit != WIT_PACKAGE {
            return Err(LockError::Wit {
                path: path.to_path_buf(),
                found: lock.wit,
            });
        }
        for rev in &lock.revisions {
            let ok = rev.blake3.len() == 64 && rev.blake3.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(LockError::Hash {
                    path: path.to_path_buf(),
                    id: rev.id.clone(),
                    hash: rev.blake3.clone(),
                });
            }
        }
        Ok(lock)
    }

    /// Renders the lock as TOML, with a header saying where it comes from.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("a lock always serialises");
        format!(
            "# Written by `host build`. Every component is checked against its blake3\n# before it runs; edit the revision sources, not this file.\n{body}"
        )
    }

    /// The revision with this exact id.
    pub fn get(&self, id: &str) -> Option<&LockedRevision> {
        self.revisions.iter().find(|r| r.id == id)
    }

    /// The revision graph the lock describes (its `down_revisions` are the graph's parents).
    pub fn graph(&self) -> Result<Graph, GraphError> {
        Graph::new(
            self.revisions
                .iter()
                .map(|r| Revision {
                    id: r.id.clone(),
                    parents: r.down_revisions.clone(),
                    depends_on: r.depends_on.clone(),
                    branch_labels: r.branch_labels.clone(),
                    message: r.message.clone(),
                })
                .collect(),
        )
    }
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        Lock {
            version: LOCK_VERSION,
            wit: WIT_PACKAGE.into(),
            revisions: vec![LockedRevision {
                id: "c7bb9a9f0570".into(),
                down_revisions: vec![],
                branch_labels: vec![],
                depends_on: vec![],
                message: "Initial schema".into(),
                transactional: true,
                file: "components/a.wasm".into(),
                blake3: "ab".repeat(32),
                source: Some("a".into()),
                sources_blake3: None,
                transcript: None,
                fingerprint: Some("cd".repeat(32)),
                package: None,
                oci_digest: None,
            }],
        }
    }

    #[test]
    fn round_trips_through_toml() {
        let lock = sample();
        let text = lock.to_toml();
        assert!(text.starts_with("# Written by `host build`"));
        assert_eq!(Lock::parse(&text, Path::new("x")).unwrap(), lock);
    }

    #[test]
    fn syntax_error_names_file_and_fix() {
        let err = Lock::parse("version = 1\nwit = ", Path::new("p/migrations.lock")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("p/migrations.lock"), "{msg}");
        assert!(msg.contains("host build"), "{msg}");
    }

    #[test]
    fn refuses_other_versions_and_wit_packages() {
        let mut lock = sample();
        lock.version = 9;
        let err = Lock::parse(&lock.to_toml(), Path::new("l")).unwrap_err();
        assert!(matches!(err, LockError::Version { found: 9, .. }));
        let mut lock = sample();
        lock.wit = "pgwasm:migration@9.0.0".into();
        let err = Lock::parse(&lock.to_toml(), Path::new("l")).unwrap_err();
        assert!(matches!(err, LockError::Wit { .. }));
    }

    #[test]
    fn refuses_malformed_hash_and_unknown_fields() {
        let mut lock = sample();
        lock.revisions[0].blake3 = "zz".into();
        let err = Lock::parse(&lock.to_toml(), Path::new("l")).unwrap_err();
        assert!(matches!(err, LockError::Hash { .. }));
        let text = sample()
            .to_toml()
            .replace("message =", "mesage = \"x\"\nmessage =");
        assert!(matches!(
            Lock::parse(&text, Path::new("l")).unwrap_err(),
            LockError::Syntax { .. }
        ));
    }

    #[test]
    fn missing_fields_default_sensibly() {
        let text = format!(
            "version = 1\nwit = \"{WIT_PACKAGE}\"\n[[revision]]\nid = \"a\"\nmessage = \"m\"\nfile = \"f\"\nblake3 = \"{}\"\n",
            "0".repeat(64)
        );
        let lock = Lock::parse(&text, Path::new("l")).unwrap();
        assert!(lock.revisions[0].transactional);
        assert!(lock.revisions[0].down_revisions.is_empty());
    }
}
