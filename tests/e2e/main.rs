//! End-to-end tests: the `host` binary against a real PostgreSQL, one fresh
//! database per test.

mod alembic;
mod authoring;
mod codec;
mod common;
mod failures;
mod faults;
mod fingerprint;
mod hostile;
mod hostile_bookkeeping;
mod hostile_cache;
mod hostile_limits;
mod hostile_privilege;
mod offline;
mod packages;
mod polyglot;
mod schema;
mod untransacted;
mod verification;
mod wasi;

use common::{REV1, REV2, REV3, TestDb, taskman};
use serde_json::json;

#[test]
fn upgrade_head_builds_the_taskman_schema_exactly() {
    let db = TestDb::new();
    let out = db.host(&taskman(), &["run", "head"]).ok().stdout();
    assert!(
        out.contains("Running upgrade  -> c7bb9a9f0570, Initial schema"),
        "{out}"
    );
    assert!(
        out.contains("The database is at 934f38a4fc73 (head)"),
        "{out}"
    );

    let mut c = db.client();
    for table in schema::TABLES {
        let expected = schema::columns_at_head(table);
        assert_eq!(
            schema::catalog_columns(&mut c, table),
            expected,
            "columns of {table}"
        );
    }
    let counts: Vec<usize> = schema::TABLES
        .iter()
        .map(|t| schema::columns_at_head(t).len())
        .collect();
    assert_eq!(counts, vec![32 + 2, 27 + 2, 38 + 2, 18 + 2]);

    let indexes = schema::catalog_indexes(&mut c);
    let mut expected: Vec<(String, String, Vec<String>, bool)> = schema::indexes_at_head()
        .into_iter()
        .map(|(t, i, cols)| {
            (
                t.into(),
                i.into(),
                cols.into_iter().map(String::from).collect(),
                false,
            )
        })
        .collect();
    expected.sort();
    assert_eq!(indexes, expected);
    assert_eq!(indexes.len(), 29);

    let fks = schema::catalog_foreign_keys(&mut c);
    let expected: Vec<(String, String, String, String)> = schema::foreign_keys_at_head()
        .into_iter()
        .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()))
        .collect();
    assert_eq!(fks, expected);

    let pks = schema::catalog_primary_keys(&mut c);
    for table in schema::TABLES {
        assert_eq!(pks[table], vec!["id".to_string()], "primary key of {table}");
    }
    let checks: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE contype IN ('c', 'u') AND conrelid::regclass::text IN ('projects', 'sprints', 'tasks', 'action_lists')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(checks, 0, "the spec has no CHECK or UNIQUE constraints");

    assert_eq!(db.heads(), vec![REV3]);
    let current = db.host(&taskman(), &["current"]).ok().stdout();
    assert_eq!(current.trim(), "934f38a4fc73 (head)");
    let again = db.host(&taskman(), &["run", "head"]).ok().stdout();
    assert!(again.contains("Nothing to do"), "{again}");
}

#[test]
fn head_to_base_to_head_round_trips() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", "head"]).ok();
    let first = schema::snapshot(&mut db.client());

    let out = db.host(&taskman(), &["downgrade", "base"]).ok().stdout();
    assert!(out.contains("The database is at base"), "{out}");
    assert!(db.heads().is_empty(), "base leaves no heads row");
    let left: Vec<String> = db
        .client()
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        left,
        vec!["alembic_version", "host_history"],
        "only bookkeeping remains at base"
    );

    db.host(&taskman(), &["upgrade", "head"]).ok();
    assert_eq!(schema::snapshot(&mut db.client()), first);
}

#[test]
fn existing_rows_survive_and_get_their_phases_document() {
    let db = TestDb::new();
    db.host(&taskman(), &["upgrade", REV2]).ok();
    assert_eq!(db.heads(), vec![REV2]);
    let mut c = db.client();
    let empty = json!([]);
    let obj = json!({});
    c.execute(
        "INSERT INTO projects (id, name, mission, status, start_date, owner, sponsors, stakeholders, repositories,
            comms_channels, okrs, kpis, roadmap, risks, assumptions, constraints, dependencies_external, sprints,
            related_projects, shared_components, compliance_requirements, governance, success_metrics, mpv_policy,
            observability)
         VALUES ('P-1', 'TaskMan', 'Ship it', 'active', '2025-12-01', 'ana', $1, $1, $1, $1, $1, $1, $1, $1, $1, $1,
            $1, $1, $1, $1, $1, $2, $2, $2, $2)",
        &[&empty, &obj],
    )
    .unwrap();
    c.execute(
        "INSERT INTO sprints (id, name, goal, cadence, start_date, end_date, status, owner, primary_project, tasks,
            imported_tasks, related_projects, definition_of_done, dependencies, scope_changes, risks, ceremonies,
            metrics, observability)
         VALUES ('S-1', 'Sprint 1', 'Goal', 'biweekly', '2025-12-01', '2025-12-14', 'active', 'ana', 'P-1',
            $1, $1, $1, $1, $1, $1, $1, $2, $2, $2)",
        &[&empty, &obj],
    )
    .unwrap();
    c.execute(
        "INSERT INTO tasks (id, title, summary, description, status, owner, assignees, priority, primary_project,
            primary_sprint, related_projects, related_sprints, parents, depends_on, blocks, blockers,
            acceptance_criteria, definition_of_done, quality_gates, verification, actions_taken, labels,
            related_links, risks, observability)
         VALUES ('T-1', 'Write spec', 's', 'd', 'new', 'ana', $1, 'p1', 'P-1', 'S-1', $1, $1, $1, $1, $1, $1, $1,
            $1, $1, $1, $1, $1, $1, $1, $2)",
        &[&empty, &obj],
    )
    .unwrap();

    db.host(&taskman(), &["upgrade", "head"]).ok();

    let docs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(taskman().join("phase_documents.json")).unwrap(),
    )
    .unwrap();
    let expected = |table: &str| match table {
        "projects" => json!({
            "research": {"status": "not_started", "has_market_research": false, "has_technical_research": false, "research_adequate": false},
            "planning": {"status": "not_started", "has_prd": false, "has_architecture": false, "has_roadmap": false}
        }),
        "sprints" => json!({
            "planning": {"status": "not_started", "has_sprint_goal": false, "has_capacity_plan": false, "tasks_estimated": false},
            "implementation": {"status": "not_started", "progress_pct": 0, "tasks_completed": 0, "tasks_total": 0}
        }),
        _ => json!({
            "research": {"status": "not_started", "has_research": false, "research_adequate": false},
            "planning": {"status": "not_started", "has_acceptance_criteria": false, "has_definition_of_done": false},
            "implementation": {"status": "not_started", "progress_pct": 0, "has_code_changes": false},
            "testing": {"status": "not_started", "has_unit_tests": false, "tests_passing": false}
        }),
    };
    let mut c = db.client();
    for (table, id) in [("projects", "P-1"), ("sprints", "S-1"), ("tasks", "T-1")] {
        let row = c
            .query_one(&format!("SELECT phases FROM {table} WHERE id = $1"), &[&id])
            .unwrap();
        let phases: serde_json::Value = row.get(0);
        assert_eq!(phases, expected(table), "phases of {table}");
        assert_eq!(
            docs[table],
            expected(table),
            "phase_documents.json agrees with the spec for {table}"
        );
    }
    let survived: String = c
        .query_one("SELECT title FROM tasks WHERE id = 'T-1'", &[])
        .unwrap()
        .get(0);
    assert_eq!(survived, "Write spec");
    let reasons: (Option<String>, Option<String>) = {
        let r = c
            .query_one("SELECT pending_reason, blocked_reason FROM sprints", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(reasons, (None, None));
}

#[test]
fn relative_walks_move_like_alembic_and_keep_the_books() {
    let db = TestDb::new();
    let p = taskman();
    db.host(&p, &["upgrade", "+1"]).ok();
    assert_eq!(db.heads(), vec![REV1]);
    db.host(&p, &["upgrade", "a1b2"]).ok();
    assert_eq!(db.heads(), vec![REV2]);
    db.host(&p, &["upgrade", "+1"]).ok();
    assert_eq!(db.heads(), vec![REV3]);
    let err = db.host(&p, &["upgrade", "+1"]).fails();
    assert!(err.contains("+1 goes past the head"), "{err}");
    db.host(&p, &["downgrade", "-1"]).ok();
    assert_eq!(db.heads(), vec![REV2]);
    db.host(&p, &["downgrade", REV1]).ok();
    assert_eq!(db.heads(), vec![REV1]);
    let err = db.host(&p, &["downgrade", REV3]).fails();
    assert!(err.contains("not applied"), "{err}");
    db.host(&p, &["downgrade", "-1"]).ok();
    assert!(db.heads().is_empty());
    let err = db.host(&p, &["downgrade", "-1"]).fails();
    assert!(err.contains("past the base"), "{err}");
    db.host(&p, &["upgrade", "head"]).ok();

    let expected: Vec<(String, String)> = [
        (REV1, "upgrade"),
        (REV2, "upgrade"),
        (REV3, "upgrade"),
        (REV3, "downgrade"),
        (REV2, "downgrade"),
        (REV1, "downgrade"),
        (REV1, "upgrade"),
        (REV2, "upgrade"),
        (REV3, "upgrade"),
    ]
    .iter()
    .map(|(r, d)| (r.to_string(), d.to_string()))
    .collect();
    assert_eq!(db.history(), expected);

    // Each history row names the component that ran, as locked, and a UTC time.
    let lock = host::project::Project::open(&p).unwrap().lock;
    let mut c = db.client();
    for row in c
        .query("SELECT revision, component_blake3, transcript_blake3, host_version, duration_ms FROM host_history", &[])
        .unwrap()
    {
        let rev: String = row.get(0);
        let hash: String = row.get(1);
        assert_eq!(hash, lock.get(&rev).unwrap().blake3);
        assert_eq!(row.get::<_, String>(2).len(), 64);
        assert_eq!(row.get::<_, String>(3), host::VERSION);
        assert!(row.get::<_, f64>(4) >= 0.0);
    }
    // Same component and same SQL give the same transcript, run after run.
    let transcripts: Vec<String> = c
        .query(
            "SELECT DISTINCT transcript_blake3 FROM host_history WHERE revision = $1 AND direction = 'upgrade'",
            &[&REV1],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(transcripts.len(), 1);
}

#[test]
fn history_and_heads_read_only_the_lock() {
    // No database at all: these commands must not need one.
    let out = common::host_cmd(
        &taskman(),
        Some("postgresql://nobody@127.0.0.1:1/none"),
        &["history"],
    )
    .ok()
    .stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "a1b2c3d4e5f6 -> 934f38a4fc73 (head), Add phases and status fields",
            "c7bb9a9f0570 -> a1b2c3d4e5f6, Add action_lists table",
            "<base> -> c7bb9a9f0570 (base), Initial schema",
        ]
    );
    let verbose = common::host_cmd(&taskman(), None, &["history", "--verbose"])
        .ok()
        .stdout();
    let lock = host::project::Project::open(&taskman()).unwrap().lock;
    for rev in &lock.revisions {
        assert!(verbose.contains(&format!("Rev: {}", rev.id)), "{verbose}");
        assert!(verbose.contains(&rev.blake3), "{verbose}");
        assert!(verbose.contains(&rev.message), "{verbose}");
    }
    assert!(verbose.contains("Parent: a1b2c3d4e5f6"), "{verbose}");
    let heads = common::host_cmd(&taskman(), None, &["heads"]).ok().stdout();
    assert_eq!(heads.trim(), "934f38a4fc73 (head)");
}

#[test]
fn concurrent_runs_apply_each_revision_once() {
    let db = TestDb::new();
    let p = taskman();
    let children: Vec<std::process::Child> = (0..4)
        .map(|_| {
            crate::common::host_command()
                .args([
                    "--migrations",
                    p.to_str().unwrap(),
                    "--database-url",
                    &db.url,
                    "run",
                    "head",
                ])
                .env_remove("DATABASE_URL")
                .env("HOST_ALLOW_SUPERUSER", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        applied += stdout.matches("Running upgrade").count();
    }
    assert_eq!(
        applied, 3,
        "each revision is applied by exactly one process"
    );
    assert_eq!(db.history().len(), 3);
    assert_eq!(db.heads(), vec![REV3]);
}

#[test]
fn bad_input_gets_one_clear_error() {
    let db = TestDb::new();
    let err = db.host(&taskman(), &["upgrade", "nope@x"]).fails();
    assert!(err.contains("no such branch label \"nope\""), "{err}");
    let err = db.host(&taskman(), &["upgrade", "zzzzzz"]).fails();
    assert!(err.contains("no revision matches \"zzzzzz\""), "{err}");
    let err = common::host_cmd(
        &taskman(),
        Some("postgresql://postgres@127.0.0.1:1/x"),
        &["current"],
    )
    .fails();
    assert!(
        err.contains("cannot connect") && err.contains("port 1"),
        "{err}"
    );
    let missing = tempfile::tempdir().unwrap();
    let err = common::host_cmd(missing.path(), Some(&db.url), &["current"]).fails();
    assert!(err.contains("no migrations.lock"), "{err}");
    db.client()
        .batch_execute("CREATE TABLE alembic_version (version_num varchar(32) primary key); INSERT INTO alembic_version VALUES ('e4501c3c4eb2')")
        .unwrap();
    let err = db.host(&taskman(), &["upgrade", "head"]).fails();
    assert!(
        err.contains("e4501c3c4eb2") && err.contains("stamp"),
        "{err}"
    );
}

#[test]
fn with_nothing_configured_the_embedded_cluster_is_used_and_kept() {
    let project = common::project_with(&[]);
    let out = common::host_cmd(project.path(), None, &["run", "head"])
        .ok()
        .stdout();
    assert!(
        out.contains("The database is at 934f38a4fc73 (head)"),
        "{out}"
    );
    // A second process finds the same, still running, cluster and its state.
    let current = common::host_cmd(project.path(), None, &["current"])
        .ok()
        .stdout();
    assert_eq!(current.trim(), "934f38a4fc73 (head)");
    let status = common::host_cmd(project.path(), None, &["db", "status"])
        .ok()
        .stdout();
    assert!(status.contains("running"), "{status}");
    let stopped = common::host_cmd(project.path(), None, &["db", "stop"])
        .ok()
        .stdout();
    assert!(stopped.contains("stopped"), "{stopped}");
    let status = common::host_cmd(project.path(), None, &["db", "status"])
        .ok()
        .stdout();
    assert!(!status.contains("running"), "{status}");
    // Stopped is not lost: the next run starts it again with the data in place.
    let again = common::host_cmd(project.path(), None, &["run", "head"])
        .ok()
        .stdout();
    assert!(again.contains("Nothing to do"), "{again}");
    common::host_cmd(project.path(), None, &["db", "stop"]).ok();
}
