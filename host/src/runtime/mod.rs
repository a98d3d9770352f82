//! Running revisions: the WebAssembly sandbox, the SQL session a guest talks
//! through, the value codec, offline rendering, the compile pipeline and the
//! runner that turns a plan into committed steps.

pub mod codec;
pub mod inline;
pub mod pipeline;
pub mod runner;
pub mod sandbox;
pub mod script_cache;
pub mod session;

// Its old path, kept for callers outside the wing.
pub use sandbox::wasi;
