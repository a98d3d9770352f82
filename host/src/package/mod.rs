//! Migration packages: revisions shared through any OCI registry.
//!
//! A package version is one OCI artifact (the *index*: a JSON list of its
//! revisions with their graph edges, blake3 and OCI digests, signed with
//! ed25519) plus one CNCF wasm artifact per revision. [`build`] assembles them
//! from a package folder, [`sign`] signs the index, [`publish`] pushes them,
//! [`install`] pulls, verifies and adds them to a project. Only verified
//! `.wasm` bytes are ever pulled; compiling happens locally.

pub mod artifact;
pub mod build;
pub mod index;
pub mod install;
pub mod oci;
pub mod publish;
pub mod reference;
pub mod sign;
pub mod spec;

use std::path::PathBuf;

/// Why a package command failed. Every install refusal leaves the project untouched.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// `package.toml` is missing or invalid.
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    /// Building the revision crates failed.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// The project cannot be opened.
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    /// A key, signature or the trust policy refused the package.
    #[error(transparent)]
    Sign(#[from] sign::SignError),
    /// The registry failed or sent bad content.
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The package folder or its build output is not publishable.
    #[error("{dir}: {message}")]
    Invalid {
        /// The package folder.
        dir: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The package was refused at install; nothing was written.
    #[error("{reference}: {message}. Nothing was installed")]
    Refused {
        /// The package reference.
        reference: String,
        /// Why, and what to do.
        message: String,
    },
}

/// An I/O error naming its file.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a file atomically (see [`crate::project::write_atomically`]).
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), PackageError> {
    crate::project::write_atomically(path, bytes).map_err(io(path))
}

/// Folder, under a package folder, where `host package build` writes what `host publish` pushes.
pub const DIST_DIR: &str = "dist";

/// Folder, under a project, where installed packages keep their components.
pub const INSTALL_DIR: &str = "packages";

pub use crate::hex::{hex, unhex};
