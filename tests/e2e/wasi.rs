//! Components built by toolchains that import WASI: they get no files, no
//! environment, no network, a deterministic clock and random source, and
//! their stdout/stderr in the log; imports beyond that are refused unless the
//! user granted them, and even then reach nothing.

use crate::common::{REV3, TestDb, project_with};

fn observations(db: &TestDb) -> Vec<(i32, i64, i64, i64, String)> {
    db.client()
        .query("SELECT n, wall_secs, wall_nanos, mono_nanos, random_hex FROM wasi_observations ORDER BY n", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

fn attempts(db: &TestDb) -> Vec<(String, String)> {
    db.client()
        .query("SELECT what, outcome FROM wasi_attempts ORDER BY what", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn clocks_and_random_numbers_are_the_same_every_run() {
    let project = project_with(&["f00000000001"]);
    let first = TestDb::new();
    let run = first.host(project.path(), &["run", "head"]).ok();
    let log = run.stderr();
    assert!(
        log.contains("[f00000000001] stdout: "),
        "stdout goes to the log: {log}"
    );
    assert!(
        log.contains("[f00000000001] stderr: "),
        "stderr goes to the log: {log}"
    );
    let a = observations(&first);
    assert_eq!(a.len(), 2);
    assert_ne!(a[0].4, a[1].4, "two reads give two different random values");
    assert!(
        a[1].1 * 1_000_000_000 + a[1].2 > a[0].1 * 1_000_000_000 + a[0].2,
        "the clock moves forward"
    );

    let second = TestDb::new();
    second.host(project.path(), &["run", "head"]).ok();
    assert_eq!(
        observations(&second),
        a,
        "same component, same clock and random values"
    );
    // And so the same SQL: identical transcripts.
    let transcript = |db: &TestDb| -> String {
        db.client()
            .query_one(
                "SELECT transcript_blake3 FROM host_history WHERE revision = 'f00000000001'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(transcript(&first), transcript(&second));
}

#[test]
fn files_and_environment_are_empty_even_when_linked() {
    let project = project_with(&["f00000000002"]);
    let db = TestDb::new();
    db.host(project.path(), &["upgrade", REV3]).ok();
    let before = crate::schema::snapshot(&mut db.client());

    // Not granted: refused before instantiation, naming the imports.
    let err = db.host(project.path(), &["run", "head"]).fails();
    assert!(
        err.contains("wasi:filesystem/preopens@0.2.6") && err.contains("host.toml"),
        "{err}"
    );
    assert_eq!(
        crate::schema::snapshot(&mut db.client()),
        before,
        "nothing ran"
    );

    // Granted: it links, and finds nothing.
    std::fs::write(
        project.path().join("host.toml"),
        "[revisions.f00000000002]\ngrant = [\"wasi:filesystem\"]\n",
    )
    .unwrap();
    let log = db.host(project.path(), &["run", "head"]).ok().stderr();
    let got = attempts(&db);
    let outcome = |what: &str| {
        got.iter()
            .find(|(w, _)| w.starts_with(what))
            .map(|(_, o)| o.clone())
            .unwrap()
    };
    assert!(
        outcome("read_to_string /etc/passwd").starts_with("err:"),
        "{got:?}"
    );
    assert!(outcome("read_dir").starts_with("err:"), "{got:?}");
    assert!(outcome("env HOME").starts_with("err:"), "{got:?}");
    assert_eq!(outcome("env vars count"), "ok: 0");
    assert!(
        log.contains("[f00000000002] stderr:") && log.contains("/etc/passwd"),
        "the attempt is in the log: {log}"
    );
}

#[test]
fn sockets_are_refused_or_reach_nothing() {
    let project = project_with(&["f00000000003"]);
    let db = TestDb::new();
    let err = db.host(project.path(), &["run", "head"]).fails();
    assert!(err.contains("wasi:sockets/tcp@0.2.6"), "{err}");
    assert!(
        db.heads().is_empty(),
        "every component of the plan is checked before the first SQL"
    );

    std::fs::write(
        project.path().join("host.toml"),
        "[revisions.f00000000003]\ngrant = [\"wasi:sockets\"]\n",
    )
    .unwrap();
    db.host(project.path(), &["run", "head"]).ok();
    let got = attempts(&db);
    assert_eq!(got.len(), 1);
    assert!(got[0].1.starts_with("err:"), "no network: {got:?}");
}

#[test]
fn a_grant_must_name_a_grantable_package() {
    let project = project_with(&["f00000000003"]);
    std::fs::write(
        project.path().join("host.toml"),
        "[revisions.f00000000003]\ngrant = [\"wasi:http\"]\n",
    )
    .unwrap();
    let err = crate::common::host_cmd(project.path(), None, &["history"]).fails();
    assert!(
        err.contains("host.toml") && err.contains("wasi:http") && err.contains("grantable"),
        "{err}"
    );
}
