//! The `host` migration runtime: PostgreSQL schema revisions as sandboxed
//! WebAssembly components, chained by an Alembic-style revision graph.
//!
//! Data flow of `host run head`: [`config`] finds the database and the
//! project, [`lock`] and [`graph`] load the revision graph without touching
//! WebAssembly, [`plan`] orders the steps, and [`runner`] executes each step:
//! hash check, [`sandbox`] instantiation, SQL through [`session`], and
//! bookkeeping in [`store`], all in the step's own transaction.

pub mod cluster;
pub mod codec;
pub mod componentize;
pub mod config;
pub mod fingerprint;
pub mod graph;
pub mod guard;
pub mod lock;
pub mod offline;
pub mod package;
pub mod pipeline;
pub mod plan;
pub mod project;
pub mod runner;
pub mod sandbox;
pub mod scaffold;
pub mod script_cache;
pub mod session;
pub mod store;
pub mod toolchain;
pub mod verify;
pub mod wasi;

/// Version of this host, recorded with every applied revision.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
