//! Unit tests of the Rust revision crate and its workspace.

use super::*;
use crate::build::scaffold::tests::{REAL, TempDir, rev};

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
    let folder = write_revision(&project, &rev("ddd", &[], "x"), &tmp.0.join("elsewhere")).unwrap();
    let crate_toml = fs::read_to_string(project.join(&folder).join("Cargo.toml")).unwrap();
    assert!(
        crate_toml.contains("guest-sdk = { default-features = false, path = \"../../guest-sdk\" }"),
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
