//! A component that exports a world of its own (`hello: func()`) instead of
//! `pgwasm:migration/migration`: the host must refuse to run it, before any
//! SQL. `host build` refuses it too (it calls `info()`), so it is built by
//! hand and its component committed as `../components/wrong_world.wasm`:
//!
//! ```sh
//! cargo build --release --target wasm32-unknown-unknown   # in this folder
//! ```
//!
//! then `target/wasm32-unknown-unknown/release/wrong_world.wasm` is wrapped
//! into a component exactly as `host build` does, with
//! `host::build::encode` (wit-component's `ComponentEncoder`,
//! validating). The e2e test `tests/e2e/hostile.rs` adds it to a project's
//! lock with its blake3.

wit_bindgen::generate!({
    world: "wrong",
    path: "wit",
});

struct WrongWorld;

impl Guest for WrongWorld {
    fn hello() {}
}

export!(WrongWorld);
