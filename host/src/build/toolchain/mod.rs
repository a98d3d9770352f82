//! Revisions written in languages other than Rust: finding them in a project
//! and driving their toolchain (clang, componentize-py, componentize-js) to a
//! component. Each language lives in its own module; this one holds what
//! they share: detection, the work folders and running a command.

pub mod c;
pub mod js;
pub mod python;
pub mod templates;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The WIT contract, written out for toolchains that read it from disk.
pub const WIT: &str = include_str!("../../../../wit/migration.wit");

/// The world every revision implements.
pub const WORLD: &str = "migration";

/// Languages a revision can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Language {
    /// A cargo crate built with the guest SDK.
    Rust,
    /// C compiled by clang against wasi-libc, bindings from wit-bindgen.
    C,
    /// Python packaged with its interpreter by componentize-py.
    Python,
    /// JavaScript packaged with its engine by componentize-js.
    Js,
}

impl Language {
    /// Parses the `--lang` spelling.
    pub fn parse(name: &str) -> Option<Language> {
        match name {
            "rust" | "rs" => Some(Language::Rust),
            "c" => Some(Language::C),
            "python" | "py" => Some(Language::Python),
            "js" | "javascript" => Some(Language::Js),
            _ => None,
        }
    }

    /// The file whose presence marks a revision folder of this language.
    pub fn entry_file(self) -> &'static str {
        match self {
            Language::Rust => "Cargo.toml",
            Language::C => "revision.c",
            Language::Python => "revision.py",
            Language::Js => "revision.js",
        }
    }

    /// Lower-case name, as users write it after `--lang`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Python => "python",
            Language::Js => "js",
        }
    }
}

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

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ToolchainError + '_ {
    move |source| ToolchainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Folders that never hold revisions: build output, state and package managers'.
const NOT_REVISIONS: [&str; 4] = ["components", "node_modules", "target", "guest-sdk"];

/// The project's non-Rust revision folders, sorted, with their language.
/// A folder is a revision of the language whose entry file it holds.
pub fn revisions(project: &Path) -> Result<Vec<(String, Language)>, ToolchainError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(project).map_err(io(project))?;
    for entry in entries {
        let entry = entry.map_err(io(project))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || NOT_REVISIONS.contains(&name.as_str()) {
            continue;
        }
        if !entry.file_type().map_err(io(project))?.is_dir() {
            continue;
        }
        let lang = [Language::C, Language::Python, Language::Js]
            .into_iter()
            .find(|l| entry.path().join(l.entry_file()).is_file());
        if let Some(lang) = lang {
            found.push((name, lang));
        }
    }
    found.sort();
    Ok(found)
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
    pub language: &'static str,
    pub install: &'static str,
}

/// Runs a toolchain command; a missing program becomes [`ToolchainError::Missing`].
pub(crate) fn run(revision: &str, tool: &Tool, cmd: &mut Command) -> Result<(), ToolchainError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let line = std::iter::once(program.clone())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = cmd.output().map_err(|e| ToolchainError::Missing {
        revision: revision.to_string(),
        language: tool.language,
        tool: program,
        detail: e.to_string(),
        install: tool.install,
    })?;
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

impl Language {
    /// Whether the toolchain builds byte-identical components from the same
    /// sources. componentize-py and componentize-js snapshot an interpreter's
    /// heap after running it, and that heap differs from build to build
    /// (bytecodealliance/componentize-py#247, ComponentizeJS#321), so their
    /// components are checked by [`sources_digest`] instead of by their bytes.
    pub fn reproducible(self) -> bool {
        matches!(self, Language::Rust | Language::C)
    }
}

/// The toolchain's own version, part of [`sources_digest`].
fn toolchain_version(project: &Path, dir: &str, lang: Language) -> Result<String, ToolchainError> {
    match lang {
        Language::Python => Ok(format!("{}\n{}", python::version(dir)?, python::SDK)),
        Language::Js => js::version(project),
        Language::C => Ok(format!("wit-bindgen-c 0.61.1\n{}\n{}", c::SHIM, c::SDK)),
        Language::Rust => Ok(String::new()),
    }
}

/// blake3 over the language, its toolchain's version, the WIT and every file
/// of the revision folder (sorted paths and contents): what a component was
/// built from. Recorded in the lock and compared by `host build --check`.
pub fn sources_digest(project: &Path, dir: &str, lang: Language) -> Result<String, ToolchainError> {
    let mut files = Vec::new();
    collect_files(&project.join(dir), Path::new(""), &mut files)?;
    files.sort();
    let mut hasher = blake3::Hasher::new_derive_key("pgwasm host revision sources v1");
    let mut field = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(lang.name().as_bytes());
    field(toolchain_version(project, dir, lang)?.as_bytes());
    field(WIT.as_bytes());
    for rel in files {
        let path = project.join(dir).join(&rel);
        field(rel.to_string_lossy().as_bytes());
        field(&std::fs::read(&path).map_err(io(&path))?);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Files under `folder`, as paths relative to it; caches of editors and
/// Python (`__pycache__`, dot-files) are left out.
fn collect_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), ToolchainError> {
    let here = root.join(rel);
    for entry in std::fs::read_dir(&here).map_err(io(&here))? {
        let entry = entry.map_err(io(&here))?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str.starts_with('.') || name_str == "__pycache__" {
            continue;
        }
        let path = rel.join(&name);
        if entry.file_type().map_err(io(&here))?.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Builds one non-Rust revision folder into component bytes.
pub fn build(project: &Path, dir: &str, lang: Language) -> Result<Vec<u8>, ToolchainError> {
    match lang {
        Language::C => c::build(project, dir),
        Language::Python => python::build(project, dir),
        Language::Js => js::build(project, dir),
        Language::Rust => unreachable!("Rust revisions are built by cargo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_name_round_trip() {
        for l in [Language::Rust, Language::C, Language::Python, Language::Js] {
            assert_eq!(Language::parse(l.name()), Some(l));
        }
        assert_eq!(Language::parse("cobol"), None);
    }

    #[test]
    fn the_sources_digest_follows_the_files_but_not_caches() {
        let root = std::env::temp_dir().join(format!("toolchain-digest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("rev/__pycache__")).unwrap();
        std::fs::write(root.join("rev/revision.c"), "int x;").unwrap();
        let first = sources_digest(&root, "rev", Language::C).unwrap();
        std::fs::write(root.join("rev/__pycache__/revision.pyc"), "cache").unwrap();
        std::fs::write(root.join("rev/.revision.c.swp"), "editor").unwrap();
        assert_eq!(sources_digest(&root, "rev", Language::C).unwrap(), first);
        std::fs::write(root.join("rev/revision.c"), "int y;").unwrap();
        let edited = sources_digest(&root, "rev", Language::C).unwrap();
        std::fs::write(root.join("rev/revision.c"), "int x;").unwrap();
        std::fs::write(root.join("rev/helper.c"), "").unwrap();
        let added = sources_digest(&root, "rev", Language::C).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_ne!(edited, first);
        assert_ne!(added, first);
        assert_ne!(added, edited);
    }

    #[test]
    fn revisions_are_found_by_entry_file() {
        let root = std::env::temp_dir().join(format!("toolchain-detect-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dir, file) in [
            ("b_py", "revision.py"),
            ("a_c", "revision.c"),
            ("c_js", "revision.js"),
            ("d_rust", "Cargo.toml"),
            ("node_modules", "revision.js"),
            ("e_empty", "README"),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join(file), "").unwrap();
        }
        let found = revisions(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            found,
            vec![
                ("a_c".to_string(), Language::C),
                ("b_py".to_string(), Language::Python),
                ("c_js".to_string(), Language::Js),
            ]
        );
    }
}
