//! Quoting of names and strings for the SQL the host writes itself.

/// Quotes an identifier for PostgreSQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal so it reads the same whatever `standard_conforming_strings` says.
pub fn literal(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_strings_keep_their_quotes_and_backslashes() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal(r"it's a \ back"), r"E'it''s a \\ back'");
    }
}
