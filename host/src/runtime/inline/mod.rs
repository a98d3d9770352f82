//! Offline mode (`host upgrade head --sql`): a guest's parameterised statement
//! rendered as self-contained SQL text for a script.
//!
//! Online, a statement travels as a prepared statement and each `$n` gets the
//! type PostgreSQL infers for it. Offline, every `$n` is replaced by a literal,
//! and the literals are chosen so that the script means what the online run
//! would have done:
//!
//! - Text and NULL stay untyped (`'abc'`, `NULL`). An untyped literal is
//!   resolved from its context exactly like an untyped parameter, so
//!   `Text("42")` still fills an `int4` column, as the codec allows online, and
//!   in a select list it reads back as `text`.
//! - Every other variant carries its type (`5::int4`, `'1.50'::numeric`,
//!   `'…'::uuid`), so arithmetic, overload resolution and select lists see the
//!   type the guest chose. A typed literal still goes into a column of another
//!   type wherever PostgreSQL has an assignment cast (int4 into int8 or int2,
//!   json into jsonb, date into timestamp).
//! - Negative numbers are parenthesised (`(-5)::int4`): `x-$1` must not become
//!   `x--5`, which starts a comment.
//! - Strings use `E'…'` only when they hold a backslash or a control character,
//!   and then escape both; `'…'` without backslashes reads the same whatever
//!   `standard_conforming_strings` is, so either form is independent of it.
//!   Control characters are written as escapes so that no line of the script
//!   starts inside a literal and an editor's line-ending conversion cannot
//!   change a value.
//! - A timestamptz without an offset gets `+00`, because the codec reads it as
//!   UTC while PostgreSQL would read it in the session's `TimeZone`.
//!
//! Conversions between types that depend on `TimeZone` (a date or timestamp
//! into a timestamptz column, a timestamptz into a timestamp column) follow the
//! session's setting; the codec assumes UTC, so a script should run with
//! `TimeZone = 'UTC'` to match an online run. Values are not validated: text the
//! codec would refuse (`Numeric("abc")`) reaches PostgreSQL as a quoted literal
//! and fails there, never as SQL. Online, a placeholder used twice gets one
//! type; offline, each copy of an untyped literal is resolved on its own, so a
//! few statements PostgreSQL rejects online run offline, never the reverse.
//!
//! Statements are lexed the way PostgreSQL lexes them with
//! `standard_conforming_strings = on` (its default), so a `$n` inside a string,
//! quoted identifier, dollar-quoted string or comment is left alone.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use crate::runtime::codec::PgValue;
use crate::sql::lex::{Kind, lex};

/// Why a statement cannot be rendered as self-contained SQL.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OfflineError {
    /// A placeholder refers to a parameter that was not passed.
    #[error("{}", missing_message(.placeholder, *.count))]
    MissingParameter {
        /// The placeholder as written in the statement, e.g. `$3`.
        placeholder: String,
        /// How many parameters were passed.
        count: usize,
    },
    /// Parameters were passed that no placeholder refers to.
    #[error("{}", unused_message(.numbers, *.count))]
    UnusedParameters {
        /// The 1-based numbers of the parameters never referenced, ascending.
        numbers: Vec<usize>,
        /// How many parameters were passed.
        count: usize,
    },
    /// A parameter holds text with a NUL character, which PostgreSQL cannot store.
    #[error(
        "parameter ${number} contains a NUL character (U+0000), which PostgreSQL text cannot \
         hold; remove it, or send binary data as bytea"
    )]
    NulCharacter {
        /// The 1-based number of the parameter.
        number: usize,
    },
    /// The statement ends inside a string, quoted identifier or comment.
    #[error(
        "the statement ends inside {what} that starts at byte {offset}; close it \
         (PostgreSQL would reject the statement too)"
    )]
    Unterminated {
        /// What is left open, e.g. "a dollar-quoted string".
        what: &'static str,
        /// The byte offset where it starts.
        offset: usize,
    },
}

fn missing_message(placeholder: &str, count: usize) -> String {
    let passed = match count {
        0 => "no parameters were passed".to_owned(),
        1 => "only 1 parameter was passed ($1)".to_owned(),
        n => format!("only {n} parameters were passed ($1 to ${n})"),
    };
    format!(
        "the statement uses {placeholder}, but {passed}; pass one value for every \
         placeholder number, starting at $1"
    )
}

fn unused_message(numbers: &[usize], count: usize) -> String {
    let list = numbers
        .iter()
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if numbers.len() == 1 {
        format!(
            "parameter {list} (of {count}) is never used by the statement; remove it from the \
             call or refer to it as {list}"
        )
    } else {
        format!(
            "parameters {list} (of {count}) are never used by the statement; remove them from \
             the call or refer to them"
        )
    }
}

/// Renders a value as an SQL literal that PostgreSQL reads back as the same value and type.
///
/// | variant | literal |
/// | --- | --- |
/// | `Null` | `NULL` (untyped, like a NULL parameter) |
/// | `Boolean` | `true`, `false` |
/// | `Int2`/`Int4`/`Int8` | `5::int4`, `(-5)::int8` |
/// | `Float4`/`Float8` | `'1.5'::float8`, `'1e300'::float8`, `'NaN'::float4`, `'-Infinity'::float8` |
/// | `Numeric` | `'1.50'::numeric` (scale kept) |
/// | `Text` | `'it''s'`, or `E'a\\b\n'` when escapes are needed (untyped) |
/// | `Bytea` | `E'\\xdeadbeef'::bytea` |
/// | `Json`/`Jsonb` | `'{"a": 1}'::json`, `::jsonb` |
/// | `Uuid`, `Date`, `Time`, `Timestamp` | `'…'::uuid`, `::date`, `::time`, `::timestamp` |
/// | `Timestamptz` | `'2024-01-01 12:00:00+02'::timestamptz`; `+00` added when there is no offset |
/// | `TextArray` | `ARRAY['a', NULL]::text[]`, empty `'{}'::text[]` |
/// | `Int8Array` | `ARRAY[1, NULL]::int8[]`, empty `'{}'::int8[]` |
///
/// A NUL character in text is written as `\x00` inside `E'…'`, which PostgreSQL
/// rejects as it rejects the same parameter online; [`inline_params`] refuses it
/// before that.
pub fn literal(value: &PgValue) -> String {
    match value {
        PgValue::Null => "NULL".to_owned(),
        PgValue::Boolean(b) => b.to_string(),
        PgValue::Int2(v) => integer(i64::from(*v), "int2"),
        PgValue::Int4(v) => integer(i64::from(*v), "int4"),
        PgValue::Int8(v) => integer(*v, "int8"),
        PgValue::Float4(v) => typed(&float(*v), "float4"),
        PgValue::Float8(v) => typed(&float(*v), "float8"),
        PgValue::Numeric(s) => typed(s, "numeric"),
        PgValue::Text(s) => string(s),
        PgValue::Bytea(bytes) => {
            let mut hex = String::with_capacity(bytes.len() * 2);
            for b in bytes {
                let _ = write!(hex, "{b:02x}");
            }
            // Inside E'' the backslash of bytea's hex format is itself escaped.
            format!("E'\\\\x{hex}'::bytea")
        }
        PgValue::Json(s) => typed(s, "json"),
        PgValue::Jsonb(s) => typed(s, "jsonb"),
        PgValue::Uuid(s) => typed(s, "uuid"),
        PgValue::Date(s) => typed(s, "date"),
        PgValue::Time(s) => typed(s, "time"),
        PgValue::Timestamp(s) => typed(s, "timestamp"),
        PgValue::Timestamptz(s) => typed(&pin_to_utc(s), "timestamptz"),
        PgValue::TextArray(items) => array(items, "text", |s| string(s)),
        PgValue::Int8Array(items) => array(items, "int8", i64::to_string),
    }
}

fn typed(text: &str, type_name: &str) -> String {
    format!("{}::{type_name}", string(text))
}

fn integer(v: i64, type_name: &str) -> String {
    if v < 0 {
        format!("({v})::{type_name}")
    } else {
        format!("{v}::{type_name}")
    }
}

/// Shortest text that reads back as the same float; exponent form keeps extreme magnitudes short.
fn float<F: Copy + fmt::Display + fmt::LowerExp + Into<f64>>(v: F) -> String {
    let x: f64 = v.into();
    if x.is_nan() {
        "NaN".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if x == 0.0 || (1e-5..1e16).contains(&x.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A string literal that means the same under either `standard_conforming_strings`.
fn string(s: &str) -> String {
    let escaped = s.chars().any(|c| c == '\\' || c.is_ascii_control());
    let mut out = String::with_capacity(s.len() + 3);
    if escaped {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // Always two hex digits, so a following hex digit is not absorbed.
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn array<T>(items: &[Option<T>], element: &str, render: impl Fn(&T) -> String) -> String {
    if items.is_empty() {
        // ARRAY[] needs an element type before the cast applies; '{}' does not.
        return format!("'{{}}'::{element}[]");
    }
    let items: Vec<String> = items
        .iter()
        .map(|item| item.as_ref().map_or_else(|| "NULL".to_owned(), &render))
        .collect();
    // The cast types the elements, so NULLs and large int8 elements come out right.
    format!("ARRAY[{}]::{element}[]", items.join(", "))
}

/// Adds `+00` to a timestamptz without an offset, which the codec takes as UTC.
///
/// Mirrors the codec's reading: `YYYY-MM-DD[( |T)time][zone][ BC]`, where the
/// zone is whatever follows the time from a `+`, `-`, `Z` or space on.
fn pin_to_utc(text: &str) -> Cow<'_, str> {
    let s = text.trim_ascii();
    let special = ["infinity", "-infinity", "epoch"];
    if special.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return Cow::Borrowed(text);
    }
    let (body, era) = match s.len().checked_sub(3).and_then(|cut| s.get(cut..)) {
        Some(tail) if tail.eq_ignore_ascii_case(" BC") => {
            (s[..s.len() - 3].trim_end_matches(' '), " BC")
        }
        _ => (s, ""),
    };
    let time = match body.find(['T', 't', ' ']) {
        Some(at) => body[at + 1..].trim_start_matches(' '),
        None => "",
    };
    let zoned = time
        .find(['+', '-', 'Z', 'z', ' '])
        .is_some_and(|at| !time[at..].trim_start_matches(' ').is_empty());
    if zoned {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{body}+00{era}"))
    }
}

/// Replaces `$1`..`$n` in `statement` by the literals of `params`.
///
/// Placeholders inside string literals (including `E'…'` with backslash
/// escapes), quoted identifiers, dollar-quoted strings and comments are left
/// alone, as is a `$` that continues an identifier (`a$1`). `$12` is parameter
/// twelve, and a parameter may be used more than once. A literal followed by a
/// subscript or field selection is parenthesised, so `$1[1]` keeps meaning
/// element one rather than becoming part of an array type name.
///
/// A statement sent without parameters can be checked by passing `&[]`.
pub fn inline_params(statement: &str, params: &[PgValue]) -> Result<String, OfflineError> {
    let pieces = lex(statement);
    let mut used = vec![false; params.len()];
    let mut out = String::with_capacity(statement.len());
    let mut copied = 0;
    for (at, piece) in pieces.iter().enumerate() {
        if !piece.closed {
            return Err(OfflineError::Unterminated {
                what: piece.kind.describe(),
                offset: piece.start,
            });
        }
        if piece.kind != Kind::Placeholder {
            continue;
        }
        let placeholder = &statement[piece.start..piece.end];
        let number = placeholder[1..]
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=params.len()).contains(n))
            .ok_or_else(|| OfflineError::MissingParameter {
                placeholder: placeholder.to_owned(),
                count: params.len(),
            })?;
        let value = &params[number - 1];
        if holds_nul(value) {
            return Err(OfflineError::NulCharacter { number });
        }
        used[number - 1] = true;
        out.push_str(&statement[copied..piece.start]);
        let selected = pieces[at + 1..]
            .iter()
            .find(|p| !p.kind.is_blank())
            .is_some_and(|p| {
                p.kind == Kind::Other && matches!(&statement[p.start..p.end], "[" | ".")
            });
        if selected {
            out.push('(');
            out.push_str(&literal(value));
            out.push(')');
        } else {
            out.push_str(&literal(value));
        }
        copied = piece.end;
    }
    out.push_str(&statement[copied..]);
    let numbers: Vec<usize> = (1..=params.len()).filter(|n| !used[n - 1]).collect();
    if numbers.is_empty() {
        Ok(out)
    } else {
        Err(OfflineError::UnusedParameters {
            numbers,
            count: params.len(),
        })
    }
}

fn holds_nul(value: &PgValue) -> bool {
    match value {
        PgValue::TextArray(items) => items.iter().flatten().any(|s| s.contains('\0')),
        other => other.as_text().is_some_and(|s| s.contains('\0')),
    }
}

#[cfg(test)]
mod tests;
