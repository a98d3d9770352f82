//! Revisions that fail, trap, loop or allocate without end, and components
//! changed after they were locked: each is stopped with the database left
//! exactly as it was before that revision.

use crate::common::{REV1, REV3, TestDb, host_cmd, project_with, state_dir};
use crate::schema;
use host::runtime::seal::{Binding, Purpose, SealKey};

/// Applies the TaskMan chain, then runs a failing revision on top and checks
/// that nothing it did remains; returns the error text.
fn fails_cleanly(id: &str, extra_args: &[&str]) -> String {
    let db = TestDb::new();
    let project = project_with(&[id]);
    db.host(project.path(), &["upgrade", REV3]).ok();
    let before = schema::snapshot(&mut db.client());
    let history_before = db.history();

    let mut args = vec!["run", "head"];
    args.extend_from_slice(extra_args);
    let err = db.host(project.path(), &args).fails();

    assert_eq!(
        schema::snapshot(&mut db.client()),
        before,
        "{id} left changes behind"
    );
    assert_eq!(db.heads(), vec![REV3]);
    assert_eq!(db.history(), history_before);
    assert!(
        err.contains(&format!("revision {id}")),
        "error must name the revision: {err}"
    );
    assert!(err.contains("rolled back"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
    err
}

#[test]
fn a_guest_error_rolls_back_its_revision() {
    let err = fails_cleanly("e00000000001", &[]);
    assert!(err.contains("deliberate failure"), "{err}");
}

#[test]
fn a_sql_error_is_reported_with_its_sqlstate() {
    let err = fails_cleanly("e00000000002", &[]);
    assert!(err.contains("42P07"), "{err}");
}

#[test]
fn a_trap_is_stopped() {
    let err = fails_cleanly("e00000000003", &[]);
    assert!(err.contains("trapped") || err.contains("panic"), "{err}");
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let err = fails_cleanly("e00000000004", &["--fuel", "200000000"]);
    assert!(
        err.contains("CPU budget") && err.contains("--fuel"),
        "{err}"
    );
}

#[test]
fn an_endless_loop_hits_the_wall_clock_timeout() {
    let err = fails_cleanly("e00000000004", &["--timeout", "0.5"]);
    assert!(err.contains("timeout"), "{err}");
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let err = fails_cleanly("e00000000005", &["--memory-limit-mb", "32"]);
    assert!(err.contains("memory") && err.contains("32 MiB"), "{err}");
}

#[test]
fn a_well_behaved_extra_revision_applies_and_reverts() {
    let db = TestDb::new();
    let project = project_with(&["e00000000006"]);
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(db.heads(), vec!["e00000000006"]);
    db.client()
        .execute("INSERT INTO notes (body) VALUES ('hello')", &[])
        .unwrap();
    db.host(project.path(), &["downgrade", "-1"]).ok();
    assert_eq!(db.heads(), vec![REV3]);
    let gone: bool = db
        .client()
        .query_one("SELECT to_regclass('notes') IS NULL", &[])
        .unwrap()
        .get(0);
    assert!(gone);
}

#[test]
fn a_component_changed_after_locking_is_refused_before_any_sql() {
    let db = TestDb::new();
    let project = project_with(&[]);
    let lock = host::project::Project::open(project.path()).unwrap().lock;
    // Tamper with the LAST revision: even the first two must not run.
    let file = project.path().join(&lock.get(REV3).unwrap().file);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();

    let err = db.host(project.path(), &["run", "head"]).fails();
    assert!(
        err.contains("revision 934f38a4fc73") && err.contains("blake3"),
        "{err}"
    );
    assert!(err.contains("Nothing was run"), "{err}");
    let tables: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "no SQL may have changed the database");

    // The untouched revisions still run when the target does not need the changed one.
    db.host(project.path(), &["upgrade", REV1]).ok();
    assert_eq!(db.heads(), vec![REV1]);
}

#[test]
fn a_corrupt_compile_cache_entry_is_rebuilt_not_run() {
    let db = TestDb::new();
    let project = project_with(&[]);
    db.host(project.path(), &["upgrade", REV1]).ok();
    let cache = project.path().join(".host").join("cache");
    let mut artifacts = 0;
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&path).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
            artifacts += 1;
        }
    }
    assert_eq!(
        artifacts, 1,
        "exactly the one revision that ran was compiled"
    );
    db.host(project.path(), &["downgrade", "base"]).ok();
    assert!(db.heads().is_empty());
    // The damaged artifact was replaced by a fresh compile that carries this
    // machine's seal for its component and key.
    let sealing = SealKey::open_or_create(&state_dir()).unwrap();
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let recorded = std::fs::read_to_string(path.with_extension("cwasm.seal")).unwrap();
            let key = path.file_stem().unwrap().to_str().unwrap();
            let binding = Binding {
                purpose: Purpose::Compiled,
                component: &key[..64],
                key,
            };
            assert!(sealing.verifies(&binding, &std::fs::read(&path).unwrap(), &recorded));
        }
    }
}

#[test]
fn a_remembered_offline_script_is_the_same_and_hashes_are_still_checked() {
    let project = project_with(&[]);
    let sql = |p: &std::path::Path| host_cmd(p, None, &["upgrade", "head", "--sql"]);
    let first = sql(project.path()).ok().stdout();
    let remembered = project.path().join(".host/cache/offline");
    let entries = std::fs::read_dir(&remembered).unwrap().count();
    assert_eq!(entries, 3, "one remembered script per revision");
    // Without compiled code the second run can only come from the scripts.
    for entry in std::fs::read_dir(project.path().join(".host/cache")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert_eq!(sql(project.path()).ok().stdout(), first);
    // A changed component is refused even though its output is remembered.
    let lock = host::lock::Lock::parse(
        &std::fs::read_to_string(project.path().join("migrations.lock")).unwrap(),
        std::path::Path::new("migrations.lock"),
    )
    .unwrap();
    let file = project.path().join(&lock.revisions[1].file);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(0);
    std::fs::write(&file, bytes).unwrap();
    let refused = sql(project.path());
    assert!(!refused.output.status.success());
    assert!(
        refused.stderr().contains("but migrations.lock expects"),
        "{}",
        refused.stderr()
    );
}
