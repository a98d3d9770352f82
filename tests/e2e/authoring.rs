//! `host revision` and `host merge` end to end: scaffold a crate, build it
//! into a component, lock it, and apply it.

use crate::common::{REV1, REV3, TestDb, host_cmd, repo, taskman};
use std::path::Path;

/// A copy of the TaskMan project with its sources, guest-sdk referenced by absolute path.
fn source_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&taskman(), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let sdk = repo().join("guest-sdk");
    let text = text.replace("\"guest-sdk\"", &format!("{:?}", sdk.display().to_string()));
    assert!(
        text.contains(&sdk.display().to_string()),
        "the project names guest-sdk by path"
    );
    std::fs::write(&manifest, text).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // The guest-sdk symlink is replaced by an absolute path in Cargo.toml.
        if name == "target" || name == ".host" || entry.file_type().unwrap().is_symlink() {
            continue;
        }
        let dst = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

fn host_in(project: &Path, args: &[&str]) -> crate::common::Run {
    // Share compiled guest dependencies between runs of the suite.
    let mut cmd = crate::common::host_command();
    cmd.arg("--migrations")
        .arg(project)
        .args(args)
        .env("CARGO_TARGET_DIR", repo().join("target").join("e2e-guests"))
        .env_remove("DATABASE_URL");
    crate::common::Run {
        output: cmd.output().unwrap(),
    }
}

#[test]
fn revision_and_merge_scaffold_build_lock_and_apply() {
    let project = source_project();
    let p = project.path();

    let out = host_in(
        p,
        &[
            "revision",
            "-m",
            "Add \"audit\" log",
            "--rev-id",
            "aaaa00000001",
            "--no-build",
        ],
    )
    .ok()
    .stdout();
    assert!(out.contains("aaaa00000001"), "{out}");
    let folder = std::fs::read_dir(p)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.contains("_aaaa00000001_"))
        .expect("a YYYYMMDD_HHMM_<rev>_<slug> folder");
    assert!(folder.ends_with("_aaaa00000001_add_audit_log"), "{folder}");
    assert_eq!(folder.as_bytes()[8], b'_');

    // A second lineage from the first revision: only with --splice.
    let err = host_in(
        p,
        &[
            "revision",
            "-m",
            "side",
            "--head",
            REV1,
            "--rev-id",
            "bbbb00000001",
        ],
    )
    .fails();
    assert!(err.contains("--splice"), "{err}");
    host_in(
        p,
        &[
            "revision",
            "-m",
            "Side branch",
            "--head",
            REV1,
            "--splice",
            "--branch-label",
            "side",
            "--rev-id",
            "bbbb00000001",
        ],
    )
    .ok();
    let heads = host_cmd(p, None, &["heads"]).ok().stdout();
    assert_eq!(heads.lines().count(), 2, "{heads}");

    host_in(
        p,
        &[
            "merge",
            "-m",
            "Merge side branch",
            "heads",
            "--rev-id",
            "cccc00000001",
        ],
    )
    .ok();
    let lock = host::project::Project::open(p).unwrap();
    assert_eq!(lock.graph.heads(), vec!["cccc00000001"]);
    let merge = lock.graph.get("cccc00000001").unwrap();
    assert_eq!(merge.parents.len(), 2);

    let db = TestDb::new();
    db.host(p, &["upgrade", "bbbb00000001"]).ok();
    assert_eq!(db.heads(), vec!["bbbb00000001"]);
    // The label covers the merge above it, so the branch's head is the merge.
    let plan = db
        .host(p, &["upgrade", "side@head", "--plan"])
        .ok()
        .stdout();
    assert!(
        plan.contains("upgrade aaaa00000001") && plan.contains("upgrade cccc00000001"),
        "{plan}"
    );
    db.host(p, &["upgrade", "head"]).ok();
    assert_eq!(db.heads(), vec!["cccc00000001"]);
    let history = db.host(p, &["history"]).ok().stdout();
    assert!(
        history.contains("cccc00000001 (head, mergepoint)"),
        "{history}"
    );
    db.host(p, &["downgrade", "aaaa00000001"]).ok();
    assert_eq!(db.heads(), vec!["aaaa00000001", "bbbb00000001"]);
    db.host(p, &["downgrade", REV3]).ok();
    assert_eq!(db.heads(), vec![REV3, "bbbb00000001"]);
}

/// Copies `from` to `to`, symlinks included as symlinks.
fn copy_preserving_links(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".host" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        let dst = to.join(&name);
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), dst).unwrap();
        } else if kind.is_dir() {
            copy_preserving_links(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

#[test]
fn the_committed_components_rebuild_byte_for_byte_elsewhere() {
    // Same layout as the repository, another place on disk: the bytes must
    // not depend on where the sources are checked out.
    let root = tempfile::tempdir().unwrap();
    for part in ["wit", "guest-sdk", "migrations-wasm"] {
        copy_preserving_links(&repo().join(part), &root.path().join(part));
    }
    let out = host_in(&root.path().join("migrations-wasm"), &["build", "--check"])
        .ok()
        .stdout();
    assert!(out.contains("3 revision(s) match"), "{out}");
}
