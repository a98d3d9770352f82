//! Everything the host itself says to PostgreSQL, apart from a guest's SQL
//! (`runtime`) and catalog reading (`fingerprint`): which database and how to
//! connect, the bookkeeping tables and run lock, and the embedded cluster.

pub mod bookkeeping;
pub mod cluster;
pub mod connect;
pub mod error;
