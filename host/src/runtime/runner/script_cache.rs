//! The offline (`--sql`) output of each revision, remembered under the
//! compile cache.
//!
//! A guest in offline mode cannot read the database, its WASI is
//! deterministic, and its clock and random seed derive from its own hash: the
//! SQL it writes is a function of its bytes, the direction, its parameters,
//! the limits it runs under and the host that renders it. All of those are
//! hashed into the key, so a hit is exactly what running the guest again
//! would print, without compiling or instantiating a thousand components.
//!
//! An entry is the first line, its seal ([`crate::runtime::seal`]) for the
//! component and key, then the transcript hash and the SQL. The folder is in
//! the project, where anyone can write: an entry without this machine's seal
//! for this component and key is a miss, run again and overwritten.

use crate::plan::Direction;
use crate::runtime::sandbox::Limits;
use crate::runtime::seal::{self, Binding, Purpose, SealKey};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A revision's offline output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// blake3 of the statements the guest sent.
    pub transcript: String,
    /// The statements, rendered as SQL text.
    pub sql: String,
}

/// Offline outputs on disk, one file per key.
pub struct ScriptCache {
    /// The folder and the key entries are sealed with; none without either.
    place: Option<(PathBuf, SealKey)>,
}

/// The cache key: every input the guest's offline output depends on.
pub fn key(
    component_blake3: &str,
    direction: Direction,
    limits: &Limits,
    config: &BTreeMap<String, String>,
) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        "offline-script-v1",
        crate::VERSION,
        crate::lock::WIT_PACKAGE,
        component_blake3,
        &direction.to_string(),
        &limits.fuel.to_string(),
        &limits.memory_bytes.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    for (k, v) in config {
        h.update(k.as_bytes());
        h.update(&[1]);
        h.update(v.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex().to_string()
}

impl ScriptCache {
    /// A cache in `dir`, sealed with this machine's key; none (every lookup
    /// misses) without a folder or a key.
    pub fn new(dir: Option<PathBuf>) -> ScriptCache {
        let key = seal::machine_key().ok().cloned();
        ScriptCache {
            place: dir.zip(key),
        }
    }

    /// A cache in `dir` sealed with `key`.
    pub fn with_key(dir: PathBuf, key: SealKey) -> ScriptCache {
        ScriptCache {
            place: Some((dir, key)),
        }
    }

    /// The remembered output of `component` for `key`, if it is there and
    /// sealed for both on this machine.
    pub fn get(&self, component: &str, key: &str) -> Option<Script> {
        let (dir, sealing) = self.place.as_ref()?;
        let text = std::fs::read_to_string(dir.join(format!("{key}.sql"))).ok()?;
        let (seal, body) = text.split_once('\n')?;
        if !sealing.verifies(&binding(component, key), body.as_bytes(), seal) {
            return None;
        }
        let (transcript, sql) = body.split_once('\n')?;
        Some(Script {
            transcript: transcript.to_string(),
            sql: sql.to_string(),
        })
    }

    /// Remembers `script` of `component` under `key`. Best effort: a cache
    /// that cannot be written only makes the next `--sql` slower.
    pub fn put(&self, component: &str, key: &str, script: &Script) {
        let Some((dir, sealing)) = &self.place else {
            return;
        };
        let body = format!("{}\n{}", script.transcript, script.sql);
        let seal = sealing.seal(&binding(component, key), body.as_bytes());
        let text = format!("{seal}\n{body}");
        let _ = std::fs::create_dir_all(dir).and_then(|()| {
            crate::project::write_atomically(&dir.join(format!("{key}.sql")), text.as_bytes())
        });
    }
}

fn binding<'a>(component: &'a str, key: &'a str) -> Binding<'a> {
    Binding {
        purpose: Purpose::Script,
        component,
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script {
            transcript: "ab".repeat(32),
            sql: "CREATE TABLE t (x int);\n-- a comment\n".into(),
        }
    }

    fn sealed_with(dir: &std::path::Path, key: u8) -> ScriptCache {
        ScriptCache::with_key(dir.into(), SealKey::new([key; 32]))
    }

    #[test]
    fn a_stored_script_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache = sealed_with(dir.path(), 1);
        assert_eq!(cache.get("c1", "k"), None);
        cache.put("c1", "k", &script());
        assert_eq!(cache.get("c1", "k"), Some(script()));
    }

    #[test]
    fn an_altered_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = sealed_with(dir.path(), 1);
        cache.put("c1", "k", &script());
        let path = dir.path().join("k.sql");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("CREATE TABLE t", "DROP TABLE t")).unwrap();
        assert_eq!(cache.get("c1", "k"), None);
        // Its plain hash recomputed, as anyone without the key can.
        let body = text
            .split_once('\n')
            .unwrap()
            .1
            .replace("CREATE TABLE t", "DROP TABLE t");
        let forged = format!("{}\n{body}", blake3::hash(body.as_bytes()).to_hex());
        std::fs::write(&path, forged).unwrap();
        assert_eq!(cache.get("c1", "k"), None);
    }

    #[test]
    fn an_entry_counts_only_for_its_component_key_and_machine() {
        let dir = tempfile::tempdir().unwrap();
        let cache = sealed_with(dir.path(), 1);
        cache.put("c1", "k", &script());
        assert_eq!(cache.get("c2", "k"), None, "another component");
        std::fs::copy(dir.path().join("k.sql"), dir.path().join("k2.sql")).unwrap();
        assert_eq!(cache.get("c1", "k2"), None, "copied under another key");
        assert_eq!(
            sealed_with(dir.path(), 2).get("c1", "k"),
            None,
            "another machine"
        );
        // Written again here, it counts here.
        let other = sealed_with(dir.path(), 2);
        other.put("c1", "k", &script());
        assert_eq!(other.get("c1", "k"), Some(script()));
    }

    #[test]
    fn every_input_changes_the_key() {
        let limits = Limits::default();
        let none = BTreeMap::new();
        let base = key("c1", Direction::Upgrade, &limits, &none);
        assert_ne!(base, key("c2", Direction::Upgrade, &limits, &none));
        assert_ne!(base, key("c1", Direction::Downgrade, &limits, &none));
        let less = Limits {
            fuel: limits.fuel / 2,
            ..limits.clone()
        };
        assert_ne!(base, key("c1", Direction::Upgrade, &less, &none));
        let params = BTreeMap::from([("tables".to_string(), "a".to_string())]);
        assert_ne!(base, key("c1", Direction::Upgrade, &limits, &params));
    }
}
