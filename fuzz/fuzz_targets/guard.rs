//! The lexer, the transaction-control guard and statement termination never
//! panic on any SQL text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = host_core::sql::lex::lex(text);
    let _ = host_core::sql::guard::check(text);
    let _ = host_core::sql::lex::terminate(text);
});
