//! The package parts of a project's `host.toml`: install-time parameters
//! (`[packages."<ns>/<name>".params]`) and the trust policy (`[trust]`).

use super::sign::TrustPolicy;
use crate::project::SETTINGS_FILE;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Parameter values per package (`namespace/name`).
pub type Params = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    packages: BTreeMap<String, PackageSettings>,
    #[serde(default)]
    trust: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageSettings {
    #[serde(default)]
    params: BTreeMap<String, String>,
}

/// What host.toml says about packages.
#[derive(Debug, Clone, Default)]
pub struct PackageSettingsFile {
    /// Parameter values per package.
    pub params: Params,
    /// Which keys may sign which namespaces.
    pub trust: TrustPolicy,
}

/// host.toml's package settings are invalid.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsError {
    /// The settings file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// Reads the package settings of `<root>/host.toml`; empty when the file is absent.
pub fn read(root: &Path) -> Result<PackageSettingsFile, SettingsError> {
    let path = root.join(SETTINGS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => {
            return Err(SettingsError {
                path,
                message: e.to_string(),
            });
        }
    };
    parse(&text).map_err(|message| SettingsError { path, message })
}

/// Parses host.toml text.
pub fn parse(text: &str) -> Result<PackageSettingsFile, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
    for (ns, keys) in &file.trust {
        for k in keys {
            super::sign::parse_public(k).map_err(|e| format!("[trust] {ns:?}: {e}"))?;
        }
    }
    Ok(PackageSettingsFile {
        params: file
            .packages
            .into_iter()
            .map(|(name, s)| (name, s.params))
            .collect(),
        trust: TrustPolicy {
            namespaces: file.trust,
        },
    })
}

/// host.toml text with a package's parameters set, keeping everything else
/// (comments and layout included) as it was.
pub fn with_params(
    text: &str,
    package: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let packages = doc
        .entry("packages")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or("`packages` is not a table")?;
    let pkg = packages
        .entry(package)
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| format!("packages.{package:?} is not a table"))?;
    let table = pkg
        .entry("params")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| format!("packages.{package:?}.params is not a table"))?;
    for (k, v) in params {
        table[k.as_str()] = toml_edit::value(v.as_str());
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_params_and_keeps_the_rest() {
        let text = "# mine\n[revisions.abc]\ngrant = []\n";
        let params = [("tables".to_string(), "tasks,projects".to_string())].into();
        let out = with_params(text, "pgwasm/updated-at", &params).unwrap();
        assert!(out.starts_with("# mine\n[revisions.abc]"), "{out}");
        assert!(
            out.contains("[packages.\"pgwasm/updated-at\".params]"),
            "{out}"
        );
        let parsed = parse(&out).unwrap();
        assert_eq!(
            parsed.params["pgwasm/updated-at"]["tables"],
            "tasks,projects"
        );
        let again = with_params(
            &out,
            "pgwasm/updated-at",
            &[("tables".into(), "tasks".into())].into(),
        )
        .unwrap();
        assert_eq!(
            parse(&again).unwrap().params["pgwasm/updated-at"]["tables"],
            "tasks"
        );
    }

    #[test]
    fn refuses_malformed_trust_keys() {
        let err = parse("[trust]\nacme = [\"rsa:abc\"]\n").unwrap_err();
        assert!(err.contains("acme") && err.contains("ed25519"), "{err}");
    }
}
