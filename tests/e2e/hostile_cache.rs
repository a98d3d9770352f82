//! A hostile compile cache: files placed in `.host/cache` by a project
//! checkout or a restored CI cache. Compiled code and remembered offline
//! scripts are used only when sealed under this machine's key (kept outside
//! the project, here in a per-test `HOST_STATE_DIR`) for the component they
//! came from; anything else is recompiled or re-run and overwritten.
//!
//! The attacker here can copy every file of the cache and compute any hash
//! that needs no key; the forged compiled code is `good_extra`
//! (`e00000000006`, creates a table `notes`), the victim is TaskMan-v2.

use crate::common::{REV3, Run, TestDb, host_cmd_with_state, project_with};
use host::lock::{LOCK_FILE, Lock};
use std::path::{Path, PathBuf};

/// Runs `host` with its key in `state`, against `db` (or offline without one).
fn host(state: &Path, project: &Path, db: Option<&TestDb>, args: &[&str]) -> Run {
    host_cmd_with_state(project, db.map(|d| d.url.as_str()), args, state)
}

fn cache(project: &Path) -> PathBuf {
    project.join(".host").join("cache")
}

/// The component hash the lock of `project` records for `revision`.
fn blake3_of(project: &Path, revision: &str) -> String {
    let path = project.join(LOCK_FILE);
    let lock = Lock::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    lock.get(revision).unwrap().blake3.to_ascii_lowercase()
}

/// The compile cache key of the component with hash `blake3` in `dir`.
fn key_of(dir: &Path, blake3: &str) -> String {
    let keys: Vec<String> = names(dir)
        .into_iter()
        .filter_map(|n| n.strip_suffix(".cwasm").map(str::to_string))
        .filter(|k| k.starts_with(blake3))
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "one compiled artifact for {blake3}: {keys:?}"
    );
    keys[0].clone()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Places the cache entry `from` of `src` in `dst` under key `to`: every file
/// beside the artifact copied and renamed, and the artifact's plain blake3
/// (which needs no key) written as well.
fn forge(src: &Path, from: &str, dst: &Path, to: &str) {
    std::fs::create_dir_all(dst).unwrap();
    for name in names(src) {
        if let Some(rest) = name.strip_prefix(&format!("{from}.")) {
            std::fs::copy(src.join(&name), dst.join(format!("{to}.{rest}"))).unwrap();
        }
    }
    let artifact = std::fs::read(dst.join(format!("{to}.cwasm"))).unwrap();
    std::fs::write(
        dst.join(format!("{to}.cwasm.blake3")),
        blake3::hash(&artifact).to_hex().as_bytes(),
    )
    .unwrap();
}

fn table_exists(db: &TestDb, table: &str) -> bool {
    db.client()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .unwrap()
        .get(0)
}

/// Whether `projects.phases` exists: what the real 934f38a4fc73 adds.
fn has_phases(db: &TestDb) -> bool {
    db.client()
        .query_one(
            "SELECT count(*) = 1 FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = 'projects' AND column_name = 'phases'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// The transcript hash history records for the upgrade of `revision`.
fn transcript(db: &TestDb, revision: &str) -> String {
    db.client()
        .query_one(
            "SELECT transcript_blake3 FROM host_history WHERE revision = $1 AND direction = 'upgrade'",
            &[&revision],
        )
        .unwrap()
        .get(0)
}

#[test]
fn another_components_compiled_code_under_a_revisions_key_does_not_run() {
    let state = tempfile::tempdir().unwrap();
    // The attacker's project compiles good_extra on this machine, under the
    // same key: its entry is genuinely sealed, for another component.
    let attacker = project_with(&["e00000000006"]);
    let honest = TestDb::new();
    host(
        state.path(),
        attacker.path(),
        Some(&honest),
        &["run", "head"],
    )
    .ok();
    assert!(table_exists(&honest, "notes"));
    let extra = key_of(
        &cache(attacker.path()),
        &blake3_of(attacker.path(), "e00000000006"),
    );
    let rev3 = key_of(&cache(attacker.path()), &blake3_of(attacker.path(), REV3));

    let victim = project_with(&[]);
    forge(
        &cache(attacker.path()),
        &extra,
        &cache(victim.path()),
        &rev3,
    );
    let forged = std::fs::read(cache(victim.path()).join(format!("{rev3}.cwasm"))).unwrap();

    let db = TestDb::new();
    let run = host(state.path(), victim.path(), Some(&db), &["run", "head"]).ok();
    assert!(
        run.stdout()
            .contains("The database is at 934f38a4fc73 (head)"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        run.stderr(),
        "",
        "a stale entry is a cache miss, nothing to report"
    );
    assert_eq!(db.heads(), vec![REV3]);
    assert!(!table_exists(&db, "notes"), "the forged compiled code ran");
    assert!(has_phases(&db), "the real 934f38a4fc73 did not run");
    assert_eq!(
        transcript(&db, REV3),
        transcript(&honest, REV3),
        "934f38a4fc73 sent other SQL than its own component does"
    );
    // What history says is what ran, so verify has nothing to hide.
    let verified = host(state.path(), victim.path(), Some(&db), &["verify"]);
    assert_eq!(
        verified.output.status.code(),
        Some(0),
        "{}",
        verified.stdout()
    );
    // The forged entry was replaced by the real revision's compiled code.
    let now = std::fs::read(cache(victim.path()).join(format!("{rev3}.cwasm"))).unwrap();
    assert_ne!(now, forged);
}

#[test]
fn a_rewritten_remembered_script_is_not_printed() {
    let state = tempfile::tempdir().unwrap();
    let project = project_with(&[]);
    let sql = || {
        host(
            state.path(),
            project.path(),
            None,
            &["upgrade", "head", "--sql"],
        )
        .ok()
    };
    let first = sql().stdout();
    assert!(first.contains("CREATE TABLE"), "{first}");
    let dir = cache(project.path()).join("offline");
    let entries: Vec<PathBuf> = names(&dir).iter().map(|n| dir.join(n)).collect();
    assert_eq!(entries.len(), 3, "one remembered script per revision");
    // One entry rewritten with forged SQL and its hash recomputed (the
    // first line is what stands for the entry's check; the rest is the
    // transcript hash and the SQL), and one replaced by another revision's
    // entry, genuinely sealed on this machine but for another component.
    let text = std::fs::read_to_string(&entries[0]).unwrap();
    let (_, body) = text.split_once('\n').unwrap();
    let (transcript, _) = body.split_once('\n').unwrap();
    let body = format!("{transcript}\nDROP TABLE IF EXISTS forged_by_the_cache;\n");
    std::fs::write(
        &entries[0],
        format!("{}\n{body}", blake3::hash(body.as_bytes()).to_hex()),
    )
    .unwrap();
    std::fs::copy(&entries[2], &entries[1]).unwrap();

    let second = sql().stdout();
    assert!(!second.contains("forged_by_the_cache"), "{second}");
    assert_eq!(second, first);
    // Both entries were written again, sealed for what they hold.
    for entry in &entries {
        let text = std::fs::read_to_string(entry).unwrap();
        assert!(!text.contains("forged_by_the_cache"), "{text}");
    }
    assert_ne!(
        std::fs::read(&entries[1]).unwrap(),
        std::fs::read(&entries[2]).unwrap()
    );
    assert_eq!(sql().stdout(), first);
}

#[test]
fn a_cache_from_another_machine_is_recompiled_and_the_run_succeeds() {
    let ci = tempfile::tempdir().unwrap();
    let here = tempfile::tempdir().unwrap();
    let project = project_with(&[]);
    // Another machine (another key) fills the cache; it is restored here.
    let other = TestDb::new();
    host(ci.path(), project.path(), Some(&other), &["run", "head"]).ok();
    let offline = host(
        ci.path(),
        project.path(),
        None,
        &["upgrade", "head", "--sql"],
    )
    .ok()
    .stdout();
    let restored: Vec<(String, Vec<u8>)> = names(&cache(project.path()))
        .into_iter()
        .filter(|n| n.ends_with(".cwasm.seal"))
        .map(|n| {
            let bytes = std::fs::read(cache(project.path()).join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    assert_eq!(restored.len(), 3, "one sealed artifact per revision");

    let db = TestDb::new();
    let run = host(here.path(), project.path(), Some(&db), &["run", "head"]).ok();
    assert_eq!(run.stderr(), "", "stale entries are cache misses");
    assert_eq!(db.heads(), vec![REV3]);
    assert!(has_phases(&db));
    assert_eq!(transcript(&db, REV3), transcript(&other, REV3));
    for (name, bytes) in &restored {
        let now = std::fs::read(cache(project.path()).join(name)).unwrap();
        assert_ne!(
            &now, bytes,
            "{name} was sealed again under this machine's key"
        );
    }
    let again = host(
        here.path(),
        project.path(),
        None,
        &["upgrade", "head", "--sql"],
    )
    .ok();
    assert_eq!(again.stdout(), offline);
    // This machine made its own key, outside the project, readable by its owner only.
    let key = std::fs::metadata(here.path().join("cache.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );
    assert!(
        names(project.path()).iter().all(|n| !n.ends_with(".key")),
        "no key in the project"
    );
}

#[test]
fn without_a_usable_key_nothing_is_cached_or_trusted() {
    // The state folder cannot be created: a file stands where it should be.
    let blocked = tempfile::tempdir().unwrap();
    let state = blocked.path().join("not-a-folder");
    std::fs::write(&state, "").unwrap();
    let project = project_with(&[]);
    let db = TestDb::new();
    let run = host(&state, project.path(), Some(&db), &["run", "head"]).ok();
    let note = run.stderr();
    assert_eq!(note.lines().count(), 1, "one line: {note}");
    assert!(note.starts_with("note: "), "{note}");
    assert!(
        note.contains("cannot create the cache key in") && note.contains("not-a-folder"),
        "the note names the folder: {note}"
    );
    assert!(
        note.contains("HOST_STATE_DIR"),
        "the note says what to do: {note}"
    );
    assert_eq!(db.heads(), vec![REV3]);
    assert!(has_phases(&db));
    let cached = cache(project.path());
    let artifacts = if cached.exists() {
        names(&cached)
            .into_iter()
            .filter(|n| n.contains(".cwasm"))
            .count()
    } else {
        0
    };
    assert_eq!(artifacts, 0, "nothing is cached without a key");

    // Files already in the cache are not trusted either: a forged artifact
    // under the real revision's key (sealed with some other key) is ignored.
    let state2 = tempfile::tempdir().unwrap();
    let attacker = project_with(&["e00000000006"]);
    host(
        state2.path(),
        attacker.path(),
        Some(&TestDb::new()),
        &["run", "head"],
    )
    .ok();
    let extra = key_of(
        &cache(attacker.path()),
        &blake3_of(attacker.path(), "e00000000006"),
    );
    let rev3 = key_of(&cache(attacker.path()), &blake3_of(attacker.path(), REV3));
    let victim = project_with(&[]);
    forge(
        &cache(attacker.path()),
        &extra,
        &cache(victim.path()),
        &rev3,
    );
    let db = TestDb::new();
    host(&state, victim.path(), Some(&db), &["run", "head"]).ok();
    assert!(!table_exists(&db, "notes"), "the forged compiled code ran");
    assert!(has_phases(&db));
}
