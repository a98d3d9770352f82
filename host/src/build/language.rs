//! Languages a revision can be written in: how a folder's language is
//! recognised, what it is called, whether its toolchain is reproducible,
//! and the digest of the sources a component was built from.

use crate::build::tool::{ToolchainError, WIT, io};
use crate::build::{c, js, python, rust};
use std::path::{Path, PathBuf};

/// Languages a revision can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
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

impl std::str::FromStr for Language {
    type Err = String;

    /// Parses the `--lang` spelling: `rust`, `c`, `python` or `js`.
    fn from_str(name: &str) -> Result<Language, String> {
        <Language as clap::ValueEnum>::from_str(name, false)
    }
}

impl Language {
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

    /// Whether the toolchain builds byte-identical components from the same
    /// sources. componentize-py and componentize-js snapshot an interpreter's
    /// heap after running it, and that heap differs from build to build
    /// (bytecodealliance/componentize-py#247, ComponentizeJS#321), so their
    /// components are checked by [`sources_digest`] instead of by their bytes.
    pub fn reproducible(self) -> bool {
        matches!(self, Language::Rust | Language::C)
    }

    /// The toolchain's own version, part of [`sources_digest`].
    fn toolchain_version(self, project: &Path, dir: &str) -> Result<String, ToolchainError> {
        match self {
            Language::Python => python::version(dir),
            Language::Js => js::version(project),
            Language::C => Ok(c::version()),
            Language::Rust => Ok(rust::version()),
        }
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
    field(lang.toolchain_version(project, dir)?.as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_name_round_trip() {
        for l in [Language::Rust, Language::C, Language::Python, Language::Js] {
            assert_eq!(l.name().parse::<Language>(), Ok(l));
            let value = clap::ValueEnum::to_possible_value(&l).unwrap();
            assert_eq!(value.get_name(), l.name());
        }
        assert!("cobol".parse::<Language>().is_err());
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
