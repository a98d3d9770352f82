//! How the host words a PostgreSQL error: the one home of the `SQLSTATE ...`
//! sentence, its detail and hint, and the advice for the SQLSTATEs a
//! migration run typically meets.
//!
//! Callers differ in how much they show, so each has its own entry point:
//! [`describe`] (bookkeeping, connecting, the runner, verify) gives the whole
//! sentence; [`describe_brief`] (catalog reading) leaves out detail, hint and
//! advice; [`write_reported`] and [`source_chain`] are the parts the guest
//! session's `DbError` keeps apart in fields and joins when displayed.

use std::fmt;

/// What a user can do about the errors a migration run typically meets.
pub fn advice(sqlstate: &str) -> Option<&'static str> {
    Some(match sqlstate {
        "55P03" => {
            "another session holds a conflicting lock, and the revision gave up after lock_timeout instead of queueing the traffic behind it; retry when the blocking transaction is done, or raise --ddl-lock-timeout"
        }
        "57014" => {
            "the statement ran longer than statement_timeout; raise --statement-timeout or the revision's statement_timeout in host.toml"
        }
        "40P01" => {
            "a deadlock with another session; retrying the run is safe, the revision was rolled back"
        }
        "42501" => {
            "the role lacks a privilege: run as the owner of the database, which may create the bookkeeping tables and alter the tables revisions made; what only a superuser may do (run programs or read files on the server, install untrusted extensions) stays refused on purpose, see README \"What a revision can reach\""
        }
        _ => return None,
    })
}

/// Writes `SQLSTATE <code>: <message> (detail: ...) (hint: ...) (<advice>)`,
/// each parenthesis only when there is something to put in it.
pub fn write_reported(
    out: &mut impl fmt::Write,
    sqlstate: &str,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
) -> fmt::Result {
    write!(out, "SQLSTATE {sqlstate}: {message}")?;
    if let Some(d) = detail {
        write!(out, " (detail: {d})")?;
    }
    if let Some(h) = hint {
        write!(out, " (hint: {h})")?;
    }
    if let Some(a) = advice(sqlstate) {
        write!(out, " ({a})")?;
    }
    Ok(())
}

/// A tokio-postgres error with its SQLSTATE, server message, detail, hint and
/// advice; an error that did not come from the server, with its first cause.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = String::new();
            // Writing to a String cannot fail.
            let _ = write_reported(
                &mut s,
                db.code().code(),
                db.message(),
                db.detail(),
                db.hint(),
            );
            s
        }
        None => with_first_cause(e),
    }
}

/// A tokio-postgres error with its SQLSTATE and server message only; an
/// error that did not come from the server, with its first cause.
pub fn describe_brief(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("SQLSTATE {}: {}", db.code().code(), db.message()),
        None => with_first_cause(e),
    }
}

/// The error and, if it has one, its immediate cause.
fn with_first_cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

/// The error followed by every cause down the chain, joined with `: `; for
/// errors that did not come from the server (a parameter that could not be
/// encoded, a lost connection), where the root cause is the useful part.
pub fn source_chain(e: &tokio_postgres::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}
