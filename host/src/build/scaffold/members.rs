//! The workspace `members` array of a project's `Cargo.toml`: the file
//! belongs to its users, so only that array changes, and the edit is checked
//! by parsing the result before anything is written.

use toml_edit::{Array, DocumentMut, Item, RawString, TomlError, Value, value};

/// Parses the edited manifest and checks that the only change is `folder`
/// appended to `workspace.members`.
pub(super) fn check_member_edit(
    before: &toml::Table,
    edited: &str,
    folder: &str,
) -> Result<(), String> {
    let after = edited.parse::<toml::Table>().map_err(|e| {
        format!(
            "the edited manifest would not parse ({})",
            e.to_string().trim()
        )
    })?;
    let mut expected = before.clone();
    let workspace = expected
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or("no [workspace] table")?;
    let members = workspace
        .entry("members")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    members
        .as_array_mut()
        .ok_or("`members` is not an array")?
        .push(toml::Value::String(folder.to_string()));
    if after == expected {
        Ok(())
    } else {
        Err("the layout of the manifest was not understood (the edit would change more than `members`)".into())
    }
}

/// Adds `folder` to `workspace.members` in a manifest's text, changing nothing else.
pub(super) fn add_member(doc: &str, folder: &str) -> Result<String, String> {
    // toml_edit does not keep a byte-order mark, which editors on Windows may write.
    let (bom, body) = match doc.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", doc),
    };
    // toml_edit writes `\n` line ends, so those of a CRLF manifest come back afterwards.
    let crlf = doc.contains("\r\n");
    let mut manifest: DocumentMut = body.parse().map_err(|e: TomlError| e.to_string())?;
    let not_in_header = || "`members` is not in a [workspace] table header".to_string();
    let Some(Item::Table(workspace)) = manifest.get_mut("workspace") else {
        return Err(not_in_header());
    };
    let key_indent = workspace
        .key("members")
        .map(|k| indent_after_newline(raw(k.leaf_decor().prefix())))
        .unwrap_or_default();
    let headless = workspace.is_implicit() || workspace.is_dotted();
    match workspace.get_mut("members") {
        Some(item) => {
            let array = item
                .as_array_mut()
                .ok_or("`members` is not written as an array")?;
            append(array, folder, &key_indent);
        }
        // A dotted `workspace.resolver = ...` or a `[workspace.package]`
        // alone has no header to put `members` under.
        None if headless => return Err(not_in_header()),
        None => {
            let mut members = Array::new();
            members.push(folder);
            workspace.insert("members", value(members));
            // Right under the header, where readers look for it.
            workspace
                .sort_values_by(|a, _, b, _| (b.get() == "members").cmp(&(a.get() == "members")));
        }
    }
    let text = manifest.to_string();
    let text = if crlf {
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        text
    };
    Ok(format!("{bom}{text}"))
}

/// The text of a decor part, empty when it has none.
fn raw(part: Option<&RawString>) -> &str {
    part.and_then(RawString::as_str).unwrap_or_default()
}

/// The blanks that start the last line of `text`.
fn indent_after_newline(text: &str) -> String {
    let line = text.rfind('\n').map_or(text, |at| &text[at + 1..]);
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// Appends `folder` to `array` in the array's own layout: on a line of its
/// own, indented like the last entry, when `]` is on a later line than that
/// entry; after it on the same line otherwise.
fn append(array: &mut Array, folder: &str, key_indent: &str) {
    let mut entry = Value::from(folder);
    let Some(last) = array.len().checked_sub(1) else {
        append_to_empty(array, entry);
        return;
    };
    let comma = array.trailing_comma();
    let last_suffix = raw(array.get(last).and_then(|v| v.decor().suffix())).to_string();
    // What stands between the last entry (or its comma) and `]`.
    let after = if comma {
        raw(Some(array.trailing())).to_string()
    } else {
        format!("{last_suffix}{}", raw(Some(array.trailing())))
    };
    let indent = line_indent(array, key_indent);
    let last_value = array.get_mut(last).expect("the array has a last entry");
    match after.find('\n') {
        Some(at) => {
            entry
                .decor_mut()
                .set_prefix(format!("{}\n{indent}", &after[..at]));
            entry.decor_mut().set_suffix("");
            if !comma {
                // The comma goes right after the entry, before its comment.
                last_value.decor_mut().set_suffix("");
            }
            array.set_trailing(format!("\n{}", &after[at + 1..]));
        }
        None if comma => {
            entry.decor_mut().set_prefix(" ");
            entry.decor_mut().set_suffix("");
        }
        None => {
            last_value.decor_mut().set_suffix("");
            entry.decor_mut().set_prefix(" ");
            entry.decor_mut().set_suffix(last_suffix);
        }
    }
    array.push_formatted(entry);
}

/// The indentation of the line the last entry of a non-empty array is on.
fn line_indent(array: &Array, key_indent: &str) -> String {
    // Entries on one line share it: the first prefix (from the end) that
    // holds a newline starts the line; without one, it is the key's line.
    let prefixes: Vec<&str> = array.iter().map(|v| raw(v.decor().prefix())).collect();
    prefixes
        .into_iter()
        .rev()
        .find(|prefix| prefix.contains('\n'))
        .map_or_else(|| key_indent.to_string(), indent_after_newline)
}

/// The first entry: one line stays one line; a multi-line array gets an
/// indented line above its closing bracket.
fn append_to_empty(array: &mut Array, mut entry: Value) {
    let inner = raw(Some(array.trailing())).to_string();
    match inner.rfind('\n') {
        Some(at) => {
            let bracket_indent = &inner[at + 1..];
            entry
                .decor_mut()
                .set_prefix(format!("{}{bracket_indent}    ", &inner[..=at]));
            entry.decor_mut().set_suffix("");
            array.set_trailing_comma(true);
            array.set_trailing(format!("\n{bracket_indent}"));
        }
        None => {
            entry.decor_mut().set_prefix("");
            entry.decor_mut().set_suffix("");
            array.set_trailing("");
        }
    }
    array.push_formatted(entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::scaffold::tests::REAL;

    fn added(doc: &str) -> String {
        let out = add_member(doc, "new_one").unwrap();
        let before = doc.parse::<toml::Table>().unwrap();
        check_member_edit(&before, &out, "new_one").unwrap();
        out
    }

    #[test]
    fn members_multi_line_with_trailing_comma() {
        assert_eq!(
            added(REAL),
            REAL.replace("table\",\n]", "table\",\n    \"new_one\",\n]")
        );
    }

    #[test]
    fn members_multi_line_without_trailing_comma() {
        let doc = "[workspace]\nmembers = [\n  \"a\",\n  \"b\"\n]\n";
        assert_eq!(
            added(doc),
            "[workspace]\nmembers = [\n  \"a\",\n  \"b\",\n  \"new_one\"\n]\n"
        );
    }

    #[test]
    fn members_on_one_line() {
        let cases = [
            (
                "members = [\"a\", \"b\"]",
                "members = [\"a\", \"b\", \"new_one\"]",
            ),
            ("members = []", "members = [\"new_one\"]"),
            ("members = [ ]", "members = [\"new_one\"]"),
            ("members = [\"a\",]", "members = [\"a\", \"new_one\",]"),
            (
                "members = ['a'] # revisions",
                "members = ['a', \"new_one\"] # revisions",
            ),
        ];
        for (line, want) in cases {
            let doc = format!("[workspace]\nresolver = \"3\"\n{line}\n");
            assert_eq!(
                added(&doc),
                format!("[workspace]\nresolver = \"3\"\n{want}\n"),
                "{line}"
            );
        }
    }

    #[test]
    fn members_with_comments_keep_them() {
        let doc = "[workspace] # ours\nmembers = [ # oldest first\n    \"a\", # first\n    # \"gone\",\n    \"b\" # second\n    # end\n]\n";
        assert_eq!(
            added(doc),
            "[workspace] # ours\nmembers = [ # oldest first\n    \"a\", # first\n    # \"gone\",\n    \"b\", # second\n    \"new_one\"\n    # end\n]\n"
        );
    }

    #[test]
    fn members_closing_on_the_last_line() {
        let doc = "[workspace]\nmembers = [\n    \"a\",\n    \"b\"]\n";
        assert_eq!(
            added(doc),
            "[workspace]\nmembers = [\n    \"a\",\n    \"b\", \"new_one\"]\n"
        );
    }

    #[test]
    fn members_empty_multi_line() {
        let doc = "[workspace]\nmembers = [\n    # none yet\n]\n";
        assert_eq!(
            added(doc),
            "[workspace]\nmembers = [\n    # none yet\n    \"new_one\",\n]\n"
        );
    }

    #[test]
    fn members_missing_or_elsewhere() {
        let doc = "[package]\nname = \"x\"\n\n[workspace] # revisions\nresolver = \"3\"\n";
        assert_eq!(
            added(doc),
            "[package]\nname = \"x\"\n\n[workspace] # revisions\nmembers = [\"new_one\"]\nresolver = \"3\"\n"
        );
        assert_eq!(
            added("[workspace]"),
            "[workspace]\nmembers = [\"new_one\"]\n"
        );
        let dotted = "workspace.members = [\"a\"]\nworkspace.resolver = \"3\"\n";
        assert_eq!(
            added(dotted),
            "workspace.members = [\"a\", \"new_one\"]\nworkspace.resolver = \"3\"\n"
        );
        let quoted = "[\"workspace\"]\n\"members\" = [\"a\"]\n";
        assert_eq!(
            added(quoted),
            "[\"workspace\"]\n\"members\" = [\"a\", \"new_one\"]\n"
        );
    }

    #[test]
    fn members_after_tricky_values() {
        // Brackets, quotes and `#` inside strings, a multi-line string and a
        // nested array must not be mistaken for structure.
        let doc = concat!(
            "[workspace]\n",
            "exclude = [\"a]#\", 'b[\"', \"c\\\"]\"]\n",
            "metadata.note = \"\"\"\n[workspace]\nmembers = [\"fake\"]\n\"\"\"\n",
            "metadata.grid = [[1, 2], [3]]\n",
            "members = [\"m\"]\n",
            "[[bin]]\nname = \"x\"\nmembers = [\"y\"]\n",
        );
        let out = added(doc);
        assert!(out.contains("members = [\"m\", \"new_one\"]\n"), "{out}");
        assert!(out.contains("members = [\"fake\"]") && out.contains("members = [\"y\"]"));
    }

    #[test]
    fn members_keep_crlf() {
        let doc = "[workspace]\r\nmembers = [\r\n    \"a\",\r\n]\r\n";
        assert_eq!(
            added(doc),
            "[workspace]\r\nmembers = [\r\n    \"a\",\r\n    \"new_one\",\r\n]\r\n"
        );
    }

    #[test]
    fn members_after_a_byte_order_mark() {
        let doc = "\u{feff}[workspace]\nmembers = [\"a\"]\n";
        assert_eq!(
            add_member(doc, "b").unwrap(),
            "\u{feff}[workspace]\nmembers = [\"a\", \"b\"]\n"
        );
    }

    #[test]
    fn members_outside_a_header_are_refused() {
        let inline = "workspace = { members = [\"a\"] }\n";
        assert!(add_member(inline, "new_one").is_err());
        assert!(add_member("[package]\nname = \"x\"\n", "new_one").is_err());
    }
}
