//! What every toolchain shares: the WIT contract on disk, the work folders
//! under `.host/build`, and running a tool with errors that say how to get it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The WIT contract, written out for toolchains that read it from disk.
pub const WIT: &str = include_str!("../../../wit/migration.wit");

/// The world every revision implements.
pub const WORLD: &str = "migration";

/// Why a revision could not be turned into a component.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// A tool the language needs is not installed.
    #[error(
        "revision {revision}: {tool} is needed to build {language} revisions and was not found ({detail}); install it: {install}"
    )]
    Missing {
        /// The revision folder.
        revision: String,
        /// Language of the revision.
        language: &'static str,
        /// The program that is missing.
        tool: String,
        /// What running it said.
        detail: String,
        /// How to install it.
        install: &'static str,
    },
    /// The tool ran and failed.
    #[error("revision {revision}: {command} failed ({status}):\n{output}")]
    Failed {
        /// The revision folder.
        revision: String,
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// wit-bindgen could not generate the C bindings.
    #[error("cannot generate C bindings from the WIT: {0}")]
    Bindings(String),
    /// A core module could not become a component.
    #[error("revision {revision}: cannot turn the core module into a component: {detail}")]
    Encode {
        /// The revision folder.
        revision: String,
        /// What wit-component said.
        detail: String,
    },
}

/// Turns an I/O error on `path` into a [`ToolchainError::Io`].
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ToolchainError + '_ {
    move |source| ToolchainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a language's generated files and intermediate outputs go:
/// `<project>/.host/build/<what>`, created on demand.
pub(crate) fn work_dir(project: &Path, what: &str) -> Result<PathBuf, ToolchainError> {
    let dir = project
        .join(crate::project::STATE_DIR)
        .join("build")
        .join(what);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

/// Writes the WIT contract where toolchains read it; returns its folder.
pub(crate) fn wit_dir(project: &Path) -> Result<PathBuf, ToolchainError> {
    let dir = work_dir(project, "wit")?;
    let file = dir.join("migration.wit");
    write_if_changed(&file, WIT.as_bytes())?;
    Ok(dir)
}

/// Writes a file unless it already has these bytes (keeps mtimes for editors and make).
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), ToolchainError> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(io(path))
}

/// What a tool is and how to get it, for the error when it is missing.
pub(crate) struct Tool {
    /// The language the tool builds, as error messages name it.
    pub language: &'static str,
    /// How to install the tool.
    pub install: &'static str,
}

impl Tool {
    /// The error for `program` not starting for `revision`.
    pub(crate) fn missing(&self, revision: &str, program: &str, detail: String) -> ToolchainError {
        ToolchainError::Missing {
            revision: revision.to_string(),
            language: self.language,
            tool: program.to_string(),
            detail,
            install: self.install,
        }
    }
}

/// Runs a toolchain command; a missing program becomes [`ToolchainError::Missing`].
pub(crate) fn run(revision: &str, tool: &Tool, cmd: &mut Command) -> Result<(), ToolchainError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let line = std::iter::once(program.clone())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = cmd
        .output()
        .map_err(|e| tool.missing(revision, &program, e.to_string()))?;
    if !out.status.success() {
        let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        return Err(ToolchainError::Failed {
            revision: revision.to_string(),
            command: line,
            status: out.status.to_string(),
            output: output.trim_end().to_string(),
        });
    }
    Ok(())
}
