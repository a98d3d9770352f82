//! `host build`: compiles a project's revision crates for
//! `wasm32-unknown-unknown`, turns each core module into a component, asks
//! each component for its `info()` and writes `migrations.lock`.

pub mod scaffold;
pub mod toolchain;

use crate::lock::{LOCK_FILE, Lock, LockedRevision};
use crate::project::VerifiedComponent;
use crate::runtime::sandbox::{Sandbox, SandboxError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::toolchain::Language;

/// Folder, under the project, that holds the built components.
pub const COMPONENTS_DIR: &str = "components";

/// The Rust target guests are built for: it brings no WASI imports.
pub const GUEST_TARGET: &str = "wasm32-unknown-unknown";

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be run or failed.
    #[error("{what} failed: {detail}")]
    Cargo {
        /// Which cargo command.
        what: String,
        /// Its error output or status.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A core module could not become a component.
    #[error("{crate_dir}: cannot turn {module} into a component: {detail}")]
    Encode {
        /// The revision crate.
        crate_dir: String,
        /// The core module.
        module: PathBuf,
        /// What wit-component said.
        detail: String,
    },
    /// `host.toml` is invalid.
    #[error("{0}")]
    Settings(String),
    /// The component failed to load or answer `info()`.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The revisions do not form a valid graph.
    #[error("the built revisions do not form a valid graph: {0}")]
    Graph(#[from] crate::graph::GraphError),
    /// A C, Python or JavaScript toolchain failed.
    #[error(transparent)]
    Toolchain(#[from] crate::build::toolchain::ToolchainError),
    /// `--check` found a component whose bytes differ from the lock.
    #[error(
        "{} component(s) differ from {LOCK_FILE}: {}. The build is not reproducible here (another rustc, guest-sdk or wit-bindgen version?) or the sources changed",
        .0.len(), .0.join("; ")
    )]
    Differs(Vec<String>),
}

/// A revision crate found in the project's cargo workspace.
#[derive(Debug, Clone)]
struct GuestCrate {
    /// Folder name relative to the project (also the component's file stem).
    dir: String,
    /// Library target name, as the .wasm file is named.
    lib: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn cargo(project: &Path, args: &[&str], capture: bool) -> Result<Vec<u8>, BuildError> {
    let what = format!("cargo {} (in {})", args.join(" "), project.display());
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(project);
    cmd.env("CARGO_ENCODED_RUSTFLAGS", reproducible_rustflags(project));
    if !capture {
        cmd.stdout(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit());
        let status = cmd.status().map_err(|e| BuildError::Cargo {
            what: what.clone(),
            detail: format!("{e}; is cargo (rustup) installed?"),
        })?;
        if !status.success() {
            let hint =
                format!("{status}; if the target is missing: rustup target add {GUEST_TARGET}");
            return Err(BuildError::Cargo { what, detail: hint });
        }
        return Ok(Vec::new());
    }
    let out = cmd.output().map_err(|e| BuildError::Cargo {
        what: what.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(BuildError::Cargo {
            what,
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(out.stdout)
}

/// Flags that keep machine-specific paths out of the guests: panic locations
/// embed source paths, so the same sources in another checkout or cargo home
/// would otherwise give other bytes and another blake3.
fn reproducible_rustflags(project: &Path) -> String {
    let mut flags = Vec::new();
    let root = project
        .canonicalize()
        .unwrap_or_else(|_| project.to_path_buf());
    // The project's parent holds path dependencies such as ../guest-sdk.
    if let Some(parent) = root.parent() {
        flags.push(format!("--remap-path-prefix={}=/src", parent.display()));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.join("\x1f")
}

/// Lists the cdylib crates of the project's workspace, its target directory
/// and the target to build for (`[workspace.metadata.host] target`, for
/// toolchains that need WASI such as `wasm32-wasip2`; default [`GUEST_TARGET`]).
fn guest_crates(project: &Path) -> Result<(Vec<GuestCrate>, PathBuf, String), BuildError> {
    let out = cargo(
        project,
        &["metadata", "--no-deps", "--format-version", "1"],
        true,
    )?;
    let meta: serde_json::Value = serde_json::from_slice(&out).map_err(|e| BuildError::Cargo {
        what: "cargo metadata".into(),
        detail: e.to_string(),
    })?;
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let target = meta["metadata"]["host"]["target"]
        .as_str()
        .unwrap_or(GUEST_TARGET)
        .to_string();
    let root = project.canonicalize().map_err(io(project))?;
    let mut crates = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let Some(manifest) = pkg["manifest_path"].as_str() else {
            continue;
        };
        let lib = pkg["targets"].as_array().into_iter().flatten().find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|k| k.iter().any(|c| c == "cdylib"))
        });
        let Some(lib) = lib else { continue };
        let dir = Path::new(manifest).parent().unwrap_or(Path::new("."));
        let rel = dir.strip_prefix(&root).unwrap_or(dir);
        crates.push(GuestCrate {
            dir: rel.display().to_string(),
            lib: lib["name"].as_str().unwrap_or_default().replace('-', "_"),
        });
    }
    crates.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok((crates, target_dir, target))
}

/// Whether the bytes are a component already (the layer field of the header is 1).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Wraps a core module built by wit-bindgen into a component.
pub fn encode(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}

/// Carries over the revisions installed from packages (`host install`): they
/// have no crate in the project, and a rebuild must not drop them.
fn keep_installed(lock: &mut Lock, old: Option<&Lock>) {
    for installed in old.iter().flat_map(|l| &l.revisions) {
        if installed.package.is_some() && lock.get(&installed.id).is_none() {
            lock.revisions.push(installed.clone());
        }
    }
}

/// The component already in the project for a revision whose toolchain is
/// not reproducible, when its sources are those it was locked with: a
/// rebuild would only give other bytes. `--check` always rebuilds.
fn unchanged_component(
    project: &Path,
    old: Option<&Lock>,
    dir: &str,
    lang: Language,
    sources: &Option<String>,
    check: bool,
) -> Option<Vec<u8>> {
    if check || lang.reproducible() {
        return None;
    }
    let locked = old?
        .revisions
        .iter()
        .find(|r| r.source.as_deref() == Some(dir))?;
    if locked.sources_blake3.as_ref() != sources.as_ref() {
        return None;
    }
    let bytes = std::fs::read(project.join(&locked.file)).ok()?;
    (blake3::hash(&bytes).to_hex().as_str() == locked.blake3).then(|| {
        eprintln!(
            "{dir} ({}): sources unchanged, keeping {}",
            lang.name(),
            locked.file
        );
        bytes
    })
}

/// Builds every revision (Rust crates, C, Python and JavaScript folders) and writes (or, with `check`, compares) the lock.
pub async fn build(project: &Path, sandbox: &Sandbox, check: bool) -> Result<Lock, BuildError> {
    let grants =
        crate::project::read_grants(project).map_err(|e| BuildError::Settings(e.to_string()))?;
    let out_dir = project.join(COMPONENTS_DIR);
    if !check {
        std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
    }
    let mut lock = Lock::new();
    let mut differs = Vec::new();
    let old = std::fs::read_to_string(project.join(LOCK_FILE))
        .ok()
        .and_then(|t| Lock::parse(&t, &project.join(LOCK_FILE)).ok());
    let mut units: Vec<(String, Language)> = Vec::new();
    let mut rust_modules = std::collections::BTreeMap::new();
    // A project of C, Python or JavaScript revisions needs no cargo workspace.
    if project.join("Cargo.toml").is_file() {
        let (crates, target_dir, target) = guest_crates(project)?;
        cargo(project, &["build", "--release", "--target", &target], false)?;
        for c in crates {
            let module = target_dir
                .join(&target)
                .join("release")
                .join(format!("{}.wasm", c.lib));
            rust_modules.insert(c.dir.clone(), module);
            units.push((c.dir, Language::Rust));
        }
    }
    units.extend(crate::build::toolchain::revisions(project)?);
    for (dir, lang) in &units {
        let sources = match lang {
            Language::Rust => None,
            _ => Some(crate::build::toolchain::sources_digest(
                project, dir, *lang,
            )?),
        };
        let component = match rust_modules.get(dir) {
            Some(module) => {
                let core = std::fs::read(module).map_err(io(module))?;
                if is_component(&core) {
                    core
                } else {
                    encode(&core).map_err(|detail| BuildError::Encode {
                        crate_dir: dir.clone(),
                        module: module.clone(),
                        detail,
                    })?
                }
            }
            None => match unchanged_component(project, old.as_ref(), dir, *lang, &sources, check) {
                Some(bytes) => bytes,
                None => {
                    eprintln!("building {dir} ({})", lang.name());
                    crate::build::toolchain::build(project, dir, *lang)?
                }
            },
        };
        let hash = blake3::hash(&component).to_hex().to_string();
        let verified = VerifiedComponent {
            revision: dir.clone(),
            bytes: component.clone(),
            blake3: hash.clone(),
        };
        // info() runs with nothing reachable, so any grantable import may link
        // for it; the revision's real grants are checked once its id is known.
        let everything: BTreeSet<String> = crate::imports::GRANTABLE
            .iter()
            .map(|g| g.to_string())
            .collect();
        let info = sandbox
            .info(&sandbox.prepare(&verified, &everything)?)
            .await?;
        let verified = VerifiedComponent {
            revision: info.id.clone(),
            ..verified
        };
        sandbox.prepare(
            &verified,
            &grants
                .get(&info.id)
                .map(|s| s.grant.clone())
                .unwrap_or_default(),
        )?;
        let file = format!("{COMPONENTS_DIR}/{}.wasm", dir.replace('/', "_"));
        if check {
            match old.as_ref().and_then(|l| l.get(&info.id)) {
                Some(locked) if locked.blake3 == hash => {}
                // Toolchains that snapshot an interpreter never give the same
                // bytes twice: the sources it was built from are compared instead.
                Some(locked) if !lang.reproducible() => {
                    if locked.sources_blake3 == sources {
                        eprintln!(
                            "{} ({}): built from the locked sources; {} does not build byte-identical components, so the sources digest was compared instead of the bytes",
                            info.id,
                            lang.name(),
                            lang.name()
                        );
                    } else {
                        differs.push(format!(
                            "{} ({}): sources digest {} differs from the locked {}; the sources changed since `host build`",
                            info.id,
                            lang.name(),
                            sources.as_deref().unwrap_or("-"),
                            locked.sources_blake3.as_deref().unwrap_or("(none)")
                        ));
                    }
                }
                Some(locked) => differs.push(format!(
                    "{} built {hash}, locked {}",
                    info.id, locked.blake3
                )),
                None => differs.push(format!("{} is not in the lock", info.id)),
            }
        } else {
            let path = project.join(&file);
            std::fs::write(&path, &component).map_err(io(&path))?;
        }
        // Replay results stay valid while the component is the same bytes.
        let kept = old
            .as_ref()
            .and_then(|l| l.get(&info.id))
            .filter(|l| l.blake3 == hash);
        lock.revisions.push(LockedRevision {
            transcript: kept.and_then(|l| l.transcript.clone()),
            fingerprint: kept.and_then(|l| l.fingerprint.clone()),
            id: info.id,
            down_revisions: info.down_revisions,
            branch_labels: info.branch_labels,
            depends_on: info.depends_on,
            message: info.message,
            transactional: info.transactional,
            file,
            blake3: hash,
            source: Some(dir.clone()),
            sources_blake3: sources,
            package: None,
            oci_digest: None,
        });
    }
    keep_installed(&mut lock, old.as_ref());
    // Store revisions parents-first so the lock reads like the history.
    match lock.graph() {
        Ok(graph) => {
            let order: Vec<String> = graph.topological().map(|r| r.id.clone()).collect();
            lock.revisions
                .sort_by_key(|r| order.iter().position(|id| *id == r.id));
        }
        // Revisions that extend another project (test fixtures, packages) are
        // locked on their own and only form a graph once merged into it.
        Err(crate::graph::GraphError::Missing {
            revision, missing, ..
        }) => eprintln!(
            "warning: revision {revision} builds on {missing}, which is not in this project; this lock is usable only merged into a project that has it"
        ),
        Err(e) => return Err(e.into()),
    }
    if check {
        if !differs.is_empty() {
            return Err(BuildError::Differs(differs));
        }
    } else {
        let path = project.join(LOCK_FILE);
        crate::project::write_lock(project, &lock).map_err(io(&path))?;
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(id: &str, package: Option<&str>) -> LockedRevision {
        LockedRevision {
            id: id.into(),
            down_revisions: vec![],
            branch_labels: vec![],
            depends_on: vec![],
            message: "m".into(),
            transactional: true,
            file: format!("{id}.wasm"),
            blake3: "0".repeat(64),
            source: None,
            sources_blake3: None,
            transcript: None,
            fingerprint: None,
            package: package.map(String::from),
            oci_digest: None,
        }
    }

    #[test]
    fn a_rebuild_keeps_installed_package_revisions() {
        let mut old = Lock::new();
        old.revisions = vec![
            rev("own", None),
            rev("pkg", Some("ns/p@1.0.0")),
            rev("gone", None),
        ];
        let mut lock = Lock::new();
        lock.revisions = vec![rev("own", None)];
        keep_installed(&mut lock, Some(&old));
        let ids: Vec<&str> = lock.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["own", "pkg"]);
    }
}
