pub mod config;
pub mod graph;
pub mod lock;
pub mod plan;
pub mod project;
pub mod store;
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
