//! `host revision` and `host merge`: writes a new revision crate and
//! registers it in the project's cargo workspace.
//!
//! The project's `Cargo.toml` belongs to its users, so it is edited as text:
//! only the `members` array changes, and the edit is checked by parsing the
//! result before anything is written.

use std::fs;
use std::io::Read as _;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Alembic's `truncate_slug_length` default.
const SLUG_MAX: usize = 40;

/// Width of `alembic_version.version_num`, which stores every head's id.
const ID_MAX: usize = 32;

/// Package fields a revision crate inherits when the workspace defines them,
/// in the order the existing revision crates list them.
const INHERITED: [&str; 5] = ["edition", "rust-version", "license", "version", "publish"];

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewRevision {
    /// The revision id; [`new_revision_id`] makes one.
    pub id: String,
    /// Parents: none for a new root, one, or several for a merge.
    pub down_revisions: Vec<String>,
    /// Alembic branch labels.
    pub branch_labels: Vec<String>,
    /// Revisions or labels this one depends on without descending from them.
    pub depends_on: Vec<String>,
    /// The `-m` message.
    pub message: String,
    /// Creation time, rendered in UTC in the folder name.
    pub created: SystemTime,
}

/// Why a revision could not be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The revision id cannot be used.
    #[error("revision id {id:?} {reason}; pass another --rev-id")]
    InvalidId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A parent, branch label or dependency cannot be used.
    #[error("{what} {value:?} {reason}")]
    InvalidReference {
        /// Which list it is in.
        what: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The message is empty.
    #[error("the revision message is empty; pass -m \"what this revision does\"")]
    EmptyMessage,
    /// The revision's folder is already there.
    #[error("{} already exists; remove it or pass another --rev-id", .path.display())]
    FolderExists {
        /// The folder.
        path: PathBuf,
    },
    /// Another revision of the project has the same id.
    #[error("revision id {id:?} is already used by {} in {}; pass another --rev-id", .folder, .project.display())]
    DuplicateId {
        /// The id.
        id: String,
        /// The folder that declares it.
        folder: String,
        /// The project.
        project: PathBuf,
    },
    /// The project's `Cargo.toml` does not parse.
    #[error("{} is not valid TOML: {detail}; fix it, then run this again", .manifest.display())]
    ManifestSyntax {
        /// The manifest.
        manifest: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The project's `Cargo.toml` is not a workspace.
    #[error(
        "{} has no [workspace] table; revisions are the members of a cargo workspace of their own: add `[workspace]` with `members = []` to it, or use a folder without a Cargo.toml",
        .manifest.display()
    )]
    NotAWorkspace {
        /// The manifest.
        manifest: PathBuf,
    },
    /// The `members` array could not be edited safely.
    #[error(
        "cannot add {folder:?} to the workspace members in {}: {detail}; add it to `members` by hand (the revision crate is not written)",
        .manifest.display()
    )]
    Members {
        /// The manifest.
        manifest: PathBuf,
        /// The member that was to be added.
        folder: String,
        /// Why not.
        detail: String,
    },
    /// The guest SDK is needed but not where it was said to be.
    #[error(
        "no guest-sdk crate at {} (no Cargo.toml there); pass the path of the guest-sdk folder",
        .path.display()
    )]
    GuestSdkMissing {
        /// The path that was given.
        path: PathBuf,
    },
    /// A file or folder could not be read or written.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError {
    let path = path.to_path_buf();
    move |source| ScaffoldError::Io {
        action,
        path,
        source,
    }
}

/// A fresh random 12-hex-digit revision id, like Alembic's `uuid4().hex[-12:]`.
pub fn new_revision_id() -> String {
    let bytes = urandom_bytes().unwrap_or_else(fallback_bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn urandom_bytes() -> Option<[u8; 6]> {
    let mut bytes = [0u8; 6];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(bytes)
}

/// Without /dev/urandom (Windows, sandboxes), hashing the time, the pid and a
/// per-process counter still gives ids that differ between calls and hosts.
fn fallback_bytes() -> [u8; 6] {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&CALLS.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..6]);
    bytes
}

/// Alembic's file-name slug of a message: lowercase words joined by `_`, at most 40 characters.
pub fn slug(message: &str) -> String {
    // ASCII only, unlike Alembic's `\w`: the slug also names a folder and a
    // cargo package, which must stay portable.
    let words: Vec<String> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let joined = words.join("_");
    if joined.len() <= SLUG_MAX {
        return joined;
    }
    // Cut at the last word boundary that fits; a single over-long word is cut
    // where the limit falls.
    let head = &joined[..SLUG_MAX];
    let cut = if joined.as_bytes()[SLUG_MAX] == b'_' {
        head
    } else {
        head.rfind('_').map_or(head, |at| &head[..at])
    };
    cut.trim_end_matches('_').to_string()
}

/// The revision's folder: `YYYYMMDD_HHMM_<id>_<slug>`, the time in UTC.
pub fn folder_name(rev: &NewRevision) -> String {
    let secs = match rev.created.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        // Before 1970: round towards the past so the minute stays right.
        Err(e) => {
            let before = e.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    let (year, month, day) = civil_date(secs.div_euclid(86_400));
    let minutes = secs.rem_euclid(86_400) / 60;
    let (hour, minute) = (minutes / 60, minutes % 60);
    let mut name = format!(
        "{year:04}{month:02}{day:02}_{hour:02}{minute:02}_{}",
        rev.id
    );
    let slug = slug(&rev.message);
    if !slug.is_empty() {
        name.push('_');
        name.push_str(&slug);
    }
    name
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_year(year: i64) -> i64 {
    if is_leap(year) { 366 } else { 365 }
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
fn civil_date(days: i64) -> (i64, u32, u32) {
    // The calendar repeats every 400 years (146097 days), so whole cycles are
    // skipped at once and at most 400 single years are walked.
    const CYCLE_DAYS: i64 = 146_097;
    let mut year = 1970 + 400 * days.div_euclid(CYCLE_DAYS);
    let mut left = days.rem_euclid(CYCLE_DAYS);
    while left >= days_in_year(year) {
        left -= days_in_year(year);
        year += 1;
    }
    let february = if is_leap(year) { 29 } else { 28 };
    let lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for length in lengths {
        if left < length {
            break;
        }
        left -= length;
        month += 1;
    }
    // `left` is below the month's length here, so it fits a u32.
    (year, month, left as u32 + 1)
}

/// Writes `<project>/<folder>/` (Cargo.toml and src/lib.rs) and adds it to the
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

pub(crate) fn validate(rev: &NewRevision) -> Result<(), ScaffoldError> {
    let invalid = |reason: String| ScaffoldError::InvalidId {
        id: rev.id.clone(),
        reason,
    };
    if rev.id.is_empty() {
        return Err(invalid("is empty".into()));
    }
    if let Some(reason) = alembic_id_problem(&rev.id) {
        return Err(invalid(reason));
    }
    if let Some(c) = rev
        .id
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '_')
    {
        return Err(invalid(format!(
            "contains {c:?}; only ASCII letters, digits and '_' are accepted because the id also names a folder and a cargo package"
        )));
    }
    if rev.id.len() > ID_MAX {
        return Err(invalid(format!(
            "is longer than {ID_MAX} characters, the width of alembic_version.version_num"
        )));
    }
    if rev.message.trim().is_empty() {
        return Err(ScaffoldError::EmptyMessage);
    }
    let reference =
        |what: &'static str, value: &str, reason: &str| ScaffoldError::InvalidReference {
            what,
            value: value.to_string(),
            reason: reason.to_string(),
        };
    for (i, parent) in rev.down_revisions.iter().enumerate() {
        if parent.is_empty() {
            return Err(reference("down revision", parent, "is empty"));
        }
        if let Some(reason) = alembic_id_problem(parent) {
            return Err(reference("down revision", parent, &reason));
        }
        if *parent == rev.id {
            return Err(reference(
                "down revision",
                parent,
                "is the new revision itself; a revision cannot be its own parent",
            ));
        }
        if rev.down_revisions[..i].contains(parent) {
            return Err(reference("down revision", parent, "is listed twice"));
        }
    }
    let lists = [
        ("branch label", &rev.branch_labels),
        ("depends_on entry", &rev.depends_on),
    ];
    for (what, values) in lists {
        for value in values {
            if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(reference(
                    what,
                    value,
                    "must be non-empty and contain no whitespace",
                ));
            }
        }
    }
    Ok(())
}

/// Alembic's rule for revision ids: `@`, `-` and `+` are its target syntax
/// (`branch@head`, `-1`, `+2`), `:` separates ranges, and whitespace cannot
/// survive the command line or the version table.
fn alembic_id_problem(id: &str) -> Option<String> {
    id.chars()
        .find(|c| matches!(c, '@' | '-' | '+' | ':') || c.is_whitespace())
        .map(|c| {
            format!("contains {c:?}; revision ids may not contain '@', '-', '+', ':' or whitespace")
        })
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

/// Text safe inside a `//!` comment: rustc rejects bare carriage returns
/// there and denies bidirectional-override characters in comments.
fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            );
            if c.is_control() || bidi {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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

/// Parses the edited manifest and checks that the only change is `folder`
/// appended to `workspace.members`.
fn check_member_edit(before: &toml::Table, edited: &str, folder: &str) -> Result<(), String> {
    let after = edited.parse::<toml::Table>().map_err(|e| {
        format!(
            "the edited manifest would not parse ({})",
            e.to_string().trim()
        )
    })?;
    let mut expected = before.clone();
    let workspace = expected
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or("no [workspace] table")?;
    let members = workspace
        .entry("members")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    members
        .as_array_mut()
        .ok_or("`members` is not an array")?
        .push(toml::Value::String(folder.to_string()));
    if after == expected {
        Ok(())
    } else {
        Err("the layout of the manifest was not understood (the edit would change more than `members`)".into())
    }
}

/// One top-level line of a TOML document: a table header or a key/value pair.
#[derive(Debug)]
enum Line {
    /// `[a.b]` (not `[[a.b]]`), with the end of its line.
    Header { key: Vec<String>, line_end: usize },
    /// `[[a.b]]`.
    ArrayHeader,
    /// `a.b = value`, with the span of the value.
    Pair {
        key: Vec<String>,
        value: Range<usize>,
    },
}

/// Adds `folder` to `workspace.members` in a manifest's text, changing nothing else.
fn add_member(doc: &str, folder: &str) -> Result<String, String> {
    let lines = scan(doc)?;
    let nl = if doc.contains("\r\n") { "\r\n" } else { "\n" };
    let entry = toml_string(folder);
    // Dotted keys before any header belong to the root table, so
    // `workspace.members = [...]` there is found as well.
    let mut table: Vec<String> = Vec::new();
    let mut in_array_table = false;
    let mut workspace_header = None;
    for line in &lines {
        match line {
            Line::Header { key, line_end } => {
                table = key.clone();
                in_array_table = false;
                if key == &["workspace"] {
                    workspace_header = Some(*line_end);
                }
            }
            Line::ArrayHeader => in_array_table = true,
            Line::Pair { key, value } if !in_array_table => {
                let full: Vec<&str> = table.iter().chain(key).map(String::as_str).collect();
                if full == ["workspace", "members"] {
                    return insert_into_array(doc, value.clone(), &entry, nl);
                }
            }
            Line::Pair { .. } => {}
        }
    }
    let Some(line_end) = workspace_header else {
        return Err("`members` is not in a [workspace] table header".into());
    };
    // No `members` yet: start one right under the header.
    let mut out = doc.to_string();
    let lead = if doc[..line_end].ends_with('\n') {
        ""
    } else {
        nl
    };
    out.insert_str(line_end, &format!("{lead}members = [{entry}]{nl}"));
    Ok(out)
}

/// Appends `entry` to the array at `span`, in the array's own layout.
fn insert_into_array(
    doc: &str,
    span: Range<usize>,
    entry: &str,
    nl: &str,
) -> Result<String, String> {
    let b = doc.as_bytes();
    if b.get(span.start) != Some(&b'[') || span.end == 0 || b[span.end - 1] != b']' {
        return Err("`members` is not written as an array".into());
    }
    let close = span.end - 1;
    let mut depth = 0usize;
    let mut last_value: Option<usize> = None;
    let mut comma: Option<usize> = None;
    let mut i = span.start + 1;
    while i < close {
        match b[i] {
            b'"' | b'\'' => {
                i = skip_string(b, i)?;
                if depth == 0 {
                    last_value = Some(i);
                    comma = None;
                }
                continue;
            }
            b'#' => {
                i = line_end(b, i);
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    last_value = Some(i + 1);
                    comma = None;
                }
            }
            b',' if depth == 0 => comma = Some(i),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if depth == 0 => {
                last_value = Some(i + 1);
                comma = None;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = doc.to_string();
    let Some(value_end) = last_value else {
        // Empty array: one line stays one line; a multi-line one gets an
        // indented line above its closing bracket.
        let inner = &doc[span.start + 1..close];
        let bracket_line = doc[..close].rfind('\n').map_or(0, |at| at + 1);
        let bracket_indent = &doc[bracket_line..close];
        if inner.contains('\n') && bracket_indent.trim().is_empty() {
            out.insert_str(bracket_line, &format!("{bracket_indent}    {entry},{nl}"));
        } else if inner.contains('\n') {
            out.insert_str(close, entry);
        } else {
            out.replace_range(span.start + 1..close, entry);
        }
        return Ok(out);
    };
    let anchor = comma.map_or(value_end, |c| c + 1);
    let newline_after = doc[anchor..close].find('\n').map(|at| anchor + at);
    match newline_after {
        // Closing bracket on a later line: a new line after the last entry,
        // indented like it, with a trailing comma if the entries have one.
        Some(newline) => {
            let line_start = doc[..value_end].rfind('\n').map_or(0, |at| at + 1);
            let indent: String = doc[line_start..]
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let trailing = if comma.is_some() { "," } else { "" };
            out.insert_str(newline + 1, &format!("{indent}{entry}{trailing}{nl}"));
            if comma.is_none() {
                out.insert(value_end, ',');
            }
        }
        None => match comma {
            Some(c) => out.insert_str(c + 1, &format!(" {entry},")),
            None => out.insert_str(value_end, &format!(", {entry}")),
        },
    }
    Ok(out)
}

/// Index of the `\n` ending the line at `i`, or the end of the text.
fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |at| i + at)
}

/// Splits a (valid) TOML document into its top-level lines. Strings,
/// comments and multi-line arrays are skipped whole, so brackets or `#`
/// inside them never look like structure.
fn scan(doc: &str) -> Result<Vec<Line>, String> {
    let b = doc.as_bytes();
    let mut lines = Vec::new();
    // Editors on Windows may start the file with a byte-order mark.
    let mut i = if doc.starts_with('\u{feff}') { 3 } else { 0 };
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = line_end(b, i),
            b'[' => {
                let array = b.get(i + 1) == Some(&b'[');
                i += if array { 2 } else { 1 };
                let key = scan_key(doc, &mut i, b']')?;
                i += if array { 2 } else { 1 };
                let end = line_end(b, i);
                let line_end = if end < b.len() { end + 1 } else { end };
                i = line_end;
                lines.push(if array {
                    Line::ArrayHeader
                } else {
                    Line::Header { key, line_end }
                });
            }
            _ => {
                let key = scan_key(doc, &mut i, b'=')?;
                i += 1;
                while i < b.len() && matches!(b[i], b' ' | b'\t') {
                    i += 1;
                }
                let start = i;
                let end = scan_value(b, &mut i)?;
                lines.push(Line::Pair {
                    key,
                    value: start..end,
                });
            }
        }
    }
    Ok(lines)
}

/// Reads a dotted key up to `stop` (left at `*i`), unquoting its parts.
fn scan_key(doc: &str, i: &mut usize, stop: u8) -> Result<Vec<String>, String> {
    let b = doc.as_bytes();
    let mut parts = Vec::new();
    loop {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t') {
            *i += 1;
        }
        let start = *i;
        match b.get(*i) {
            Some(b'"') | Some(b'\'') => {
                *i = skip_string(b, *i)?;
                // Quoted parts are compared by their text; escapes in key
                // names are too rare to decode.
                parts.push(doc[start + 1..*i - 1].to_string());
            }
            _ => {
                while *i < b.len()
                    && (b[*i].is_ascii_alphanumeric() || matches!(b[*i], b'-' | b'_'))
                {
                    *i += 1;
                }
                if *i == start {
                    return Err(format!("unexpected text at byte {start}"));
                }
                parts.push(doc[start..*i].to_string());
            }
        }
        while *i < b.len() && matches!(b[*i], b' ' | b'\t') {
            *i += 1;
        }
        match b.get(*i) {
            Some(b'.') => *i += 1,
            Some(c) if *c == stop => return Ok(parts),
            _ => return Err(format!("unexpected text at byte {}", *i)),
        }
    }
}

/// Skips a value starting at `*i` up to the end of its (last) line; returns
/// where the value itself ends, before any comment or trailing blanks.
fn scan_value(b: &[u8], i: &mut usize) -> Result<usize, String> {
    let mut depth = 0usize;
    let mut end = *i;
    while *i < b.len() {
        match b[*i] {
            b'"' | b'\'' => {
                *i = skip_string(b, *i)?;
                end = *i;
                continue;
            }
            b'#' => {
                *i = line_end(b, *i);
                continue;
            }
            b'\n' if depth == 0 => break,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced bracket at byte {}", *i))?;
            }
            _ => {}
        }
        if !matches!(b[*i], b' ' | b'\t' | b'\r' | b'\n') {
            end = *i + 1;
        }
        *i += 1;
    }
    if depth > 0 {
        return Err("unclosed array or table".into());
    }
    Ok(end)
}

/// Returns the index just past the string literal that starts at `i`.
fn skip_string(b: &[u8], i: usize) -> Result<usize, String> {
    let quote = b[i];
    let escapes = quote == b'"';
    let triple = b.len() >= i + 3 && b[i + 1] == quote && b[i + 2] == quote;
    let mut j = i + if triple { 3 } else { 1 };
    while j < b.len() {
        let c = b[j];
        if escapes && c == b'\\' {
            j += 2;
            continue;
        }
        if c == quote {
            if !triple {
                return Ok(j + 1);
            }
            if b.len() >= j + 3 && b[j + 1] == quote && b[j + 2] == quote {
                // Up to two quotes may directly precede the closing three.
                let mut end = j + 3;
                let mut extra = 0;
                while extra < 2 && b.get(end) == Some(&quote) {
                    end += 1;
                    extra += 1;
                }
                return Ok(end);
            }
        }
        if c == b'\n' && !triple {
            break;
        }
        j += 1;
    }
    Err(format!("unterminated string at byte {i}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: i64) -> SystemTime {
        if secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    }

    fn rev(id: &str, parents: &[&str], message: &str) -> NewRevision {
        NewRevision {
            id: id.into(),
            down_revisions: parents.iter().map(|p| p.to_string()).collect(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message: message.into(),
            created: at(1_766_936_880),
        }
    }

    /// A fresh folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "scaffold-{tag}-{}-{}",
                std::process::id(),
                new_revision_id()
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn slugs_follow_alembic() {
        assert_eq!(
            slug("Add phases and status fields"),
            "add_phases_and_status_fields"
        );
        assert_eq!(slug("Initial schema"), "initial_schema");
        assert_eq!(slug("Add action_lists table"), "add_action_lists_table");
        assert_eq!(
            slug("  Don't drop -- the \"users\" table!  "),
            "don_t_drop_the_users_table"
        );
        assert_eq!(slug("merge 1a2b and 3c4d"), "merge_1a2b_and_3c4d");
        assert_eq!(slug("!!!"), "");
        assert_eq!(slug("Añadir tabla"), "a_adir_tabla");
        assert_eq!(slug("line one\nline two"), "line_one_line_two");
    }

    #[test]
    fn long_slugs_are_cut_at_a_word_boundary() {
        let cut = slug("Add the columns needed by the reporting dashboard for sprints");
        assert_eq!(cut, "add_the_columns_needed_by_the_reporting");
        assert!(cut.len() <= SLUG_MAX);
        // A boundary exactly at the limit keeps the whole last word.
        let exact = format!("{} {}", "a".repeat(20), "b".repeat(19));
        assert_eq!(slug(&format!("{exact} more")), exact.replace(' ', "_"));
        // One word longer than the limit is cut where the limit falls.
        assert_eq!(slug(&"x".repeat(50)), "x".repeat(40));
    }

    #[test]
    fn folder_names_use_utc() {
        let r = rev(
            "934f38a4fc73",
            &["a1b2c3d4e5f6"],
            "Add phases and status fields",
        );
        assert_eq!(
            folder_name(&r),
            "20251228_1548_934f38a4fc73_add_phases_and_status_fields"
        );
        let name = |secs: i64| {
            folder_name(&NewRevision {
                created: at(secs),
                ..rev("x", &[], "m")
            })
        };
        assert_eq!(name(0), "19700101_0000_x_m");
        assert_eq!(name(1_709_251_199), "20240229_2359_x_m");
        assert_eq!(name(4_107_542_400), "21000301_0000_x_m");
        assert_eq!(name(-60), "19691231_2359_x_m");
        assert_eq!(name(-1), "19691231_2359_x_m");
        assert_eq!(name(-2_203_932_360), "19000228_1234_x_m");
        assert_eq!(name(951_782_400), "20000229_0000_x_m");
        let empty = NewRevision {
            created: at(0),
            ..rev("abc", &[], "???")
        };
        assert_eq!(folder_name(&empty), "19700101_0000_abc");
    }

    #[test]
    fn civil_dates_match_a_day_by_day_walk() {
        // Walk every day from 1890 to 2110 and compare with the direct result.
        let (mut y, mut m, mut d) = (1890i64, 1u32, 1u32);
        let start = -(80 * 365 + 19); // 1890-01-01 relative to 1970-01-01
        for days in start..start + 220 * 366 {
            assert_eq!(civil_date(days), (y, m, d), "day {days}");
            let feb = if is_leap(y) { 29 } else { 28 };
            let len = [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn ids_are_12_lowercase_hex_and_differ() {
        let ids: Vec<String> = (0..200).map(|_| new_revision_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 12, "{id}");
            assert!(
                id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                "{id}"
            );
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert_ne!(fallback_bytes(), fallback_bytes());
    }

    #[test]
    fn ids_follow_alembic_and_fit_folders() {
        for bad in [
            "", "ab@c", "ab-c", "ab+c", "ab:c", "ab c", "ab\tc", "a/b", "a.b", "é",
        ] {
            let err = validate(&rev(bad, &[], "m")).unwrap_err();
            assert!(
                matches!(err, ScaffoldError::InvalidId { .. }),
                "{bad:?}: {err}"
            );
        }
        let long = "a".repeat(33);
        assert!(matches!(
            validate(&rev(&long, &[], "m")),
            Err(ScaffoldError::InvalidId { .. })
        ));
        validate(&rev(&"a".repeat(32), &[], "m")).unwrap();
        validate(&rev("Custom_Id_1", &["abc"], "m")).unwrap();
        let msg = validate(&rev("ab-c", &[], "m")).unwrap_err().to_string();
        assert!(msg.contains("'-'") && msg.contains("--rev-id"), "{msg}");
    }

    #[test]
    fn messages_and_references_are_checked() {
        assert!(matches!(
            validate(&rev("abc", &[], " \n")),
            Err(ScaffoldError::EmptyMessage)
        ));
        for parents in [&["a@b"][..], &[""], &["abc"], &["x", "x"]] {
            let err = validate(&rev("abc", parents, "m")).unwrap_err();
            assert!(
                matches!(err, ScaffoldError::InvalidReference { .. }),
                "{parents:?}"
            );
        }
        let mut labeled = rev("abc", &[], "m");
        labeled.branch_labels = vec!["has space".into()];
        assert!(validate(&labeled).is_err());
        labeled.branch_labels = vec!["feature_x".into()];
        labeled.depends_on = vec![String::new()];
        assert!(validate(&labeled).is_err());
    }

    const REAL: &str = r#"# The TaskMan-v2 revisions.
[workspace]
resolver = "3"
members = [
    "20251225_1911_c7bb9a9f0570_initial_schema",
    "20251227_0000_a1b2c3d4e5f6_add_action_lists_table",
]

[workspace.dependencies]
guest-sdk = { path = "../guest-sdk" }
"#;

    fn added(doc: &str) -> String {
        let out = add_member(doc, "new_one").unwrap();
        let before = doc.parse::<toml::Table>().unwrap();
        check_member_edit(&before, &out, "new_one").unwrap();
        out
    }

    #[test]
    fn members_multi_line_with_trailing_comma() {
        assert_eq!(
            added(REAL),
            REAL.replace("table\",\n]", "table\",\n    \"new_one\",\n]")
        );
    }

    #[test]
    fn members_multi_line_without_trailing_comma() {
        let doc = "[workspace]\nmembers = [\n  \"a\",\n  \"b\"\n]\n";
        assert_eq!(
            added(doc),
            "[workspace]\nmembers = [\n  \"a\",\n  \"b\",\n  \"new_one\"\n]\n"
        );
    }

    #[test]
    fn members_on_one_line() {
        let cases = [
            (
                "members = [\"a\", \"b\"]",
                "members = [\"a\", \"b\", \"new_one\"]",
            ),
            ("members = []", "members = [\"new_one\"]"),
            ("members = [ ]", "members = [\"new_one\"]"),
            ("members = [\"a\",]", "members = [\"a\", \"new_one\",]"),
            (
                "members = ['a'] # revisions",
                "members = ['a', \"new_one\"] # revisions",
            ),
        ];
        for (line, want) in cases {
            let doc = format!("[workspace]\nresolver = \"3\"\n{line}\n");
            assert_eq!(
                added(&doc),
                format!("[workspace]\nresolver = \"3\"\n{want}\n"),
                "{line}"
            );
        }
    }

    #[test]
    fn members_with_comments_keep_them() {
        let doc = "[workspace] # ours\nmembers = [ # oldest first\n    \"a\", # first\n    # \"gone\",\n    \"b\" # second\n    # end\n]\n";
        assert_eq!(
            added(doc),
            "[workspace] # ours\nmembers = [ # oldest first\n    \"a\", # first\n    # \"gone\",\n    \"b\", # second\n    \"new_one\"\n    # end\n]\n"
        );
    }

    #[test]
    fn members_closing_on_the_last_line() {
        let doc = "[workspace]\nmembers = [\n    \"a\",\n    \"b\"]\n";
        assert_eq!(
            added(doc),
            "[workspace]\nmembers = [\n    \"a\",\n    \"b\", \"new_one\"]\n"
        );
    }

    #[test]
    fn members_empty_multi_line() {
        let doc = "[workspace]\nmembers = [\n    # none yet\n]\n";
        assert_eq!(
            added(doc),
            "[workspace]\nmembers = [\n    # none yet\n    \"new_one\",\n]\n"
        );
    }

    #[test]
    fn members_missing_or_elsewhere() {
        let doc = "[package]\nname = \"x\"\n\n[workspace] # revisions\nresolver = \"3\"\n";
        assert_eq!(
            added(doc),
            "[package]\nname = \"x\"\n\n[workspace] # revisions\nmembers = [\"new_one\"]\nresolver = \"3\"\n"
        );
        assert_eq!(
            added("[workspace]"),
            "[workspace]\nmembers = [\"new_one\"]\n"
        );
        let dotted = "workspace.members = [\"a\"]\nworkspace.resolver = \"3\"\n";
        assert_eq!(
            added(dotted),
            "workspace.members = [\"a\", \"new_one\"]\nworkspace.resolver = \"3\"\n"
        );
        let quoted = "[\"workspace\"]\n\"members\" = [\"a\"]\n";
        assert_eq!(
            added(quoted),
            "[\"workspace\"]\n\"members\" = [\"a\", \"new_one\"]\n"
        );
    }

    #[test]
    fn members_after_tricky_values() {
        // Brackets, quotes and `#` inside strings, a multi-line string and a
        // nested array must not be mistaken for structure.
        let doc = concat!(
            "[workspace]\n",
            "exclude = [\"a]#\", 'b[\"', \"c\\\"]\"]\n",
            "metadata.note = \"\"\"\n[workspace]\nmembers = [\"fake\"]\n\"\"\"\n",
            "metadata.grid = [[1, 2], [3]]\n",
            "members = [\"m\"]\n",
            "[[bin]]\nname = \"x\"\nmembers = [\"y\"]\n",
        );
        let out = added(doc);
        assert!(out.contains("members = [\"m\", \"new_one\"]\n"), "{out}");
        assert!(out.contains("members = [\"fake\"]") && out.contains("members = [\"y\"]"));
    }

    #[test]
    fn members_keep_crlf() {
        let doc = "[workspace]\r\nmembers = [\r\n    \"a\",\r\n]\r\n";
        assert_eq!(
            added(doc),
            "[workspace]\r\nmembers = [\r\n    \"a\",\r\n    \"new_one\",\r\n]\r\n"
        );
    }

    #[test]
    fn members_after_a_byte_order_mark() {
        let doc = "\u{feff}[workspace]\nmembers = [\"a\"]\n";
        assert_eq!(
            add_member(doc, "b").unwrap(),
            "\u{feff}[workspace]\nmembers = [\"a\", \"b\"]\n"
        );
    }

    #[test]
    fn members_outside_a_header_are_refused() {
        let inline = "workspace = { members = [\"a\"] }\n";
        assert!(add_member(inline, "new_one").is_err());
        assert!(add_member("[package]\nname = \"x\"\n", "new_one").is_err());
    }

    #[test]
    fn ids_are_found_in_sources_and_folder_names() {
        let src = "guest_sdk::revision! {\n    id : \"abc\",\n    down_revisions: [\"grid\"],\n";
        assert!(declares_id(src, "abc"));
        assert!(!declares_id(src, "grid"));
        assert!(!declares_id("valid: \"abc\"", "abc"));
        assert!(folder_has_id("20251228_1548_abc_some_slug", "abc"));
        assert!(folder_has_id("20251228_1548_abc", "abc"));
        assert!(!folder_has_id("20251228_1548_abcd_slug", "abc"));
        assert!(!folder_has_id("abc", "abc"));
    }

    #[test]
    fn relative_paths() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            relative_path(&p("/w/main/migrations"), &p("/w/main/guest-sdk")),
            "../guest-sdk"
        );
        assert_eq!(
            relative_path(&p("/w/main/m/rev"), &p("/w/main/guest-sdk")),
            "../../guest-sdk"
        );
        assert_eq!(relative_path(&p("/w/a"), &p("/w/a/sdk")), "sdk");
        assert_eq!(relative_path(&p("/w/a"), &p("/w/a")), ".");
        assert_eq!(relative_path(&p("/tmp/p"), &p("/w/sdk")), "/w/sdk");
    }

    #[test]
    fn generated_sources_escape_values() {
        let mut r = rev("abc123", &["p1"], "Say \"hi\" \\ bye\nsecond line\u{202e}");
        r.branch_labels = vec!["feat".into()];
        r.depends_on = vec!["dep\"x".into()];
        let src = lib_rs(&r);
        assert!(
            src.contains(r#"message: "Say \"hi\" \\ bye\nsecond line\u{202e}","#),
            "{src}"
        );
        assert!(
            src.contains("branch_labels: [\"feat\"],\n    depends_on: [\"dep\\\"x\"],"),
            "{src}"
        );
        assert!(
            src.starts_with("//! Revision `abc123`: Say \"hi\" \\ bye\n\n"),
            "{src}"
        );
        assert!(src.contains("op.create_table(\"notes\")"));
        assert_eq!(comment_safe("a\rb\u{202e}c"), "a\\u{d}b\\u{202e}c");
        let merge = lib_rs(&rev("m1", &["a", "b"], "Merge heads"));
        assert!(merge.contains("down_revisions: [\"a\", \"b\"],"), "{merge}");
        assert!(
            merge.contains("merges usually") && !merge.contains("create_table"),
            "{merge}"
        );
        assert!(!merge.contains("branch_labels"));
        let root = lib_rs(&rev("r0", &[], "Initial"));
        assert!(root.contains("down_revisions: [],"));
    }

    #[test]
    fn crate_manifests_follow_the_workspace() {
        let all = crate_manifest("rev_a_b", &INHERITED, None);
        assert_eq!(
            all,
            "[package]\nname = \"rev_a_b\"\nedition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\nversion.workspace = true\npublish.workspace = true\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nguest-sdk.workspace = true\n"
        );
        let bare = crate_manifest("rev_a", &[], Some(&path_dependency("../sdk")));
        assert!(
            bare.contains("edition = \"2024\"\nversion = \"0.1.0\"\npublish = false\n"),
            "{bare}"
        );
        assert!(
            bare.ends_with("guest-sdk = { path = \"../sdk\" }\n"),
            "{bare}"
        );
        assert_eq!(package_name(&rev("0abc", &[], "Add x")), "rev_0abc_add_x");
        assert_eq!(package_name(&rev("0abc", &[], "!")), "rev_0abc");
    }

    fn fake_sdk(dir: &Path) -> PathBuf {
        let sdk = dir.join("guest-sdk");
        fs::create_dir_all(&sdk).unwrap();
        fs::write(sdk.join("Cargo.toml"), "[package]\nname = \"guest-sdk\"\n").unwrap();
        sdk
    }

    #[test]
    fn writes_into_an_existing_workspace() {
        let tmp = TempDir::new("existing");
        let sdk = fake_sdk(&tmp.0);
        let project = tmp.0.join("migrations");
        fs::create_dir_all(&project).unwrap();
        fs::write(project.join("Cargo.toml"), REAL).unwrap();
        let r = rev("e00000000006", &["a1b2c3d4e5f6"], "Add a notes table");
        let folder = write_revision(&project, &r, &sdk).unwrap();
        assert_eq!(folder, "20251228_1548_e00000000006_add_a_notes_table");
        let manifest = fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert_eq!(
            manifest,
            REAL.replace("table\",\n]", &format!("table\",\n    \"{folder}\",\n]"))
        );
        let crate_toml = fs::read_to_string(project.join(&folder).join("Cargo.toml")).unwrap();
        assert!(crate_toml.contains("name = \"rev_e00000000006_add_a_notes_table\""));
        assert!(crate_toml.contains("guest-sdk.workspace = true"));
        // No [workspace.package] in REAL: the fields are spelled out.
        assert!(crate_toml.contains("edition = \"2024\""), "{crate_toml}");

        // Same id again, any message: refused, and nothing changes.
        let again = NewRevision {
            message: "Other".into(),
            ..r.clone()
        };
        let err = write_revision(&project, &again, &sdk).unwrap_err();
        assert!(matches!(err, ScaffoldError::DuplicateId { .. }), "{err}");
        let err = write_revision(&project, &r, &sdk).unwrap_err();
        assert!(matches!(err, ScaffoldError::FolderExists { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(project.join("Cargo.toml")).unwrap(),
            manifest
        );
    }

    #[test]
    fn creates_a_workspace_when_there_is_none() {
        let tmp = TempDir::new("fresh");
        let sdk = fake_sdk(&tmp.0);
        let project = tmp.0.join("revisions");
        let first = write_revision(&project, &rev("aaa111", &[], "Initial"), &sdk).unwrap();
        let manifest = fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("guest-sdk = { path = \"../guest-sdk\" }"),
            "{manifest}"
        );
        assert!(manifest.contains("[profile.release]\nopt-level = \"s\"\nlto = true\n"));
        let doc = manifest.parse::<toml::Table>().unwrap();
        assert_eq!(
            doc["workspace"]["members"],
            toml::Value::Array(vec![first.clone().into()])
        );
        let second = write_revision(&project, &rev("bbb222", &["aaa111"], "Next"), &sdk).unwrap();
        let doc = fs::read_to_string(project.join("Cargo.toml"))
            .unwrap()
            .parse::<toml::Table>()
            .unwrap();
        assert_eq!(
            doc["workspace"]["members"],
            toml::Value::Array(vec![first.into(), second.clone().into()])
        );
        let crate_toml = fs::read_to_string(project.join(&second).join("Cargo.toml")).unwrap();
        assert!(crate_toml.contains(
            "edition.workspace = true\nversion.workspace = true\npublish.workspace = true\n"
        ));
        // Without a guest-sdk at the given path, nothing is created.
        let err = write_revision(
            &tmp.0.join("other"),
            &rev("c", &[], "m"),
            &tmp.0.join("nope"),
        )
        .unwrap_err();
        assert!(
            matches!(err, ScaffoldError::GuestSdkMissing { .. }),
            "{err}"
        );
        assert!(!tmp.0.join("other").join("Cargo.toml").exists());
    }

    #[test]
    fn copies_how_members_depend_on_guest_sdk() {
        let tmp = TempDir::new("members-dep");
        fake_sdk(&tmp.0);
        let project = tmp.0.join("p");
        let old = project.join("nested").join("old");
        fs::create_dir_all(old.join("src")).unwrap();
        fs::write(
            old.join("Cargo.toml"),
            "[package]\nname = \"old\"\n[dependencies]\nguest-sdk = { path = \"../../../guest-sdk\", default-features = false }\n",
        )
        .unwrap();
        fs::write(
            project.join("Cargo.toml"),
            "[workspace]\nmembers = [\"nested/old\"]\n",
        )
        .unwrap();
        let folder =
            write_revision(&project, &rev("ddd", &[], "x"), &tmp.0.join("elsewhere")).unwrap();
        let crate_toml = fs::read_to_string(project.join(&folder).join("Cargo.toml")).unwrap();
        assert!(
            crate_toml
                .contains("guest-sdk = { default-features = false, path = \"../../guest-sdk\" }"),
            "{crate_toml}"
        );
    }

    #[test]
    fn refuses_manifests_it_cannot_edit() {
        let tmp = TempDir::new("refuse");
        let sdk = fake_sdk(&tmp.0);
        let cases = [
            ("[package]\nname = \"x\"\n", "no [workspace]"),
            ("[workspace\n", "not valid TOML"),
            (
                "workspace = { members = [] }\n",
                "add it to `members` by hand",
            ),
        ];
        for (i, (text, expect)) in cases.into_iter().enumerate() {
            let project = tmp.0.join(format!("p{i}"));
            fs::create_dir_all(&project).unwrap();
            fs::write(project.join("Cargo.toml"), text).unwrap();
            let err = write_revision(&project, &rev("abc", &[], "m"), &sdk).unwrap_err();
            assert!(err.to_string().contains(expect), "{text:?}: {err}");
            assert_eq!(
                fs::read_dir(&project).unwrap().count(),
                1,
                "{text:?} left files"
            );
        }
    }
}
