//! Python revisions: `revision.py` packaged with CPython by componentize-py.
//! The component imports wasi:cli, io, clocks, random, filesystem and
//! sockets (CPython's runtime links them all and reads the environment at
//! start); the sandbox gives each of them nothing.

use crate::build::tool::{
    Tool, ToolchainError, WORLD, io, run, wit_dir, work_dir, write_if_changed,
};
use std::path::Path;
use std::process::Command;

const COMPONENTIZE_PY: Tool = Tool {
    language: "Python",
    install: "pip install -r requirements.txt in the project (it pins componentize-py==0.25.1)",
};

/// The program: `$COMPONENTIZE_PY` if set, else `componentize-py` on PATH.
fn program() -> String {
    std::env::var("COMPONENTIZE_PY")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "componentize-py".into())
}

/// The Python SDK (`import pgwasm`), see docs/authoring-python.md.
pub const SDK: &str = include_str!("pgwasm.py");

/// Writes the SDK module where componentize-py finds it; returns its folder.
pub fn write_sdk(project: &Path) -> Result<std::path::PathBuf, ToolchainError> {
    let dir = work_dir(project, "python")?;
    write_if_changed(&dir.join("pgwasm.py"), SDK.as_bytes())?;
    Ok(dir)
}

/// Packages a Python revision folder (module `revision`) as a component.
pub fn build(project: &Path, dir: &str) -> Result<Vec<u8>, ToolchainError> {
    let wit = wit_dir(project)?;
    let sdk = write_sdk(project)?;
    let out = work_dir(project, dir)?.join("component.wasm");
    let root = project.canonicalize().map_err(io(project))?;
    let mut cmd = Command::new(program());
    cmd.current_dir(&root)
        // A virtualenv or pipenv of the user's would add its site-packages.
        .env_remove("VIRTUAL_ENV")
        .arg("-q")
        .arg("-d")
        .arg(&wit)
        .args(["-w", WORLD, "componentize", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(&out)
        .arg("revision");
    run(dir, &COMPONENTIZE_PY, &mut cmd)?;
    std::fs::read(&out).map_err(io(&out))
}

/// What a Python component is built with: `componentize-py --version`
/// (e.g. `componentize-py 0.25.1`) and the SDK module.
pub fn version(dir: &str) -> Result<String, ToolchainError> {
    let out = Command::new(program())
        .arg("--version")
        .output()
        .map_err(|e| COMPONENTIZE_PY.missing(dir, &program(), e.to_string()))?;
    let tool = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(format!("{tool}\n{SDK}"))
}
