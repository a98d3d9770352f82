//! `host publish` and `host search`: pushing a built, signed package to a
//! registry, and listing the packages a registry holds.

use super::artifact::{EMPTY_BLOB, INDEX_MEDIA_TYPE, digest, index_manifest, parse_manifest};
use super::build::{read_built, revision_files};
use super::index::PackageIndex;
use super::oci::Registry;
use super::reference::Reference;
use super::sign::{IndexSignature, SIGNATURE_FILE};
use super::spec::version_key;
use super::{DIST_DIR, PackageError, io};
use std::path::Path;

/// Tag of a revision's artifact in its package's repository.
pub fn revision_tag(id: &str) -> String {
    format!("rev-{id}")
}

/// Pushes a built, signed package as `reference` (whose tag must be the
/// package's version); returns the index manifest's digest.
pub fn publish(
    dir: &Path,
    reference: &Reference,
    registry: &Registry,
) -> Result<String, PackageError> {
    let invalid = |message: String| PackageError::Invalid {
        dir: dir.to_path_buf(),
        message,
    };
    let (index_bytes, built) = read_built(dir)?;
    let index = &built.index;
    let sig_path = dir.join(DIST_DIR).join(SIGNATURE_FILE);
    let sig: IndexSignature = match std::fs::read(&sig_path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| invalid(format!("{}: {e}", sig_path.display())))?,
        Err(_) => {
            return Err(invalid(format!(
                "{}/{}@{} is not signed; sign it with `host package sign {} --key <your.key>` (installers refuse unsigned packages)",
                index.namespace,
                index.name,
                index.version,
                dir.display()
            )));
        }
    };
    // A publisher's mistake (a signature of another build) is caught here,
    // before anyone pulls it.
    let package = format!("{}@{}", index.full_name(), index.version);
    super::sign::check(&package, &built.digest, &sig).map_err(|e| {
        invalid(format!(
            "{e}; sign this build again with `host package sign {} --key <your.key>`",
            dir.display()
        ))
    })?;
    if reference.repository() != index.full_name() {
        return Err(invalid(format!(
            "the package is {}, but the reference names repository {}; publish to <registry>/{}:{}",
            index.full_name(),
            reference.repository(),
            index.full_name(),
            index.version
        )));
    }
    if reference.digest.is_some() || reference.tag.as_deref() != Some(index.version.as_str()) {
        return Err(invalid(format!(
            "publish as <registry>/{}:{} (the tag is the package version from package.toml)",
            index.full_name(),
            index.version
        )));
    }
    let repo = reference.repository();
    let manifest = index_manifest(
        &index_bytes,
        &index.version,
        &index.description,
        &sig.key,
        &sig.signature,
    );
    let manifest_digest = digest(&manifest);
    if let Some((_, existing)) = registry.manifest(&repo, &index.version)?
        && existing != manifest_digest
    {
        return Err(invalid(format!(
            "{reference} is already published with other content ({existing}); a published version never changes: bump the version in package.toml"
        )));
    }
    push_revisions(dir, registry, &repo, index)?;
    registry.push_blob(&repo, &index_bytes)?;
    registry.push_blob(&repo, EMPTY_BLOB)?;
    Ok(registry.push_manifest(&repo, &index.version, &manifest)?)
}

/// Pushes each revision's component, config and manifest, after checking
/// that dist/ still holds what the signed index describes.
fn push_revisions(
    dir: &Path,
    registry: &Registry,
    repo: &str,
    index: &PackageIndex,
) -> Result<(), PackageError> {
    let invalid = |message: String| PackageError::Invalid {
        dir: dir.to_path_buf(),
        message,
    };
    let dist = dir.join(DIST_DIR);
    for rev in &index.revisions {
        let [wasm, config, rev_manifest] = revision_files(&dist, &rev.id);
        let read = |p: &Path| std::fs::read(p).map_err(io(p));
        let (wasm, config, rev_manifest) = (read(&wasm)?, read(&config)?, read(&rev_manifest)?);
        if digest(&wasm) != rev.layer_digest || digest(&rev_manifest) != rev.manifest_digest {
            return Err(invalid(format!(
                "dist/ files of revision {} do not match the index; run `host package build` and sign again",
                rev.id
            )));
        }
        registry.push_blob(repo, &config)?;
        registry.push_blob(repo, &wasm)?;
        registry.push_manifest(repo, &revision_tag(&rev.id), &rev_manifest)?;
    }
    Ok(())
}

/// One package found by `host search`.
#[derive(Debug, Clone)]
pub struct Found {
    /// `namespace/name`.
    pub repository: String,
    /// Version tags, oldest first.
    pub versions: Vec<String>,
    /// Description of the newest version.
    pub description: String,
}

/// What `host search` found.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The packages.
    pub found: Vec<Found>,
    /// Repositories that could not be read, with why (they are left out).
    pub skipped: Vec<(String, String)>,
}

/// Lists the packages of a registry whose repository contains `term`. A
/// repository that cannot be read (private, another kind of artifact) is
/// left out, not an error: registries hold more than packages.
pub fn search(registry: &Registry, term: Option<&str>) -> Result<Search, PackageError> {
    let mut out = Search::default();
    for repo in registry.catalog()? {
        if term.is_some_and(|t| !repo.contains(t)) {
            continue;
        }
        match inspect(registry, &repo) {
            Ok(Some(found)) => out.found.push(found),
            Ok(None) => {}
            Err(e) => out.skipped.push((repo, e.to_string())),
        }
    }
    Ok(out)
}

/// The package a repository holds, if it holds one.
fn inspect(registry: &Registry, repo: &str) -> Result<Option<Found>, super::oci::OciError> {
    let mut versions: Vec<String> = registry
        .tags(repo)?
        .into_iter()
        .filter(|t| super::spec::valid_version(t))
        .collect();
    versions.sort_by_key(|v| version_key(v));
    let Some(newest) = versions.last() else {
        return Ok(None);
    };
    // Only repositories whose newest version is a package index are packages.
    let Some((bytes, _)) = registry.manifest(repo, newest)? else {
        return Ok(None);
    };
    let Ok(m) = parse_manifest(&bytes) else {
        return Ok(None);
    };
    if m.config.media_type != INDEX_MEDIA_TYPE {
        return Ok(None);
    }
    let index = registry.blob(repo, &m.config.digest, "the package index")?;
    let description = PackageIndex::from_bytes(&index)
        .map(|i| i.description)
        .unwrap_or_default();
    Ok(Some(Found {
        repository: repo.to_string(),
        versions,
        description,
    }))
}
