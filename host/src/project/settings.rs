//! `host.toml`, the user's settings beside the lock: what each revision is
//! granted, installed packages' parameters, and which keys may sign which
//! package namespaces. Parsed once, as a whole; rewritten with `toml_edit`
//! so the user's comments and layout survive.

use super::ProjectError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// The user's settings for the project, beside the lock.
pub const SETTINGS_FILE: &str = "host.toml";

/// The file as written: decisions only the user makes, never the revisions themselves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    revisions: BTreeMap<String, RevisionEntry>,
    #[serde(default)]
    packages: BTreeMap<String, PackageEntry>,
    #[serde(default)]
    trust: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevisionEntry {
    /// WASI packages the revision may import (it still gets no files or network).
    #[serde(default)]
    grant: Vec<String>,
    /// PostgreSQL statement_timeout for this revision, in seconds.
    statement_timeout: Option<f64>,
    /// PostgreSQL lock_timeout for this revision, in seconds.
    lock_timeout: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageEntry {
    #[serde(default)]
    params: BTreeMap<String, String>,
}

/// What the user set for one revision in `host.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevisionSettings {
    /// WASI packages it may import.
    pub grant: BTreeSet<String>,
    /// PostgreSQL statement_timeout for its statements.
    pub statement_timeout: Option<Duration>,
    /// PostgreSQL lock_timeout for its statements.
    pub lock_timeout: Option<Duration>,
}

/// Settings per revision id.
pub type Grants = BTreeMap<String, RevisionSettings>;

/// Parameter values per package (`namespace/name`).
pub type Params = BTreeMap<String, BTreeMap<String, String>>;

/// The trust policy: namespace → public keys allowed to sign its packages.
/// Plain data here; `package::sign` parses the keys and checks signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Allowed keys per namespace, in text form.
    pub namespaces: BTreeMap<String, Vec<String>>,
}

/// Everything `host.toml` says.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `[revisions.<id>]`: grants and timeouts per revision.
    pub revisions: Grants,
    /// `[packages."<ns>/<name>".params]`: parameters of installed packages.
    pub packages: Params,
    /// `[trust]`: which keys may sign which namespaces.
    pub trust: TrustPolicy,
    /// The text it was parsed from (none when the file is absent), so an
    /// edit keeps everything else as it was.
    pub text: Option<String>,
}

impl Settings {
    /// Reads `<root>/host.toml`; empty settings when the file is absent.
    pub fn read(root: &Path) -> Result<Settings, ProjectError> {
        let path = root.join(SETTINGS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => {
                return Err(ProjectError::Settings {
                    path,
                    message: e.to_string(),
                });
            }
        };
        Settings::parse(&text).map_err(|message| ProjectError::Settings { path, message })
    }

    /// Parses host.toml text; the error is the message, without the file's name.
    pub fn parse(text: &str) -> Result<Settings, String> {
        let file: File =
            toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
        for (ns, keys) in &file.trust {
            for k in keys {
                if public_key(k).is_none() {
                    return Err(format!(
                        "[trust] {ns:?}: {k:?} is not an ed25519 public key (expected ed25519:<64 hex digits>, as `host keygen` prints)"
                    ));
                }
            }
        }
        let mut revisions = Grants::new();
        for (id, rev) in file.revisions {
            revisions.insert(id.clone(), revision_settings(&id, rev)?);
        }
        Ok(Settings {
            revisions,
            packages: file
                .packages
                .into_iter()
                .map(|(name, s)| (name, s.params))
                .collect(),
            trust: TrustPolicy {
                namespaces: file.trust,
            },
            text: Some(text.to_string()),
        })
    }
}

/// Checks one `[revisions.<id>]` table: only grantable packages, timeouts in seconds.
fn revision_settings(id: &str, rev: RevisionEntry) -> Result<RevisionSettings, String> {
    for g in &rev.grant {
        if !crate::imports::GRANTABLE.contains(&g.as_str()) {
            return Err(format!(
                "revision {id} is granted {g:?}, which cannot be granted; grantable: {}",
                crate::imports::GRANTABLE.join(", ")
            ));
        }
    }
    let secs = |v: Option<f64>, name: &str| -> Result<Option<Duration>, String> {
        v.map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                format!("revision {id}: {name} must be a non-negative number of seconds")
            })
        })
        .transpose()
    };
    Ok(RevisionSettings {
        statement_timeout: secs(rev.statement_timeout, "statement_timeout")?,
        lock_timeout: secs(rev.lock_timeout, "lock_timeout")?,
        grant: rev.grant.into_iter().collect(),
    })
}

/// Reads the per-revision settings of `<root>/host.toml`; none when the file is absent.
pub fn read_grants(root: &Path) -> Result<Grants, ProjectError> {
    Ok(Settings::read(root)?.revisions)
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
        .or_insert_with(implicit_table)
        .as_table_mut()
        .ok_or("`packages` is not a table")?;
    let pkg = packages
        .entry(package)
        .or_insert_with(implicit_table)
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

/// A table that gets no `[header]` of its own: `[packages."a/b".params]`
/// rather than `[packages]`, `[packages."a/b"]` and then the params.
fn implicit_table() -> toml_edit::Item {
    let mut t = toml_edit::Table::new();
    t.set_implicit(true);
    toml_edit::Item::Table(t)
}

/// The prefix of a public key's text form, `ed25519:<64 hex digits>`.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// A trusted key's text form read as an ed25519 public key, if it is one.
/// `host.toml` is refused at once when a `[trust]` key is not, so a typo is
/// reported as such rather than as an untrusted signer at install.
pub fn public_key(text: &str) -> Option<ed25519_dalek::VerifyingKey> {
    let bytes = crate::hex::unhex(text.trim().strip_prefix(PUBLIC_KEY_PREFIX)?, 32)?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_malformed_trust_keys() {
        let err = Settings::parse("[trust]\nacme = [\"rsa:abc\"]\n").unwrap_err();
        assert!(err.contains("acme") && err.contains("ed25519"), "{err}");
    }

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
        let parsed = Settings::parse(&out).unwrap();
        assert_eq!(
            parsed.packages["pgwasm/updated-at"]["tables"],
            "tasks,projects"
        );
        let again = with_params(
            &out,
            "pgwasm/updated-at",
            &[("tables".into(), "tasks".into())].into(),
        )
        .unwrap();
        assert_eq!(
            Settings::parse(&again).unwrap().packages["pgwasm/updated-at"]["tables"],
            "tasks"
        );
    }

    #[test]
    fn reads_all_three_sections_at_once() {
        let s = Settings::parse(
            "[revisions.a]\ngrant = []\nlock_timeout = 2\n[packages.\"n/p\".params]\nk = \"v\"\n[trust]\nn = [\"ed25519:0100000000000000000000000000000000000000000000000000000000000000\"]\n",
        )
        .unwrap();
        assert_eq!(s.revisions["a"].lock_timeout, Some(Duration::from_secs(2)));
        assert_eq!(s.packages["n/p"]["k"], "v");
        assert_eq!(
            s.trust.namespaces["n"],
            ["ed25519:0100000000000000000000000000000000000000000000000000000000000000"]
        );
        let err = Settings::parse("[other]\n").unwrap_err();
        assert!(err.contains("revisions"), "{err}");
    }
}
