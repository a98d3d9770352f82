//! `host package build` and `host package sign`: a package folder (revision
//! crates, `package.toml`) becomes the exact bytes `host publish` pushes, in
//! `dist/`: each revision's component, CNCF wasm config and manifest, the
//! package index, and its signature.

use super::artifact::{digest, revision_artifact, world_names};
use super::index::{INDEX_FORMAT, IndexedRevision, PackageIndex};
use super::sign::{IndexSignature, SIGNATURE_FILE};
use super::spec::PackageSpec;
use super::{DIST_DIR, PackageError, io, write_atomic};
use crate::lock::{LOCK_FILE, Lock, LockedRevision, WIT_PACKAGE};
use crate::runtime::sandbox::Sandbox;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// File, under dist/, holding the package index.
pub const INDEX_FILE: &str = "index.json";

/// A package folder's built output.
#[derive(Debug, Clone)]
pub struct Built {
    /// The index.
    pub index: PackageIndex,
    /// sha256 digest of the index bytes (what is signed).
    pub digest: String,
}

/// Paths of one revision's files under dist/.
pub fn revision_files(dist: &Path, id: &str) -> [PathBuf; 3] {
    [
        dist.join(format!("{id}.wasm")),
        dist.join(format!("{id}.config.json")),
        dist.join(format!("{id}.manifest.json")),
    ]
}

/// Builds the revision crates (unless `compile` is false: then the
/// components already in the package's lock are used) and writes dist/;
/// `on_event` hears of the build's progress and warnings.
pub async fn build(
    dir: &Path,
    sandbox: &Sandbox,
    compile: bool,
    on_event: crate::build::OnEvent<'_>,
) -> Result<Built, PackageError> {
    let spec = PackageSpec::read(dir)?;
    if compile {
        crate::build::build(dir, sandbox, false, on_event).await?;
    }
    let lock = read_lock(dir)?;
    let dist = dir.join(DIST_DIR);
    std::fs::create_dir_all(&dist).map_err(io(&dist))?;
    let mut revisions = Vec::new();
    for r in &lock.revisions {
        let title = format!("{}/{} {}", spec.package.namespace, spec.package.name, r.id);
        revisions.push(write_revision(dir, &dist, r, &title)?);
    }
    let p = spec.package;
    let index = PackageIndex {
        format: INDEX_FORMAT,
        namespace: p.namespace,
        name: p.name,
        version: p.version,
        description: p.description,
        wit: WIT_PACKAGE.to_string(),
        depends_on: p.depends_on,
        params: spec.params,
        revisions,
    };
    let bytes = index.to_bytes();
    let index_path = dist.join(INDEX_FILE);
    // A signature is only valid for the bytes it signed.
    if std::fs::read(&index_path).ok().as_deref() != Some(&bytes[..]) {
        let _ = std::fs::remove_file(dist.join(SIGNATURE_FILE));
    }
    write_atomic(&index_path, &bytes)?;
    Ok(Built {
        digest: digest(&bytes),
        index,
    })
}

/// Reads the package's lock and checks it is self-contained: a package's
/// revisions build only on each other.
fn read_lock(dir: &Path) -> Result<Lock, PackageError> {
    let invalid = |message: String| PackageError::Invalid {
        dir: dir.to_path_buf(),
        message,
    };
    let lock_path = dir.join(LOCK_FILE);
    let text = std::fs::read_to_string(&lock_path).map_err(io(&lock_path))?;
    let lock = Lock::parse(&text, &lock_path).map_err(|e| invalid(e.to_string()))?;
    let ids: BTreeSet<&str> = lock.revisions.iter().map(|r| r.id.as_str()).collect();
    if ids.is_empty() {
        return Err(invalid("the package has no revisions".into()));
    }
    for r in &lock.revisions {
        if let Some(outside) = r
            .down_revisions
            .iter()
            .chain(&r.depends_on)
            .find(|p| !ids.contains(p.as_str()))
        {
            return Err(invalid(format!(
                "revision {} builds on {outside}, which is not in the package; a package's root has no parents, and what it needs from the installing project goes into depends_on in package.toml",
                r.id
            )));
        }
    }
    Ok(lock)
}

/// Writes one revision's component and OCI documents into dist/ and
/// describes it for the index.
fn write_revision(
    dir: &Path,
    dist: &Path,
    r: &LockedRevision,
    title: &str,
) -> Result<IndexedRevision, PackageError> {
    let invalid = |message: String| PackageError::Invalid {
        dir: dir.to_path_buf(),
        message,
    };
    let path = dir.join(&r.file);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    if hash != r.blake3 {
        return Err(invalid(format!(
            "component {} of revision {} has blake3 {hash}, the lock says {}; run `host package build` without --locked",
            r.file, r.id, r.blake3
        )));
    }
    let (imports, exports) = world_names(&bytes).map_err(|e| {
        invalid(format!(
            "revision {}: {} is not a component: {e}",
            r.id, r.file
        ))
    })?;
    let art = revision_artifact(&bytes, &imports, &exports, title);
    let [wasm, config, manifest] = revision_files(dist, &r.id);
    write_atomic(&wasm, &bytes)?;
    write_atomic(&config, &art.config)?;
    write_atomic(&manifest, &art.manifest)?;
    Ok(IndexedRevision {
        id: r.id.clone(),
        down_revisions: r.down_revisions.clone(),
        branch_labels: r.branch_labels.clone(),
        depends_on: r.depends_on.clone(),
        message: r.message.clone(),
        transactional: r.transactional,
        blake3: hash,
        layer_digest: digest(&bytes),
        manifest_digest: digest(&art.manifest),
        imports,
    })
}

/// Reads a built package's index and its digest.
pub fn read_built(dir: &Path) -> Result<(Vec<u8>, Built), PackageError> {
    let path = dir.join(DIST_DIR).join(INDEX_FILE);
    let bytes = std::fs::read(&path).map_err(|e| PackageError::Invalid {
        dir: dir.to_path_buf(),
        message: format!(
            "cannot read {}: {e}; run `host package build` first",
            path.display()
        ),
    })?;
    let index = PackageIndex::from_bytes(&bytes).map_err(|e| PackageError::Invalid {
        dir: dir.to_path_buf(),
        message: format!("{}: {e}; run `host package build` again", path.display()),
    })?;
    Ok((
        bytes.clone(),
        Built {
            digest: digest(&bytes),
            index,
        },
    ))
}

/// Signs a built package's index with a private key file; writes dist/signature.json.
pub fn sign(dir: &Path, key_file: &Path) -> Result<(Built, IndexSignature), PackageError> {
    let (_, built) = read_built(dir)?;
    let key = super::sign::read_private(key_file)?;
    let sig = super::sign::sign(&key, &built.digest);
    let path = dir.join(DIST_DIR).join(SIGNATURE_FILE);
    let mut json = serde_json::to_vec_pretty(&sig).expect("a signature serialises");
    json.push(b'\n');
    write_atomic(&path, &json)?;
    Ok((built, sig))
}
