//! Rust revisions: the crates of the project's cargo workspace, built by
//! cargo in one go for `wasm32-unknown-unknown` (or the workspace's own
//! target), each core module then encoded as a component.

use crate::build::encode::{encode, is_component};
use crate::build::error::{BuildError, io};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target guests are built for: it brings no WASI imports.
pub const GUEST_TARGET: &str = "wasm32-unknown-unknown";

/// A revision crate found in the project's cargo workspace.
#[derive(Debug, Clone)]
struct GuestCrate {
    /// Folder name relative to the project (also the component's file stem).
    dir: String,
    /// Library target name, as the .wasm file is named.
    lib: String,
}

/// The workspace after `cargo build`: each revision folder's core module.
#[derive(Debug, Default)]
pub struct Compiled {
    modules: BTreeMap<String, PathBuf>,
}

impl Compiled {
    /// The revision folders, sorted.
    pub fn dirs(&self) -> impl Iterator<Item = &str> {
        self.modules.keys().map(String::as_str)
    }
}

/// Runs cargo in the project; `capture` returns its stdout, otherwise its
/// output goes to the terminal as it comes.
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

/// Builds every crate of the project's workspace with one `cargo build`.
/// A project of C, Python or JavaScript revisions needs no cargo workspace:
/// without a `Cargo.toml` nothing is built.
pub fn compile(project: &Path) -> Result<Compiled, BuildError> {
    let mut compiled = Compiled::default();
    if !project.join("Cargo.toml").is_file() {
        return Ok(compiled);
    }
    let (crates, target_dir, target) = guest_crates(project)?;
    cargo(project, &["build", "--release", "--target", &target], false)?;
    for c in crates {
        let module = target_dir
            .join(&target)
            .join("release")
            .join(format!("{}.wasm", c.lib));
        compiled.modules.insert(c.dir, module);
    }
    Ok(compiled)
}

/// One compiled revision crate as component bytes: the module cargo wrote,
/// encoded unless the crate's target makes components itself.
pub fn build(compiled: &Compiled, dir: &str) -> Result<Vec<u8>, BuildError> {
    let module = compiled.modules.get(dir).ok_or_else(|| BuildError::Cargo {
        what: format!("cargo build of {dir}"),
        detail: "the crate is not in the workspace".into(),
    })?;
    let core = std::fs::read(module).map_err(io(module))?;
    if is_component(&core) {
        return Ok(core);
    }
    encode(&core).map_err(|detail| BuildError::Encode {
        crate_dir: dir.to_string(),
        module: module.clone(),
        detail,
    })
}

/// Rust components are compared by their bytes, so no toolchain version
/// enters a sources digest for them.
pub fn version() -> String {
    String::new()
}
