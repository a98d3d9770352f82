//! The on-disk compile cache: native code keyed by component hash, compiler
//! and engine, stored with its own hash so a damaged file is never executed.

use std::hash::{Hash, Hasher};
use std::path::Path;

use wasmtime::component::Component;

use super::{Sandbox, SandboxError, one_line};
use crate::project::{VerifiedComponent, write_atomically};

thread_local! {
    /// Reused for hashing compiled artifacts (hundreds of KB each).
    static ARTIFACT_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Sandbox {
    /// Key of a component in the compile cache: its hash and the engine's compatibility hash.
    pub(super) fn cache_key(&self, blake3: &str) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        format!(
            "{blake3}-{}-{:016x}",
            self.limits.compiler.name(),
            h.finish()
        )
    }

    pub(super) fn compile(&self, comp: &VerifiedComponent) -> Result<Component, SandboxError> {
        let compile_err = |e: wasmtime::Error| SandboxError::Compile {
            revision: comp.revision.clone(),
            detail: one_line(&format!("{e:#}"), 300),
        };
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, &comp.bytes).map_err(compile_err);
        };
        let key = self.cache_key(&comp.blake3);
        if let Some(c) = self.load_cached(dir, &key) {
            return Ok(c);
        }
        let component = Component::new(&self.engine, &comp.bytes).map_err(compile_err)?;
        let artifact = component.serialize().map_err(compile_err)?;
        store_cached(dir, &key, &artifact).map_err(|source| SandboxError::Cache {
            path: dir.clone(),
            source,
        })?;
        Ok(component)
    }

    /// A cached artifact, only if its recorded blake3 matches its bytes: a
    /// truncated or altered file is native code we must never execute.
    fn load_cached(&self, dir: &Path, key: &str) -> Option<Component> {
        let path = dir.join(format!("{key}.cwasm"));
        let recorded = std::fs::read_to_string(dir.join(format!("{key}.cwasm.blake3"))).ok()?;
        // Hashed through one reused buffer, then mapped rather than copied:
        // a thousand-revision run would otherwise copy and fault in every
        // artifact twice.
        let matches = ARTIFACT_BUFFER.with_borrow_mut(|buf| {
            buf.clear();
            std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_to_end(&mut f, buf))
                .is_ok_and(|_| blake3::hash(buf).to_hex().as_str() == recorded.trim())
        });
        if !matches {
            return None;
        }
        // SAFETY: the artifact was written by this host, atomically (a new
        // file renamed into place, never changed in place), and its bytes match
        // the hash recorded next to it.
        unsafe { Component::deserialize_file(&self.engine, &path) }.ok()
    }
}

/// Writes a compiled artifact and its hash, each atomically, artifact first.
fn store_cached(dir: &Path, key: &str, artifact: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomically(&dir.join(format!("{key}.cwasm")), artifact)?;
    write_atomically(
        &dir.join(format!("{key}.cwasm.blake3")),
        blake3::hash(artifact).to_hex().as_bytes(),
    )
}
