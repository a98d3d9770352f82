//! The transaction-control guard and the offline parameter inliner never
//! panic on any SQL text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = host::guard::check(text);
    let _ = host::offline::inline_params(text, &[host::codec::PgValue::Text("x".into())]);
    let _ = host::offline::terminate(text);
});
