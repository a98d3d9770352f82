//! The migrating role is the boundary the sandbox cannot draw: a revision's
//! SQL runs with its privileges. Run as a role that owns the database and
//! nothing more, every way out of the database a guest tries (a program on
//! the server, a server file, a second connection through dblink, granting
//! itself the role that runs programs) is refused by PostgreSQL with one
//! clear error, and the database is as it was. Run as a superuser, the same
//! guests succeed, and `host` says so on every run that runs revisions.
//!
//! Guests: `e00000000060`..`e00000000065` in `tests/guests`. The tests run
//! as the test server's superuser, and make a login role per test that owns
//! the test's database.

use crate::common::{REV3, Run, TestDb, host_cmd_warned, project_with};
use crate::hostile::{State, refused, state, table_exists};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// The start of the warning a superuser run prints.
const SUPERUSER_WARNING: &str =
    "a superuser: a revision can run shell commands on the database server (COPY ... TO PROGRAM)";

/// A login role that owns a test's database (and its `public` schema), with
/// no attribute beyond it; dropped with everything it owns when the test ends.
struct Owner {
    role: String,
    url: String,
    /// The superuser's connection string of the same database.
    admin_url: String,
}

impl Owner {
    fn of(db: &TestDb) -> Owner {
        static N: AtomicU32 = AtomicU32::new(0);
        let role = format!(
            "host_e2e_owner_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        db.client()
            .batch_execute(&format!(
                "CREATE ROLE \"{role}\" LOGIN PASSWORD 'owner';
                 ALTER DATABASE \"{db}\" OWNER TO \"{role}\";
                 ALTER SCHEMA public OWNER TO \"{role}\"",
                db = db.name()
            ))
            .unwrap();
        Owner {
            url: format!("{} user={role} password=owner", db.url),
            role,
            admin_url: db.url.clone(),
        }
    }

    /// Runs `host` as this role, with the superuser warning on: an owner gets none.
    fn host(&self, project: &Path, args: &[&str]) -> Run {
        host_cmd_warned(project, Some(&self.url), args, true)
    }

    /// Runs `host` as this role and asserts it succeeded without a word on stderr.
    fn ok(&self, project: &Path, args: &[&str]) -> String {
        let run = self.host(project, args).ok();
        assert_eq!(run.stderr(), "", "host {args:?} as the owner");
        run.stdout()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let role = self.role.clone();
        let url = self.admin_url.clone();
        // On a thread of its own, like TestDb's drop: the sync client needs no runtime.
        let _ = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls)?;
            c.batch_execute(&format!(
                "REASSIGN OWNED BY \"{role}\" TO CURRENT_USER; DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""
            ))
        })
        .join();
    }
}

/// A database at the TaskMan-v2 head, migrated by its owner, with guest `id`
/// on top of the project; and the state to compare with.
fn owned_at_head_with(id: &str) -> (TestDb, Owner, tempfile::TempDir, State) {
    let db = TestDb::new();
    let owner = Owner::of(&db);
    let project = project_with(&[id]);
    owner.ok(project.path(), &["upgrade", REV3]);
    let before = state(&db);
    (db, owner, project, before)
}

/// Runs guest `id` to head as the owner: refused with one line naming it and
/// SQLSTATE `code`, rolled back, its canary gone. Returns the line.
fn denied(
    db: &TestDb,
    owner: &Owner,
    project: &Path,
    before: &State,
    id: &str,
    canary: &str,
    code: &str,
) -> String {
    let line = refused(db, before, owner.host(project, &["run", "head"]), id);
    assert!(line.contains(&format!("SQLSTATE {code}")), "{line}");
    assert!(line.contains("rolled back"), "{line}");
    assert!(!table_exists(db, canary), "{canary} survived: {line}");
    line
}

#[test]
fn an_owner_cannot_run_a_program_on_the_server() {
    let witness = Path::new("/tmp/host-e00000000060-ran-a-program");
    let _ = std::fs::remove_file(witness);
    let (db, owner, project, before) = owned_at_head_with("e00000000060");
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000060",
        "canary_copies_to_program",
        "42501",
    );
    assert!(line.contains("pg_execute_server_program"), "{line}");
    assert!(!witness.exists(), "the program ran: {line}");
}

#[test]
fn an_owner_cannot_read_a_file_of_the_server() {
    let (db, owner, project, before) = owned_at_head_with("e00000000061");
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000061",
        "canary_reads_server_files",
        "42501",
    );
    assert!(
        line.contains("permission denied for function pg_read_file"),
        "{line}"
    );
}

#[test]
fn an_owner_cannot_copy_a_file_of_the_server_into_a_table() {
    let (db, owner, project, before) = owned_at_head_with("e00000000065");
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000065",
        "canary_copies_from_a_server_file",
        "42501",
    );
    assert!(line.contains("pg_read_server_files"), "{line}");
}

#[test]
fn an_owner_cannot_import_a_file_of_the_server() {
    let (db, owner, project, before) = owned_at_head_with("e00000000064");
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000064",
        "canary_imports_a_server_file",
        "42501",
    );
    assert!(line.contains("lo_import"), "{line}");
    let objects: i64 = db
        .client()
        .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
        .unwrap()
        .get(0);
    assert_eq!(objects, 0, "{line}");
}

#[test]
fn an_owner_cannot_grant_itself_the_role_that_runs_programs() {
    let (db, owner, project, before) = owned_at_head_with("e00000000063");
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000063",
        "canary_grants_itself_server_programs",
        "42501",
    );
    assert!(line.contains("pg_execute_server_program"), "{line}");
    let member: bool = db
        .client()
        .query_one(
            "SELECT pg_has_role($1, 'pg_execute_server_program', 'MEMBER')",
            &[&owner.role],
        )
        .unwrap()
        .get(0);
    assert!(!member, "{line}");
}

#[test]
fn an_owner_cannot_install_dblink_to_commit_outside_its_transaction() {
    let (db, owner, project, before) = owned_at_head_with("e00000000062");
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000062",
        "canary_commits_through_dblink",
        "42501",
    );
    assert!(
        line.contains("permission denied to create extension \"dblink\""),
        "{line}"
    );
    assert!(!table_exists(&db, "escaped_through_dblink"), "{line}");
}

#[test]
fn where_an_administrator_installed_dblink_an_owner_still_cannot_connect_with_it() {
    let db = TestDb::new();
    let owner = Owner::of(&db);
    let project = project_with(&["e00000000062"]);
    owner.ok(project.path(), &["upgrade", REV3]);
    db.client()
        .batch_execute("CREATE EXTENSION dblink")
        .unwrap();
    let before = state(&db);
    // dblink refuses a non-superuser a connection the server did not ask a password for.
    let line = denied(
        &db,
        &owner,
        project.path(),
        &before,
        "e00000000062",
        "canary_commits_through_dblink",
        "2F003",
    );
    assert!(line.contains("password is required"), "{line}");
    assert!(!table_exists(&db, "escaped_through_dblink"), "{line}");
}

#[test]
fn an_owner_runs_the_taskman_revisions_and_every_command_of_a_normal_run() {
    let db = TestDb::new();
    let owner = Owner::of(&db);
    let project = project_with(&[]);
    let p = project.path();
    let out = owner.ok(p, &["run", "head"]);
    assert!(
        out.contains("The database is at 934f38a4fc73 (head)"),
        "{out}"
    );
    assert_eq!(owner.ok(p, &["current"]).trim(), "934f38a4fc73 (head)");
    owner.ok(p, &["history"]);
    let out = owner.ok(p, &["verify"]);
    assert!(out.contains("Verified"), "{out}");
    // The lock has the head's fingerprint, so check needs no scratch database.
    let out = owner.ok(p, &["check"]);
    assert!(out.contains("No drift"), "{out}");
    let out = owner.ok(p, &["downgrade", "base"]);
    assert!(out.contains("The database is at base"), "{out}");
    owner.ok(p, &["run", "head"]);
    owner.ok(p, &["stamp", REV3]);

    // A replay needs a scratch database, which a role without CREATEDB cannot make.
    let err = owner.host(p, &["verify", "--replay"]).fails();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "role \"{}\" may not create databases (SQLSTATE 42501)",
            owner.role
        )) && err.contains(&format!("ALTER ROLE \"{}\" CREATEDB", owner.role)),
        "{err}"
    );
    // What the error says to do works.
    db.client()
        .batch_execute(&format!("ALTER ROLE \"{}\" CREATEDB", owner.role))
        .unwrap();
    let out = owner.ok(p, &["verify", "--replay"]);
    assert!(out.contains("Verified"), "{out}");
}

/// The lines of `run`'s stderr that are the superuser warning.
fn warnings(run: &Run) -> Vec<String> {
    run.stderr()
        .lines()
        .filter(|l| l.starts_with("warning: connected as "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_superuser_run_says_on_every_run_what_a_revision_can_reach() {
    let db = TestDb::new();
    let project = project_with(&["e00000000061"]);
    let p = project.path();
    let run = host_cmd_warned(p, Some(&db.url), &["upgrade", REV3], true).ok();
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let line = stderr.trim();
    assert!(line.starts_with("warning: connected as \""), "{line}");
    assert!(line.contains(SUPERUSER_WARNING), "{line}");
    assert!(
        line.contains("README \"What a revision can reach\"")
            && line.contains("HOST_ALLOW_SUPERUSER=1"),
        "{line}"
    );

    // Every run, and the guest that an owner could not run reads the server's file.
    let run = host_cmd_warned(p, Some(&db.url), &["run", "head"], true).ok();
    assert_eq!(warnings(&run), vec![line.to_owned()]);
    let loot: String = db
        .client()
        .query_one("SELECT loot FROM canary_reads_server_files", &[])
        .unwrap()
        .get(0);
    assert!(
        loot.contains("root:"),
        "the superuser's revision read /etc/passwd"
    );
    let run = host_cmd_warned(p, Some(&db.url), &["run", "head"], true).ok();
    assert_eq!(
        warnings(&run).len(),
        1,
        "a run with nothing to do says it too"
    );
    let run = host_cmd_warned(p, Some(&db.url), &["verify", "--replay"], true).ok();
    assert_eq!(warnings(&run).len(), 1, "a replay runs revisions");

    // Commands that run no revision say nothing.
    for args in [
        &["current"][..],
        &["history"],
        &["run", "head", "--plan"],
        &["verify"],
    ] {
        let run = host_cmd_warned(p, Some(&db.url), args, true).ok();
        assert_eq!(run.stderr(), "", "host {args:?}");
    }

    // A user who migrates as a superuser on purpose silences it.
    let run = host_cmd_warned(p, Some(&db.url), &["downgrade", REV3], false).ok();
    assert_eq!(run.stderr(), "");
}

#[test]
fn a_member_of_pg_read_server_files_is_warned_and_copies_the_server_file() {
    let db = TestDb::new();
    let owner = Owner::of(&db);
    db.client()
        .batch_execute(&format!("GRANT pg_read_server_files TO \"{}\"", owner.role))
        .unwrap();
    let project = project_with(&["e00000000065"]);
    let run = owner.host(project.path(), &["run", "head"]).ok();
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr());
    assert!(
        warned[0].contains(&format!(
            "connected as \"{}\", a holder of pg_read_server_files: a revision can read the server's files",
            owner.role
        )),
        "{}",
        warned[0]
    );
    assert!(!warned[0].contains("PROGRAM"), "{}", warned[0]);
    let root: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM canary_copies_from_a_server_file WHERE loot LIKE 'root:%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(root, 1, "the member's revision copied /etc/passwd");
}
