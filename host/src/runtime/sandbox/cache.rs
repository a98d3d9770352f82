//! The on-disk compile cache: native code keyed by component hash, compiler
//! and engine, stored with a seal ([`crate::runtime::seal`]) binding it to
//! that component and key under this machine's key. The cache lives in the
//! project, where a checkout or a restored CI cache can place any file: code
//! that is not sealed here, for this component, is never executed.

use std::hash::{Hash, Hasher};
use std::path::Path;

use wasmtime::component::Component;

use super::{Sandbox, SandboxError};
use crate::project::{VerifiedComponent, write_atomically};
use crate::runtime::seal::{self, Binding, Purpose, SealError, SealKey};

thread_local! {
    /// Reused for sealing compiled artifacts (hundreds of KB each).
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

    /// Why compiled code is not cached although the sandbox has a cache
    /// folder: there is no key to seal it with, so every component is
    /// compiled afresh and nothing in the folder is trusted.
    pub fn cache_unavailable(&self) -> Option<&'static SealError> {
        self.cache_dir.as_ref()?;
        seal::machine_key().err()
    }

    pub(super) fn compile(&self, comp: &VerifiedComponent) -> Result<Component, SandboxError> {
        let key = self.cache_key(&comp.blake3);
        let binding = Binding {
            purpose: Purpose::Compiled,
            component: &comp.blake3,
            key: &key,
        };
        let cache = match (&self.cache_dir, seal::machine_key()) {
            (Some(dir), Ok(sealing)) => Some((dir, sealing)),
            _ => None,
        };
        if let Some((dir, sealing)) = cache
            && let Some(c) = self.load_cached(dir, sealing, &binding)
        {
            return Ok(c);
        }
        // A miss, a damaged entry, one sealed on another machine or one
        // copied from another component: all the same, compiled afresh and
        // overwritten, without a word (a restored CI cache is all misses).
        let (component, artifact) = self.compile_fresh(comp)?;
        if let Some((dir, sealing)) = cache {
            store_cached(dir, sealing, &binding, &artifact).map_err(|source| {
                SandboxError::Cache {
                    path: dir.clone(),
                    source,
                }
            })?;
        }
        Ok(component)
    }

    /// A cached artifact, only if it is sealed for `binding` under this
    /// machine's key: anything else is native code we must never execute.
    fn load_cached(&self, dir: &Path, sealing: &SealKey, binding: &Binding) -> Option<Component> {
        let key = binding.key;
        let path = dir.join(format!("{key}.cwasm"));
        let recorded = std::fs::read_to_string(dir.join(format!("{key}.cwasm.seal"))).ok()?;
        // Sealed through one reused buffer, then mapped rather than copied:
        // a thousand-revision run would otherwise copy and fault in every
        // artifact twice. The seal is the one pass over the bytes.
        let sealed = ARTIFACT_BUFFER.with_borrow_mut(|buf| {
            buf.clear();
            std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_to_end(&mut f, buf))
                .is_ok_and(|_| sealing.verifies(binding, buf, &recorded))
        });
        if !sealed {
            return None;
        }
        // SAFETY: the bytes carry this machine's seal for this component and
        // key, so this host compiled them and wrote them atomically (a new
        // file renamed into place, never changed in place). Mapping the path
        // again after the check trusts that nobody swaps the file in between:
        // whoever can do that while the host runs can already change the
        // project's lock and components.
        unsafe { Component::deserialize_file(&self.engine, &path) }.ok()
    }
}

/// Writes a compiled artifact and its seal, each atomically, artifact first.
fn store_cached(
    dir: &Path,
    sealing: &SealKey,
    binding: &Binding,
    artifact: &[u8],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let key = binding.key;
    write_atomically(&dir.join(format!("{key}.cwasm")), artifact)?;
    write_atomically(
        &dir.join(format!("{key}.cwasm.seal")),
        sealing.seal(binding, artifact).as_bytes(),
    )
}
