//! Unit tests of the cluster's pure parts (permissions, socket paths,
//! conninfo, pid files, versions), then real clusters: the role host's runs
//! use owns the project's database and reaches nothing beyond it, in a new
//! cluster and in one an earlier host made.

use super::binaries::{binaries_major, major_of, version_key};
use super::layout::lock_state_dir;
use super::layout::{
    DirPerm, absolute_lenient, can_traverse, conninfo, conninfo_value, first_blocked, short_hash,
    socket_dir_problem,
};
use super::process::{PidFile, is_zombie, shell_quote};
use super::*;
use std::fs;
use std::path::Path;

fn perm(mode: u32, uid: u32, gid: u32) -> DirPerm {
    DirPerm { mode, uid, gid }
}

#[test]
fn traversal_follows_owner_then_group_then_others() {
    // Owner bits apply to the owner even when "others" would allow more.
    assert!(!can_traverse(perm(0o601, 101, 0), 101, 104));
    assert!(can_traverse(perm(0o700, 101, 0), 101, 104));
    assert!(can_traverse(perm(0o710, 0, 104), 101, 104));
    assert!(!can_traverse(perm(0o701, 0, 104), 101, 104));
    assert!(can_traverse(perm(0o701, 0, 0), 101, 104));
    assert!(!can_traverse(perm(0o700, 0, 0), 101, 104));
    assert!(can_traverse(perm(0o000, 5, 5), 0, 0));
}

#[test]
fn first_blocked_reports_the_outermost_closed_directory() {
    let dirs = vec![
        (PathBuf::from("/"), Some(perm(0o755, 0, 0))),
        (PathBuf::from("/root"), Some(perm(0o700, 0, 0))),
        (PathBuf::from("/root/p"), Some(perm(0o700, 0, 0))),
        (PathBuf::from("/root/p/.host"), None),
    ];
    let (dir, p) = first_blocked(&dirs, 101, 104).unwrap();
    assert_eq!(dir, PathBuf::from("/root"));
    assert_eq!(p.mode, 0o700);
    assert_eq!(first_blocked(&dirs[..1], 101, 104), None);
    // Directories yet to be created do not block.
    assert_eq!(first_blocked(&dirs[3..], 101, 104), None);
}

#[test]
fn socket_dir_falls_back_when_the_path_is_too_long() {
    // "/.s.PGSQL.5432" is 14 bytes, so a 93-byte directory just fits.
    let fits = format!("/{}", "a".repeat(92));
    assert_eq!(socket_dir_problem(Path::new(&fits), 5432), None);
    let too_long = format!("/{}", "a".repeat(93));
    let problem = socket_dir_problem(Path::new(&too_long), 5432).unwrap();
    assert!(problem.contains("108 bytes"), "{problem}");
    assert_eq!(
        socket_dir_problem(Path::new("/tmp/with space/sock"), 5432),
        None
    );
    assert!(socket_dir_problem(Path::new("/tmp/a,b/sock"), 5432).is_some());
    assert!(socket_dir_problem(Path::new("/tmp/it's/sock"), 5432).is_some());
}

#[test]
fn conninfo_quotes_only_when_needed() {
    assert_eq!(
        conninfo(Path::new("/tmp/x/sock"), 5432, MIGRATOR, DATABASE),
        "host=/tmp/x/sock port=5432 user=migrator dbname=app"
    );
    let quoted = conninfo(Path::new("/tmp/a b/sock"), 5432, SUPERUSER, SUPERUSER);
    assert!(quoted.starts_with("host='/tmp/a b/sock' "));
    let parsed: tokio_postgres::Config = quoted.parse().unwrap();
    assert_eq!(
        parsed.get_hosts(),
        &[tokio_postgres::config::Host::Unix(PathBuf::from(
            "/tmp/a b/sock"
        ))]
    );
    assert_eq!(conninfo_value(r"a'b\c"), r"'a\'b\\c'");
}

#[test]
fn shell_quote_survives_single_quotes() {
    assert_eq!(shell_quote("/a b"), "'/a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
}

#[test]
fn short_hash_is_stable() {
    // Fixed values: the fallback folder name must not change between builds.
    assert_eq!(short_hash(b""), "cbf29ce48422");
    assert_eq!(short_hash(b"/root/p/.host/pg").len(), 12);
    assert_ne!(short_hash(b"/a"), short_hash(b"/b"));
}

#[test]
fn pid_file_parses_all_fields() {
    let text = "4242\n/p/data\n1700000000\n5432\n/p/sock\n\n  123456     7\nready   \n";
    let pid_file = PidFile::parse(text).unwrap();
    assert_eq!(pid_file.pid, 4242);
    assert_eq!(pid_file.port, Some(5432));
    assert_eq!(pid_file.socket_dir, Some(PathBuf::from("/p/sock")));
    assert_eq!(pid_file.status, "ready");
    let partial = PidFile::parse("4242\n/p/data\n").unwrap();
    assert_eq!(partial.status, "");
    assert_eq!(partial.socket_dir, None);
    assert!(PidFile::parse("").is_none());
    assert!(PidFile::parse("-1\n").is_none());
}

#[test]
fn versions_parse() {
    assert_eq!(version_key("15"), Some(vec![15]));
    assert_eq!(version_key("9.6"), Some(vec![9, 6]));
    assert_eq!(version_key("common"), None);
    let mut keys = [version_key("9.6"), version_key("16"), version_key("10")];
    keys.sort();
    assert_eq!(keys.last().unwrap(), &Some(vec![16]));
    assert_eq!(
        major_of("pg_ctl (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)").as_deref(),
        Some("15")
    );
    assert_eq!(
        major_of("pg_ctl (PostgreSQL) 9.6.24").as_deref(),
        Some("9.6")
    );
    assert_eq!(
        major_of("pg_ctl (PostgreSQL) 17beta1").as_deref(),
        Some("17")
    );
    assert_eq!(
        binaries_major(Path::new("/usr/lib/postgresql/16/bin")).as_deref(),
        Some("16")
    );
}

#[test]
fn zombies_are_recognised() {
    assert!(is_zombie("123 (postgres) Z 1 123 123 0"));
    assert!(is_zombie("123 (odd) name) Z 1"));
    assert!(!is_zombie("123 (postgres) S 1 123"));
}

#[test]
fn absolute_lenient_resolves_the_existing_prefix() {
    let cwd = std::env::current_dir().unwrap();
    let resolved = absolute_lenient(Path::new("no/such/dir/../x")).unwrap();
    assert_eq!(resolved, fs::canonicalize(&cwd).unwrap().join("no/such/x"));
    assert_eq!(
        absolute_lenient(Path::new("/")).unwrap(),
        PathBuf::from("/")
    );
}

// Real clusters below: initdb and a server per test, in a folder of its own.

/// A cluster in a fresh folder, stopped when the test ends however it ends.
struct Scratch {
    cluster: Cluster,
    _dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // The server's OS user (postgres, when the tests run as root) must enter it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            cluster: Cluster::new(dir.path().join("pg")),
            _dir: dir,
        }
    }

    /// Starts the server the way hosts before the migrating role did: initdb
    /// and pg_ctl, nothing created in it.
    async fn start_as_an_earlier_host(&self) -> String {
        let user = RunAs::current().unwrap();
        let layout = Layout::resolve(&self.cluster.state_dir, &user).unwrap();
        let deadline = Instant::now() + READY_TIMEOUT;
        let pid_file = {
            let _lock = lock_state_dir(&layout.state_dir).unwrap();
            start_locked(&layout, &user, deadline).unwrap()
        };
        let (socket_dir, port) = pid_file.endpoint(&layout);
        wait_ready(&layout, &socket_dir, port, deadline)
            .await
            .unwrap();
        conninfo(&socket_dir, port, SUPERUSER, SUPERUSER)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
    }
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect with {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// SQLSTATE of a statement that must fail.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> String {
    let e = client
        .batch_execute(sql)
        .await
        .expect_err(&format!("{sql} succeeded"));
    e.code().expect("a server error").code().to_owned()
}

/// Asserts that `url` connects as a LOGIN role with no attribute beyond its
/// database, owning it, and that what a revision could use to leave the
/// database (a program, a server file, dblink) is denied.
async fn assert_least_privilege(url: &str) {
    let c = client(url).await;
    let row = c
        .query_one(
            "SELECT r.rolname::text, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication,
                    r.rolbypassrls, r.rolcanlogin, pg_get_userbyid(d.datdba)::text, current_database()::text
             FROM pg_roles r, pg_database d
             WHERE r.rolname = session_user AND d.datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), MIGRATOR);
    for (i, attribute) in [
        "SUPERUSER",
        "CREATEDB",
        "CREATEROLE",
        "REPLICATION",
        "BYPASSRLS",
    ]
    .iter()
    .enumerate()
    {
        assert!(!row.get::<_, bool>(i + 1), "{MIGRATOR} has {attribute}");
    }
    assert!(row.get::<_, bool>(6), "{MIGRATOR} cannot log in");
    assert_eq!(row.get::<_, String>(7), MIGRATOR, "owner of the database");
    assert_eq!(row.get::<_, String>(8), DATABASE);
    let reach = crate::db::role::reach(&c).await.unwrap();
    assert!(!reach.escapes(), "{reach:?}");

    assert_eq!(
        refused(&c, "COPY (SELECT 1) TO PROGRAM 'true'").await,
        "42501"
    );
    assert_eq!(
        refused(&c, "SELECT pg_read_file('/etc/passwd')").await,
        "42501"
    );
    assert_eq!(refused(&c, "CREATE EXTENSION dblink").await, "42501");
    assert_eq!(refused(&c, "ALTER ROLE migrator SUPERUSER").await, "42501");
    // What revisions do: the owner creates in public and drops what it made.
    c.batch_execute("CREATE TABLE owned (id serial PRIMARY KEY); DROP TABLE owned")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_new_cluster_migrates_as_a_role_that_owns_the_database_and_nothing_more() {
    let scratch = Scratch::new();
    let endpoints = scratch.cluster.ensure_running().await.unwrap();
    assert!(
        endpoints.migrator.ends_with(" user=migrator dbname=app"),
        "{}",
        endpoints.migrator
    );
    assert_least_privilege(&endpoints.migrator).await;
    // The superuser stays, for the cluster's administration.
    let admin = client(&endpoints.admin).await;
    let su: bool = admin
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(su);
    // A second call finds everything in place (the fast path) and says the same.
    assert_eq!(scratch.cluster.ensure_running().await.unwrap(), endpoints);
    let status = scratch.cluster.status().unwrap().to_string();
    assert!(
        status.contains("role:     migrator, owner of the database app, not a superuser"),
        "{status}"
    );
    assert!(status.contains("user=migrator dbname=app"), "{status}");
}

#[tokio::test]
async fn a_cluster_made_by_an_earlier_host_is_handed_to_the_role_on_its_next_start() {
    let scratch = Scratch::new();
    let old_url = scratch.start_as_an_earlier_host().await;
    // What an earlier host left: the project in `postgres`, owned by the superuser.
    client(&old_url)
        .await
        .batch_execute(
            "CREATE TYPE status AS ENUM ('open', 'done');
             CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL, status status);
             CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
             INSERT INTO alembic_version VALUES ('934f38a4fc73');
             INSERT INTO tasks (title, status) VALUES ('kept', 'open');
             CREATE VIEW open_tasks AS SELECT * FROM tasks WHERE status = 'open';
             CREATE FUNCTION task_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM tasks';
             CREATE SCHEMA audit; CREATE TABLE audit.log (at timestamptz)",
        )
        .await
        .unwrap();

    let endpoints = scratch.cluster.ensure_running().await.unwrap();
    assert_least_privilege(&endpoints.migrator).await;
    let c = client(&endpoints.migrator).await;
    let head: String = c
        .query_one("SELECT version_num FROM alembic_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(head, "934f38a4fc73", "the project's data moved with it");
    // Every object is the role's now: it may change, and drop, what revisions made.
    c.batch_execute(
        "INSERT INTO tasks (title) VALUES ('new');
         ALTER TABLE tasks ADD COLUMN due date;
         ALTER TYPE status ADD VALUE 'blocked';
         ALTER VIEW open_tasks RENAME TO todo;
         DROP VIEW todo;
         DROP FUNCTION task_count();
         DROP SCHEMA audit CASCADE",
    )
    .await
    .unwrap();
    let admin = client(&endpoints.admin).await;
    let empty: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        empty, 0,
        "a new, empty postgres database administers the cluster"
    );

    // A start interrupted between the rename and the new `postgres` leaves none:
    // the next start still finds the server ready and makes it.
    drop(admin);
    client(
        &endpoints
            .admin
            .replace("dbname=postgres", "dbname=template1"),
    )
    .await
    .batch_execute("DROP DATABASE postgres WITH (FORCE)")
    .await
    .unwrap();
    assert!(scratch.cluster.stop().unwrap());
    let again = scratch.cluster.ensure_running().await.unwrap();
    assert_eq!(again, endpoints);
    client(&again.admin).await;
    assert_least_privilege(&again.migrator).await;
}
