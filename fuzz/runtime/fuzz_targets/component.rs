//! Component loading and import validation never panic on any bytes.
#![no_main]

use host::project::VerifiedComponent;
use host::runtime::sandbox::{Limits, Sandbox};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::sync::OnceLock;

fuzz_target!(|bytes: &[u8]| {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    let sandbox = SANDBOX.get_or_init(|| Sandbox::new(None, Limits::default()).expect("an engine"));
    let comp = VerifiedComponent {
        revision: "fuzz".into(),
        bytes: bytes.to_vec(),
        blake3: blake3_hex(bytes),
    };
    let _ = sandbox.prepare(&comp, &BTreeSet::new());
});

fn blake3_hex(bytes: &[u8]) -> String {
    // The sandbox only uses the hash as a WASI seed here; its value does not matter.
    format!("{:064x}", bytes.len())
}
