//! Finding the PostgreSQL binaries (initdb, pg_ctl, postgres) and their
//! major version.

use super::{BIN_ENV, ClusterError};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian and Ubuntu install one directory per PostgreSQL major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// Tools that must all be present in the chosen binary directory.
const TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// The directory with initdb, pg_ctl and postgres.
pub(super) fn find_bin_dir(cluster_major: Option<&str>) -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        let missing: Vec<&str> = TOOLS
            .into_iter()
            .filter(|t| !dir.join(t).is_file())
            .collect();
        if missing.is_empty() {
            return Ok(dir);
        }
        return Err(ClusterError::BadBinDir {
            dir,
            missing: missing.join(", "),
        });
    }
    let has_tools = |dir: &Path| TOOLS.iter().all(|t| dir.join(t).is_file());

    let mut versions: Vec<(Vec<u32>, String, PathBuf)> = fs::read_dir(DEBIAN_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            let key = version_key(&name)?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((key, name, bin))
        })
        .collect();
    versions.sort();
    // The cluster's own major version first: a newer install cannot open older data.
    if let Some(major) = cluster_major
        && let Some((_, _, bin)) = versions.iter().find(|(_, name, _)| name == major)
    {
        return Ok(bin.clone());
    }
    if let Some((_, _, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&dir) {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Ok(dir);
    }
    Err(ClusterError::NotInstalled {
        searched: format!("{DEBIAN_ROOT}/*/bin, `pg_config --bindir` and PATH"),
    })
}

/// `15` → [15], `9.6` → [9, 6]; anything else is not a version directory.
pub(super) fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Major version from `pg_ctl --version` output such as `pg_ctl (PostgreSQL) 15.14 (Debian …)`.
pub(super) fn major_of(version_output: &str) -> Option<String> {
    let number = version_output
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let first: u32 = parts.next()?.parse().ok()?;
    // Before 10 the major version had two parts.
    match (first < 10).then(|| parts.next()).flatten() {
        Some(second) => Some(format!("{first}.{second}")),
        None => Some(first.to_string()),
    }
}

/// The major version of the binaries in `bin`: from a Debian path when it
/// names one, else from `pg_ctl --version`.
pub(super) fn binaries_major(bin: &Path) -> Option<String> {
    if let Ok(rest) = bin.strip_prefix(DEBIAN_ROOT)
        && let Some(Component::Normal(name)) = rest.components().next()
        && rest.ends_with("bin")
    {
        return name.to_str().map(str::to_owned);
    }
    let out = Command::new(bin.join("pg_ctl"))
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    major_of(&String::from_utf8_lossy(&out.stdout))
}
