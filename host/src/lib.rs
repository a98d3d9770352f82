//! The `host` migration runtime: PostgreSQL schema revisions as sandboxed
//! WebAssembly components, chained by an Alembic-style revision graph.
//!
//! The library is built in floors; a module uses only the floors below it:
//!
//! 1. [`host_core`] (re-exported as [`lock`], [`graph`], [`plan`], [`sql`],
//!    [`imports`]): the pure rules, no I/O.
//! 2. [`project`] (the project on disk) and [`db`] (which database, the
//!    bookkeeping, the embedded cluster).
//! 3. [`fingerprint`]: reading the live catalog into a canonical schema.
//! 4. [`runtime`]: sandbox, session, codec, pipeline and the runner.
//! 5. [`verify`] (replays and proofs) and [`build`] (`host build`, scaffolding).
//! 6. [`package`]: migration packages through OCI registries.
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

pub use host_core::{graph, imports, lock, plan, sql};

pub mod build;
pub mod db;
pub mod fingerprint;
pub mod package;
pub mod project;
pub mod runtime;
pub mod verify;

/// Version of this host, recorded with every applied revision.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
