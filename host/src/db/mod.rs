//! Everything the host itself says to PostgreSQL, apart from a guest's SQL
//! (`runtime`) and catalog reading (`fingerprint`).
//!
//! - `connect`: which database, and how to connect to it;
//! - `bookkeeping`: Alembic's heads table, the host's history table and the
//!   advisory lock that serialises runs;
//! - `cluster`: the embedded cluster the host creates and starts when no
//!   database is configured (`cluster/mod.rs` is the front door, the other
//!   files are its folders, OS user, processes and binaries);
//! - `error`: how every PostgreSQL error is worded, with the advice for the
//!   SQLSTATEs a migration run typically meets;
//! - `transaction`: rolling back a failed step, checked against the
//!   transaction it began;
//! - `role`: whether the connected role hands a revision the server's
//!   programs or files (a superuser, say).
//!
//! This module sits below `runtime`, `fingerprint` and `verify` and imports
//! nothing from them.

pub mod bookkeeping;
pub mod cluster;
pub mod connect;
pub mod error;
pub mod role;
pub mod transaction;
