//! Statements a guest may not send: the ones that end, start or hand off the
//! transaction the host runs the revision in. Without this check a revision
//! could COMMIT half of its work and break "applied whole or not at all".

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The offending command, upper case (`COMMIT`, `BEGIN`, ...).
    pub command: String,
}

/// Bytes that continue an identifier in PostgreSQL's lexer (any byte of a
/// non-ASCII character counts, as do `_` and `$`).
fn ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Splits a script into statements at top-level semicolons, skipping quoted
/// strings, quoted identifiers, dollar-quoted bodies and comments.
fn statements(script: &str) -> Vec<&str> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut start) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\'' => {
                // E'...' only when the E stands alone: in `name'\'` the quote
                // follows a type name and the backslash is an ordinary character.
                let escapes =
                    i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !ident_byte(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 1;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'$' if i == 0 || !ident_byte(b[i - 1]) => {
                // A dollar quote is $tag$ with an identifier-like tag (or none).
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map(|p| i + 1 + p);
                if let Some(e) = tag_end.filter(|&e| b[e] == b'$' && !b[i + 1].is_ascii_digit()) {
                    let tag = &script[i..=e];
                    match script[e + 1..].find(tag) {
                        Some(close) => i = e + 1 + close + tag.len() - 1,
                        None => i = b.len(),
                    }
                }
            }
            b';' => {
                out.push(&script[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&script[start.min(script.len())..]);
    out
}

/// The leading words of a statement, upper case, past whitespace and comments.
fn leading_words(statement: &str, n: usize) -> Vec<String> {
    let mut s = statement.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest
                .split_once('\n')
                .map(|x| x.1)
                .unwrap_or("")
                .trim_start();
        } else if s.starts_with("/*") {
            s = s.split_once("*/").map(|x| x.1).unwrap_or("").trim_start();
        } else {
            break;
        }
    }
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Checks every statement of `script`; the first transaction-control one is
/// refused, and so is any release of advisory locks (the run lock is one).
pub fn check(script: &str) -> Result<(), Refused> {
    if script.to_ascii_lowercase().contains("pg_advisory_unlock") {
        return Err(Refused {
            command: "pg_advisory_unlock".into(),
        });
    }
    for st in statements(script) {
        let words = leading_words(st, 2);
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
        assert_eq!(
            refused("SELECT PG_ADVISORY_UNLOCK_ALL()"),
            Some("pg_advisory_unlock".into())
        );
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
            "START_X",
            "",
        ] {
            assert_eq!(refused(ok), None, "{ok}");
        }
    }
}
