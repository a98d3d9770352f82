//! PostgreSQL's text input syntax for integers, booleans, `"char"`, bytea and uuid.

use std::fmt::Write as _;
use std::num::IntErrorKind;

use super::Fail;
use super::encode::out_of_range;

pub(super) fn parse_int(text: &str) -> Result<i64, Fail> {
    text.trim_ascii()
        .parse::<i64>()
        .map_err(|e| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => out_of_range("int8"),
            _ => Fail::Syntax("not a valid integer".to_owned()),
        })
}

pub(super) fn parse_bool(text: &str) -> Result<bool, Fail> {
    // PostgreSQL takes any unique prefix of true/false/yes/no, plus on/off/1/0.
    let s = text.trim_ascii().to_ascii_lowercase();
    let prefix_of = |word: &str, min_len: usize| s.len() >= min_len && word.starts_with(&s);
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || s == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0" {
        Ok(false)
    } else {
        Err(Fail::Syntax(
            "not a valid boolean (expected true/false, yes/no, on/off or 1/0)".to_owned(),
        ))
    }
}

pub(super) fn parse_char(text: &str) -> Result<u8, Fail> {
    match text.as_bytes() {
        // An empty string is the zero byte, which PostgreSQL prints as nothing.
        [] => Ok(0),
        [b] if b.is_ascii() => Ok(*b),
        // High bytes are written as PostgreSQL prints them: a backslash and three octal digits.
        [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
            Ok(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
        }
        _ => Err(Fail::Syntax(
            "a \"char\" holds one ASCII character or a \\ooo octal escape".to_owned(),
        )),
    }
}

pub(super) fn parse_bytea(text: &str) -> Result<Vec<u8>, Fail> {
    let syntax = |what: &str| Fail::Syntax(format!("not a valid bytea literal ({what})"));
    if let Some(hex) = text.strip_prefix("\\x") {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return Err(syntax("odd number of hex digits"));
        }
        return digits
            .chunks(2)
            .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| syntax("expected hex digits after \\x"));
    }
    // The escape format: literal bytes, `\\` for a backslash, `\ooo` for any byte.
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first != b'\\' {
            bytes.push(first);
            rest = tail;
            continue;
        }
        match tail {
            [b'\\', after @ ..] => {
                bytes.push(b'\\');
                rest = after;
            }
            [
                a @ b'0'..=b'3',
                b @ b'0'..=b'7',
                c @ b'0'..=b'7',
                after @ ..,
            ] => {
                bytes.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                rest = after;
            }
            _ => {
                return Err(syntax(
                    "a backslash must start \\x, \\\\ or a \\ooo octal escape",
                ));
            }
        }
    }
    Ok(bytes)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a uuid the way PostgreSQL does: 32 hex digits in any case, optionally
/// in braces, with a single hyphen allowed after any group of four digits.
pub(super) fn parse_uuid(text: &str) -> Result<[u8; 16], Fail> {
    let syntax = || {
        Fail::Syntax(
            "not a valid uuid (expected 32 hex digits, optionally hyphenated as 8-4-4-4-12)"
                .to_owned(),
        )
    };
    let bytes = text.as_bytes();
    let braced = bytes.first() == Some(&b'{');
    let mut pos = usize::from(braced);
    let mut uuid = [0u8; 16];
    for (i, byte) in uuid.iter_mut().enumerate() {
        let hi = bytes
            .get(pos)
            .copied()
            .and_then(hex_value)
            .ok_or_else(syntax)?;
        let lo = bytes
            .get(pos + 1)
            .copied()
            .and_then(hex_value)
            .ok_or_else(syntax)?;
        *byte = hi << 4 | lo;
        pos += 2;
        if i % 2 == 1 && i < 15 && bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
    }
    if braced {
        if bytes.get(pos) != Some(&b'}') {
            return Err(syntax());
        }
        pos += 1;
    }
    if pos != bytes.len() {
        return Err(syntax());
    }
    Ok(uuid)
}

pub(super) fn format_uuid(uuid: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}
