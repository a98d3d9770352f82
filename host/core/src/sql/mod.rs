//! PostgreSQL text: the lexer, the transaction guard built on it, and quoting.

pub mod guard;
pub mod lex;
pub mod quote;
