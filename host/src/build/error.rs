//! Why `host build` failed: one error type for the build and every
//! language module, so none of them needs the dispatcher.

use crate::build::tool::ToolchainError;
use crate::lock::LOCK_FILE;
use crate::runtime::sandbox::SandboxError;
use std::path::{Path, PathBuf};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be run or failed.
    #[error("{what} failed: {detail}")]
    Cargo {
        /// Which cargo command.
        what: String,
        /// Its error output or status.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A core module could not become a component.
    #[error("{crate_dir}: cannot turn {module} into a component: {detail}")]
    Encode {
        /// The revision crate.
        crate_dir: String,
        /// The core module.
        module: PathBuf,
        /// What wit-component said.
        detail: String,
    },
    /// `host.toml` is invalid.
    #[error("{0}")]
    Settings(String),
    /// The component failed to load or answer `info()`.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The revisions do not form a valid graph.
    #[error("the built revisions do not form a valid graph: {0}")]
    Graph(#[from] crate::graph::GraphError),
    /// A C, Python or JavaScript toolchain failed.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// `--check` found a component whose bytes differ from the lock.
    #[error(
        "{} component(s) differ from {LOCK_FILE}: {}. The build is not reproducible here (another rustc, guest-sdk or wit-bindgen version?) or the sources changed",
        .0.len(), .0.join("; ")
    )]
    Differs(Vec<String>),
}

/// Turns an I/O error on `path` into a [`BuildError::Io`].
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}
