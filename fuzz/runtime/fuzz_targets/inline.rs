//! The offline parameter inliner never panics on any SQL text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = host::runtime::inline::inline_params(text, &[host::runtime::codec::PgValue::Text("x".into())]);
});
