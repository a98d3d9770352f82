//! Verified, reproducible upgrades: the lock's transcripts and fingerprints,
//! drift found by `check`, a lost database found by `identify`, and `verify`.

use crate::common::{REV2, REV3, TestDb, project_with, taskman};

#[test]
fn replays_are_reproducible_and_match_the_committed_lock() {
    let project = project_with(&[]);
    let before = std::fs::read_to_string(project.path().join("migrations.lock")).unwrap();
    let db = TestDb::new();
    // Two replays on two scratch databases write exactly what is committed.
    let first = db.host(project.path(), &["fingerprint"]).ok().stdout();
    let once = std::fs::read_to_string(project.path().join("migrations.lock")).unwrap();
    let second = db.host(project.path(), &["fingerprint"]).ok().stdout();
    let twice = std::fs::read_to_string(project.path().join("migrations.lock")).unwrap();
    assert_eq!(once, twice);
    assert_eq!(
        once, before,
        "the committed lock records the same transcripts and fingerprints"
    );
    let lock = host::project::Project::open(project.path()).unwrap().lock;
    assert!(
        lock.revisions
            .iter()
            .all(|r| r.fingerprint.is_some() && r.transcript.is_some())
    );
    // Other tests replay at the same time: look for this test's scratch databases by name.
    for out in [first, second] {
        let name = out
            .lines()
            .find_map(|l| l.strip_prefix("replayed on the scratch database "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("the scratch database is named: {out}"))
            .to_string();
        let left: i64 = db
            .client()
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "scratch database {name} is dropped");
    }
}

#[test]
fn an_online_run_records_what_the_lock_expects() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", "head"]).ok();
    let lock = host::project::Project::open(&taskman()).unwrap().lock;
    let row = db
        .client()
        .query_one(
            "SELECT schema_fingerprint FROM host_history WHERE revision = $1 AND direction = 'upgrade'",
            &[&REV3],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0),
        lock.get(REV3).unwrap().fingerprint
    );
    let out = db.host(&taskman(), &["verify", "--replay"]).ok().stdout();
    assert!(out.contains("Verified"), "{out}");
    let out = db.host(&taskman(), &["check"]).ok().stdout();
    assert!(out.contains("No drift"), "{out}");
}

#[test]
fn check_names_each_drifted_object() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", "head"]).ok();
    db.client()
        .batch_execute(
            "ALTER TABLE tasks ADD COLUMN email text;
             ALTER TABLE projects ALTER COLUMN owner DROP NOT NULL;
             DROP INDEX idx_sprints_owner;",
        )
        .unwrap();
    let run = db.host(&taskman(), &["check"]);
    assert_eq!(
        run.output.status.code(),
        Some(1),
        "drift exits 1 like Alembic's check"
    );
    let out = run.stdout();
    assert!(
        out.contains("column tasks.email exists in the database but not after 934f38a4fc73"),
        "{out}"
    );
    assert!(out.contains("projects.owner"), "{out}");
    assert!(out.contains("idx_sprints_owner"), "{out}");
}

#[test]
fn identify_finds_where_a_mis_stamped_database_stands() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", REV2]).ok();
    db.client()
        .batch_execute("UPDATE alembic_version SET version_num = 'e4501c3c4eb2'")
        .unwrap();
    let out = db.host(&taskman(), &["identify"]).ok().stdout();
    assert!(out.contains("The heads table says: e4501c3c4eb2"), "{out}");
    assert!(
        out.contains(&format!("The schema matches: {REV2}")),
        "{out}"
    );
    assert!(out.contains(&format!("host stamp --purge {REV2}")), "{out}");
    db.host(&taskman(), &["stamp", "--purge", REV2]).ok();
    db.host(&taskman(), &["upgrade", "head"]).ok();

    // A schema no revision gives: the closest ones and what differs.
    db.client()
        .batch_execute("ALTER TABLE tasks ADD COLUMN email text")
        .unwrap();
    let run = db.host(&taskman(), &["identify"]);
    assert_eq!(run.output.status.code(), Some(1));
    let out = run.stdout();
    assert!(
        out.contains("matches no revision") && out.contains("934f38a4fc73: 1 difference(s)"),
        "{out}"
    );
}

#[test]
fn verify_has_an_exit_code_per_kind_of_failure() {
    let project = project_with(&[]);
    let db = TestDb::new();
    db.host(project.path(), &["upgrade", "head"]).ok();
    let code = |db: &TestDb| db.host(project.path(), &["verify"]).output.status.code();
    assert_eq!(code(&db), Some(0));

    let mut c = db.client();
    c.batch_execute(&format!(
        "UPDATE host_history SET schema_fingerprint = repeat('0', 64) WHERE revision = '{REV3}'"
    ))
    .unwrap();
    assert_eq!(code(&db), Some(6), "fingerprint");
    c.batch_execute(&format!(
        "UPDATE host_history SET transcript_blake3 = repeat('0', 64) WHERE revision = '{REV3}'"
    ))
    .unwrap();
    assert_eq!(code(&db), Some(5), "transcript");
    c.batch_execute(&format!(
        "UPDATE host_history SET component_blake3 = repeat('0', 64) WHERE revision = '{REV3}'"
    ))
    .unwrap();
    assert_eq!(code(&db), Some(4), "component that ran");

    let lock = host::project::Project::open(project.path()).unwrap().lock;
    let file = project.path().join(&lock.get(REV2).unwrap().file);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(0);
    std::fs::write(&file, bytes).unwrap();
    let run = db.host(project.path(), &["verify"]);
    assert_eq!(run.output.status.code(), Some(3), "component on disk");
    assert!(run.stdout().contains("a1b2c3d4e5f6"), "{}", run.stdout());
}
