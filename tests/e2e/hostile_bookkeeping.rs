//! The bookkeeping tables cannot be swapped, shadowed or rewritten: the host
//! names them schema-qualified in every statement (found in the catalog,
//! never through `search_path`), refuses to commit a step when something is
//! attached to them, and sets again the session settings its own
//! statements depend on after a revision's SQL.

use crate::common::{REV3, TestDb, project_with};
use crate::hostile::{at_head_with, refused, table_exists};

/// Rows of `schema.alembic_version`, sorted; empty when it does not exist.
fn heads_in(db: &TestDb, schema: &str) -> Vec<String> {
    let mut c = db.client();
    let table = format!("{schema}.alembic_version");
    let exists: bool = c
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .unwrap()
        .get(0);
    if !exists {
        return vec![];
    }
    let mut v: Vec<String> = c
        .query(&format!("SELECT version_num FROM {table}"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

/// Number of upgrade rows in `public.host_history`.
fn upgrades(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM public.host_history WHERE direction = 'upgrade'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Creates the schema PostgreSQL's default `search_path` ("$user", public)
/// puts first for the role the tests connect as.
fn create_role_schema(db: &TestDb) -> String {
    let mut c = db.client();
    let user: String = c
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    c.batch_execute(&format!("CREATE SCHEMA \"{user}\""))
        .unwrap();
    user
}

#[test]
fn a_schema_named_like_the_role_does_not_move_the_bookkeeping() {
    // No attacker: a team creates a schema named like its migrating role.
    // The heads table stays where it is; the next run finds it there and
    // has nothing to do (it created fresh tables in the new schema and
    // applied every revision again from base).
    let db = TestDb::new();
    let project = project_with(&[]);
    db.host(project.path(), &["run", "head"]).ok();
    let user = create_role_schema(&db);
    let run = db.host(project.path(), &["run", "head"]).ok();
    assert!(run.stdout().contains("Nothing to do"), "{}", run.stdout());
    let current = db.host(project.path(), &["current"]).ok();
    assert!(current.stdout().contains(REV3), "{}", current.stdout());
    assert_eq!(heads_in(&db, "public"), vec![REV3.to_string()]);
    assert!(heads_in(&db, &user).is_empty());
    assert!(!table_exists(&db, &format!("\"{user}\".host_history")));
    assert_eq!(upgrades(&db), 3);
    // And a step down and up again moves the same table.
    db.host(project.path(), &["downgrade", "-1"]).ok();
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(heads_in(&db, "public"), vec![REV3.to_string()]);
    assert_eq!(upgrades(&db), 4);
}

#[test]
fn a_fresh_database_gets_its_bookkeeping_in_public_whatever_the_search_path() {
    let db = TestDb::new();
    let user = create_role_schema(&db);
    let project = project_with(&[]);
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(heads_in(&db, "public"), vec![REV3.to_string()]);
    assert!(!table_exists(&db, &format!("\"{user}\".alembic_version")));
}

#[test]
fn a_named_schema_holds_the_bookkeeping() {
    let db = TestDb::new();
    db.client().batch_execute("CREATE SCHEMA ops").unwrap();
    let project = project_with(&[]);
    let schema = ["--version-table-schema", "ops"];
    db.host(project.path(), &[&schema[..], &["run", "head"]].concat())
        .ok();
    assert_eq!(heads_in(&db, "ops"), vec![REV3.to_string()]);
    assert!(heads_in(&db, "public").is_empty());
    // Without the flag the one heads table in the database is found.
    let current = db.host(project.path(), &["current"]).ok();
    assert!(current.stdout().contains(REV3), "{}", current.stdout());
}

#[test]
fn decoy_bookkeeping_on_the_search_path_is_not_what_the_host_writes() {
    // The guest puts a schema with its own heads and history tables first on
    // search_path. The host records the step in the real tables; the next
    // run, seeing two heads tables, refuses to guess rather than pick one.
    let (db, project, _) = at_head_with("e00000000037");
    let run = db.host(project.path(), &["run", "head"]).ok();
    assert!(run.stdout().contains("e00000000037"), "{}", run.stdout());
    assert_eq!(heads_in(&db, "public"), vec!["e00000000037".to_string()]);
    assert_eq!(heads_in(&db, "decoy"), vec![REV3.to_string()]);
    let decoy_rows: i64 = db
        .client()
        .query_one("SELECT count(*) FROM decoy.host_history", &[])
        .unwrap()
        .get(0);
    assert_eq!(decoy_rows, 0, "the host wrote to the decoy history");
    let again = db.host(project.path(), &["run", "head"]);
    let line = again.fails();
    assert!(
        line.contains("exists in more than one schema (decoy, public)")
            && line.contains("--version-table-schema"),
        "{line}"
    );
    assert_eq!(upgrades(&db), 4, "nothing ran twice");
    let named = db
        .host(
            project.path(),
            &["--version-table-schema", "public", "run", "head"],
        )
        .ok();
    assert!(
        named.stdout().contains("Nothing to do"),
        "{}",
        named.stdout()
    );
}

#[test]
fn a_trigger_on_the_history_table_stops_the_step() {
    // The trigger would blank the hashes of the row the host writes, so that
    // `host verify` had nothing to compare.
    let (db, project, before) = at_head_with("e00000000038");
    let run = db.host(project.path(), &["run", "head"]);
    let line = refused(&db, &before, run, "e00000000038");
    assert!(!table_exists(&db, "canary_blanks_history_hashes"), "{line}");
    assert!(
        line.contains("bookkeeping tables are not plain tables any more")
            && line.contains("trigger"),
        "{line}"
    );
    assert!(line.contains("rolled back"), "{line}");
    let blanked: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM public.host_history WHERE component_blake3 IS NULL AND direction = 'upgrade'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(blanked, 0);
}

#[test]
fn a_guest_that_switches_the_client_encoding_does_not_crash_the_host() {
    // The host's fingerprint read after the guest got a non-ASCII table
    // name in LATIN1 bytes and panicked (exit 101).
    let (db, project, _) = at_head_with("e00000000039");
    let run = db.host(project.path(), &["run", "head"]).ok();
    assert!(run.stdout().contains("e00000000039"), "{}", run.stdout());
    assert_eq!(heads_in(&db, "public"), vec!["e00000000039".to_string()]);
    assert!(table_exists(&db, "\"café_encoding\""));
    let verify = db.host(project.path(), &["verify"]).ok();
    assert!(!verify.stderr().contains("panicked"), "{}", verify.stderr());
}

#[test]
fn verify_names_a_trigger_attached_to_the_history_table() {
    // Planted outside any run (by hand, or by a revision of an older host):
    // `verify` cannot trust a history that a trigger may have rewritten.
    let db = TestDb::new();
    let project = project_with(&[]);
    db.host(project.path(), &["run", "head"]).ok();
    db.client()
        .batch_execute(
            "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             CREATE TRIGGER keep_rows BEFORE UPDATE ON public.host_history FOR EACH ROW EXECUTE FUNCTION keep()",
        )
        .unwrap();
    let run = db.host(project.path(), &["verify"]);
    let out = run.stdout() + &run.stderr();
    assert_eq!(run.output.status.code(), Some(4), "{out}");
    assert!(
        out.contains("trigger keep_rows on public.host_history")
            && out.contains("cannot be trusted"),
        "{out}"
    );
}

#[test]
fn a_guest_cannot_turn_off_the_ddl_lock_timeout() {
    // Traffic holds a lock on `projects`; the guest turns lock_timeout off
    // through dynamic SQL and asks for an exclusive lock there. The host's
    // watchdog, on the run lock's connection, cancels the wait. Without it
    // the run waited until the traffic ended (here, after 30 s) and applied.
    let (db, project, before) = at_head_with("e0000000003a");
    let mut traffic = db.client();
    traffic
        .batch_execute("BEGIN; LOCK TABLE projects IN ACCESS SHARE MODE")
        .unwrap();
    // The traffic ends when the run is over, or after 30 s at the latest.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let release = std::thread::spawn(move || {
        let _ = finished.recv_timeout(std::time::Duration::from_secs(30));
        traffic.batch_execute("ROLLBACK").unwrap();
    });
    let run = db.host(
        project.path(),
        &["run", "head", "--ddl-lock-timeout", "0.5"],
    );
    done.send(()).unwrap();
    let line = refused(&db, &before, run, "e0000000003a");
    assert!(
        !table_exists(&db, "canary_turns_off_lock_timeout"),
        "{line}"
    );
    assert!(
        line.contains("waited longer than its lock timeout of 500ms")
            && line.contains("the host cancelled the statement")
            && line.contains("rolled back")
            && line.contains("--ddl-lock-timeout"),
        "{line}"
    );
    release.join().unwrap();
}

#[test]
fn a_malformed_database_url_is_not_echoed_with_its_password() {
    // Error lines end up in CI logs: whatever is wrong with the URL, the
    // password must not appear in what the host prints.
    let project = project_with(&[]);
    for url in [
        "postgresql://u:s3cretpw@127.0.0.1:notaport/db",
        "postgresql://u:s3cret pw@127.0.0.1/db",
        "postgres://u:s3cretpw@[::1/db",
        "host=127.0.0.1 password=s3cretpw port=x",
        "postgresql://u:s3cretpw@127.0.0.1:5432/db?sslmode=bogus",
        "postgresql://nobody_here:s3cretpw@127.0.0.1:5432/db",
    ] {
        let run = crate::common::host_cmd(project.path(), Some(url), &["current"]);
        let out = run.stdout() + &run.stderr();
        assert_eq!(run.output.status.code(), Some(1), "{url}: {out}");
        assert!(!out.contains("s3cret"), "{url}: {out}");
    }
}

#[test]
fn a_client_encoding_that_reads_bytes_differently_cannot_hide_a_commit() {
    // After the guest switches the session to SJIS, the server read a
    // backslash of its UTF-8 text as half of a character, and a COMMIT the
    // statement guard saw inside a string ran. The host sets the encoding
    // back before each statement text it sends for the guest, so the server
    // reads what the guard read: the text stays a string, and the revision
    // applies as one transaction.
    let (db, project, _) = at_head_with("e0000000003b");
    let run = db.host(project.path(), &["run", "head"]);
    let out = run.stdout() + &run.stderr();
    assert_eq!(run.output.status.code(), Some(0), "{out}");
    assert!(!out.contains("ended the transaction"), "{out}");
    assert_eq!(heads_in(&db, "public"), vec!["e0000000003b".to_string()]);
    assert!(table_exists(
        &db,
        "canary_commit_behind_a_multibyte_character"
    ));
    assert_eq!(upgrades(&db), 4);
}

#[test]
fn copy_to_and_from_the_client_fails_the_revision_cleanly() {
    // COPY … FROM STDIN would make the server wait for data that never comes,
    // COPY … TO STDOUT sends rows outside any query: either could hang the
    // run or leave the connection out of step with the host.
    let (db, project, before) = at_head_with("e0000000003c");
    let run = db.host(project.path(), &["run", "head", "--timeout", "60"]);
    let line = refused(&db, &before, run, "e0000000003c");
    assert!(!table_exists(&db, "canary_copies_from_stdin"), "{line}");
    assert!(line.contains("rolled back"), "{line}");
    // Refused before it reached the server, with the way out.
    assert!(
        line.contains("COPY to or from the client (STDIN/STDOUT) is not available to a revision")
            && line.contains("execute-many"),
        "{line}"
    );
}

#[test]
fn look_alike_catalog_functions_on_the_search_path_fool_nothing() {
    // After the guest's revision, every new connection to the database puts
    // the look-alikes first. The run lock must still be the real one: held
    // by another session, the next run waits and times out naming it.
    let (db, project, _) = at_head_with("e0000000003d");
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(heads_in(&db, "public"), vec!["e0000000003d".to_string()]);
    let mut blocker = db.client();
    let path: String = blocker.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert!(
        path.starts_with("look_alike"),
        "the setting is planted: {path}"
    );
    let key = host::db::bookkeeping::Tables::default().lock_key();
    blocker
        .execute("SELECT pg_catalog.pg_advisory_lock($1)", &[&key])
        .unwrap();
    let err = db
        .host(
            project.path(),
            &["downgrade", "-1", "--lock-timeout", "0.3"],
        )
        .fails();
    assert!(
        err.contains("holds the lock") && err.contains("--lock-timeout"),
        "{err}"
    );
    assert_eq!(heads_in(&db, "public"), vec!["e0000000003d".to_string()]);
    blocker
        .execute("SELECT pg_catalog.pg_advisory_unlock($1)", &[&key])
        .unwrap();
    // And the real transaction checks and heads checks hold: down and up again.
    db.host(project.path(), &["downgrade", "-1"]).ok();
    assert_eq!(heads_in(&db, "public"), vec![REV3.to_string()]);
    db.host(project.path(), &["run", "head"]).ok();
    assert_eq!(heads_in(&db, "public"), vec!["e0000000003d".to_string()]);
    let current = db.host(project.path(), &["current"]).ok();
    assert!(
        current.stdout().contains("e0000000003d"),
        "{}",
        current.stdout()
    );
}

/// Opens a transaction and returns its id, as a step does with BEGIN.
async fn begin(client: &tokio_postgres::Client) -> String {
    client.batch_execute("BEGIN").await.unwrap();
    let row = client
        .query_one("SELECT txid_current()::text", &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn a_failed_step_says_rolled_back_only_for_its_own_transaction() {
    // What a guest that got past the statement guard could leave behind: its
    // step's transaction committed and another open (aborted, or not). Only
    // the step's own transaction, aborted or not, counts as rolled back.
    use host::db::transaction::{RolledBack, rollback_checked};
    let (client, _db) = crate::common::async_db().await;
    client
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .unwrap();

    let own = begin(&client).await;
    client
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    assert_eq!(rollback_checked(&client, &own).await, RolledBack::Own);

    let own = begin(&client).await;
    assert!(client.batch_execute("SELECT 1/0").await.is_err());
    assert_eq!(rollback_checked(&client, &own).await, RolledBack::Own);

    let own = begin(&client).await;
    client
        .batch_execute("INSERT INTO t VALUES (2); COMMIT; BEGIN; INSERT INTO t VALUES (3)")
        .await
        .unwrap();
    assert_eq!(rollback_checked(&client, &own).await, RolledBack::Escaped);

    let own = begin(&client).await;
    client
        .batch_execute("INSERT INTO t VALUES (4); COMMIT; BEGIN")
        .await
        .unwrap();
    assert!(client.batch_execute("SELECT 1/0").await.is_err());
    assert_eq!(rollback_checked(&client, &own).await, RolledBack::Escaped);

    let own = begin(&client).await;
    client
        .batch_execute("ROLLBACK; INSERT INTO t VALUES (5)")
        .await
        .unwrap();
    assert_eq!(rollback_checked(&client, &own).await, RolledBack::Escaped);

    let rows: Vec<i32> = client
        .query("SELECT id FROM t ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec![2, 4, 5], "what the escapes committed");
}

#[test]
fn discard_all_outside_a_transaction_does_not_release_the_run_lock() {
    // A revision outside a transaction runs DISCARD ALL, which releases its
    // session's advisory locks, and sleeps. A second run started meanwhile
    // must wait for the first and then find nothing to do.
    let db = crate::hostile::second_run_waits("c00000000003", "/* discards_its_session */");
    assert_eq!(heads_in(&db, "public"), vec!["c00000000003".to_string()]);
    assert!(table_exists(&db, "discarded_session"));
    assert_eq!(upgrades(&db), 4, "the revision ran once");
    let unfinished: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM public.host_history WHERE outcome IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unfinished, 0, "the history row was completed");
}
