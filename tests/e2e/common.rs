//! Shared test plumbing: a PostgreSQL server (DATABASE_URL, else the local
//! one, else the embedded cluster), one fresh database per test, and the
//! `host` binary run as a user would.

use host::lock::{LOCK_FILE, Lock};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The TaskMan-v2 revision ids, in order.
pub const REV1: &str = "c7bb9a9f0570";
pub const REV2: &str = "a1b2c3d4e5f6";
pub const REV3: &str = "934f38a4fc73";

/// Repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The committed TaskMan-v2 project.
pub fn taskman() -> PathBuf {
    repo().join("migrations-wasm")
}

fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Connection settings of the server the tests use, as key=value pairs without dbname.
fn server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let cfg: postgres::Config = url.parse().expect("DATABASE_URL parses");
            return to_kv(&cfg);
        }
        let local = "host=127.0.0.1 port=5432 user=postgres connect_timeout=3";
        if postgres::Client::connect(&format!("{local} dbname=postgres"), postgres::NoTls).is_ok() {
            return local.to_string();
        }
        // No server around: run the project's embedded cluster, as `host` itself would.
        let state = repo().join("target").join("e2e-cluster");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // As its superuser: the tests create databases and roles.
        let url = rt
            .block_on(host::db::cluster::Cluster::new(state).ensure_running())
            .expect("no DATABASE_URL, no server on 127.0.0.1:5432, and the embedded cluster did not start")
            .admin;
        let cfg: postgres::Config = url.parse().unwrap();
        to_kv(&cfg)
    })
}

fn to_kv(cfg: &postgres::Config) -> String {
    let mut parts = Vec::new();
    if let Some(h) = cfg.get_hosts().first() {
        let h = match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        parts.push(format!("host={}", quote(&h)));
    }
    if let Some(p) = cfg.get_ports().first() {
        parts.push(format!("port={p}"));
    }
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={}", quote(u)));
    }
    if let Some(p) = cfg.get_password() {
        parts.push(format!("password={}", quote(&String::from_utf8_lossy(p))));
    }
    parts.join(" ")
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    name: String,
    /// Connection string for this database.
    pub url: String,
}

impl TestDb {
    /// Creates a fresh, empty database.
    pub fn new() -> TestDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "host_e2e_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut admin = admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let url = format!("{} dbname={name}", server());
        TestDb { name, url }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new connection to this database.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Rows of the heads table, sorted; empty when the table is missing.
    pub fn heads(&self) -> Vec<String> {
        let mut c = self.client();
        let exists: bool = c
            .query_one("SELECT to_regclass('alembic_version') IS NOT NULL", &[])
            .unwrap()
            .get(0);
        if !exists {
            return vec![];
        }
        let mut v: Vec<String> = c
            .query("SELECT version_num FROM alembic_version", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        v.sort();
        v
    }

    /// (revision, direction) of every history row, oldest first.
    pub fn history(&self) -> Vec<(String, String)> {
        self.client()
            .query(
                "SELECT revision, direction FROM host_history ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    /// Runs `host <args>` against this database and the given project.
    pub fn host(&self, project: &Path, args: &[&str]) -> Run {
        host_cmd(project, Some(&self.url), args)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // On a thread of its own: the sync client must not run inside an async test's runtime.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || admin().batch_execute(&sql)).join();
    }
}

fn admin() -> postgres::Client {
    postgres::Client::connect(&format!("{} dbname=postgres", server()), postgres::NoTls)
        .expect("cannot connect to the test server")
}

/// A fresh database and an async client on it, for `#[tokio::test]`s.
pub async fn async_db() -> (tokio_postgres::Client, TestDb) {
    let db = tokio::task::spawn_blocking(TestDb::new).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, db)
}

/// What one `host` process did.
pub struct Run {
    /// Exit status, stdout, stderr.
    pub output: Output,
}

impl Run {
    /// Standard output as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard error as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Panics with the output unless the process succeeded.
    pub fn ok(self) -> Run {
        assert!(
            self.output.status.success(),
            "host failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Panics with the output unless the process failed; returns stderr.
    pub fn fails(self) -> String {
        assert!(
            !self.output.status.success(),
            "host unexpectedly succeeded\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }
}

/// Where the tests' `host` keeps its own state (its cache key): not the user's.
pub fn state_dir() -> PathBuf {
    repo().join("target").join("e2e-state")
}

/// Runs the `host` binary in a clean environment (no DATABASE_URL, no .env).
/// The tests connect as the server's superuser, so the warning every run
/// then prints is silenced (`hostile_privilege.rs` tests it).
pub fn host_cmd(project: &Path, url: Option<&str>, args: &[&str]) -> Run {
    host_cmd_in(project, url, args, &state_dir(), false)
}

/// The `host` binary, keeping its own state in the tests' [`state_dir`], and
/// with the superuser warning silenced.
pub fn host_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.env("HOST_STATE_DIR", state_dir());
    cmd.env("HOST_ALLOW_SUPERUSER", "1");
    cmd
}

/// `host_cmd` with the host's own state (its cache key) in `state`.
pub fn host_cmd_with_state(project: &Path, url: Option<&str>, args: &[&str], state: &Path) -> Run {
    host_cmd_in(project, url, args, state, false)
}

/// [`host_cmd`], with the superuser warning left on when `warn` is true.
pub fn host_cmd_warned(project: &Path, url: Option<&str>, args: &[&str], warn: bool) -> Run {
    host_cmd_in(project, url, args, &state_dir(), warn)
}

fn host_cmd_in(project: &Path, url: Option<&str>, args: &[&str], state: &Path, warn: bool) -> Run {
    let mut cmd = host_command();
    cmd.env("HOST_STATE_DIR", state);
    if warn {
        cmd.env_remove("HOST_ALLOW_SUPERUSER");
    }
    cmd.arg("--migrations").arg(project);
    if let Some(u) = url {
        cmd.arg("--database-url").arg(u);
    }
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("DATABASE_URL")
        .env_remove("HOST_MIGRATIONS");
    for (k, _) in std::env::vars() {
        if k.starts_with("APP_DATABASE__") {
            cmd.env_remove(k);
        }
    }
    Run {
        output: cmd.output().expect("the host binary runs"),
    }
}

/// A copy of the TaskMan-v2 project plus the named revisions of `tests/guests`,
/// in a temporary folder the test may change.
pub fn project_with(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut lock = read_lock(&taskman());
    copy_components(&taskman(), dir.path(), &lock);
    for id in extra {
        // Test revisions live in two projects: plain guests and WASI guests.
        let (folder, rev) = ["guests", "guests-wasi", "guests-notx"]
            .iter()
            .find_map(|f| {
                let folder = repo().join("tests").join(f);
                read_lock(&folder).get(id).cloned().map(|r| (folder, r))
            })
            .unwrap_or_else(|| {
                panic!("no test revision {id} in tests/guests or tests/guests-wasi")
            });
        lock.revisions.push(rev.clone());
        let dst = dir.path().join(&rev.file);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(folder.join(&rev.file), dst).unwrap();
    }
    std::fs::write(dir.path().join(LOCK_FILE), lock.to_toml()).unwrap();
    dir
}

fn read_lock(project: &Path) -> Lock {
    let path = project.join(LOCK_FILE);
    Lock::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

fn copy_components(from: &Path, to: &Path, lock: &Lock) {
    for rev in &lock.revisions {
        let src = from.join(&rev.file);
        if src.exists() {
            let dst = to.join(&rev.file);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
