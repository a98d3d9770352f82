//! The offline (`--sql`) output of each revision, remembered under the
//! compile cache.
//!
//! A guest in offline mode cannot read the database, its WASI is
//! deterministic, and its clock and random seed derive from its own hash: the
//! SQL it writes is a function of its bytes, the direction, its parameters,
//! the limits it runs under and the host that renders it. All of those are
//! hashed into the key, so a hit is exactly what running the guest again
//! would print, without compiling or instantiating a thousand components.

use crate::plan::Direction;
use crate::runtime::sandbox::Limits;
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
    dir: Option<PathBuf>,
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
    /// A cache in `dir`; none (every lookup misses) without one.
    pub fn new(dir: Option<PathBuf>) -> ScriptCache {
        ScriptCache { dir }
    }

    /// The remembered output for `key`, if it is there and intact.
    pub fn get(&self, key: &str) -> Option<Script> {
        let text = std::fs::read_to_string(self.dir.as_ref()?.join(format!("{key}.sql"))).ok()?;
        let (sum, body) = text.split_once('\n')?;
        if blake3::hash(body.as_bytes()).to_hex().as_str() != sum {
            return None;
        }
        let (transcript, sql) = body.split_once('\n')?;
        Some(Script {
            transcript: transcript.to_string(),
            sql: sql.to_string(),
        })
    }

    /// Remembers `script` under `key`. Best effort: a cache that cannot be
    /// written only makes the next `--sql` slower.
    pub fn put(&self, key: &str, script: &Script) {
        let Some(dir) = &self.dir else { return };
        let body = format!("{}\n{}", script.transcript, script.sql);
        let text = format!("{}\n{body}", blake3::hash(body.as_bytes()).to_hex());
        let _ = std::fs::create_dir_all(dir).and_then(|()| {
            crate::project::write_atomically(&dir.join(format!("{key}.sql")), text.as_bytes())
        });
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

    #[test]
    fn a_stored_script_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ScriptCache::new(Some(dir.path().into()));
        assert_eq!(cache.get("k"), None);
        cache.put("k", &script());
        assert_eq!(cache.get("k"), Some(script()));
    }

    #[test]
    fn an_altered_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ScriptCache::new(Some(dir.path().into()));
        cache.put("k", &script());
        let path = dir.path().join("k.sql");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("CREATE TABLE t", "DROP TABLE t")).unwrap();
        assert_eq!(cache.get("k"), None);
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
