//! JavaScript revisions: `revision.js` packaged with StarlingMonkey by
//! componentize-js, from the project's own `node_modules` (pinned by its
//! package-lock.json). Every WASI feature is disabled, so the component
//! imports only the project's interfaces.

use crate::build::tool::{Tool, ToolchainError, WORLD, io, run, wit_dir, work_dir};
use std::path::Path;
use std::process::Command;

const COMPONENTIZE_JS: Tool = Tool {
    language: "JavaScript",
    install: "Node.js 20+, then `npm ci` in the project folder (its package.json pins @bytecodealliance/componentize-js 0.23.0)",
};

/// Features of the JavaScript runtime that would import WASI; none is needed
/// to talk to the database through the project's interfaces.
pub const DISABLED: [&str; 5] = ["stdio", "random", "clocks", "http", "fetch-event"];

/// Packages a JavaScript revision folder as a component.
pub fn build(project: &Path, dir: &str) -> Result<Vec<u8>, ToolchainError> {
    let wit = wit_dir(project)?;
    let out = work_dir(project, dir)?.join("component.wasm");
    let root = project.canonicalize().map_err(io(project))?;
    let cli = root.join("node_modules/.bin/componentize-js");
    let mut cmd = Command::new(&cli);
    cmd.current_dir(&root)
        .arg(Path::new(dir).join("revision.js"))
        .arg("--wit")
        .arg(wit.join("migration.wit"))
        .args(["-n", WORLD, "-d"])
        .args(DISABLED)
        .arg("-o")
        .arg(&out);
    run(dir, &COMPONENTIZE_JS, &mut cmd)?;
    std::fs::read(&out).map_err(io(&out))
}

/// The installed componentize-js version, from its package.json, and the
/// blake3 of the project's package-lock.json.
pub fn version(project: &Path) -> Result<String, ToolchainError> {
    let manifest = project.join("node_modules/@bytecodealliance/componentize-js/package.json");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        let detail = format!("{}: {e}", manifest.display());
        COMPONENTIZE_JS.missing(&project.display().to_string(), "componentize-js", detail)
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    // The lock file pins the engine, wizer and jco that componentize-js uses.
    let pins = std::fs::read(project.join("package-lock.json"))
        .map(|b| blake3::hash(&b).to_hex().to_string())
        .unwrap_or_else(|_| "no package-lock.json".into());
    Ok(format!(
        "componentize-js {}\npackage-lock.json {pins}",
        json["version"].as_str().unwrap_or("unknown")
    ))
}
