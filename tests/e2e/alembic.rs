//! Alembic's command set beyond the spine: offline SQL, plans as JSON,
//! stamp, history ranges, show.

use crate::common::{REV1, REV2, REV3, TestDb, host_cmd, taskman};
use crate::schema;
use std::process::Command;

/// The real psql binary (Debian's /usr/bin/psql is a Perl wrapper).
fn psql() -> String {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/psql"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "psql".into())
}

#[test]
fn offline_script_applied_with_psql_matches_the_online_run() {
    let online = TestDb::new();
    online.host(&taskman(), &["upgrade", "head"]).ok();

    let script = host_cmd(&taskman(), None, &["upgrade", "head", "--sql"])
        .ok()
        .stdout();
    assert!(
        script.contains("-- Running upgrade c7bb9a9f0570 (root), Initial schema"),
        "{script}"
    );
    assert_eq!(
        script.matches("BEGIN;").count(),
        4,
        "bookkeeping + one transaction per revision"
    );
    assert!(!script.contains('$'), "parameters are inlined: {script}");

    let offline = TestDb::new();
    let out = Command::new(psql())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &offline.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        schema::snapshot(&mut offline.client()),
        schema::snapshot(&mut online.client())
    );
    assert_eq!(offline.heads(), online.heads());
    // Same guest calls, so the same transcripts as the online run.
    let transcripts = |db: &TestDb| -> Vec<(String, String)> {
        db.client()
            .query(
                "SELECT revision, transcript_blake3 FROM host_history ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    assert_eq!(transcripts(&offline), transcripts(&online));
}

#[test]
fn offline_ranges_and_downgrades() {
    let script = host_cmd(&taskman(), None, &["upgrade", "c7bb:head", "--sql"])
        .ok()
        .stdout();
    assert!(!script.contains("Running upgrade c7bb9a9f0570"));
    assert!(script.contains("Running upgrade a1b2c3d4e5f6"));
    let down = host_cmd(&taskman(), None, &["downgrade", "head:a1b2", "--sql"])
        .ok()
        .stdout();
    assert!(
        down.contains("DROP COLUMN") || down.contains("drop column"),
        "{down}"
    );
    assert!(
        down.contains(&format!(
            "UPDATE ONLY \"public\".\"alembic_version\" SET version_num = E'{REV2}'"
        )),
        "{down}"
    );
    let err = host_cmd(&taskman(), None, &["downgrade", "-1", "--sql"]).fails();
    assert!(err.contains("from:to"), "{err}");
}

#[test]
fn plan_json_runs_nothing() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", REV1]).ok();
    let out = db
        .host(&taskman(), &["upgrade", "head", "--plan", "--json"])
        .ok()
        .stdout();
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        plan,
        serde_json::json!({
            "steps": [{"direction": "upgrade", "revision": REV2}, {"direction": "upgrade", "revision": REV3}],
            "heads_before": [REV1],
            "heads_after": [REV3],
        })
    );
    assert_eq!(db.heads(), vec![REV1], "--plan changes nothing");
    let out = db
        .host(&taskman(), &["downgrade", "-1", "--plan", "--json"])
        .ok()
        .stdout();
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["steps"][0]["direction"], "downgrade");
    assert_eq!(plan["heads_after"], serde_json::json!([]));

    let run = db.host(&taskman(), &["upgrade", "nope@head", "--plan", "--json"]);
    assert!(!run.output.status.success());
    let err: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(err["error"]["kind"], "no_such_branch");
    assert!(err["error"]["message"].as_str().unwrap().contains("nope"));
}

#[test]
fn stamp_moves_the_heads_without_running_revisions() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", "head"]).ok();
    let before = schema::snapshot(&mut db.client());
    let plan = db
        .host(&taskman(), &["stamp", REV1, "--plan", "--json"])
        .ok()
        .stdout();
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        plan,
        serde_json::json!({"steps": [], "heads_before": [REV3], "heads_after": [REV1]})
    );
    assert_eq!(db.heads(), vec![REV3], "--plan changes nothing");
    db.host(&taskman(), &["stamp", REV1]).ok();
    assert_eq!(db.heads(), vec![REV1]);
    // The guide's "Migration Mismatch Recovery": a heads row naming a revision this project lacks.
    db.client()
        .batch_execute("UPDATE alembic_version SET version_num = 'e4501c3c4eb2'")
        .unwrap();
    let err = db.host(&taskman(), &["current"]).fails();
    assert!(
        err.contains("e4501c3c4eb2") && err.contains("stamp --purge"),
        "{err}"
    );
    let err = db.host(&taskman(), &["stamp", REV3]).fails();
    assert!(err.contains("e4501c3c4eb2"), "{err}");
    db.host(&taskman(), &["stamp", "--purge", "head"]).ok();
    assert_eq!(db.heads(), vec![REV3]);
    assert_eq!(
        schema::snapshot(&mut db.client()),
        before,
        "stamp runs no revision"
    );
    let stamps: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM host_history WHERE direction = 'stamp'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stamps, 2);
    db.host(&taskman(), &["stamp", "base"]).ok();
    assert!(db.heads().is_empty());
    let sql = host_cmd(&taskman(), None, &["stamp", REV2, "--sql"])
        .ok()
        .stdout();
    assert!(
        sql.contains(&format!(
            "INSERT INTO \"public\".\"alembic_version\" (version_num) VALUES (E'{REV2}')"
        )),
        "{sql}"
    );
}

#[test]
fn history_ranges_show_and_current_markers() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", REV2]).ok();
    let out = db
        .host(
            &taskman(),
            &["history", "-r", "a1b2:head", "--indicate-current"],
        )
        .ok()
        .stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "a1b2c3d4e5f6 -> 934f38a4fc73 (head), Add phases and status fields",
            "c7bb9a9f0570 -> a1b2c3d4e5f6 (current), Add action_lists table",
        ]
    );
    let show = host_cmd(&taskman(), None, &["show", "head"]).ok().stdout();
    assert!(show.starts_with("Rev: 934f38a4fc73 (head)"), "{show}");
    let show = host_cmd(&taskman(), None, &["show", "head-2"])
        .ok()
        .stdout();
    assert!(show.starts_with("Rev: c7bb9a9f0570 (base)"), "{show}");
    let heads = host_cmd(&taskman(), None, &["heads", "--resolve-dependencies"])
        .ok()
        .stdout();
    assert_eq!(heads.trim(), "934f38a4fc73 (head)");
    let branches = host_cmd(&taskman(), None, &["branches"]).ok().stdout();
    assert_eq!(branches, "", "the TaskMan chain is linear");
}
