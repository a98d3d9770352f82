//! `host install`: pull a package version, verify it (signature under the
//! trust policy, every digest and blake3, the components' imports against
//! the host's world, each component's own `info()` against the index), then
//! add its revisions to the project's graph and lock, and precompile them.
//! Every check runs before the first write; the lock is written last, by a
//! rename, so a refused or interrupted install leaves the project as it was.
//!
//! [`install`] reads as its eight steps, one function each.

use super::artifact::{
    INDEX_MEDIA_TYPE, Manifest, SIGNATURE_ANNOTATION, SIGNER_ANNOTATION, parse_manifest, wasm_layer,
};
use super::index::{IndexedRevision, PackageIndex};
use super::oci::{OciError, Registry};
use super::reference::Reference;
use super::sign::IndexSignature;
use super::spec::version_key;
use super::{INSTALL_DIR, PackageError, io, write_atomic};
use crate::lock::{LOCK_FILE, Lock, LockedRevision, WIT_PACKAGE};
use crate::project::settings::{TrustPolicy, with_params};
use crate::project::{Project, SETTINGS_FILE, VerifiedComponent};
use crate::runtime::sandbox::{Limits, Sandbox, SandboxError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the installer asked for beyond the reference.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--param k=v` values.
    pub params: BTreeMap<String, String>,
    /// `--depends-on`: replaces the package's declared `depends_on`.
    pub depends_on: Option<Vec<String>>,
}

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `namespace/name@version`.
    pub package: String,
    /// Digest of the index manifest (pin it with `@<digest>`).
    pub digest: String,
    /// Revisions added to the lock.
    pub added: Vec<String>,
    /// Revisions already installed, kept.
    pub kept: Vec<String>,
    /// Parameter values in effect.
    pub params: BTreeMap<String, String>,
    /// What went wrong after the install was committed (a precompile that
    /// failed: the first run compiles instead).
    pub warnings: Vec<String>,
}

/// A revision pulled and verified, with its component.
struct Pulled {
    rev: IndexedRevision,
    bytes: Vec<u8>,
}

impl Pulled {
    fn component(&self) -> VerifiedComponent {
        VerifiedComponent {
            revision: self.rev.id.clone(),
            file: format!("the package layer {}", self.rev.layer_digest),
            bytes: self.bytes.clone(),
            blake3: self.rev.blake3.clone(),
        }
    }
}

/// The package's index, as its manifest names it.
struct Fetched {
    manifest: Manifest,
    manifest_digest: String,
    index: PackageIndex,
    /// `namespace/name@version`.
    package: String,
}

/// The project's lock with the package's revisions in it.
struct Merged {
    lock: Lock,
    added: Vec<String>,
    kept: Vec<String>,
}

/// One install under way: where from, and how its refusals read.
struct Job<'a> {
    registry: &'a Registry,
    reference: &'a Reference,
    /// `namespace/name`, the repository in the registry.
    repo: String,
}

impl Job<'_> {
    fn refuse(&self, message: String) -> PackageError {
        PackageError::Refused {
            reference: self.reference.to_string(),
            message,
        }
    }

    /// Registry failures are refusals too: nothing is written before the end.
    fn oci(&self, e: OciError) -> PackageError {
        self.refuse(e.to_string())
    }
}

/// Installs `reference` into the project at `root`.
pub async fn install(
    root: &Path,
    registry: &Registry,
    reference: &Reference,
    opts: &Options,
) -> Result<Installed, PackageError> {
    let project = Project::open(root)?;
    let job = Job {
        registry,
        reference,
        repo: reference.repository(),
    };
    let fetched = job.fetch_index()?;
    job.check_signature(&fetched, &project.host_toml.trust)?;
    let pulled = job.pull(&fetched)?;
    job.check_components(&pulled).await?;
    let mut merged = job.merge_lock(&project, &fetched, &pulled, opts)?;
    let (params, new_settings) = job.resolve_params(&project, &fetched.index, opts, &mut merged)?;
    commit(root, &pulled, &merged.lock, new_settings)?;
    let warnings = job.precompile(&project, &pulled)?;
    Ok(Installed {
        package: fetched.package,
        digest: fetched.manifest_digest,
        added: merged.added,
        kept: merged.kept,
        params,
        warnings,
    })
}

impl Job<'_> {
    /// Step 1: the index, and whose it is.
    fn fetch_index(&self) -> Result<Fetched, PackageError> {
        let (repo, reference) = (&self.repo, self.reference);
        let (manifest_bytes, manifest_digest) = self
            .registry
            .manifest(repo, reference.reference())
            .map_err(|e| self.oci(e))?
            .ok_or_else(|| {
                self.refuse(format!(
                    "the registry has no {repo}:{}; `host search {}` lists what it has",
                    reference.reference(),
                    reference.registry
                ))
            })?;
        let manifest = parse_manifest(&manifest_bytes).map_err(|m| self.refuse(m))?;
        if manifest.config.media_type != INDEX_MEDIA_TYPE {
            return Err(self.refuse(format!(
                "this is not a migration package (its config is {:?}, not {INDEX_MEDIA_TYPE:?})",
                manifest.config.media_type
            )));
        }
        let index_bytes = self
            .registry
            .blob(repo, &manifest.config.digest, "the package index")
            .map_err(|e| self.oci(e))?;
        let index = PackageIndex::from_bytes(&index_bytes)
            .map_err(|e| self.refuse(format!("the package index is invalid: {e}")))?;
        let package = format!("{}@{}", index.full_name(), index.version);
        if index.full_name() != *repo {
            return Err(self.refuse(format!(
                "the index describes {package}, not a package of repository {repo}"
            )));
        }
        // Ids become file names under packages/: nothing that could leave that folder.
        if let Some(bad) = index.revisions.iter().find(|r| !file_safe_id(&r.id)) {
            return Err(self.refuse(format!(
                "revision id {:?} is not letters, digits and _ (at most 64)",
                bad.id
            )));
        }
        if let Some(tag) = &reference.tag
            && *tag != index.version
        {
            return Err(self.refuse(format!(
                "tag {tag} holds version {} of the package",
                index.version
            )));
        }
        Ok(Fetched {
            manifest,
            manifest_digest,
            index,
            package,
        })
    }

    /// Step 2: who signed it, and whether that key may sign for this namespace.
    fn check_signature(&self, fetched: &Fetched, trust: &TrustPolicy) -> Result<(), PackageError> {
        let annotation = |k: &str| fetched.manifest.annotations.get(k).cloned();
        let sig = match (
            annotation(SIGNER_ANNOTATION),
            annotation(SIGNATURE_ANNOTATION),
        ) {
            (Some(key), Some(signature)) => IndexSignature { key, signature },
            _ => {
                return Err(super::sign::SignError::Unsigned {
                    package: fetched.package.clone(),
                }
                .into());
            }
        };
        trust.verify(
            &fetched.index.namespace,
            &fetched.package,
            &fetched.manifest.config.digest,
            &sig,
        )?;
        Ok(())
    }

    /// Step 3: every revision's bytes, against the signed digests and blake3.
    fn pull(&self, fetched: &Fetched) -> Result<Vec<Pulled>, PackageError> {
        let (index, package, repo) = (&fetched.index, &fetched.package, &self.repo);
        if index.wit != WIT_PACKAGE {
            return Err(self.refuse(format!(
                "it was built against WIT package {}, this host implements {WIT_PACKAGE}; install a version built for this host",
                index.wit
            )));
        }
        let mut pulled = Vec::new();
        for rev in &index.revisions {
            let what = format!("revision {} of {package}", rev.id);
            let (bytes, _) = self
                .registry
                .manifest(repo, &rev.manifest_digest)
                .map_err(|e| self.oci(e))?
                .ok_or_else(|| {
                    self.refuse(format!(
                        "the registry lost the artifact of {what} ({})",
                        rev.manifest_digest
                    ))
                })?;
            let m = parse_manifest(&bytes).map_err(|e| self.refuse(format!("{what}: {e}")))?;
            let layer = wasm_layer(&m)
                .map_err(|e| self.refuse(format!("{what} is not a CNCF wasm artifact: {e}")))?;
            if layer.digest != rev.layer_digest {
                return Err(self.refuse(format!(
                    "{what}: the artifact's layer is {}, the signed index says {}",
                    layer.digest, rev.layer_digest
                )));
            }
            let wasm = self
                .registry
                .blob(repo, &layer.digest, &format!("the component of {what}"))
                .map_err(|e| self.oci(e))?;
            let hash = blake3::hash(&wasm).to_hex().to_string();
            if hash != rev.blake3 {
                return Err(self.refuse(format!(
                    "{what}: the component's blake3 is {hash}, the signed index says {}",
                    rev.blake3
                )));
            }
            pulled.push(Pulled {
                rev: rev.clone(),
                bytes: wasm,
            });
        }
        Ok(pulled)
    }

    /// Step 4: what the components import and say about themselves.
    async fn check_components(&self, pulled: &[Pulled]) -> Result<(), PackageError> {
        let checker =
            Sandbox::new(None, Limits::default()).map_err(|e| self.refuse(e.to_string()))?;
        for p in pulled {
            // Packages get no grants: host.toml grants are for the project's own revisions.
            let prepared = checker
                .prepare(&p.component(), &BTreeSet::new())
                .map_err(|e| match e {
                    SandboxError::Imports {
                        revision, imports, ..
                    } => self.refuse(format!(
                        "revision {revision} imports {}, which this host does not give packages (only {WIT_PACKAGE} and the wasi:cli/io/clocks/random interfaces); ask the publisher for a build without them",
                        imports.join(", ")
                    )),
                    other => self.refuse(other.to_string()),
                })?;
            let info = checker
                .info(&prepared)
                .await
                .map_err(|e| self.refuse(e.to_string()))?;
            let r = &p.rev;
            let claimed = (
                &r.id,
                &r.down_revisions,
                &r.branch_labels,
                &r.depends_on,
                &r.message,
                r.transactional,
            );
            let actual = (
                &info.id,
                &info.down_revisions,
                &info.branch_labels,
                &info.depends_on,
                &info.message,
                info.transactional,
            );
            if claimed != actual {
                return Err(self.refuse(format!(
                    "revision {}: the component describes itself as {} (parents {:?}), not as the index says",
                    r.id, info.id, info.down_revisions
                )));
            }
        }
        Ok(())
    }

    /// Step 5: the new lock: the package's revisions added, or kept when installed.
    fn merge_lock(
        &self,
        project: &Project,
        fetched: &Fetched,
        pulled: &[Pulled],
        opts: &Options,
    ) -> Result<Merged, PackageError> {
        let index = &fetched.index;
        let name = index.full_name();
        self.check_upgrade(project, index)?;
        let resolved_deps = self.resolve_depends_on(project, index, opts)?;
        let heads: Vec<String> = project
            .graph
            .heads()
            .into_iter()
            .map(String::from)
            .collect();
        let mut merged = Merged {
            lock: project.lock.clone(),
            added: Vec::new(),
            kept: Vec::new(),
        };
        for p in pulled {
            let r = &p.rev;
            if let Some(existing) = merged.lock.revisions.iter_mut().find(|l| l.id == r.id) {
                self.keep(existing, r, &name, &fetched.package)?;
                merged.kept.push(r.id.clone());
                continue;
            }
            let root = r.down_revisions.is_empty();
            merged.lock.revisions.push(LockedRevision {
                id: r.id.clone(),
                // A package's root continues the project where it is now, so
                // `host run head` stays one line of history.
                down_revisions: if root {
                    heads.clone()
                } else {
                    r.down_revisions.clone()
                },
                branch_labels: r.branch_labels.clone(),
                depends_on: if root {
                    resolved_deps
                        .iter()
                        .filter(|d| !heads.contains(d))
                        .cloned()
                        .collect()
                } else {
                    r.depends_on.clone()
                },
                message: r.message.clone(),
                transactional: r.transactional,
                file: format!("{INSTALL_DIR}/{name}/{}.wasm", r.id),
                blake3: r.blake3.clone(),
                sources_blake3: None,
                source: None,
                transcript: None,
                fingerprint: None,
                package: Some(fetched.package.clone()),
                oci_digest: Some(r.manifest_digest.clone()),
            });
            merged.added.push(r.id.clone());
        }
        merged.lock.graph().map_err(|e| {
            self.refuse(format!(
                "its revisions do not fit this project's graph: {e}"
            ))
        })?;
        Ok(merged)
    }

    /// Refuses a downgrade of an installed package, or a version that drops revisions.
    fn check_upgrade(&self, project: &Project, index: &PackageIndex) -> Result<(), PackageError> {
        let name = index.full_name();
        let installed: Vec<&LockedRevision> = project
            .lock
            .revisions
            .iter()
            .filter(|r| r.package_name() == Some(name.as_str()))
            .collect();
        if let Some(old) = installed.first().and_then(|r| r.package.as_deref())
            && let Some((_, old_version)) = old.rsplit_once('@')
            && version_key(old_version) > version_key(&index.version)
        {
            return Err(self.refuse(format!(
                "{old} is installed, which is newer; to take revisions out, downgrade the database past them and remove them from {LOCK_FILE}"
            )));
        }
        let new_ids: BTreeSet<&str> = index.revisions.iter().map(|r| r.id.as_str()).collect();
        if let Some(dropped) = installed.iter().find(|r| !new_ids.contains(r.id.as_str())) {
            return Err(self.refuse(format!(
                "version {} no longer has revision {}, which is installed from {}; a package version may only add revisions",
                index.version,
                dropped.id,
                dropped.package.as_deref().unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// The project revisions the package's root depends on (`--depends-on`
    /// or the package's own), as ids.
    fn resolve_depends_on(
        &self,
        project: &Project,
        index: &PackageIndex,
        opts: &Options,
    ) -> Result<Vec<String>, PackageError> {
        let depends_on = opts.depends_on.as_ref().unwrap_or(&index.depends_on);
        let mut resolved = Vec::new();
        for d in depends_on {
            let id = if project.graph.contains(d) {
                d.clone()
            } else if let Some(owner) = project.graph.label_owner(d) {
                owner.to_string()
            } else {
                return Err(self.refuse(format!(
                    "the package's root depends on {d:?}, which is neither a revision nor a branch label of this project; pass --depends-on <revision or label> naming what the package needs (e.g. the revision that creates its tables)"
                )));
            };
            resolved.push(id);
        }
        Ok(resolved)
    }

    /// Keeps a revision already in the lock, if it is this package's and unchanged.
    fn keep(
        &self,
        existing: &mut LockedRevision,
        r: &IndexedRevision,
        name: &str,
        package: &str,
    ) -> Result<(), PackageError> {
        if existing.package_name() != Some(name) {
            return Err(self.refuse(format!(
                "revision id {} is already in this project ({}); two packages, or a package and the project, cannot share a revision id",
                r.id,
                existing
                    .package
                    .as_deref()
                    .unwrap_or("the project's own revision")
            )));
        }
        if existing.blake3 != r.blake3 {
            return Err(self.refuse(format!(
                "revision {} of {package} differs from the installed one ({}); a published revision must never change, ask the publisher",
                r.id,
                existing.package.as_deref().unwrap_or_default()
            )));
        }
        existing.package = Some(package.to_string());
        existing.oci_digest = Some(r.manifest_digest.clone());
        Ok(())
    }

    /// Step 6: parameters: given, else already set, else the default. Returns
    /// them and, when they changed, the new host.toml text.
    fn resolve_params(
        &self,
        project: &Project,
        index: &PackageIndex,
        opts: &Options,
        merged: &mut Merged,
    ) -> Result<(BTreeMap<String, String>, Option<String>), PackageError> {
        let name = index.full_name();
        let current = project
            .host_toml
            .packages
            .get(&name)
            .cloned()
            .unwrap_or_default();
        if let Some(unknown) = opts.params.keys().find(|k| !index.params.contains_key(*k)) {
            return Err(self.refuse(format!(
                "the package has no parameter {unknown:?}; it takes: {}",
                describe_params(index)
            )));
        }
        let mut params = BTreeMap::new();
        for (key, spec) in &index.params {
            let value = opts
                .params
                .get(key)
                .or(current.get(key))
                .or(spec.default.as_ref())
                .ok_or_else(|| {
                    self.refuse(format!(
                        "parameter {key:?} ({}) has no default: pass --param {key}=<value>",
                        spec.description
                    ))
                })?;
            params.insert(key.clone(), value.clone());
        }
        if params.is_empty() || params == current {
            return Ok((params, None));
        }
        if !merged.kept.is_empty() {
            // Replays recorded under the old parameters no longer describe these
            // revisions, nor the schema after them.
            let graph = merged.lock.graph().expect("checked above");
            let stale = graph.descendants(merged.kept.iter().map(String::as_str));
            for r in merged.lock.revisions.iter_mut() {
                if stale.contains(&r.id) {
                    r.transcript = None;
                    r.fingerprint = None;
                }
            }
        }
        let text = project.host_toml.text.as_deref().unwrap_or("");
        let settings_path = project.root().join(SETTINGS_FILE);
        let new_text = with_params(text, &name, &params).map_err(|e| {
            self.refuse(format!(
                "cannot record the parameters in {}: {e}",
                settings_path.display()
            ))
        })?;
        Ok((params, Some(new_text)))
    }

    /// Step 8: precompile into the project's cache, so the first run does not wait.
    /// A failure is only a warning: the install is committed by now.
    fn precompile(
        &self,
        project: &Project,
        pulled: &[Pulled],
    ) -> Result<Vec<String>, PackageError> {
        let cache = Sandbox::new(Some(project.cache_dir()), Limits::default())
            .map_err(|e| self.refuse(e.to_string()))?;
        if let Some(why) = cache.cache_unavailable() {
            // Compiling into no cache would only waste the time it saves.
            return Ok(vec![format!("installed, but not precompiled: {why}")]);
        }
        let mut warnings = Vec::new();
        for p in pulled {
            if let Err(e) = cache.prepare(&p.component(), &BTreeSet::new()) {
                warnings.push(format!(
                    "installed, but could not precompile {}: {e}",
                    p.rev.id
                ));
            }
        }
        Ok(warnings)
    }
}

/// Step 7: commit: components, then settings, then the lock (the switch-over).
fn commit(
    root: &Path,
    pulled: &[Pulled],
    lock: &Lock,
    new_settings: Option<String>,
) -> Result<(), PackageError> {
    for p in pulled {
        let Some(entry) = lock.get(&p.rev.id) else {
            continue;
        };
        let path = root.join(&entry.file);
        if std::fs::read(&path).is_ok_and(|b| blake3::hash(&b).to_hex().as_str() == p.rev.blake3) {
            continue;
        }
        let dir = path.parent().expect("a file under the project");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_atomic(&path, &p.bytes)?;
    }
    if let Some(text) = new_settings {
        let settings_path = root.join(SETTINGS_FILE);
        write_atomic(&settings_path, text.as_bytes())?;
    }
    crate::project::write_lock(root, lock).map_err(io(&root.join(LOCK_FILE)))?;
    Ok(())
}

/// Whether a revision id can name a file: ASCII letters, digits and `_`.
fn file_safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `name (description, default x), ...` of a package's parameters.
pub fn describe_params(index: &PackageIndex) -> String {
    if index.params.is_empty() {
        return "no parameters".to_string();
    }
    index
        .params
        .iter()
        .map(|(k, p)| match &p.default {
            Some(d) => format!("{k} ({}; default {d:?})", p.description),
            None => format!("{k} ({}; required)", p.description),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Installed packages of a project: `namespace/name@version` → its revisions.
pub fn list(project: &Project) -> BTreeMap<String, Vec<&LockedRevision>> {
    let mut out: BTreeMap<String, Vec<&LockedRevision>> = BTreeMap::new();
    for r in project.graph.topological() {
        let locked = project.locked(&r.id);
        if let Some(p) = &locked.package {
            out.entry(p.clone()).or_default().push(locked);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_become_file_names() {
        assert!(file_safe_id("0a7e5a000001") && file_safe_id("abc_def"));
        for bad in ["", "../x", "a/b", "a.b", &"a".repeat(65)] {
            assert!(!file_safe_id(bad), "{bad}");
        }
    }

    #[test]
    fn describes_parameters_with_their_defaults() {
        let mut index = PackageIndex {
            format: super::super::index::INDEX_FORMAT,
            namespace: "n".into(),
            name: "p".into(),
            version: "1.0.0".into(),
            description: String::new(),
            wit: WIT_PACKAGE.into(),
            depends_on: vec![],
            params: BTreeMap::new(),
            revisions: vec![],
        };
        assert_eq!(describe_params(&index), "no parameters");
        index.params.insert(
            "tables".into(),
            super::super::spec::ParamSpec {
                description: "which".into(),
                default: None,
            },
        );
        assert_eq!(describe_params(&index), "tables (which; required)");
    }
}
