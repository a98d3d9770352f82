//! `package.toml`: what a package author declares about a package (name,
//! version, description, parameters, what its root depends on).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name of the package declaration, at the root of a package folder.
pub const SPEC_FILE: &str = "package.toml";

/// The parsed `package.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    /// Identity and description.
    pub package: PackageMeta,
    /// Install-time parameters the revisions read through `context.config`.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
}

/// The `[package]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageMeta {
    /// Namespace: the part of the repository before the name; trust is granted per namespace.
    pub namespace: String,
    /// Package name.
    pub name: String,
    /// Semantic version, also the OCI tag of the index.
    pub version: String,
    /// One line for `host search`.
    pub description: String,
    /// Revisions or labels of the installing project the package's root needs.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// What it controls.
    pub description: String,
    /// Value when the installer gives none; without one the parameter is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Why a `package.toml` is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}; a package folder needs a {SPEC_FILE}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Whether a namespace or name segment is usable in an OCI repository name.
pub fn valid_segment(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.".contains(c))
}

/// Whether a version is `MAJOR.MINOR.PATCH` with an optional `-pre` part
/// (no `+build`: an OCI tag cannot hold a `+`).
pub fn valid_version(v: &str) -> bool {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        })
        && v.len() <= 128
}

/// Orders versions numerically (pre-releases before their release).
pub fn version_key(v: &str) -> (Vec<u64>, bool, String) {
    let (core, pre) = v.split_once('-').unwrap_or((v, ""));
    let nums = core.split('.').map(|n| n.parse().unwrap_or(0)).collect();
    (nums, pre.is_empty(), pre.to_string())
}

impl PackageSpec {
    /// Reads and checks `<dir>/package.toml`.
    pub fn read(dir: &Path) -> Result<PackageSpec, SpecError> {
        let path = dir.join(SPEC_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Io {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// Parses and checks package.toml text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<PackageSpec, SpecError> {
        let invalid = |message: String| SpecError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let spec: PackageSpec =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim().replace('\n', " ")))?;
        let p = &spec.package;
        for (what, v) in [("namespace", &p.namespace), ("name", &p.name)] {
            if !valid_segment(v) {
                return Err(invalid(format!(
                    "package {what} {v:?} must be lowercase letters, digits and - _ . (as OCI repository names are)"
                )));
            }
        }
        if !valid_version(&p.version) {
            return Err(invalid(format!(
                "package version {:?} is not MAJOR.MINOR.PATCH[-pre]",
                p.version
            )));
        }
        for key in spec.params.keys() {
            let ok = !key.is_empty()
                && key
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
            if !ok {
                return Err(invalid(format!(
                    "parameter name {key:?} must be letters, digits, _ and -"
                )));
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[package]
namespace = "pgwasm"
name = "updated-at"
version = "1.2.0"
description = "updated_at triggers"
depends_on = ["base_schema"]

[params.tables]
description = "tables"
default = "tasks"
"#;

    #[test]
    fn parses_a_package_declaration() {
        let spec = PackageSpec::parse(GOOD, Path::new("package.toml")).unwrap();
        assert_eq!(spec.package.name, "updated-at");
        assert_eq!(spec.params["tables"].default.as_deref(), Some("tasks"));
    }

    #[test]
    fn refuses_bad_names_versions_and_fields() {
        for (from, to) in [
            ("\"updated-at\"", "\"Updated At\""),
            ("\"1.2.0\"", "\"1.2\""),
            ("\"1.2.0\"", "\"1.2.0+build\""),
            ("default =", "defualt ="),
        ] {
            let text = GOOD.replace(from, to);
            let err = PackageSpec::parse(&text, Path::new("p/package.toml")).unwrap_err();
            assert!(err.to_string().contains("p/package.toml"), "{err}");
        }
    }

    #[test]
    fn versions_validate_and_order() {
        assert!(valid_version("0.1.0") && valid_version("1.0.0-rc.1"));
        assert!(!valid_version("1.0") && !valid_version("1.0.x") && !valid_version("1.0.0-"));
        let mut v = vec!["1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9"];
        v.sort_by_key(|v| version_key(v));
        assert_eq!(v, ["0.9.9", "1.2.0-rc.1", "1.2.0", "1.10.0"]);
    }
}
