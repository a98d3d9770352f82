//! Statements a guest may not send: the ones that end, start or hand off the
//! transaction the host runs the revision in (without this check a revision
//! could COMMIT half of its work and break "applied whole or not at all"),
//! and `COPY` to or from the client, whose sub-protocol would take over the
//! host's connection (and, in a `--sql` script, make psql read the lines
//! after it as data).

use super::lex::{Kind, lex_with};

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The offending command, upper case (`COMMIT`, `BEGIN`, ...).
    pub command: String,
}

/// The statements of a script, each as the words that start it (upper case,
/// past whitespace and comments), split at the semicolons the lexer finds
/// outside strings, quoted names, dollar quotes and comments when
/// `standard_conforming_strings` is `standard_strings`.
fn statements(script: &str, standard_strings: bool) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for piece in lex_with(script, standard_strings) {
        let text = &script[piece.start..piece.end];
        match piece.kind {
            Kind::Other if text == ";" => out.push(Vec::new()),
            Kind::Word => {
                let words = out.last_mut().expect("never empty");
                let word = text.to_ascii_uppercase();
                if words.len() < 2 {
                    words.push(word);
                } else if words[0] == "COPY" && (word == "STDIN" || word == "STDOUT") {
                    // Kept past the leading words: COPY's direction comes late.
                    words.push(word);
                }
            }
            kind if kind.is_blank() => {}
            // Anything else ends the leading words: `BEGIN` in `SELECT 1 BEGIN` is no command.
            _ => {
                let words = out.last_mut().expect("never empty");
                if words.len() < 2 {
                    words.push(String::new());
                }
            }
        }
    }
    out
}

/// Checks every statement of `script`; the first transaction-control one is
/// refused. (Advisory locks are the guest's own business: the run lock is held
/// on a connection of the host's that no guest SQL reaches.)
///
/// The script is split both as the server splits it with standard strings and
/// as it does with `standard_conforming_strings = off`: a guest can change that
/// setting by means no text check sees (dynamic SQL, `set_config`), so a
/// statement that is transaction control under either reading is refused.
pub fn check(script: &str) -> Result<(), Refused> {
    // Without a backslash both readings are the same: lex once (the common case,
    // and every guest statement passes here).
    let nonstandard = if script.contains('\\') {
        statements(script, false)
    } else {
        Vec::new()
    };
    for words in statements(script, true).into_iter().chain(nonstandard) {
        let first = words.first().map(String::as_str).unwrap_or("");
        let second = words.get(1).map(String::as_str).unwrap_or("");
        let refused = match first {
            "BEGIN" | "COMMIT" | "END" | "ABORT" => true,
            "START" => second == "TRANSACTION",
            // ROLLBACK TO SAVEPOINT stays inside the transaction and is fine.
            "ROLLBACK" => second != "TO",
            "PREPARE" => second == "TRANSACTION",
            _ => false,
        };
        if first == "COPY" && words[1..].iter().any(|w| w == "STDIN" || w == "STDOUT") {
            return Err(Refused {
                command: "COPY to or from the client (STDIN/STDOUT)".into(),
            });
        }
        if refused {
            return Err(Refused {
                command: if first == "START" || first == "PREPARE" {
                    format!("{first} {second}")
                } else {
                    first.to_string()
                },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> Option<String> {
        check(s).err().map(|r| r.command)
    }

    #[test]
    fn transaction_control_is_refused_anywhere_in_a_script() {
        assert_eq!(refused("COMMIT"), Some("COMMIT".into()));
        assert_eq!(
            refused("create table t (id int); commit; begin"),
            Some("COMMIT".into())
        );
        assert_eq!(refused("  -- note\n  /* c */ end"), Some("END".into()));
        assert_eq!(
            refused("START TRANSACTION"),
            Some("START TRANSACTION".into())
        );
        assert_eq!(refused("rollback"), Some("ROLLBACK".into()));
        assert_eq!(
            refused("PREPARE TRANSACTION 'x'"),
            Some("PREPARE TRANSACTION".into())
        );
        assert_eq!(refused("abort;"), Some("ABORT".into()));
        // A type name before a string is not an E'' prefix.
        assert_eq!(
            refused(r"SELECT name'\'; COMMIT; SELECT '1'"),
            Some("COMMIT".into())
        );
        // `$` continues an identifier, also after a non-ASCII letter.
        assert_eq!(
            refused("SELECT 1 AS é$$; COMMIT; SELECT 1 AS é$$"),
            Some("COMMIT".into())
        );
        assert_eq!(refused("SELECT 1 AS a$$; COMMIT"), Some("COMMIT".into()));
    }

    #[test]
    fn copy_to_or_from_the_client_is_refused() {
        let copy = Some("COPY to or from the client (STDIN/STDOUT)".to_string());
        assert_eq!(refused("COPY t FROM STDIN"), copy);
        assert_eq!(refused("copy t (a, b) from stdin with (format csv)"), copy);
        assert_eq!(refused("SELECT 1; COPY (SELECT 1) TO STDOUT"), copy);
        assert_eq!(
            refused("COPY t TO /* x */ \"stdout\""),
            None,
            "the server refuses a quoted name there"
        );
    }

    #[test]
    fn comments_end_where_the_server_ends_them() {
        // PostgreSQL ends a `--` comment at a carriage return too, and block comments nest.
        assert_eq!(
            refused("SELECT 1 -- x\r; COMMIT; --\n"),
            Some("COMMIT".into())
        );
        assert_eq!(refused("/* a /* b */ c */ COMMIT"), Some("COMMIT".into()));
    }

    #[test]
    fn strings_are_read_with_and_without_standard_conforming_strings() {
        // With standard_conforming_strings off the server ends the string
        // after `\''` and runs the COMMIT; with it on, the COMMIT is quoted.
        assert_eq!(
            refused(r"SELECT '\''; COMMIT; SELECT '1'"),
            Some("COMMIT".into())
        );
        assert_eq!(refused(r"SELECT '\'; COMMIT; --'"), Some("COMMIT".into()));
    }

    #[test]
    fn ordinary_sql_passes() {
        for ok in [
            "CREATE TABLE t (id int)",
            "SAVEPOINT a; ROLLBACK TO SAVEPOINT a; RELEASE a",
            "ROLLBACK TO a",
            "INSERT INTO t VALUES ('commit; begin')",
            "SELECT E'it\\'s; commit'",
            "CREATE FUNCTION f() RETURNS void AS $$ BEGIN PERFORM 1; END $$ LANGUAGE plpgsql",
            "DO $body$ BEGIN COMMIT; END $body$",
            "SELECT \"commit\" FROM t; -- ; commit\nSELECT 1",
            "/* ; commit; /* nested */ */ SELECT 1",
            "PREPARE q AS SELECT 1",
            "SELECT pg_advisory_unlock_all()",
            "COPY t TO '/tmp/x'",
            "COPY (SELECT 'stdin') TO PROGRAM 'stdout'",
            "START_X",
            "",
        ] {
            assert_eq!(refused(ok), None, "{ok}");
        }
    }
}
