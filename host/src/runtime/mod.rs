//! Running revisions: the WebAssembly sandbox, the SQL session a guest talks
//! through, the value codec, offline rendering, the compile pipeline and the
//! runner that turns a plan into committed steps.
//!
//! Where to look:
//! - [`runner`]: a run from plan to report; one online step is `runner/step.rs`,
//!   offline `--sql` scripts are `runner/offline.rs` (remembered by
//!   [`runner::script_cache`]), `stamp` and `resolve` are `runner/admin.rs`.
//! - [`pipeline`]: compiling the next components while the database works.
//! - [`sandbox`]: wasmtime engine, limits and calls; the guest's imports in
//!   `sandbox/guest.rs`, the compile cache in `sandbox/cache.rs`, the import
//!   check in `sandbox/surface.rs`, the deny-by-default WASI in [`sandbox::wasi`].
//! - [`session`]: the SQL a guest sends, online or into a script.
//! - [`codec`]: values between the WIT `value` variant and PostgreSQL's wire
//!   format (encode, decode, text syntax, dates, numerics).
//! - [`inline`]: a statement's parameters turned into literals for a script.
//! - [`seal`]: the key, outside every project, that binds compiled code and
//!   remembered scripts in the project's cache to the component they came from.

pub mod codec;
pub mod inline;
pub mod pipeline;
pub mod runner;
pub mod sandbox;
pub mod seal;
pub mod session;

// Their old paths, kept for callers outside the wing.
