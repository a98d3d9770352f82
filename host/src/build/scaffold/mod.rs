//! `host revision` and `host merge`: what a new revision is (its id, its
//! folder name, its checks) and the writers for each language: [`rust`]
//! for a cargo crate, [`templates`] for C, Python and JavaScript.

mod members;
pub mod rust;
pub mod templates;

pub use rust::write_revision;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Alembic's `truncate_slug_length` default.
const SLUG_MAX: usize = 40;

/// Width of `alembic_version.version_num`, which stores every head's id.
const ID_MAX: usize = 32;

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
    let mut bytes = [0u8; 6];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = fallback_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Without an operating-system random source (some sandboxes), hashing the time, the pid and a
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

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01,
/// from the codec's calendar (which counts from 2000-01-01, PostgreSQL's epoch).
fn civil_date(days: i64) -> (i64, u32, u32) {
    const DAYS_1970_TO_2000: i64 = 10_957;
    crate::runtime::codec::datetime::civil_from_days(days - DAYS_1970_TO_2000)
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

/// Text safe inside a `//!` comment: rustc rejects bare carriage returns
/// there and denies bidirectional-override characters in comments.
pub(crate) fn comment_safe(text: &str) -> String {
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

#[cfg(test)]
mod tests;
