//! Migration packages end to end against a real OCI registry (Debian's
//! `docker-registry`, started once per test process on a free loopback port):
//! keygen, build, sign, publish, search, install by tag and by digest, run,
//! upgrade and downgrade on the TaskMan-v2 tables; and the refusals, each of
//! which must leave the project exactly as it was. Each test publishes into a
//! namespace of its own.

use crate::common::{REV3, Run, TestDb, host_cmd, project_with, repo};
use host::lock::{LOCK_FILE, Lock};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The registry binary Debian's `docker-registry` package installs.
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry serving for the whole test process.
struct TestRegistry {
    /// `127.0.0.1:<port>`.
    addr: String,
    /// Its storage folder (tests tamper with blobs in it).
    storage: PathBuf,
}

/// The anonymous registry, started on first use.
fn registry() -> &'static TestRegistry {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| start_registry(None))
}

/// A registry that wants basic credentials (`tests/registry/htpasswd`).
fn auth_registry() -> &'static TestRegistry {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| start_registry(Some(&repo().join("tests/registry/htpasswd"))))
}

/// Starts a registry. It is started from a thread that lives as long as the
/// test process, with a parent-death signal, so it goes away when the tests
/// end however they end.
fn start_registry(htpasswd: Option<&Path>) -> TestRegistry {
    {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: apt-get install docker-registry"
        );
        let base = repo().join("target").join("e2e-registry");
        // Storage of earlier runs whose process is gone.
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let suffix = if htpasswd.is_some() { "-auth" } else { "" };
        let dir = base.join(format!("{}{suffix}", std::process::id()));
        let storage = dir.join("data");
        std::fs::create_dir_all(&storage).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{}",
                storage.display(),
                htpasswd
                    .map(|p| format!("auth:\n  htpasswd:\n    realm: e2e\n    path: {}\n", p.display()))
                    .unwrap_or_default()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt as _;
            let mut cmd = std::process::Command::new(REGISTRY_BIN);
            cmd.arg("serve")
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            // SAFETY: prctl is async-signal-safe and touches no memory of ours.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn();
            tx.send(child.as_ref().map(|_| ()).map_err(|e| e.to_string()))
                .unwrap();
            // The death signal follows this thread: it must outlive every test.
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap().expect("docker-registry starts");
        // Ready when it answers the API's version check.
        let ready = (0..200).any(|_| {
            let ok = std::net::TcpStream::connect(&addr).is_ok_and(|mut s| {
                use std::io::{Read as _, Write as _};
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut reply = String::new();
                let _ = s.read_to_string(&mut reply);
                // 401 is the protected registry's normal answer.
                ["200", "401"].iter().any(|s| reply.get(9..12) == Some(*s))
            });
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            ok
        });
        assert!(
            ready,
            "docker-registry did not answer on {addr}; see {}",
            dir.join("registry.log").display()
        );
        TestRegistry { addr, storage }
    }
}

/// Runs `host` for project-less commands (keygen, package, publish, search).
fn host(args: &[&str]) -> Run {
    host_cmd(&std::env::temp_dir(), None, args)
}

/// A signing key: (private key file, public key text), in `dir`.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let base = dir.join(name);
    let out = host(&["keygen", base.to_str().unwrap()]).ok().stdout();
    assert!(out.contains("keep it secret"), "{out}");
    let public = std::fs::read_to_string(base.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string();
    assert!(out.contains(&public), "{out}");
    (base.with_extension("key"), public)
}

/// A copy of `packages/<name>` (declaration, lock, components) in namespace
/// `ns` at `version`, keeping only the revisions in `keep` when given.
fn package_copy(name: &str, ns: &str, version: &str, keep: Option<&[&str]>) -> tempfile::TempDir {
    let src = repo().join("packages").join(name);
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(src.join("package.toml")).unwrap();
    let spec = spec
        .replace("namespace = \"pgwasm\"", &format!("namespace = \"{ns}\""))
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("package.toml"), spec).unwrap();
    let mut lock = read_lock(&src);
    if let Some(keep) = keep {
        lock.revisions.retain(|r| keep.contains(&r.id.as_str()));
    }
    for r in &lock.revisions {
        let dst = dir.path().join(&r.file);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src.join(&r.file), dst).unwrap();
    }
    std::fs::write(dir.path().join(LOCK_FILE), lock.to_toml()).unwrap();
    dir
}

fn read_lock(dir: &Path) -> Lock {
    let path = dir.join(LOCK_FILE);
    Lock::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

/// `host package build --locked` and `host package sign`.
fn build_and_sign(pkg: &Path, key: &Path) {
    let out = host(&["package", "build", "--locked", pkg.to_str().unwrap()])
        .ok()
        .stdout();
    assert!(out.contains("Built "), "{out}");
    host(&[
        "package",
        "sign",
        pkg.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ])
    .ok();
}

/// `host publish`; returns the printed index digest.
fn publish(pkg: &Path, reference: &str) -> String {
    let out = host(&["publish", reference, "--package", pkg.to_str().unwrap()])
        .ok()
        .stdout();
    out.split(['(', ')'])
        .find(|s| s.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {out}"))
        .to_string()
}

/// The TaskMan-v2 project trusting `keys` for namespace `ns`.
fn project_trusting(ns: &str, keys: &[&str]) -> tempfile::TempDir {
    let project = project_with(&[]);
    let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    std::fs::write(
        project.path().join("host.toml"),
        format!("# trust\n[trust]\n\"{ns}\" = [{}]\n", keys.join(", ")),
    )
    .unwrap();
    project
}

/// Everything an install may write: lock, settings, installed components.
fn snapshot(project: &Path) -> (String, String, bool) {
    (
        std::fs::read_to_string(project.join(LOCK_FILE)).unwrap(),
        std::fs::read_to_string(project.join("host.toml")).unwrap_or_default(),
        project.join("packages").exists(),
    )
}

/// Installs and expects a refusal naming `expected`, with nothing written.
fn refused(db: &TestDb, project: &Path, reference: &str, extra: &[&str], expected: &str) -> String {
    let before = snapshot(project);
    let mut args = vec!["install", reference];
    args.extend_from_slice(extra);
    let err = db.host(project, &args).fails();
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
    assert!(err.contains("othing was installed"), "{err}");
    assert_eq!(
        snapshot(project),
        before,
        "a refused install changed the project"
    );
    err
}

fn scalar(db: &TestDb, sql: &str) -> Option<String> {
    db.client().query_one(sql, &[]).unwrap().get(0)
}

fn triggers(db: &TestDb) -> Vec<String> {
    let mut v: Vec<String> = db
        .client()
        .query(
            "SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

/// Inserts a `projects` row with `updated_at` long ago, filling every
/// required column with a value of its type.
fn insert_project(db: &TestDb, id: &str) {
    let mut c = db.client();
    let cols = c
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'projects' AND is_nullable = 'NO' AND column_default IS NULL AND column_name <> 'id'",
            &[],
        )
        .unwrap();
    let mut names = vec!["id".to_string(), "updated_at".to_string()];
    let mut values = vec![format!("'{id}'"), "'2000-01-01T00:00:00Z'".to_string()];
    for row in cols {
        let (name, ty): (String, String) = (row.get(0), row.get(1));
        names.push(format!("\"{name}\""));
        values.push(
            match ty.as_str() {
                "jsonb" | "json" => "'{}'",
                "boolean" => "'false'",
                "timestamp with time zone" | "timestamp without time zone" => "'now'",
                "date" => "'today'",
                _ => "'1'",
            }
            .to_string(),
        );
    }
    c.batch_execute(&format!(
        "INSERT INTO projects ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    ))
    .unwrap();
}

/// Whether `UPDATE projects SET id = id` moved the row's updated_at from 2000.
fn noop_update_bumps(db: &TestDb, id: &str) -> bool {
    let mut c = db.client();
    // Back to 2000 with the triggers out of the way, then an UPDATE that changes nothing.
    c.batch_execute(&format!(
        "ALTER TABLE projects DISABLE TRIGGER USER; UPDATE projects SET updated_at = '2000-01-01T00:00:00Z' WHERE id = '{id}'; ALTER TABLE projects ENABLE TRIGGER USER; UPDATE projects SET id = id WHERE id = '{id}'"
    ))
    .unwrap();
    let year: f64 = c
        .query_one(
            "SELECT extract(year FROM updated_at)::float8 FROM projects WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    year > 2000.0
}

fn transcripts(db: &TestDb, revision: &str) -> Vec<String> {
    db.client()
        .query(
            "SELECT transcript_blake3 FROM host_history WHERE revision = $1 AND direction = 'upgrade' ORDER BY id",
            &[&revision],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

const UA1: &str = "0a7e5a000001";
const UA2: &str = "0a7e5a000002";
const AUDIT: &str = "a0d170000001";

#[test]
fn publish_search_install_upgrade_and_downgrade_updated_at() {
    let reg = registry();
    let ns = "e2e-updated";
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path(), "publisher");
    let v1 = package_copy("updated-at", ns, "1.0.0", Some(&[UA1]));
    let v11 = package_copy("updated-at", ns, "1.1.0", None);
    build_and_sign(v1.path(), &key);
    build_and_sign(v11.path(), &key);
    let base = format!("{}/{ns}/updated-at", reg.addr);
    publish(v1.path(), &format!("{base}:1.0.0"));
    publish(v11.path(), &format!("{base}:1.1.0"));
    // Publishing the same bytes again is harmless; other bytes under a published version are not.
    publish(v1.path(), &format!("{base}:1.0.0"));
    let err = host(&[
        "publish",
        &format!("{base}:1.0.0"),
        "--package",
        v11.path().to_str().unwrap(),
    ])
    .fails();
    assert!(err.contains("publish as"), "{err}");

    // A plain wasm component (not a package) in a repository next to it.
    let client = host::package::oci::Registry::new(&reg.addr, false, None);
    let art = host::package::artifact::revision_artifact(b"\0asm\x0d\0\x01\0", &[], &[], "plain");
    let wasm_repo = format!("{ns}/plain-wasm");
    client.push_blob(&wasm_repo, &art.config).unwrap();
    client.push_blob(&wasm_repo, b"\0asm\x0d\0\x01\0").unwrap();
    client
        .push_manifest(&wasm_repo, "1.0.0", &art.manifest)
        .unwrap();
    let found = host(&["search", &reg.addr, "e2e-updated"]).ok().stdout();
    assert!(!found.contains("plain-wasm"), "{found}");
    assert!(
        found.contains(&format!("{base}  1.0.0, 1.1.0  BEFORE UPDATE triggers")),
        "{found}"
    );
    let none = host(&["search", &reg.addr, "no-such-package"])
        .ok()
        .stdout();
    assert!(none.contains("No migration packages"), "{none}");

    let db = TestDb::new();
    let project = project_trusting(ns, &[&public]);
    let p = project.path();
    let plain = format!("{}/{wasm_repo}:1.0.0", reg.addr);
    refused(&db, p, &plain, &[], "not a migration package");
    let out = db
        .host(
            p,
            &[
                "install",
                &format!("{base}:1.0.0"),
                "--param",
                "tables=tasks,projects",
            ],
        )
        .ok()
        .stdout();
    assert!(
        out.contains(&format!("Installed {ns}/updated-at@1.0.0")),
        "{out}"
    );
    assert!(out.contains(&format!("added {UA1}")), "{out}");
    let settings = std::fs::read_to_string(p.join("host.toml")).unwrap();
    assert!(settings.starts_with("# trust\n"), "{settings}");
    assert!(
        settings.contains(&format!(
            "[packages.\"{ns}/updated-at\".params]\ntables = \"tasks,projects\""
        )),
        "{settings}"
    );
    let lock = read_lock(p);
    let root = lock.get(UA1).unwrap();
    assert_eq!(
        root.down_revisions,
        vec![REV3.to_string()],
        "the package continues the project's head"
    );
    assert_eq!(
        root.package.as_deref(),
        Some("e2e-updated/updated-at@1.0.0")
    );
    assert!(p.join(&root.file).exists());
    let list = db.host(p, &["package", "list"]).ok().stdout();
    assert!(
        list.contains("e2e-updated/updated-at@1.0.0")
            && list.contains("tables = \"tasks,projects\""),
        "{list}"
    );

    let out = db.host(p, &["run", "head"]).ok().stdout();
    assert!(
        out.contains(&format!("{REV3} -> {UA1}, updated_at triggers")),
        "{out}"
    );
    assert_eq!(
        triggers(&db),
        [
            "projects.projects_set_updated_at",
            "tasks.tasks_set_updated_at"
        ]
    );
    insert_project(&db, "p1");
    assert!(
        noop_update_bumps(&db, "p1"),
        "1.0.0 bumps updated_at on every UPDATE"
    );

    // Upgrade the package: 1.1.0 adds a revision on top of the installed one.
    let out = db
        .host(p, &["install", &format!("{base}:1.1.0")])
        .ok()
        .stdout();
    assert!(
        out.contains(&format!("added {UA2}")) && out.contains(&format!("already installed: {UA1}")),
        "{out}"
    );
    assert!(
        out.contains("tables = \"tasks,projects\""),
        "parameters are kept: {out}"
    );
    let out = db.host(p, &["run", "head"]).ok().stdout();
    assert!(out.contains(&format!("{UA1} -> {UA2}")), "{out}");
    assert!(
        !noop_update_bumps(&db, "p1"),
        "1.1.0 leaves unchanged rows alone"
    );
    let err = db.host(p, &["install", &format!("{base}:1.0.0")]).fails();
    assert!(err.contains("which is newer"), "{err}");

    // Downgrade: each revision's own downgrade undoes it.
    db.host(p, &["downgrade", "-1"]).ok();
    assert!(noop_update_bumps(&db, "p1"), "back to 1.0.0's function");
    db.host(p, &["downgrade", REV3]).ok();
    assert!(triggers(&db).is_empty());
    assert_eq!(
        scalar(&db, "SELECT to_regproc('host_set_updated_at')::text"),
        None
    );
    assert_eq!(db.heads(), vec![REV3.to_string()]);

    // The parameters are part of what a run is: other parameters, another transcript,
    // even for a revision whose SQL does not read them.
    db.host(p, &["fingerprint"]).ok();
    assert!(read_lock(p).get(UA2).unwrap().transcript.is_some());
    let range = format!("{REV3}:head");
    let script = db.host(p, &["upgrade", "--sql", &range]).ok().stdout();
    assert!(script.contains("\"projects_set_updated_at\""), "{script}");
    db.host(
        p,
        &[
            "install",
            &format!("{base}:1.1.0"),
            "--param",
            "tables=tasks",
        ],
    )
    .ok();
    // The offline script is remembered per parameters too.
    let script = db.host(p, &["upgrade", "--sql", &range]).ok().stdout();
    assert!(!script.contains("\"projects_set_updated_at\""), "{script}");
    assert!(script.contains("\"tasks_set_updated_at\""), "{script}");
    let lock = read_lock(p);
    assert!(
        lock.get(UA1).unwrap().transcript.is_none() && lock.get(UA2).unwrap().fingerprint.is_none(),
        "replays under the old parameters are forgotten"
    );
    assert!(lock.get(REV3).unwrap().transcript.is_some());
    db.host(p, &["run", "head"]).ok();
    assert_eq!(triggers(&db), ["tasks.tasks_set_updated_at"]);
    let t = transcripts(&db, UA2);
    assert_eq!(t.len(), 2);
    assert_ne!(t[0], t[1], "the parameters are hashed into the transcript");
}

#[test]
fn audit_log_installs_by_digest_next_to_updated_at() {
    let reg = registry();
    let ns = "e2e-audit";
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path(), "publisher");
    let audit = package_copy("audit-log", ns, "1.0.0", None);
    let updated = package_copy("updated-at", ns, "1.1.0", None);
    build_and_sign(audit.path(), &key);
    build_and_sign(updated.path(), &key);
    let digest = publish(audit.path(), &format!("{}/{ns}/audit-log:1.0.0", reg.addr));
    publish(
        updated.path(),
        &format!("{}/{ns}/updated-at:1.1.0", reg.addr),
    );

    let db = TestDb::new();
    let project = project_trusting(ns, &[&public]);
    let p = project.path();
    db.host(
        p,
        &["install", &format!("{}/{ns}/updated-at:1.1.0", reg.addr)],
    )
    .ok();
    let by_digest = format!("{}/{ns}/audit-log@{digest}", reg.addr);
    // `tables` has no default: the installer must choose.
    refused(&db, p, &by_digest, &[], "--param tables=");
    refused(
        &db,
        p,
        &by_digest,
        &["--param", "tabels=projects"],
        "has no parameter \"tabels\"",
    );
    refused(
        &db,
        p,
        &by_digest,
        &["--param", "tables=projects", "--depends-on", "nonexistent"],
        "neither a revision nor a branch label",
    );
    let out = db
        .host(
            p,
            &[
                "install",
                &by_digest,
                "--param",
                "tables=projects,tasks",
                "--depends-on",
                "c7bb9a9f0570",
            ],
        )
        .ok()
        .stdout();
    assert!(out.contains(&digest), "{out}");
    let lock = read_lock(p);
    assert_eq!(
        lock.get(AUDIT).unwrap().down_revisions,
        vec![UA2.to_string()]
    );
    assert_eq!(
        lock.get(AUDIT).unwrap().depends_on,
        vec!["c7bb9a9f0570".to_string()]
    );

    let out = db.host(p, &["run", "head"]).ok().stdout();
    assert!(
        out.contains(&format!("{UA2} -> {AUDIT}, audit_log table and triggers")),
        "{out}"
    );
    insert_project(&db, "p1");
    db.client()
        .batch_execute("UPDATE projects SET id = 'p2' WHERE id = 'p1'; DELETE FROM projects")
        .unwrap();
    let ops: Vec<(String, String, Option<String>)> = db
        .client()
        .query(
            "SELECT table_name, operation, row_id FROM audit_log ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        ops,
        [
            ("projects".into(), "INSERT".into(), Some("p1".into())),
            ("projects".into(), "UPDATE".into(), Some("p2".into())),
            ("projects".into(), "DELETE".into(), Some("p2".into())),
        ]
    );
    db.host(p, &["downgrade", "-1"]).ok();
    assert_eq!(scalar(&db, "SELECT to_regclass('audit_log')::text"), None);
    // What stays is updated-at on its default table.
    assert_eq!(triggers(&db), ["tasks.tasks_set_updated_at"]);
    assert_eq!(db.heads(), vec![UA2.to_string()]);
}

#[test]
fn tampered_layer_is_refused() {
    let reg = registry();
    let ns = "e2e-tamper";
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path(), "publisher");
    let pkg = package_copy("audit-log", ns, "1.0.0", None);
    build_and_sign(pkg.path(), &key);
    let reference = format!("{}/{ns}/audit-log:1.0.0", reg.addr);
    publish(pkg.path(), &reference);
    // Alter the component's bytes where the registry keeps them.
    let index: host::package::index::PackageIndex =
        serde_json::from_slice(&std::fs::read(pkg.path().join("dist").join("index.json")).unwrap())
            .unwrap();
    let hex = index.revisions[0]
        .layer_digest
        .trim_start_matches("sha256:")
        .to_string();
    let blob = reg
        .storage
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(&hex)
        .join("data");
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let db = TestDb::new();
    let project = project_trusting(ns, &[&public]);
    refused(
        &db,
        project.path(),
        &reference,
        &["--param", "tables=projects"],
        "tampered with",
    );
}

#[test]
fn wrong_signature_unknown_key_and_unsigned_are_refused() {
    let reg = registry();
    let ns = "e2e-signature";
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path(), "publisher");
    let (_, stranger) = keygen(keys.path(), "stranger");

    // A signature that does not match the index: `host publish` refuses it,
    // and a registry serving a forged index manifest under the tag is refused
    // at install.
    let pkg = package_copy("audit-log", ns, "1.0.0", None);
    build_and_sign(pkg.path(), &key);
    let bad = format!("{}/{ns}/audit-log:1.0.0", reg.addr);
    publish(pkg.path(), &bad);
    let sig_path = pkg.path().join("dist").join("signature.json");
    let mut corrupt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sig_path).unwrap()).unwrap();
    let s = corrupt["signature"].as_str().unwrap();
    let flipped = format!("{}{}", if s.starts_with('0') { "1" } else { "0" }, &s[1..]);
    corrupt["signature"] = flipped.clone().into();
    std::fs::write(&sig_path, corrupt.to_string()).unwrap();
    let package = pkg.path().to_str().unwrap();
    let err = host(&["publish", &bad, "--package", package]).fails();
    assert!(
        err.contains("does not verify") && err.contains("sign this build again"),
        "{err}"
    );
    let index_bytes = std::fs::read(pkg.path().join("dist").join("index.json")).unwrap();
    let index = host::package::index::PackageIndex::from_bytes(&index_bytes).unwrap();
    let forged = host::package::artifact::index_manifest(
        &index_bytes,
        &index.version,
        &index.description,
        corrupt["key"].as_str().unwrap(),
        &flipped,
    );
    host::package::oci::Registry::new(&reg.addr, false, None)
        .push_manifest(&format!("{ns}/audit-log"), "1.0.0", &forged)
        .unwrap();

    // A good signature by a key the project does not trust.
    let pkg2 = package_copy("updated-at", ns, "1.1.0", None);
    build_and_sign(pkg2.path(), &key);
    let good = format!("{}/{ns}/updated-at:1.1.0", reg.addr);
    publish(pkg2.path(), &good);

    // An unsigned package cannot even be published.
    let pkg3 = package_copy("updated-at", ns, "1.2.0", None);
    host(&[
        "package",
        "build",
        "--locked",
        pkg3.path().to_str().unwrap(),
    ])
    .ok();
    let err = host(&[
        "publish",
        &format!("{}/{ns}/updated-at:1.2.0", reg.addr),
        "--package",
        pkg3.path().to_str().unwrap(),
    ])
    .fails();
    assert!(
        err.contains("is not signed") && err.contains("host package sign"),
        "{err}"
    );

    let db = TestDb::new();
    let trusting = project_trusting(ns, &[&public]);
    refused(
        &db,
        trusting.path(),
        &bad,
        &["--param", "tables=projects"],
        "does not verify",
    );
    let other = project_trusting(ns, &[&stranger]);
    refused(&db, other.path(), &good, &[], "which is not a trusted key");
    let elsewhere = project_trusting("someone-else", &[&public]);
    let err = refused(
        &db,
        elsewhere.path(),
        &good,
        &[],
        "no key is trusted for namespace",
    );
    assert!(
        err.contains(&public),
        "the message shows the key to trust: {err}"
    );
    // The trusting project does install the good one.
    db.host(trusting.path(), &["install", &good]).ok();
}

#[test]
fn component_with_an_unlisted_import_is_refused() {
    let reg = registry();
    let ns = "e2e-imports";
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path(), "publisher");
    // A package whose revision imports wasi:filesystem (from the WASI test guests).
    let guests = repo().join("tests").join("guests-wasi");
    let mut lock = read_lock(&guests);
    lock.revisions.retain(|r| r.id == "f00000000002");
    lock.revisions[0].down_revisions.clear();
    let pkg = tempfile::tempdir().unwrap();
    let file = &lock.revisions[0].file;
    std::fs::create_dir_all(pkg.path().join("components")).unwrap();
    std::fs::copy(guests.join(file), pkg.path().join(file)).unwrap();
    std::fs::write(pkg.path().join(LOCK_FILE), lock.to_toml()).unwrap();
    std::fs::write(
        pkg.path().join("package.toml"),
        format!("[package]\nnamespace = \"{ns}\"\nname = \"files\"\nversion = \"1.0.0\"\ndescription = \"reads files\"\n"),
    )
    .unwrap();
    let built = host(&["package", "build", "--locked", pkg.path().to_str().unwrap()])
        .ok()
        .stderr();
    assert!(built.contains("installers will refuse"), "{built}");
    build_and_sign(pkg.path(), &key);
    let reference = format!("{}/{ns}/files:1.0.0", reg.addr);
    publish(pkg.path(), &reference);

    let db = TestDb::new();
    let project = project_trusting(ns, &[&public]);
    let err = refused(&db, project.path(), &reference, &[], "wasi:filesystem");
    assert!(err.contains("does not give packages"), "{err}");
}

#[test]
fn a_missing_registry_or_package_is_named() {
    let reg = registry();
    let db = TestDb::new();
    let project = project_trusting("e2e-missing", &[]);
    refused(
        &db,
        project.path(),
        &format!("{}/e2e-missing/nothing:1.0.0", reg.addr),
        &[],
        "has no e2e-missing/nothing:1.0.0",
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = db
        .host(
            project.path(),
            &["install", &format!("{closed}/e2e-missing/nothing:1.0.0")],
        )
        .fails();
    assert!(err.contains(&closed.to_string()), "{err}");
}

#[test]
fn package_build_from_source_reproduces_the_committed_package() {
    // A copy named like the original, its guest-sdk a symlink as in the
    // repository: the build remaps both paths, so the bytes must be the same.
    let src = repo().join("packages").join("updated-at");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("updated-at");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["Cargo.toml", "Cargo.lock", "package.toml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    for krate in ["set_updated_at", "skip_unchanged_rows"] {
        std::fs::create_dir_all(dir.join(krate).join("src")).unwrap();
        for f in ["Cargo.toml", "src/lib.rs"] {
            std::fs::copy(src.join(krate).join(f), dir.join(krate).join(f)).unwrap();
        }
    }
    std::os::unix::fs::symlink(repo().join("guest-sdk"), dir.join("guest-sdk")).unwrap();
    let mut cmd = crate::common::host_command();
    cmd.args(["package", "build"])
        .arg(&dir)
        // Share compiled guest dependencies with the other building tests.
        .env("CARGO_TARGET_DIR", repo().join("target").join("e2e-guests"));
    let run = Run {
        output: cmd.output().unwrap(),
    };
    let out = run.ok().stdout();
    let built = std::fs::read(dir.join("dist").join("index.json")).unwrap();
    let committed = read_lock(&src);
    let index = host::package::index::PackageIndex::from_bytes(&built).unwrap();
    let hashes: Vec<&str> = index.revisions.iter().map(|r| r.blake3.as_str()).collect();
    let locked: Vec<&str> = committed
        .revisions
        .iter()
        .map(|r| r.blake3.as_str())
        .collect();
    assert_eq!(hashes, locked, "{out}");
    assert_eq!(index.version, "1.1.0");
    assert_eq!(index.revisions[1].down_revisions, [UA1]);
}

#[test]
fn a_registry_with_basic_auth_takes_credentials_from_the_environment() {
    let reg = auth_registry();
    let ns = "e2e-auth";
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path(), "publisher");
    let pkg = package_copy("updated-at", ns, "1.1.0", None);
    build_and_sign(pkg.path(), &key);
    let reference = format!("{}/{ns}/updated-at:1.1.0", reg.addr);
    let with_credentials = |password: &str, args: &[&str], project: &Path| {
        let mut cmd = crate::common::host_command();
        cmd.arg("--migrations")
            .arg(project)
            .args(args)
            .env("HOST_REGISTRY_USER", "e2e")
            .env("HOST_REGISTRY_PASSWORD", password)
            .env_remove("DATABASE_URL");
        Run {
            output: cmd.output().unwrap(),
        }
    };
    let package = pkg.path().to_str().unwrap();
    let err = host(&["publish", &reference, "--package", package]).fails();
    assert!(
        err.contains("HTTP 401") && err.contains("HOST_REGISTRY_USER"),
        "{err}"
    );
    let err = with_credentials(
        "wrong",
        &["publish", &reference, "--package", package],
        pkg.path(),
    )
    .fails();
    assert!(err.contains("HTTP 401"), "{err}");
    with_credentials(
        "e2e-password",
        &["publish", &reference, "--package", package],
        pkg.path(),
    )
    .ok();
    let found = with_credentials("e2e-password", &["search", &reg.addr], pkg.path())
        .ok()
        .stdout();
    assert!(found.contains("e2e-auth/updated-at  1.1.0"), "{found}");

    // Docker's config.json works too.
    let docker = tempfile::tempdir().unwrap();
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "ZTJlOmUyZS1wYXNzd29yZA=="}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let mut cmd = crate::common::host_command();
    cmd.args(["search", &reg.addr])
        .env("DOCKER_CONFIG", docker.path());
    let found = Run {
        output: cmd.output().unwrap(),
    }
    .ok()
    .stdout();
    assert!(found.contains("e2e-auth/updated-at  1.1.0"), "{found}");

    let db = TestDb::new();
    let project = project_trusting(ns, &[&public]);
    refused(
        &db,
        project.path(),
        &reference,
        &[],
        "HOST_REGISTRY_PASSWORD",
    );
    let mut install = vec![
        "--database-url",
        db.url.as_str(),
        "install",
        reference.as_str(),
    ];
    with_credentials("e2e-password", &install, project.path()).ok();
    install.truncate(2);
    install.extend(["run", "head"]);
    let out = with_credentials("e2e-password", &install, project.path())
        .ok()
        .stdout();
    assert!(out.contains(UA2), "{out}");
}
