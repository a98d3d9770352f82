//! The `host` migration runtime: PostgreSQL schema revisions as sandboxed
//! WebAssembly components, chained by an Alembic-style revision graph.
//!
//! The library is built in floors; a module uses only the floors below it:
//!
//! 1. [`host_core`] (re-exported as [`lock`], [`graph`], [`plan`], [`sql`],
//!    [`imports`], [`hex`]): the pure rules, no I/O.
//! 2. [`project`]: the project on disk, `host.toml`, verified components.
//! 3. [`db`]: which database, PostgreSQL errors in words, the bookkeeping
//!    tables and run lock, the embedded cluster, what the connected role
//!    lets a revision reach.
//! 4. [`fingerprint`]: reading the live catalog into a canonical schema.
//! 5. [`runtime`]: sandbox, session, codec, pipeline and the runner.
//! 6. [`verify`] (replays and proofs) and [`build`] (`host build`, scaffolding).
//! 7. [`package`]: migration packages through OCI registries.
//!
//! The `host` binary's `cli` module sits on top and is the only place that prints,
//! apart from the guests' own log lines.
//!
//! Data flow of `host run head`: [`db::connect`] finds the database,
//! [`project`] loads [`lock`] and its [`graph`] without touching WebAssembly,
//! [`plan`] orders the steps, and [`runtime::runner`] executes each step: hash
//! check, [`runtime::sandbox`] instantiation, SQL through
//! [`runtime::session`], and bookkeeping in [`db::bookkeeping`], all in the
//! step's own transaction.

pub use host_core::{graph, hex, imports, lock, plan, sql};

pub mod build;
pub mod db;
pub mod fingerprint;
pub mod package;
pub mod project;
pub mod runtime;
pub mod verify;

/// Version of this host, recorded with every applied revision.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod floors {
    //! The floor plan above, enforced: a module may use its own wing and the
    //! floors below it, never one above or beside it.

    use std::path::Path;

    /// Floor of each wing; the binary's `cli` and `main.rs` sit on top.
    const FLOORS: [(&str, u8); 15] = [
        ("lock", 0),
        ("hex", 0),
        ("graph", 0),
        ("plan", 0),
        ("sql", 0),
        ("imports", 0),
        ("project", 1),
        ("db", 2),
        ("fingerprint", 3),
        ("runtime", 4),
        ("verify", 5),
        ("build", 5),
        ("package", 6),
        ("cli", 7),
        ("main", 7),
    ];

    fn floor(wing: &str) -> Option<u8> {
        FLOORS.iter().find(|(w, _)| *w == wing).map(|(_, f)| *f)
    }

    /// Every `crate::x` / `host::x` a source file names, by wing.
    fn uses(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for prefix in ["crate::", "host::"] {
            let mut rest = text;
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().next_back();
                rest = &rest[at + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                out.push(name);
            }
        }
        out
    }

    fn visit(dir: &Path, wing: Option<&str>, bad: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("source folder") {
            let path = entry.expect("entry").path();
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let own = wing.unwrap_or(name);
            if path.is_dir() {
                visit(&path, Some(own), bad);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || own == "lib" {
                continue;
            }
            let Some(mine) = floor(own) else {
                bad.push(format!("{}: not in the floor plan", path.display()));
                continue;
            };
            let text = std::fs::read_to_string(&path).expect("source file");
            for used in uses(&text) {
                match floor(&used) {
                    Some(f) if used == own || f < mine => {}
                    Some(f) => bad.push(format!(
                        "{} ({own}, floor {mine}) uses {used} (floor {f})",
                        path.display()
                    )),
                    None => {}
                }
            }
        }
    }

    #[test]
    fn every_import_points_down_a_floor() {
        let mut bad = Vec::new();
        visit(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            None,
            &mut bad,
        );
        assert!(
            bad.is_empty(),
            "imports against the floor plan:\n{}",
            bad.join("\n")
        );
    }
}
