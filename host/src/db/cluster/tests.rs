//! Unit tests of the cluster's pure parts: permissions, socket paths,
//! conninfo, pid files, versions; starting a real server is tested end to end.

use super::binaries::{binaries_major, major_of, version_key};
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
        conninfo(Path::new("/tmp/x/sock"), 5432),
        "host=/tmp/x/sock port=5432 user=postgres dbname=postgres"
    );
    let quoted = conninfo(Path::new("/tmp/a b/sock"), 5432);
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
