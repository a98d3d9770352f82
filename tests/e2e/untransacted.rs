//! Revisions that must run outside a transaction (CREATE INDEX
//! CONCURRENTLY): they run under the run lock without deadlocking with it,
//! and when one fails part way the history says so and later runs refuse to
//! go on until the user resolves it.

use crate::common::{REV3, TestDb, project_with};

#[test]
fn a_concurrent_index_builds_outside_a_transaction_under_the_run_lock() {
    let project = project_with(&["c00000000001"]);
    let db = TestDb::new();
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(db.heads(), vec!["c00000000001"]);
    let valid: bool = db
        .client()
        .query_one(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'idx_tasks_title'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
    let outcome: Option<String> = db
        .client()
        .query_one(
            "SELECT outcome FROM host_history WHERE revision = 'c00000000001'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(outcome, None, "a finished row has no outcome note");
    db.host(project.path(), &["downgrade", "-1"]).ok();
    assert_eq!(db.heads(), vec![REV3]);

    let sql = db
        .host(project.path(), &["upgrade", "934f:head", "--sql"])
        .ok()
        .stdout();
    assert!(
        sql.contains("-- outside a transaction\nCREATE INDEX CONCURRENTLY"),
        "{sql}"
    );
}

#[test]
fn a_failed_concurrent_index_blocks_later_runs_until_resolved() {
    let project = project_with(&["c00000000002"]);
    let db = TestDb::new();
    db.host(project.path(), &["upgrade", REV3]).ok();
    let insert = "INSERT INTO projects (id, name, mission, status, start_date, owner, sponsors, stakeholders,
        repositories, comms_channels, okrs, kpis, roadmap, risks, assumptions, constraints, dependencies_external,
        sprints, related_projects, shared_components, compliance_requirements, governance, success_metrics,
        mpv_policy, observability, phases)
        SELECT 'P-' || n, 'p', 'm', 'active', '2025-01-01', 'ana', '[]', '[]', '[]', '[]', '[]', '[]', '[]', '[]',
        '[]', '[]', '[]', '[]', '[]', '[]', '[]', '{}', '{}', '{}', '{}', '{}' FROM generate_series(1, 2) n";
    db.client().batch_execute(insert).unwrap();

    // Two projects share an owner: the unique index fails and stays INVALID.
    let err = db.host(project.path(), &["run", "head"]).fails();
    assert!(err.contains("23505"), "{err}");
    assert!(
        err.contains("outside a transaction") && err.contains("idx_projects_owner_unique"),
        "{err}"
    );
    assert!(
        err.contains("host resolve c00000000002 --reverted"),
        "{err}"
    );
    assert_eq!(db.heads(), vec![REV3]);

    // Every later run, in either direction, refuses and says how to get out.
    for args in [&["run", "head"][..], &["downgrade", "-1"][..]] {
        let err = db.host(project.path(), args).fails();
        assert!(
            err.contains("did not finish") && err.contains("INVALID indexes left behind"),
            "{err}"
        );
        assert!(err.contains("Nothing was run"), "{err}");
    }

    // The user repairs the schema and the data, resolves, and runs again.
    let mut c = db.client();
    c.batch_execute("DROP INDEX CONCURRENTLY idx_projects_owner_unique")
        .unwrap();
    c.batch_execute("UPDATE projects SET owner = id").unwrap();
    let out = db
        .host(project.path(), &["resolve", "c00000000002", "--reverted"])
        .ok()
        .stdout();
    assert!(out.contains("Resolved c00000000002 as reverted"), "{out}");
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(db.heads(), vec!["c00000000002"]);
    let outcomes: Vec<Option<String>> = db
        .client()
        .query(
            "SELECT outcome FROM host_history WHERE revision = 'c00000000002' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes[0]
            .as_deref()
            .unwrap()
            .starts_with("resolved as reverted (was: failed:"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], None);
}
