use alloc::string::String;
use core::fmt;

use crate::DbError;

/// What can go wrong in a revision: PostgreSQL refused a statement, the SDK
/// refused to generate one, or the revision gave up on its own.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// PostgreSQL (or the host on its behalf) reported an error.
    Db(DbError),
    /// The SDK would not generate the statement (bad identifier, empty column list, ...).
    Invalid(String),
    /// A failure the revision itself reports.
    Message(String),
}

/// Result type of every operation in the SDK.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// A failure in the revision's own words.
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Message(message.into())
    }

    /// The SQLSTATE, when PostgreSQL reported the error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Db(e) => Some(&e.sqlstate),
            _ => None,
        }
    }
}

// The host shows this text to the operator, so it carries everything
// PostgreSQL said: `42P07: relation "x" already exists (detail: ..., hint: ...)`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Db(e) => {
                write!(f, "{}: {}", e.sqlstate, e.message)?;
                match (&e.detail, &e.hint) {
                    (Some(d), Some(h)) => write!(f, " (detail: {d}, hint: {h})"),
                    (Some(d), None) => write!(f, " (detail: {d})"),
                    (None, Some(h)) => write!(f, " (hint: {h})"),
                    (None, None) => Ok(()),
                }
            }
            Error::Invalid(m) => write!(f, "invalid migration: {m}"),
            Error::Message(m) => f.write_str(m),
        }
    }
}

impl core::error::Error for Error {}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        Error::Db(e)
    }
}

impl From<&str> for Error {
    fn from(m: &str) -> Self {
        Error::Message(m.into())
    }
}

impl From<String> for Error {
    fn from(m: String) -> Self {
        Error::Message(m)
    }
}
