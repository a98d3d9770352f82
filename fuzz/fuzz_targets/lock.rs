//! Lock-file parsing, and graph building from whatever parses, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    if let Ok(lock) = host_core::lock::Lock::parse(text, Path::new("fuzz.lock")) {
        let _ = lock.graph();
        let _ = lock.to_toml();
    }
});
