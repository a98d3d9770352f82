//! Faults a production database throws at a migrator: a migrator that holds
//! the lock, a table locked by traffic, a role without privileges.

use crate::common::{REV2, REV3, TestDb, taskman};

#[test]
fn a_held_run_lock_times_out_naming_its_holder() {
    let db = TestDb::new();
    let mut blocker = db.client();
    blocker
        .batch_execute("SET application_name = 'nightly-etl'")
        .unwrap();
    let key = host::db::bookkeeping::Tables::default().lock_key();
    blocker
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let pid: i32 = blocker
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);

    let err = db
        .host(&taskman(), &["run", "head", "--lock-timeout", "0.3"])
        .fails();
    assert!(
        err.contains("nightly-etl") && err.contains(&format!("pid {pid}")),
        "{err}"
    );
    assert!(err.contains("--lock-timeout"), "{err}");
    assert!(db.heads().is_empty());

    blocker
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .unwrap();
    db.host(&taskman(), &["run", "head", "--lock-timeout", "0.3"])
        .ok();
}

#[test]
fn a_revision_behind_a_long_transaction_fails_fast_and_changes_nothing() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", REV2]).ok();
    let before = crate::schema::snapshot(&mut db.client());
    let mut traffic = db.client();
    let mut tx = traffic.transaction().unwrap();
    tx.batch_execute("LOCK TABLE projects IN ACCESS SHARE MODE")
        .unwrap();

    let err = db
        .host(
            &taskman(),
            &["upgrade", "head", "--ddl-lock-timeout", "0.2"],
        )
        .fails();
    assert!(
        err.contains("55P03") && err.contains("revision 934f38a4fc73"),
        "{err}"
    );
    assert!(err.contains("--ddl-lock-timeout"), "the way out: {err}");
    tx.rollback().unwrap();
    assert_eq!(db.heads(), vec![REV2]);
    assert_eq!(crate::schema::snapshot(&mut db.client()), before);

    // Per revision, from host.toml, the same.
    let project = crate::common::project_with(&[]);
    std::fs::write(
        project.path().join("host.toml"),
        "[revisions.934f38a4fc73]\nstatement_timeout = 0.2\n",
    )
    .unwrap();
    let mut traffic = db.client();
    let mut tx = traffic.transaction().unwrap();
    tx.batch_execute("LOCK TABLE projects IN ACCESS SHARE MODE")
        .unwrap();
    let err = db.host(project.path(), &["upgrade", "head"]).fails();
    assert!(err.contains("57014"), "{err}");
    tx.rollback().unwrap();
    db.host(project.path(), &["upgrade", "head"]).ok();
    assert_eq!(db.heads(), vec![REV3]);
}

#[test]
fn a_role_without_privileges_gets_one_clear_error() {
    let db = TestDb::new();
    let role = format!("host_ro_{}", std::process::id());
    let mut c = db.client();
    c.batch_execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    ))
    .unwrap();
    let url = format!("{} user={role}", db.url);
    let err = crate::common::host_cmd(&taskman(), Some(&url), &["run", "head"]).fails();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("42501") || err.contains("permission denied"),
        "{err}"
    );
    assert!(db.heads().is_empty());
    drop(c);
    let _ = db
        .client()
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

#[test]
fn a_closed_stdout_does_not_stop_a_migration() {
    let db = TestDb::new();
    let mut child = crate::common::host_command()
        .args([
            "--migrations",
            taskman().to_str().unwrap(),
            "--database-url",
            &db.url,
            "run",
            "head",
        ])
        .env("HOST_ALLOW_SUPERUSER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads the report (`host run head | head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(db.heads(), vec![REV3]);
}
