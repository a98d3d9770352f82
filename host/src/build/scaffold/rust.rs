//! `host revision --lang rust`: writes a revision crate (Cargo.toml and
//! src/lib.rs) and registers it in the project's cargo workspace, creating
//! the workspace when the project has none.

use super::members::{add_member, check_member_edit};
use super::{NewRevision, ScaffoldError, comment_safe, folder_name, io_err, slug, validate};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// Package fields a revision crate inherits when the workspace defines them,
/// in the order the existing revision crates list them.
const INHERITED: [&str; 5] = ["edition", "rust-version", "license", "version", "publish"];

/// workspace members; returns the folder relative to the project.
pub fn write_revision(
    project: &Path,
    rev: &NewRevision,
    guest_sdk: &Path,
) -> Result<String, ScaffoldError> {
    validate(rev)?;
    let folder = folder_name(rev);
    let crate_dir = project.join(&folder);
    if crate_dir.symlink_metadata().is_ok() {
        return Err(ScaffoldError::FolderExists { path: crate_dir });
    }
    let manifest = project.join("Cargo.toml");
    // Everything is decided before anything is written, so a refusal leaves
    // the project as it was.
    let fresh_sdk = if manifest.exists() {
        None
    } else {
        Some(resolve_guest_sdk(guest_sdk)?)
    };
    fs::create_dir_all(project).map_err(io_err("create the project folder", project))?;
    let root = project
        .canonicalize()
        .map_err(io_err("resolve the project folder", project))?;
    let plan = match fresh_sdk {
        None => plan_existing(&root, &manifest, &folder, rev, guest_sdk)?,
        Some(sdk) => plan_new(&root, &folder, &sdk),
    };
    let package = package_name(rev);
    let crate_manifest = crate_manifest(&package, &plan.inherited, plan.guest_sdk_dep.as_deref());
    let lib = lib_rs(rev);

    let src = crate_dir.join("src");
    fs::create_dir_all(&src).map_err(io_err("create", &src))?;
    let written = fs::write(crate_dir.join("Cargo.toml"), crate_manifest)
        .map_err(io_err("write", &crate_dir.join("Cargo.toml")))
        .and_then(|()| {
            fs::write(src.join("lib.rs"), lib).map_err(io_err("write", &src.join("lib.rs")))
        })
        .and_then(|()| replace_file(&manifest, &plan.workspace_manifest));
    if let Err(e) = written {
        // The folder did not exist before this call, so removing it only
        // undoes this call and lets the user retry with the same id.
        let _ = fs::remove_dir_all(&crate_dir);
        return Err(e);
    }
    Ok(folder)
}

/// What [`write_revision`] will write besides the crate's own source.
struct Plan {
    /// The project's `Cargo.toml`, with the new member.
    workspace_manifest: String,
    /// Package fields the workspace defines for its members.
    inherited: Vec<&'static str>,
    /// The right-hand side of `guest-sdk` in the crate's `[dependencies]`,
    /// or `None` for `guest-sdk.workspace = true`.
    guest_sdk_dep: Option<String>,
}

/// `rev_<id>_<slug>`: a valid package name even when the id starts with a digit.
fn package_name(rev: &NewRevision) -> String {
    let slug = slug(&rev.message);
    if slug.is_empty() {
        format!("rev_{}", rev.id)
    } else {
        format!("rev_{}_{slug}", rev.id)
    }
}

fn parse_manifest(manifest: &Path, text: &str) -> Result<toml::Table, ScaffoldError> {
    text.parse::<toml::Table>()
        .map_err(|e| ScaffoldError::ManifestSyntax {
            manifest: manifest.to_path_buf(),
            detail: e.to_string().trim().to_string(),
        })
}

fn plan_existing(
    root: &Path,
    manifest: &Path,
    folder: &str,
    rev: &NewRevision,
    guest_sdk: &Path,
) -> Result<Plan, ScaffoldError> {
    let text = fs::read_to_string(manifest).map_err(io_err("read", manifest))?;
    let doc = parse_manifest(manifest, &text)?;
    let Some(workspace) = doc.get("workspace").and_then(toml::Value::as_table) else {
        return Err(ScaffoldError::NotAWorkspace {
            manifest: manifest.to_path_buf(),
        });
    };
    let members_error = |detail: String| ScaffoldError::Members {
        manifest: manifest.to_path_buf(),
        folder: folder.to_string(),
        detail,
    };
    let members: Vec<String> = match workspace.get("members") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|m| m.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| members_error("`members` holds something other than strings".into()))?,
        Some(_) => return Err(members_error("`members` is not an array".into())),
    };
    if let Some(taken) = id_user(root, &members, &rev.id) {
        return Err(ScaffoldError::DuplicateId {
            id: rev.id.clone(),
            folder: taken,
            project: root.to_path_buf(),
        });
    }
    let edited = add_member(&text, folder).map_err(members_error)?;
    check_member_edit(&doc, &edited, folder).map_err(members_error)?;

    let inherited = inherited_fields(workspace);
    let declared = workspace
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .is_some_and(|deps| deps.contains_key("guest-sdk"));
    let guest_sdk_dep = if declared {
        None
    } else if let Some(spec) = members_guest_sdk(root, &members, folder) {
        Some(spec)
    } else {
        let sdk = resolve_guest_sdk(guest_sdk)?;
        Some(path_dependency(&relative_path(&root.join(folder), &sdk)))
    };
    Ok(Plan {
        workspace_manifest: edited,
        inherited,
        guest_sdk_dep,
    })
}

fn plan_new(root: &Path, folder: &str, sdk: &Path) -> Plan {
    let sdk_path = toml_string(&relative_path(root, sdk));
    let member = toml_string(folder);
    // The release profile is the one of TaskMan-v2's migrations-wasm: guests
    // are small, deterministic and hashed byte for byte into the lock.
    let workspace_manifest = format!(
        r#"# Schema revisions, one WebAssembly component per crate.
# A workspace of its own: these crates build for wasm32-unknown-unknown
# (`host build` runs `cargo build --release --target wasm32-unknown-unknown`
# here).
[workspace]
resolver = "3"
members = [
    {member},
]

[workspace.package]
edition = "2024"
version = "0.1.0"
publish = false

[workspace.dependencies]
guest-sdk = {{ path = {sdk_path} }}

# Small, deterministic core modules: every byte is hashed into the lock and
# compiled by the host, and a guest never needs unwinding or debug info.
[profile.release]
opt-level = "s"
lto = true
strip = true
codegen-units = 1
panic = "abort"
debug = false
"#
    );
    Plan {
        workspace_manifest,
        inherited: vec!["edition", "version", "publish"],
        guest_sdk_dep: None,
    }
}

fn inherited_fields(workspace: &toml::Table) -> Vec<&'static str> {
    let package = workspace.get("package").and_then(toml::Value::as_table);
    INHERITED
        .into_iter()
        .filter(|key| package.is_some_and(|p| p.contains_key(*key)))
        .collect()
}

fn resolve_guest_sdk(guest_sdk: &Path) -> Result<PathBuf, ScaffoldError> {
    if !guest_sdk.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::GuestSdkMissing {
            path: guest_sdk.to_path_buf(),
        });
    }
    guest_sdk
        .canonicalize()
        .map_err(io_err("resolve the guest-sdk folder", guest_sdk))
}

/// Folders worth checking for a clashing id: the explicit members and every
/// subfolder with a manifest (covers glob members and unregistered leftovers).
fn candidate_folders(root: &Path, members: &[String]) -> Vec<String> {
    let mut folders: Vec<String> = members
        .iter()
        .filter(|m| !m.contains(['*', '?', '[']))
        .cloned()
        .collect();
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().join("Cargo.toml").is_file() && !folders.contains(&name) {
                folders.push(name);
            }
        }
    }
    folders.sort();
    folders
}

/// The folder of the project whose revision already has `id`, if any.
fn id_user(root: &Path, members: &[String], id: &str) -> Option<String> {
    candidate_folders(root, members).into_iter().find(|folder| {
        match fs::read_to_string(root.join(folder).join("src").join("lib.rs")) {
            Ok(source) => declares_id(&source, id),
            // Without a source to read, the folder name is the best witness.
            Err(_) => folder_has_id(folder, id),
        }
    })
}

/// Whether a revision's source says `id: "<id>"` (any spacing).
fn declares_id(source: &str, id: &str) -> bool {
    let literal = format!("{id:?}");
    source.match_indices(&literal).any(|(at, _)| {
        let before = source[..at].trim_end();
        let Some(before) = before.strip_suffix(':') else {
            return false;
        };
        let before = before.trim_end();
        before.strip_suffix("id").is_some_and(|rest| {
            !rest
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

/// Whether a folder named `YYYYMMDD_HHMM_<id>[_<slug>]` carries `id`.
fn folder_has_id(folder: &str, id: &str) -> bool {
    let bytes = folder.as_bytes();
    let stamped = bytes.len() > 14
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'_'
        && bytes[9..13].iter().all(u8::is_ascii_digit)
        && bytes[13] == b'_';
    if !stamped {
        return false;
    }
    let rest = &folder[14..];
    rest == id || rest.strip_prefix(id).is_some_and(|s| s.starts_with('_'))
}

/// How the existing members depend on guest-sdk, rewritten for a crate in
/// `<root>/<folder>`; `None` if none of them does so usably.
fn members_guest_sdk(root: &Path, members: &[String], folder: &str) -> Option<String> {
    members.iter().find_map(|member| {
        let dir = root.join(member);
        let text = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        let doc = text.parse::<toml::Table>().ok()?;
        let spec = doc.get("dependencies")?.as_table()?.get("guest-sdk")?;
        match spec {
            toml::Value::String(_) => Some(spec.to_string()),
            toml::Value::Table(fields) => {
                // `workspace = true` without a workspace entry cannot build;
                // the caller then falls back to the given guest-sdk path.
                if fields.contains_key("workspace") {
                    return None;
                }
                let mut fields = fields.clone();
                if let Some(path) = fields.get("path").and_then(toml::Value::as_str) {
                    let target = dir.join(path).canonicalize().ok()?;
                    let rel = relative_path(&root.join(folder), &target);
                    fields.insert("path".into(), toml::Value::String(rel));
                }
                Some(inline_table(&fields))
            }
            _ => None,
        }
    })
}

fn inline_table(fields: &toml::Table) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{} = {value}", toml_key(key)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A TOML string literal holding `s`, escaped by the toml crate.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn path_dependency(path: &str) -> String {
    format!("{{ path = {} }}", toml_string(path))
}

/// `to` relative to the folder `from` (both absolute), with `/` separators
/// so the manifest reads the same on every platform.
fn relative_path(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    // Sharing only the root (or nothing: another drive), a relative path
    // would just climb to it; the absolute one says more.
    if common <= 1 {
        return to.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

fn crate_manifest(package: &str, inherited: &[&str], guest_sdk_dep: Option<&str>) -> String {
    let mut out = format!("[package]\nname = {}\n", toml_string(package));
    for key in INHERITED {
        if inherited.contains(&key) {
            out.push_str(&format!("{key}.workspace = true\n"));
        } else {
            // Without workspace values: what `host build` and the lock need.
            match key {
                "edition" => out.push_str("edition = \"2024\"\n"),
                "version" => out.push_str("version = \"0.1.0\"\n"),
                "publish" => out.push_str("publish = false\n"),
                _ => {}
            }
        }
    }
    out.push_str("\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n");
    match guest_sdk_dep {
        None => out.push_str("guest-sdk.workspace = true\n"),
        Some(spec) => out.push_str(&format!("guest-sdk = {spec}\n")),
    }
    out
}

/// A Rust string literal: `str`'s Debug output is one, with quotes,
/// backslashes, newlines and invisible characters escaped.
fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

fn rust_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| rust_str(s)).collect();
    format!("[{}]", items.join(", "))
}

fn lib_rs(rev: &NewRevision) -> String {
    let title = rev
        .message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let mut out = format!(
        "//! Revision `{}`: {}\n",
        comment_safe(&rev.id),
        comment_safe(title)
    );
    let merge = rev.down_revisions.len() > 1;
    if merge {
        let parents: Vec<String> = rev
            .down_revisions
            .iter()
            .map(|p| format!("`{}`", comment_safe(p)))
            .collect();
        out.push_str(&format!("//!\n//! Merges {}.\n", parents.join(", ")));
    }
    out.push_str("\nuse guest_sdk::{Op, Result};\n\nguest_sdk::revision! {\n");
    out.push_str(&format!("    id: {},\n", rust_str(&rev.id)));
    out.push_str(&format!(
        "    down_revisions: {},\n",
        rust_list(&rev.down_revisions)
    ));
    out.push_str(&format!("    message: {},\n", rust_str(&rev.message)));
    if !rev.branch_labels.is_empty() {
        out.push_str(&format!(
            "    branch_labels: {},\n",
            rust_list(&rev.branch_labels)
        ));
    }
    if !rev.depends_on.is_empty() {
        out.push_str(&format!(
            "    depends_on: {},\n",
            rust_list(&rev.depends_on)
        ));
    }
    out.push_str("    upgrade: upgrade,\n    downgrade: downgrade,\n}\n\n");
    let (upgrade_note, downgrade_note) = if merge {
        (
            "    // A merge only joins its parents into one head, so merges usually\n    \
             // have empty bodies; add operations only to reconcile the branches.\n",
            "    // Usually empty, like `upgrade`.\n",
        )
    } else {
        (
            "    // Nothing yet. For example (with `use guest_sdk::{Column, Type};`):\n    \
             //\n    \
             //     op.create_table(\"notes\")\n    \
             //         .columns([\n    \
             //             Column::new(\"id\", Type::BigSerial).primary_key(),\n    \
             //             Column::new(\"body\", Type::Text).not_null(),\n    \
             //         ])\n    \
             //         .execute()?;\n",
            "    // Undo `upgrade`, last change first. For example:\n    \
             //\n    \
             //     op.drop_table(\"notes\").execute()?;\n",
        )
    };
    // `let _ = op;` keeps the empty body warning-free while leaving the
    // parameter named `op`, so the example works once uncommented.
    for (name, note) in [("upgrade", upgrade_note), ("downgrade", downgrade_note)] {
        out.push_str(&format!(
            "fn {name}(op: &mut Op) -> Result<()> {{\n{note}    let _ = op;\n    Ok(())\n}}\n"
        ));
        if name == "upgrade" {
            out.push('\n');
        }
    }
    out
}

/// Replaces a file through a temporary sibling, so an interrupted write never
/// leaves a truncated `Cargo.toml`.
fn replace_file(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let tmp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
    fs::write(&tmp, text).map_err(io_err("write", &tmp))?;
    if let Ok(meta) = fs::metadata(path) {
        let _ = fs::set_permissions(&tmp, meta.permissions());
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("replace", path)(e)
    })
}

#[cfg(test)]
mod tests;
