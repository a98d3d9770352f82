//! The polyglot example project (migrations-wasm/polyglot): revisions in C,
//! Python and JavaScript, run from their committed components and rebuilt
//! from source with each language's toolchain.

use crate::common::{TestDb, host_cmd, repo};
use std::path::{Path, PathBuf};

const ROOT: &str = "3f1c0a7e5b21";
const C_REV: &str = "8d24c6e0a913";
const PY_REV: &str = "5b7e2f90c4d8";
const JS_REV: &str = "e6a1d3b8f072";

fn polyglot() -> PathBuf {
    repo().join("migrations-wasm").join("polyglot")
}

/// A copy of the polyglot project (sources, components, lock, host.toml).
/// Its compile cache is shared by every test and run: the Python and
/// JavaScript components bring an interpreter and take seconds to compile,
/// and the cache is keyed by component hash and engine, so sharing is safe.
fn polyglot_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&polyglot(), dir.path());
    std::fs::create_dir_all(dir.path().join(".host")).unwrap();
    std::os::unix::fs::symlink(shared_cache(), dir.path().join(".host").join("cache")).unwrap();
    dir
}

fn shared_cache() -> PathBuf {
    let cache = repo().join("target").join("polyglot-compile-cache");
    std::fs::create_dir_all(&cache).unwrap();
    cache
}

/// Like [`polyglot_copy`], for a test that builds components: Python and
/// JavaScript builds never give the same bytes twice, so their compiled code
/// goes to a private cache that starts as hard links to the shared one (the
/// cache replaces files by renaming, never writes through a link).
fn polyglot_copy_private_cache() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&polyglot(), dir.path());
    let cache = dir.path().join(".host").join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    for entry in std::fs::read_dir(shared_cache()).unwrap() {
        let entry = entry.unwrap();
        let dst = cache.join(entry.file_name());
        if std::fs::hard_link(entry.path(), &dst).is_err() {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "node_modules" || name == ".host" {
            continue;
        }
        let dst = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

type Seed = (i32, String, Option<String>, Option<String>, Option<String>);

fn seed_rows(db: &TestDb) -> Vec<Seed> {
    db.client()
        .query(
            "SELECT id, name, price, tags, attrs FROM products ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

fn expected_seed() -> Vec<Seed> {
    let s = |v: &str| Some(v.to_string());
    vec![
        (
            1,
            "Espresso cup".into(),
            s("4.50"),
            s("kitchen,ceramic"),
            s("color=white;size=S"),
        ),
        (
            2,
            "Desk lamp".into(),
            s("29.99"),
            s("office,light"),
            s("color=black;watts=40"),
        ),
        (3, "Notebook".into(), s("3.00"), s("office"), s("pages=120")),
        (
            4,
            "Tea kettle".into(),
            s("45.10"),
            s(""),
            s("color=red;volume=1.7"),
        ),
        (5, "Gift card".into(), None, None, None),
    ]
}

type Migrated = (i32, Option<i64>, Option<Vec<String>>, Option<String>);

fn migrated_rows(db: &TestDb) -> Vec<Migrated> {
    db.client()
        .query(
            "SELECT id, price_cents, tag_list, attributes::text FROM products ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[test]
fn c_python_and_js_revisions_migrate_data_and_restore_it_exactly() {
    let project = polyglot_copy();
    let db = TestDb::new();
    db.host(project.path(), &["upgrade", ROOT]).ok();
    assert_eq!(seed_rows(&db), expected_seed());

    let run = db.host(project.path(), &["run", "head"]).ok();
    let log = run.stderr();
    let tags = |t: &[&str]| Some(t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let json = |j: &str| Some(j.to_string());
    assert_eq!(
        migrated_rows(&db),
        vec![
            (
                1,
                Some(450),
                tags(&["kitchen", "ceramic"]),
                json(r#"{"color":"white","size":"S"}"#)
            ),
            (
                2,
                Some(2999),
                tags(&["office", "light"]),
                json(r#"{"color":"black","watts":"40"}"#)
            ),
            (3, Some(300), tags(&["office"]), json(r#"{"pages":"120"}"#)),
            (
                4,
                Some(4510),
                tags(&[]),
                json(r#"{"color":"red","volume":"1.7"}"#)
            ),
            (5, None, None, None),
        ],
        "{log}"
    );

    // Each language tried the environment and a file, got nothing, and the
    // attempt is in the log: from the C shim, the Python SDK's audit hook and
    // the revisions' own reports.
    for line in [
        format!("[{C_REV}] warn: sandbox: the revision read the environment; it is empty"),
        format!(
            "[{C_REV}] warn: sandbox: the revision tried to open /etc/passwd; there is no file system"
        ),
        format!(
            "[{C_REV}] info: sandbox check: getenv(\"HOME\") = NULL, fopen(\"/etc/passwd\") = "
        ),
        format!(
            "[{PY_REV}] warn: sandbox: the revision tried to open /etc/passwd; there is no file system"
        ),
        format!(
            "[{PY_REV}] info: sandbox check: os.environ has 0 variable(s), open('/etc/passwd') -> FileNotFoundError"
        ),
        format!(
            "[{JS_REV}] info: sandbox check: environment: no process object; files: no file API"
        ),
    ] {
        assert!(log.contains(&line), "missing {line:?} in the log:\n{log}");
    }

    db.host(project.path(), &["downgrade", ROOT]).ok();
    assert_eq!(
        seed_rows(&db),
        expected_seed(),
        "the downgrades restore the seed exactly"
    );
    db.host(project.path(), &["downgrade", "base"]).ok();
    let left: Option<String> = db
        .client()
        .query_one("SELECT to_regclass('products')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, None);
}

/// What is missing to build every language of the project, as install hints.
fn missing_toolchains(project: &Path) -> Vec<&'static str> {
    let runs = |program: &str, arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut missing = Vec::new();
    if !runs("clang", "--version") || !Path::new("/usr/include/wasm32-wasi/stdlib.h").exists() {
        missing.push("C: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32");
    }
    if !runs("componentize-py", "--version") {
        missing.push("Python: pip install -r migrations-wasm/polyglot/requirements.txt");
    }
    if !project.join("node_modules/.bin/componentize-js").exists() {
        missing.push("JavaScript: (cd migrations-wasm/polyglot && npm ci)");
    }
    missing
}

/// Whether the toolchains are there; on CI (HOST_REQUIRE_TOOLCHAINS set) a
/// missing one fails the test, elsewhere the test says what to install.
fn toolchains_ready(test: &str) -> bool {
    let missing = missing_toolchains(&polyglot());
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{test}: toolchains missing, install them: {}",
        missing.join("; ")
    );
    if std::env::var_os("HOST_REQUIRE_TOOLCHAINS").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED {message}");
    false
}

#[test]
fn each_language_builds_from_source_to_the_lock_and_scaffolds_a_working_revision() {
    if !toolchains_ready("each_language_builds_from_source") {
        return;
    }
    let project = polyglot_copy_private_cache();
    std::os::unix::fs::symlink(
        polyglot().join("node_modules"),
        project.path().join("node_modules"),
    )
    .unwrap();

    // From source: C components are byte-identical to the lock, Python and
    // JavaScript ones (whose toolchains snapshot an interpreter) are checked
    // by their sources digest.
    let check = host_cmd(project.path(), None, &["build", "--check"]).ok();
    let out = check.stderr();
    assert!(check.stdout().contains("4 revision(s) match"), "{out}");
    for (id, lang) in [(PY_REV, "python"), (JS_REV, "js")] {
        assert!(
            out.contains(&format!("{id} ({lang}): built from the locked sources")),
            "{out}"
        );
    }

    // A changed source no longer matches the lock.
    let c_source = project
        .path()
        .join("20260111_0900_8d24c6e0a913_prices_in_cents/revision.c");
    let text = std::fs::read_to_string(&c_source).unwrap();
    std::fs::write(
        &c_source,
        text.replace("converted to cents", "now in cents"),
    )
    .unwrap();
    let err = host_cmd(project.path(), None, &["build", "--check"]).fails();
    assert!(err.contains(C_REV) && err.contains("differ"), "{err}");
    std::fs::write(&c_source, text).unwrap();

    // A new revision in each language, on top of the chain.
    for (lang, message) in [
        ("c", "C step"),
        ("python", "Python step"),
        ("js", "JS step"),
    ] {
        let made = host_cmd(
            project.path(),
            None,
            &["revision", "--lang", lang, "-m", message],
        )
        .ok();
        assert!(
            made.stdout().contains("built and locked"),
            "{}",
            made.stderr()
        );
    }
    let db = TestDb::new();
    let run = db.host(project.path(), &["run", "head"]).ok();
    let log = run.stderr();
    assert_eq!(log.matches("tables in schema public").count(), 3, "{log}");
    let out = run.stdout();
    for step in ["C step", "Python step", "JS step"] {
        assert!(out.contains(step), "{out}");
    }
    db.host(project.path(), &["downgrade", ROOT]).ok();
    assert_eq!(seed_rows(&db), expected_seed());
}

#[test]
fn a_missing_toolchain_is_named_with_how_to_install_it() {
    if !toolchains_ready("a_missing_toolchain_is_named") {
        return;
    }
    let project = polyglot_copy();
    let out = crate::common::host_command()
        .arg("--migrations")
        .arg(project.path())
        .arg("build")
        .env("COMPONENTIZE_PY", "/nonexistent/componentize-py")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("20260112_0900_5b7e2f90c4d8_tags_as_array")
            && err.contains("/nonexistent/componentize-py")
            && err.contains("pip install -r requirements.txt"),
        "{err}"
    );
    // Nothing was half-written: the lock is the committed one.
    assert_eq!(
        std::fs::read(project.path().join("migrations.lock")).unwrap(),
        std::fs::read(polyglot().join("migrations.lock")).unwrap()
    );
}

/// The interfaces a component imports at its top level (not those of the
/// components nested in it, nor the types its world `use`s).
fn imports_of(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.unwrap() {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let name = import.unwrap().name.name.to_string();
                    if name.contains(':') {
                        names.push(name);
                    }
                }
            }
            _ => {}
        }
    }
    names.sort();
    names
}

#[test]
fn each_language_imports_what_its_guide_documents() {
    let lock_path = polyglot().join("migrations.lock");
    let lock =
        host::lock::Lock::parse(&std::fs::read_to_string(&lock_path).unwrap(), &lock_path).unwrap();
    let own = [
        "pgwasm:migration/context@0.1.0",
        "pgwasm:migration/sql@0.1.0",
        "pgwasm:migration/types@0.1.0",
    ];
    // CPython's runtime (docs/authoring-python.md): the harmless WASI plus
    // filesystem and sockets, granted in host.toml and still given nothing.
    let python_wasi = [
        "wasi:cli/environment@0.2.9",
        "wasi:cli/exit@0.2.9",
        "wasi:cli/stderr@0.2.9",
        "wasi:cli/stdin@0.2.9",
        "wasi:cli/stdout@0.2.9",
        "wasi:cli/terminal-input@0.2.9",
        "wasi:cli/terminal-output@0.2.9",
        "wasi:cli/terminal-stderr@0.2.9",
        "wasi:cli/terminal-stdin@0.2.9",
        "wasi:cli/terminal-stdout@0.2.9",
        "wasi:clocks/monotonic-clock@0.2.9",
        "wasi:clocks/wall-clock@0.2.9",
        "wasi:filesystem/preopens@0.2.9",
        "wasi:filesystem/types@0.2.9",
        "wasi:io/error@0.2.9",
        "wasi:io/poll@0.2.9",
        "wasi:io/streams@0.2.9",
        "wasi:random/random@0.2.9",
        "wasi:sockets/instance-network@0.2.9",
        "wasi:sockets/ip-name-lookup@0.2.9",
        "wasi:sockets/network@0.2.9",
        "wasi:sockets/tcp-create-socket@0.2.9",
        "wasi:sockets/tcp@0.2.9",
        "wasi:sockets/udp-create-socket@0.2.9",
        "wasi:sockets/udp@0.2.9",
    ];
    for rev in &lock.revisions {
        let bytes = std::fs::read(polyglot().join(&rev.file)).unwrap();
        let mut expected: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        if rev.id == PY_REV {
            expected.extend(python_wasi.iter().map(|s| s.to_string()));
            expected.sort();
        }
        assert_eq!(
            imports_of(&bytes),
            expected,
            "imports of {} ({})",
            rev.id,
            rev.file
        );
    }
}

#[test]
fn a_c_branch_and_a_c_merge_join_the_polyglot_chain() {
    if !toolchains_ready("a_c_branch_and_a_c_merge") {
        return;
    }
    let project = polyglot_copy();
    std::os::unix::fs::symlink(
        polyglot().join("node_modules"),
        project.path().join("node_modules"),
    )
    .unwrap();
    let side = "c0ffee000001";
    host_cmd(
        project.path(),
        None,
        &[
            "revision",
            "--lang",
            "c",
            "-m",
            "Side branch",
            "--head",
            C_REV,
            "--splice",
            "--rev-id",
            side,
        ],
    )
    .ok();
    let merged = host_cmd(
        project.path(),
        None,
        &[
            "merge",
            "--lang",
            "c",
            "heads",
            "-m",
            "Join the side branch",
            "--rev-id",
            "c0ffee000002",
        ],
    )
    .ok();
    assert!(
        merged.stdout().contains("built and locked"),
        "{}",
        merged.stderr()
    );
    let lock_path = project.path().join("migrations.lock");
    let lock =
        host::lock::Lock::parse(&std::fs::read_to_string(&lock_path).unwrap(), &lock_path).unwrap();
    let mut parents = lock.get("c0ffee000002").unwrap().down_revisions.clone();
    parents.sort();
    assert_eq!(parents, vec![side.to_string(), JS_REV.to_string()]);

    let db = TestDb::new();
    let out = db.host(project.path(), &["run", "head"]).ok().stdout();
    assert!(
        out.contains("The database is at c0ffee000002 (head)"),
        "{out}"
    );
    assert_eq!(migrated_rows(&db).len(), 5);
    db.host(project.path(), &["downgrade", ROOT]).ok();
    assert_eq!(seed_rows(&db), expected_seed());
}
