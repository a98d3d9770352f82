//! The one PostgreSQL lexer of the host: it splits SQL into the pieces that
//! decide where statements end and what is code, following the server's own
//! scanner (`scan.l`) for comments, quotes, dollar quotes and placeholders.
//! The transaction guard and the offline inliner both read SQL through it, so
//! they cannot disagree about where a string or a comment ends.

/// Ends a statement for a script: trims it and adds `;` unless it already ends with one.
///
/// A `;` inside a string or comment does not count. When the statement ends in
/// comments, the `;` goes before them, so a trailing `-- note` cannot swallow it.
/// A statement that is empty or only comments is returned trimmed, with no `;`.
pub fn terminate(statement: &str) -> String {
    let trimmed = statement.trim_matches(|c: char| c.is_ascii() && is_space(c as u8));
    let pieces = lex(trimmed);
    match pieces.iter().rev().find(|p| !p.kind.is_blank()) {
        None => trimmed.to_owned(),
        Some(p) if p.kind == Kind::Other && &trimmed[p.start..p.end] == ";" => trimmed.to_owned(),
        Some(p) => format!("{};{}", &trimmed[..p.end], &trimmed[p.end..]),
    }
}

/// Where `statement` has a backslash outside strings, quoted names, dollar
/// quotes and comments, under either setting of `standard_conforming_strings`.
///
/// psql reads such a backslash as the start of a meta-command (`\!` runs a
/// shell command), so no script the host writes may contain one; the server
/// would reject it anyway, so refusing it costs an honest revision nothing.
pub fn meta_command(statement: &str) -> Option<usize> {
    if !statement.contains('\\') {
        return None;
    }
    [true, false].into_iter().find_map(|standard| {
        lex_with(statement, standard)
            .into_iter()
            .find(|p| p.kind == Kind::Other && statement.as_bytes()[p.start] == b'\\')
            .map(|p| p.start)
    })
}

/// The lexical classes that matter for finding placeholders and the statement's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Space,
    LineComment,
    BlockComment,
    /// An identifier, keyword or number, `$` included after the first character.
    Word,
    Placeholder,
    /// `'…'`, `E'…'` and the prefixed forms (`B'…'`, `U&'…'`); a prefix is a separate word.
    Quoted,
    /// `"…"`.
    Identifier,
    /// `$$…$$` or `$tag$…$tag$`.
    Dollar,
    /// Any other single (ASCII) character: operators, punctuation.
    Other,
}

impl Kind {
    /// Whitespace and comments: what separates tokens.
    pub fn is_blank(self) -> bool {
        matches!(self, Kind::Space | Kind::LineComment | Kind::BlockComment)
    }

    /// The piece in words, for errors about an unclosed one.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::BlockComment => "a /* comment */",
            Kind::Quoted => "a quoted string",
            Kind::Identifier => "a quoted identifier",
            Kind::Dollar => "a dollar-quoted string",
            _ => "a token",
        }
    }
}

/// One lexical piece of a script: its class and byte range.
#[derive(Debug, Clone, Copy)]
pub struct Piece {
    /// What the piece is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// False when the input ends before the piece's closing delimiter.
    pub closed: bool,
}

// PostgreSQL's lexer classes; bytes from 0x80 up are identifier characters, so
// slicing at the ASCII delimiters below never splits a UTF-8 sequence.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn skip_while(b: &[u8], mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && pred(b[i]) {
        i += 1;
    }
    i
}

fn line_end(b: &[u8], i: usize) -> usize {
    skip_while(b, i, |c| c != b'\n' && c != b'\r')
}

/// Splits `sql` into pieces as the server does with its default
/// `standard_conforming_strings = on`; the last piece may be unclosed.
pub fn lex(sql: &str) -> Vec<Piece> {
    lex_with(sql, true)
}

/// Splits `sql` into pieces as the server does with `standard_conforming_strings`
/// set to `standard_strings`: when it is off, a backslash escapes the next
/// character in every string except bit strings (`B'…'`, `X'…'`).
pub fn lex_with(sql: &str, standard_strings: bool) -> Vec<Piece> {
    let b = sql.as_bytes();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let next = b.get(i + 1).copied();
        let (kind, end, closed) = match b[i] {
            c if is_space(c) => (Kind::Space, skip_while(b, i, is_space), true),
            b'-' if next == Some(b'-') => (Kind::LineComment, line_end(b, i), true),
            b'/' if next == Some(b'*') => {
                let (end, closed) = block_comment(b, i);
                (Kind::BlockComment, end, closed)
            }
            b'\'' => {
                // A prefix counts only as a word of its own right before the quote.
                let prefix = pieces
                    .last()
                    .filter(|p| p.kind == Kind::Word && p.end == i)
                    .map(|p| &sql[p.start..p.end]);
                let is = |word: &str| prefix.is_some_and(|p| p.eq_ignore_ascii_case(word));
                let escapes = is("e") || (!standard_strings && !is("b") && !is("x"));
                let (end, closed) = quoted(b, i, escapes);
                (Kind::Quoted, end, closed)
            }
            b'"' => {
                let (end, closed) = delimited(b, i + 1, b'"');
                (Kind::Identifier, end, closed)
            }
            b'$' if next.is_some_and(|c| c.is_ascii_digit()) => (
                Kind::Placeholder,
                skip_while(b, i + 1, |c| c.is_ascii_digit()),
                true,
            ),
            b'$' => match dollar_tag(b, i) {
                Some(open) => {
                    let tag = &sql[i..open];
                    match sql[open..].find(tag) {
                        Some(at) => (Kind::Dollar, open + at + tag.len(), true),
                        None => (Kind::Dollar, b.len(), false),
                    }
                }
                None => (Kind::Other, i + 1, true),
            },
            c if is_ident_cont(c) => (Kind::Word, skip_while(b, i, is_ident_cont), true),
            _ => (Kind::Other, i + 1, true),
        };
        pieces.push(Piece {
            kind,
            start: i,
            end,
            closed,
        });
        i = end;
    }
    pieces
}

/// A nested `/* … */` comment starting at `i`: returns its end and whether it closed.
fn block_comment(b: &[u8], i: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match (b[j], b.get(j + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                j += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return (j, true);
                }
            }
            _ => j += 1,
        }
    }
    (b.len(), false)
}

/// Scans past a run of `quote`-delimited text whose content starts at `i`,
/// where a doubled quote stands for itself.
fn delimited(b: &[u8], mut i: usize, quote: u8) -> (usize, bool) {
    while i < b.len() {
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return (i + 1, true);
        }
        i += 1;
    }
    (b.len(), false)
}

/// A string literal whose opening quote is at `i`.
///
/// In an `E'…'` string a backslash escapes the next byte, and the string
/// continues into a following `'…'` separated by whitespace that includes a
/// newline, which then has the same escapes. For a standard string such a
/// continuation lexes the same as a new string, so it is left as one.
fn quoted(b: &[u8], i: usize, escapes: bool) -> (usize, bool) {
    if !escapes {
        return delimited(b, i + 1, b'\'');
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'\'' if b.get(j + 1) == Some(&b'\'') => j += 2,
            b'\'' => match continuation(b, j + 1) {
                Some(resume) => j = resume,
                None => return (j + 1, true),
            },
            _ => j += 1,
        }
    }
    (b.len(), false)
}

/// After a closing quote at `i - 1`: where the string resumes if whitespace
/// with a newline (and perhaps `--` comments) leads to another quote.
fn continuation(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut newline = false;
    loop {
        match b.get(j)? {
            b'\n' | b'\r' => {
                newline = true;
                j += 1;
            }
            &c if is_space(c) => j += 1,
            b'-' if b.get(j + 1) == Some(&b'-') => j = line_end(b, j),
            b'\'' if newline => return Some(j + 1),
            _ => return None,
        }
    }
}

/// The end of a `$tag$` or `$$` opening delimiter at `i`, if there is one.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|&c| is_ident_start(c)) {
        j = skip_while(b, j, |c| is_ident_start(c) || c.is_ascii_digit());
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminate_adds_a_semicolon_once() {
        assert_eq!(terminate("SELECT 1"), "SELECT 1;");
        assert_eq!(terminate("  SELECT 1 \n\t"), "SELECT 1;");
        assert_eq!(terminate("SELECT 1;"), "SELECT 1;");
        assert_eq!(terminate("SELECT 1 ;  \n"), "SELECT 1 ;");
        assert_eq!(terminate("SELECT ';'"), "SELECT ';';");
        assert_eq!(terminate("SELECT $$;$$"), "SELECT $$;$$;");
        assert_eq!(terminate("SELECT \";\""), "SELECT \";\";");
        assert_eq!(terminate("SELECT E'\\';'"), "SELECT E'\\';';");
        assert_eq!(terminate(""), "");
        assert_eq!(terminate(" \n "), "");
    }

    #[test]
    fn terminate_puts_the_semicolon_before_trailing_comments() {
        assert_eq!(terminate("SELECT 1 -- note"), "SELECT 1; -- note");
        assert_eq!(terminate("SELECT 1 -- a;"), "SELECT 1; -- a;");
        assert_eq!(terminate("SELECT 1 /* ; */"), "SELECT 1; /* ; */");
        assert_eq!(
            terminate("SELECT 1 /* x */ -- y\n"),
            "SELECT 1; /* x */ -- y"
        );
        assert_eq!(terminate("SELECT 1; -- done"), "SELECT 1; -- done");
        assert_eq!(terminate("-- only a comment"), "-- only a comment");
        assert_eq!(terminate("/* a */ /* b */"), "/* a */ /* b */");
    }

    #[test]
    fn terminate_trims_only_sql_whitespace() {
        // A no-break space is an identifier character to PostgreSQL, not whitespace.
        assert_eq!(terminate("SELECT x\u{a0}"), "SELECT x\u{a0};");
        assert_eq!(terminate("\u{b}SELECT 1\u{c}"), "SELECT 1;");
    }

    #[test]
    fn backslashes_escape_in_plain_strings_only_when_strings_are_not_standard() {
        let ends = |sql: &str, standard: bool| -> Vec<usize> {
            lex_with(sql, standard)
                .into_iter()
                .filter(|p| p.kind == Kind::Quoted)
                .map(|p| p.end)
                .collect()
        };
        assert_eq!(ends(r"'\'' x", true), vec![6]);
        assert_eq!(ends(r"'\'' x", false), vec![4]);
        assert_eq!(ends(r"E'\'' x", true), vec![5]);
        assert_eq!(ends(r"B'\' x", false), vec![4]);
        assert_eq!(ends(r"x'\' y", false), vec![4]);
    }

    #[test]
    fn backslashes_outside_quotes_are_found_under_either_reading() {
        assert_eq!(meta_command(r"SELECT 1 \! id"), Some(9));
        assert_eq!(meta_command("SELECT 1 -- x\r\\! id"), Some(14));
        assert_eq!(
            meta_command(r"SELECT '\! id', E'\\', $$\!$$ /* \! */"),
            None
        );
        // Quoted under standard strings, code when they are off.
        assert_eq!(meta_command(r"SELECT '\'' \! id --'"), Some(12));
        assert_eq!(meta_command(r"SELECT '\' \! id"), Some(11));
    }

    #[test]
    fn lexer_splits_on_sql_token_boundaries() {
        let kinds = |sql: &str| -> Vec<(Kind, String)> {
            lex(sql)
                .into_iter()
                .map(|p| (p.kind, sql[p.start..p.end].to_owned()))
                .collect()
        };
        assert_eq!(
            kinds("a$1 E'\\'' $2::t"),
            vec![
                (Kind::Word, "a$1".into()),
                (Kind::Space, " ".into()),
                (Kind::Word, "E".into()),
                (Kind::Quoted, "'\\''".into()),
                (Kind::Space, " ".into()),
                (Kind::Placeholder, "$2".into()),
                (Kind::Other, ":".into()),
                (Kind::Other, ":".into()),
                (Kind::Word, "t".into()),
            ]
        );
        assert_eq!(
            kinds("$ $x"),
            vec![
                (Kind::Other, "$".into()),
                (Kind::Space, " ".into()),
                (Kind::Other, "$".into()),
                (Kind::Word, "x".into()),
            ]
        );
        assert!(lex("'a").last().is_some_and(|p| !p.closed));
    }
}
