use alloc::format;
use alloc::string::String;

use crate::{Error, Result};

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1); longer ones are
/// silently truncated, which would make two names collide.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Quotes an identifier for PostgreSQL, refusing names it would mangle.
pub fn quote_ident(name: &str) -> Result<String> {
    let mut out = String::with_capacity(name.len() + 2);
    push_ident(&mut out, name)?;
    Ok(out)
}

/// Appends `name` as a double-quoted identifier. Quoting every name, even
/// harmless ones, means a name can never end the identifier early and inject
/// SQL, and keeps its case exactly as written.
pub(crate) fn push_ident(out: &mut String, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::Invalid("empty identifier".into()));
    }
    if name.contains('\0') {
        return Err(Error::Invalid(format!(
            "identifier {name:?} contains a NUL character"
        )));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(Error::Invalid(format!(
            "identifier {name:?} is {} bytes long; PostgreSQL would silently truncate it to {MAX_IDENTIFIER_BYTES}",
            name.len()
        )));
    }
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    Ok(())
}

/// Appends `("a", "b")`; an empty list is refused because PostgreSQL's error
/// for it would not say which statement of a batch was wrong.
pub(crate) fn push_ident_list(out: &mut String, names: &[String], what: &str) -> Result<()> {
    if names.is_empty() {
        return Err(Error::Invalid(format!("{what} needs at least one column")));
    }
    out.push('(');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_ident(out, name)?;
    }
    out.push(')');
    Ok(())
}
