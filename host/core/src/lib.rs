//! The pure core of the host: what `migrations.lock` says, the revision graph
//! it describes, the targets and plans Alembic's commands mean on that graph,
//! how PostgreSQL text is lexed (the transaction guard and offline inlining
//! share one lexer), and which imports a component may have.
//!
//! Nothing here touches a file, a socket or WebAssembly, so every rule of the
//! migration model is tested with `cargo test -p host-core` alone.

pub mod graph;
pub mod hex;
pub mod imports;
pub mod lock;
pub mod plan;
pub mod sql;
