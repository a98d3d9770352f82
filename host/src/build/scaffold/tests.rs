//! Unit tests of ids, slugs, folder names and validation.

use super::*;
use crate::runtime::codec::datetime::is_leap;
use std::fs;
use std::time::Duration;

pub(crate) fn at(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

pub(crate) fn rev(id: &str, parents: &[&str], message: &str) -> NewRevision {
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
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
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

/// A workspace manifest like the TaskMan-v2 one.
pub(crate) const REAL: &str = r#"# The TaskMan-v2 revisions.
[workspace]
resolver = "3"
members = [
    "20251225_1911_c7bb9a9f0570_initial_schema",
    "20251227_0000_a1b2c3d4e5f6_add_action_lists_table",
]

[workspace.dependencies]
guest-sdk = { path = "../guest-sdk" }
"#;
