//! `host revision --lang c|python|js`: a revision folder with a working
//! template in that language (a query with a parameter, logged; where to
//! put DDL and data changes), built and locked like any other revision.

use super::{NewRevision, ScaffoldError, folder_name, validate};
use crate::build::language::Language;
use crate::build::tool::{ToolchainError, io};
use crate::build::{c, python};
use std::path::Path;

/// Why a revision could not be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The id, parents or message are not usable.
    #[error(transparent)]
    Invalid(#[from] ScaffoldError),
    /// The folder exists already.
    #[error("{0} exists already; pass another --rev-id or remove it")]
    Exists(String),
    /// Writing a file failed.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
}

/// A C string literal.
fn c_str(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

/// A Python or JavaScript string literal (JSON's escapes are valid in both).
fn script_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Comment text on one line.
fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace("*/", "* /")
}

fn c_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| c_str(i))
        .chain(std::iter::once("NULL".into()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn c_source(rev: &NewRevision) -> String {
    let mut extra = String::new();
    for (field, items) in [
        ("branch_labels", &rev.branch_labels),
        ("depends_on", &rev.depends_on),
    ] {
        if !items.is_empty() {
            extra.push_str(&format!(
                "  static const char *const {field}[] = {{{}}};\n  ret->{field} = pg_strings({field}, {});\n",
                c_list(items),
                items.len()
            ));
        }
    }
    format!(
        r#"// {message}
// Build: `host build` (clang + wasi-libc); SDK: .host/build/c/pgwasm.h.
#include "pgwasm.h"

void exports_migration_info(migration_revision_info_t *ret) {{
  static const char *const parents[] = {{{parents}}};
  pg_info(ret, {id}, parents, {message_lit});
{extra}}}

bool exports_migration_upgrade(migration_string_t *err) {{
  pg_value params[] = {{pg_text("public")}};
  pg_rows rows;
  if (!pg_query("SELECT count(*)::int8 FROM pg_catalog.pg_tables WHERE schemaname = $1", params, 1,
                &rows, err))
    return false;
  pg_log(PG_INFO, "%lld tables in schema public", (long long)pg_cell(&rows, 0, 0)->val.int8);
  pg_rows_free(&rows);
  // Schema changes: pg_batch("ALTER TABLE ...", err).
  // Data: pg_execute("UPDATE t SET a = $1 WHERE id = $2", params, 2, NULL, err),
  // or pg_execute_many for many rows in one round trip.
  return true;
}}

bool exports_migration_downgrade(migration_string_t *err) {{
  (void)err;
  // Undo what upgrade did.
  return true;
}}
"#,
        message = comment(&rev.message),
        parents = c_list(&rev.down_revisions),
        id = c_str(&rev.id),
        message_lit = c_str(&rev.message),
    )
}

fn script_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| script_str(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn python_source(rev: &NewRevision) -> String {
    format!(
        r#""""{message}"""

from pgwasm import Revision, RevisionInfo, Value_Text, batch, execute, execute_many, log, query


class WitWorld(Revision):
    def info(self):
        return RevisionInfo(
            id={id},
            down_revisions={parents},
            branch_labels={labels},
            depends_on={depends},
            message={message_lit},
            transactional=True,
        )

    def upgrade(self):
        [[count]] = query("SELECT count(*)::int8 FROM pg_catalog.pg_tables WHERE schemaname = $1", [Value_Text("public")])
        log(f"{{count.value}} tables in schema public")
        # Schema changes: batch("ALTER TABLE ...").
        # Data: execute("UPDATE t SET a = $1 WHERE id = $2", [Value_Text("x"), Value_Int4(1)]),
        # or execute_many for many rows in one round trip.

    def downgrade(self):
        # Undo what upgrade did.
        pass
"#,
        message = comment(&rev.message).replace("\"\"\"", "'''"),
        id = script_str(&rev.id),
        parents = script_list(&rev.down_revisions),
        labels = script_list(&rev.branch_labels),
        depends = script_list(&rev.depends_on),
        message_lit = script_str(&rev.message),
    )
}

fn js_source(rev: &NewRevision) -> String {
    format!(
        r#"// {message}
// Build: `host build` (componentize-js from node_modules, no WASI features).
import {{ batch, execute, executeMany, query }} from 'pgwasm:migration/sql@0.1.0';
import {{ log }} from 'pgwasm:migration/context@0.1.0';

export function info() {{
  return {{
    id: {id},
    downRevisions: {parents},
    branchLabels: {labels},
    dependsOn: {depends},
    message: {message_lit},
    transactional: true,
  }};
}}

// Imports throw a database error; the export's error must be a string.
function sql(what, run) {{
  try {{
    return run();
  }} catch (e) {{
    const err = e.payload ?? e;
    throw `${{what}}: ${{err.sqlstate ?? ''}} ${{err.message ?? err}}`;
  }}
}}

export function upgrade() {{
  const rows = sql('count tables', () =>
    query('SELECT count(*)::int8 FROM pg_catalog.pg_tables WHERE schemaname = $1', [{{ tag: 'text', val: 'public' }}]));
  log('info', `${{rows.values[0][0].val}} tables in schema public`);
  // Schema changes: sql('...', () => batch('ALTER TABLE ...')).
  // Data: execute('UPDATE t SET a = $1 WHERE id = $2', [{{ tag: 'text', val: 'x' }}, {{ tag: 'int4', val: 1 }}]),
  // or executeMany for many rows in one round trip.
}}

export function downgrade() {{
  // Undo what upgrade did.
}}
"#,
        message = comment(&rev.message),
        id = script_str(&rev.id),
        parents = script_list(&rev.down_revisions),
        labels = script_list(&rev.branch_labels),
        depends = script_list(&rev.depends_on),
        message_lit = script_str(&rev.message),
    )
}

/// The `host.toml` section a Python revision needs: CPython links the
/// filesystem and sockets interfaces even when the program uses neither.
fn python_grant(id: &str) -> String {
    format!(
        "\n# CPython links these; the sandbox still gives no directory and no network.\n[revisions.{id}]\ngrant = [\"wasi:filesystem\", \"wasi:sockets\"]\n"
    )
}

/// Writes `<project>/<folder>/revision.<ext>` (and, for Python, the grant in
/// host.toml); returns the folder relative to the project.
pub fn write_revision(
    project: &Path,
    rev: &NewRevision,
    lang: Language,
) -> Result<String, TemplateError> {
    validate(rev)?;
    let folder = folder_name(rev);
    let dir = project.join(&folder);
    if dir.symlink_metadata().is_ok() {
        return Err(TemplateError::Exists(dir.display().to_string()));
    }
    let source = match lang {
        Language::C => c_source(rev),
        Language::Python => python_source(rev),
        Language::Js => js_source(rev),
        Language::Rust => unreachable!("Rust revisions are scaffolded by crate::build::scaffold"),
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let file = dir.join(lang.entry_file());
    std::fs::write(&file, source).map_err(io(&file))?;
    match lang {
        // Editors find the header and the SDK before the first build.
        Language::C => {
            c::write_bindings(project)?;
        }
        Language::Python => {
            let settings = project.join(crate::project::SETTINGS_FILE);
            let mut text = std::fs::read_to_string(&settings).unwrap_or_default();
            text.push_str(&python_grant(&rev.id));
            crate::project::write_atomically(&settings, text.as_bytes()).map_err(io(&settings))?;
            python::write_sdk(project)?;
        }
        _ => {}
    }
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_strings_escape_quotes_and_bytes() {
        assert_eq!(c_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\012\"");
    }

    #[test]
    fn python_grant_is_valid_toml_for_the_revision() {
        let table: toml::Table = python_grant("0123456789ab").parse().unwrap();
        assert_eq!(
            table["revisions"]["0123456789ab"]["grant"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
