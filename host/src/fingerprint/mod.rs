//! Schema fingerprints: a canonical description of the managed schema read
//! from PostgreSQL's catalog, its blake3 hash, and a comparison that names
//! every differing object in words.
//!
//! What makes the description canonical:
//!
//! - **No OIDs.** Only names and PostgreSQL's own deparsed definitions
//!   (`format_type`, `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`,
//!   `pg_get_viewdef`, `pg_get_functiondef`, `pg_get_triggerdef`) are read.
//! - **No creation order.** Objects are a set sorted by key. A column's
//!   position is its rank among the table's live columns, so the gaps that
//!   dropped columns leave in `attnum` do not count, but the visible column
//!   order does.
//! - **No session dependence.** Deparsed text depends on the reader's
//!   `search_path` (names visible on it are printed unqualified) and on the
//!   output settings of constants. [`Schema::read`] pins them for the length
//!   of its own statements — `search_path = pg_catalog`, so every name outside
//!   the catalog is schema-qualified everywhere — and restores the caller's
//!   values, so it can run inside the runner's transaction.
//! - **No names PostgreSQL generated.** A constraint, index or owned sequence
//!   whose name is exactly what PostgreSQL would generate for it today (same
//!   rule, same truncation to `max_identifier_length`, including the number
//!   appended after a collision) is keyed by what it is rather than what it is
//!   called: a primary key by its table, a UNIQUE or FOREIGN KEY constraint by
//!   its table and columns, a CHECK or EXCLUDE constraint and an index by its
//!   definition, a serial or identity sequence by its column. Such a name
//!   carries no information beyond the definition, yet depends on history
//!   (`tasks_owner_fkey` vs `tasks_owner_fkey1` depending on which FK came
//!   first). Any other name — chosen by the author, or left stale by a table
//!   rename — is kept in the key, because later revisions drop and alter
//!   constraints by name, so it is part of what a revision relies on.
//!   Constraints are therefore not always keyed by definition.
//! - **Implied objects are left out**: indexes that implement a PRIMARY KEY,
//!   UNIQUE or EXCLUDE constraint (the constraint describes them);
//!   constraints, indexes and triggers cloned from a partitioned parent and
//!   inherited CHECKs (the parent describes them); internal triggers (foreign
//!   key enforcement); every object that belongs to an extension (the
//!   extension's name and version stand for them); row and array types.
//!
//! Not covered: owners, privileges, row-level security policies, rules,
//! statistics objects, publications, tablespaces, per-column storage,
//! operators, casts and collations defined in the schema. Deparsed text can
//! change between PostgreSQL major versions, so fingerprints are comparable
//! on the same major version.

use crate::sql::quote::literal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::{Client, SimpleQueryMessage};

/// First line of the canonical text; bumped whenever the format changes so
/// that fingerprints of different formats can never be confused.
pub const FORMAT: &str = "host schema fingerprint v1";

/// What to describe: which schemas, minus the host's bookkeeping tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Schemas whose objects are described (extensions are database-wide and always are).
    pub schemas: Vec<String>,
    /// Tables left out with their columns, constraints, indexes, triggers and
    /// owned sequences: a bare name matches in every schema, `schema.table` in one.
    pub exclude_tables: Vec<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            schemas: vec!["public".into()],
            exclude_tables: vec!["alembic_version".into(), "host_history".into()],
        }
    }
}

/// Why reading the schema failed.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// A catalog query failed.
    #[error("{what} failed: {}", describe(.source))]
    Sql {
        /// What was being read.
        what: &'static str,
        /// The error.
        source: tokio_postgres::Error,
    },
    /// The server predates catalog columns the reader relies on.
    #[error("schema fingerprints need PostgreSQL 13 or later; this server is {0}")]
    Unsupported(String),
    /// The catalog answered in a shape the reader does not understand.
    #[error("unexpected answer while reading {what}: {detail}")]
    Catalog {
        /// What was being read.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// A tokio-postgres error with its SQLSTATE and server message.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("SQLSTATE {}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// One object of the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// What it is: `table`, `column`, `constraint`, `index`, `sequence`, ...
    pub kind: String,
    /// Its identity within the kind, schema-qualified, identifiers quoted as PostgreSQL quotes them.
    pub name: String,
    /// Key of the table (or view) it belongs to; used only to avoid listing
    /// the parts of an object that is missing as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Its properties; an absent property has its default (no default, nullable, no comment...).
    pub attrs: BTreeMap<String, String>,
}

impl Object {
    fn new(kind: &str, name: String) -> Self {
        Object {
            kind: kind.into(),
            name,
            parent: None,
            attrs: BTreeMap::new(),
        }
    }

    /// The stable key: kind and name, e.g. `column public.tasks.email`.
    pub fn key(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    /// How the object is named in a report: `public.` is left out, since
    /// unqualified names mean it for anyone reading one.
    pub fn display(&self) -> String {
        let name = self.name.strip_prefix("public.").unwrap_or(&self.name);
        format!("{} {}", self.kind, name)
    }

    fn set(&mut self, attr: &str, value: impl Into<String>) {
        self.attrs.insert(attr.into(), value.into());
    }

    fn set_opt(&mut self, attr: &str, value: Option<String>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.set(attr, v);
        }
    }

    fn with_parent(mut self, parent: Option<String>) -> Self {
        self.parent = parent;
        self
    }
}

/// The canonical schema: a set of objects keyed by [`Object::key`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The objects, by key.
    pub objects: BTreeMap<String, Object>,
}

impl Schema {
    /// Reads the schema from the catalog in two round trips: the caller's
    /// settings, then one batch with one JSON-building query per object kind.
    pub async fn read(client: &Client, scope: &Scope) -> Result<Schema, FingerprintError> {
        let settings = read_settings(client).await?;
        let queries = catalog_queries(scope);
        let mut batch = pin_sql(PINNED.iter().map(|(n, v)| (*n, (*v).to_string())));
        for (_, q) in &queries {
            batch.push_str(&format!(
                "SELECT coalesce(json_agg(r), '[]')::text FROM ({q}) r;\n"
            ));
        }
        batch.push_str(&pin_sql(settings.saved.iter().cloned()));
        let messages =
            client
                .simple_query(&batch)
                .await
                .map_err(|source| FingerprintError::Sql {
                    what: "reading the catalog",
                    source,
                })?;
        let rows: Vec<Option<String>> = messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
                _ => None,
            })
            .collect();
        if rows.len() != queries.len() + 2 {
            return Err(FingerprintError::Catalog {
                what: "the catalog",
                detail: format!(
                    "{} result rows for {} statements",
                    rows.len(),
                    queries.len() + 2
                ),
            });
        }
        let mut json = BTreeMap::new();
        for ((what, _), row) in queries.iter().zip(&rows[1..]) {
            json.insert(*what, row.clone().unwrap_or_default());
        }
        Catalog::parse(&json)?.build(settings.max_identifier_length)
    }

    /// The canonical text that is hashed: a format line, then one line per
    /// object in key order, `key<TAB>{"attr":"value",...}`.
    pub fn canonical(&self) -> String {
        let mut out = format!("{FORMAT}\n");
        for (key, object) in &self.objects {
            out.push_str(&escape_key(key));
            out.push('\t');
            let attrs: serde_json::Map<String, serde_json::Value> = object
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            out.push_str(&serde_json::Value::Object(attrs).to_string());
            out.push('\n');
        }
        out
    }

    /// blake3 of [`Schema::canonical`], in hex.
    pub fn fingerprint(&self) -> String {
        blake3::hash(self.canonical().as_bytes())
            .to_hex()
            .to_string()
    }

    /// The differences between what revision `label` should leave and what
    /// the database has, one sentence each, in key order. The parts of a
    /// table that is missing or extra as a whole are not listed separately.
    pub fn diff(expected: &Schema, actual: &Schema, label: &str) -> Vec<String> {
        let keys: BTreeSet<&String> = expected
            .objects
            .keys()
            .chain(actual.objects.keys())
            .collect();
        let mut out = Vec::new();
        for key in keys {
            match (expected.objects.get(key), actual.objects.get(key)) {
                (None, Some(a)) => {
                    let parent_extra = a.parent.as_ref().is_some_and(|p| {
                        actual.objects.contains_key(p) && !expected.objects.contains_key(p)
                    });
                    if !parent_extra {
                        out.push(format!(
                            "{} exists in the database but not after {label}",
                            a.display()
                        ));
                    }
                }
                (Some(e), None) => {
                    let parent_missing = e.parent.as_ref().is_some_and(|p| {
                        expected.objects.contains_key(p) && !actual.objects.contains_key(p)
                    });
                    if !parent_missing {
                        out.push(format!(
                            "{} is missing from the database (expected after {label})",
                            e.display()
                        ));
                    }
                }
                (Some(e), Some(a)) => {
                    let attrs: BTreeSet<&String> = e.attrs.keys().chain(a.attrs.keys()).collect();
                    for attr in attrs {
                        let (ev, av) = (e.attrs.get(attr), a.attrs.get(attr));
                        if ev != av {
                            out.push(attr_difference(
                                &a.display(),
                                attr,
                                ev.map(String::as_str),
                                av.map(String::as_str),
                                label,
                            ));
                        }
                    }
                }
                (None, None) => {}
            }
        }
        out
    }
}

/// One sentence for one property that differs.
fn attr_difference(
    who: &str,
    attr: &str,
    expected: Option<&str>,
    actual: Option<&str>,
    label: &str,
) -> String {
    // Function bodies and view definitions span lines: quoting both whole
    // would bury the change, so the first differing line is shown instead.
    if let (Some(e), Some(a)) = (expected, actual)
        && (e.contains('\n') || a.contains('\n'))
    {
        let (el, al): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
        let n = el.iter().zip(&al).take_while(|(x, y)| x == y).count();
        let line = |v: &[&str]| {
            v.get(n)
                .map_or("(end)".to_string(), |l| format!("`{}`", l.trim()))
        };
        return format!(
            "{who} has a different {attr} in the database than after {label}: line {} is {} in the database but {} after {label}",
            n + 1,
            line(&al),
            line(&el),
        );
    }
    let (verb, a) = phrase(attr, actual);
    let (_, e) = phrase(attr, expected);
    format!("{who} {verb} {a} in the database but {e} after {label}")
}

/// How a property reads in a sentence: the verb and the words for its value
/// (or for its absence, which means the default).
fn phrase(attr: &str, value: Option<&str>) -> (&'static str, String) {
    let v = value.unwrap_or_default();
    let present = value.is_some();
    match attr {
        "type" | "definition" | "persistence" | "enabled" | "validity" => {
            let absent = match attr {
                "persistence" => "logged",
                "enabled" => "ENABLED",
                "validity" => "valid",
                _ => "undefined",
            };
            (
                "is",
                if present {
                    v.to_string()
                } else {
                    absent.into()
                },
            )
        }
        "replica identity" => (
            "has",
            format!("REPLICA IDENTITY {}", value.unwrap_or("DEFAULT")),
        ),
        "replica identity index" => (
            "is",
            if present {
                "the table's replica identity"
            } else {
                "not the table's replica identity"
            }
            .into(),
        ),
        "partition by" => (
            "is",
            if present {
                format!("partitioned by {v}")
            } else {
                "not partitioned".into()
            },
        ),
        "partition of" => (
            "is",
            if present {
                format!("a partition of {v}")
            } else {
                "not a partition".into()
            },
        ),
        "inherits" => (
            "is",
            if present {
                format!("inheriting from {v}")
            } else {
                "not inheriting".into()
            },
        ),
        "not null" => ("is", if present { "NOT NULL" } else { "nullable" }.into()),
        "identity" => (
            "is",
            if present {
                format!("GENERATED {v} AS IDENTITY")
            } else {
                "not an identity column".into()
            },
        ),
        "generated" => (
            "is",
            if present {
                format!("GENERATED ALWAYS AS ({v}) STORED")
            } else {
                "not a generated column".into()
            },
        ),
        "position" => ("is", format!("at position {v}")),
        "name" => (
            "is",
            if present {
                format!("named {v}")
            } else {
                "named as PostgreSQL generates it".into()
            },
        ),
        "cycle" => ("is", if present { "CYCLE" } else { "NO CYCLE" }.into()),
        "comment" => (
            "has",
            if present {
                format!("comment '{}'", v.replace('\'', "''"))
            } else {
                "no comment".into()
            },
        ),
        _ => (
            "has",
            if present {
                format!("{attr} {v}")
            } else {
                format!("no {attr}")
            },
        ),
    }
}

/// Keys come from catalog text and may hold any character; escaping line
/// breaks and tabs keeps one object per line and the tab a separator.
fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Names PostgreSQL generates.

/// The name PostgreSQL builds from a table name, an optional addition
/// (columns) and a label such as `pkey`: `name1_name2_label`, the longer of
/// the two names shortened first until the whole fits in `max` bytes, cut
/// on a character boundary.
fn make_object_name(name1: &str, name2: Option<&str>, label: &str, max: usize) -> String {
    let mut overhead = label.len() + 1;
    if name2.is_some() {
        overhead += 1;
    }
    let avail = max.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let mut out = clip(name1, n1).to_string();
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(clip(name2, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// The longest prefix of `s` of at most `n` bytes that ends on a character boundary.
fn clip(s: &str, n: usize) -> &str {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Column names joined with `_` the way PostgreSQL builds the middle part
/// of index and foreign key names: it stops adding names once the result
/// reaches `max + 1` bytes and leaves the final cut to [`make_object_name`].
fn name_addition(columns: &[String], max: usize) -> String {
    let mut out = String::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push('_');
        }
        out.push_str(clip(c, max));
        if out.len() > max {
            break;
        }
    }
    out
}

/// Whether `name` is what PostgreSQL generates for these parts, possibly with
/// the number it appends to the label after a name collision (`_fkey1`).
fn is_generated(name: &str, name1: &str, name2: Option<&str>, label: &str, max: usize) -> bool {
    if name == make_object_name(name1, name2, label, max) {
        return true;
    }
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let suffix = &name[name.len() - digits..];
    !suffix.is_empty()
        && !suffix.starts_with('0')
        && name == make_object_name(name1, name2, &format!("{label}{suffix}"), max)
}

// ---------------------------------------------------------------------------
// Reading the catalog.

/// Settings that change how PostgreSQL deparses names and constants, and the
/// values they are pinned to while reading.
const PINNED: &[(&str, &str)] = &[
    ("search_path", "pg_catalog"),
    ("quote_all_identifiers", "off"),
    ("standard_conforming_strings", "on"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("TimeZone", "UTC"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
    ("lc_monetary", "C"),
];

/// The caller's values of the pinned settings, and the server's name length limit.
struct Settings {
    saved: Vec<(&'static str, String)>,
    max_identifier_length: usize,
}

/// Saves the caller's settings and checks the server version.
async fn read_settings(client: &Client) -> Result<Settings, FingerprintError> {
    let names: Vec<&str> = PINNED
        .iter()
        .map(|(n, _)| *n)
        .chain([
            "server_version_num",
            "server_version",
            "max_identifier_length",
        ])
        .collect();
    let select: Vec<String> = names
        .iter()
        .map(|n| format!("current_setting('{n}')"))
        .collect();
    let row = client
        .query_one(&format!("SELECT {}", select.join(", ")), &[])
        .await
        .map_err(|source| FingerprintError::Sql {
            what: "reading the session settings",
            source,
        })?;
    let mut values = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        let v: String = row.try_get(i).map_err(|source| FingerprintError::Sql {
            what: "reading the session settings",
            source,
        })?;
        values.push(v);
    }
    let n = PINNED.len();
    let version_num: u32 = values[n].parse().unwrap_or(0);
    if version_num < 130000 {
        return Err(FingerprintError::Unsupported(values[n + 1].clone()));
    }
    let max_identifier_length = values[n + 2]
        .parse()
        .map_err(|_| FingerprintError::Catalog {
            what: "max_identifier_length",
            detail: values[n + 2].clone(),
        })?;
    let saved = PINNED.iter().map(|(name, _)| *name).zip(values).collect();
    Ok(Settings {
        saved,
        max_identifier_length,
    })
}

/// A statement that sets each setting for the current transaction only: in a
/// multi-statement simple query outside a transaction that is the batch's
/// implicit transaction; inside the caller's transaction the batch's last
/// statement puts the caller's values back, and a failure rolls them back.
fn pin_sql<'a>(settings: impl Iterator<Item = (&'a str, String)>) -> String {
    let calls: Vec<String> = settings
        .map(|(name, value)| format!("set_config('{name}', {}, true)", literal(&value)))
        .collect();
    format!("SELECT {};\n", calls.join(", "))
}

/// A string literal that reads the same whatever `standard_conforming_strings`
/// is: the batch is lexed before any of its settings take effect.

fn text_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| literal(s)).collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// One query per object kind, each selecting rows that become JSON objects.
fn catalog_queries(scope: &Scope) -> Vec<(&'static str, String)> {
    let schemas = text_array(&scope.schemas);
    let ex = text_array(&scope.exclude_tables);
    let ns = format!(
        "n.nspname = ANY({schemas}) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"
    );
    let excluded = |rel: &str, nsp: &str| {
        format!("({rel}.relname = ANY({ex}) OR {nsp}.nspname || '.' || {rel}.relname = ANY({ex}))")
    };
    let not_member = |catalog: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
        )
    };
    let rel_scope = format!(
        "{ns} AND NOT {} AND {}",
        excluded("c", "n"),
        not_member("pg_class", "c.oid")
    );
    let quoted_conkey = |expr: &str| {
        format!(
            "coalesce((SELECT json_agg({expr} ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum), '[]')"
        )
    };
    let sorted_options =
        "(SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(c.reloptions) o) AS options";
    vec![
        (
            "schemas",
            format!(
                "SELECT quote_ident(n.nspname) AS name, obj_description(n.oid, 'pg_namespace') AS comment
                 FROM pg_namespace n WHERE {ns} AND {}",
                not_member("pg_namespace", "n.oid")
            ),
        ),
        (
            "tables",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS name, c.relkind::text AS relkind,
                    c.relpersistence::text AS persistence,
                    CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
                    CASE WHEN c.relispartition THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
                        || ' ' || pg_get_expr(c.relpartbound, c.oid) END AS partition_of,
                    CASE WHEN NOT c.relispartition THEN (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
                        FROM pg_inherits i WHERE i.inhrelid = c.oid) END AS inherits,
                    c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls, {sorted_options},
                    c.relreplident::text AS replica_identity,
                    (SELECT a.amname FROM pg_am a WHERE a.oid = c.relam) AS access_method,
                    (SELECT quote_ident(s.srvname) FROM pg_foreign_table f JOIN pg_foreign_server s ON s.oid = f.ftserver
                        WHERE f.ftrelid = c.oid) AS server,
                    obj_description(c.oid, 'pg_class') AS comment
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p', 'f') AND {rel_scope}"
            ),
        ),
        (
            "columns",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS \"table\", quote_ident(a.attname) AS name,
                    (row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::text AS position,
                    format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
                    CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS \"default\",
                    CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
                    a.attidentity::text AS identity,
                    (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
                        JOIN pg_namespace cn ON cn.oid = co.collnamespace
                        WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation) AS collation,
                    col_description(c.oid, a.attnum) AS comment
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_type t ON t.oid = a.atttypid
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND {rel_scope}"
            ),
        ),
        (
            "constraints",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS \"table\", c.relname AS raw_table,
                    quote_ident(k.conname) AS name, k.conname AS raw_name, k.contype::text AS contype,
                    pg_get_constraintdef(k.oid) AS definition,
                    {} AS columns, {} AS quoted_columns,
                    coalesce((SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
                        WHERE k.contype IN ('p', 'u', 'x') AND a.attrelid = k.conindid AND a.attnum > 0), '[]') AS index_columns,
                    obj_description(k.oid, 'pg_constraint') AS comment
                 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0 AND k.conislocal
                    AND c.relkind IN ('r', 'p', 'f') AND {rel_scope}",
                quoted_conkey("a.attname"),
                quoted_conkey("quote_ident(a.attname)")
            ),
        ),
        (
            "indexes",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS \"table\", c.relname AS raw_table,
                    c.relkind::text AS relkind, quote_ident(ci.relname) AS name, ci.relname AS raw_name,
                    pg_get_indexdef(ci.oid) AS definition,
                    coalesce((SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
                        WHERE a.attrelid = ci.oid AND a.attnum > 0), '[]') AS columns,
                    x.indisvalid AS valid, x.indisreplident AS replica_identity,
                    obj_description(ci.oid, 'pg_class') AS comment
                 FROM pg_index x JOIN pg_class ci ON ci.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p', 'm') AND {rel_scope}
                    AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = ci.oid AND k.conrelid = c.oid
                        AND k.contype IN ('p', 'u', 'x'))
                    AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = ci.oid)"
            ),
        ),
        (
            "sequences",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS name, c.relname AS raw_name,
                    format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start, s.seqincrement::text AS increment,
                    s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
                    c.relpersistence::text AS persistence,
                    'nextval(' || quote_literal(c.oid::regclass::text) || '::regclass)' AS nextval,
                    o.schema AS owner_schema, o.tab AS owner_table, o.raw_tab AS owner_raw_table, o.relkind AS owner_relkind,
                    o.col AS owner_column, o.raw_col AS owner_raw_column,
                    obj_description(c.oid, 'pg_class') AS comment
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN LATERAL (
                    SELECT quote_ident(tn.nspname) AS schema, tn.nspname AS raw_schema, quote_ident(t.relname) AS tab,
                        t.relname AS raw_tab, t.relkind::text AS relkind, quote_ident(a.attname) AS col, a.attname AS raw_col
                    FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                        AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
                    ORDER BY d.deptype LIMIT 1) o ON true
                 WHERE {rel_scope}
                    AND NOT coalesce(o.raw_tab = ANY({ex}) OR o.raw_schema || '.' || o.raw_tab = ANY({ex}), false)"
            ),
        ),
        (
            "views",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS name, c.relkind::text AS relkind,
                    pg_get_viewdef(c.oid) AS definition, {sorted_options},
                    obj_description(c.oid, 'pg_class') AS comment
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('v', 'm') AND {rel_scope}"
            ),
        ),
        (
            "functions",
            format!(
                "SELECT p.oid::regprocedure::text AS signature, p.prokind::text AS kind,
                    CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) ELSE
                        (SELECT format('RETURNS %s (SFUNC = %s, STYPE = %s, FINALFUNC = %s, COMBINEFUNC = %s, INITCOND = %L)',
                            pg_get_function_result(p.oid), g.aggtransfn::regproc, format_type(g.aggtranstype, NULL),
                            g.aggfinalfn::regproc, g.aggcombinefn::regproc, g.agginitval)
                         FROM pg_aggregate g WHERE g.aggfnoid = p.oid) END AS definition,
                    obj_description(p.oid, 'pg_proc') AS comment
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE {ns} AND {}",
                not_member("pg_proc", "p.oid")
            ),
        ),
        (
            "triggers",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS \"table\", c.relkind::text AS relkind,
                    quote_ident(t.tgname) AS name, pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
                    obj_description(t.oid, 'pg_trigger') AS comment
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {rel_scope}"
            ),
        ),
        (
            "types",
            format!(
                "SELECT quote_ident(n.nspname) AS schema, quote_ident(t.typname) AS name, t.typname AS raw_name,
                    t.typtype::text AS typtype,
                    (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                        FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels,
                    CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base,
                    t.typnotnull AS not_null,
                    CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END AS \"default\",
                    coalesce((SELECT json_agg(json_build_object('name', quote_ident(k.conname), 'raw_name', k.conname,
                        'definition', pg_get_constraintdef(k.oid)))
                        FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'), '[]') AS constraints,
                    (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0
                        AND NOT a.attisdropped) AS attributes,
                    (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) AS subtype,
                    obj_description(t.oid, 'pg_type') AS comment
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE {ns} AND {} AND (t.typtype IN ('e', 'd', 'r')
                    OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))",
                not_member("pg_type", "t.oid")
            ),
        ),
        (
            "extensions",
            "SELECT quote_ident(e.extname) AS name, e.extversion AS version, quote_ident(n.nspname) AS schema
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                .to_string(),
        ),
    ]
}

// Rows as the queries above return them. Names without `raw_` are quoted
// with quote_ident; `raw_` names are as stored, for the generated-name rule.

#[derive(Deserialize)]
struct SchemaRow {
    name: String,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct TableRow {
    schema: String,
    name: String,
    relkind: String,
    persistence: String,
    partition_key: Option<String>,
    partition_of: Option<String>,
    inherits: Option<String>,
    rls: bool,
    force_rls: bool,
    options: Option<String>,
    replica_identity: String,
    access_method: Option<String>,
    server: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct ColumnRow {
    schema: String,
    table: String,
    name: String,
    position: String,
    #[serde(rename = "type")]
    type_: String,
    not_null: bool,
    default: Option<String>,
    generated: Option<String>,
    identity: String,
    collation: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct ConstraintRow {
    schema: String,
    table: String,
    raw_table: String,
    name: String,
    raw_name: String,
    contype: String,
    definition: String,
    columns: Vec<String>,
    quoted_columns: Vec<String>,
    index_columns: Vec<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct IndexRow {
    schema: String,
    table: String,
    raw_table: String,
    relkind: String,
    name: String,
    raw_name: String,
    definition: String,
    columns: Vec<String>,
    valid: bool,
    replica_identity: bool,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct SequenceRow {
    schema: String,
    name: String,
    raw_name: String,
    #[serde(rename = "type")]
    type_: String,
    start: String,
    increment: String,
    min: String,
    max: String,
    cache: String,
    cycle: bool,
    persistence: String,
    nextval: String,
    owner_schema: Option<String>,
    owner_table: Option<String>,
    owner_raw_table: Option<String>,
    owner_relkind: Option<String>,
    owner_column: Option<String>,
    owner_raw_column: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct ViewRow {
    schema: String,
    name: String,
    relkind: String,
    definition: Option<String>,
    options: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct FunctionRow {
    signature: String,
    kind: String,
    definition: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct TriggerRow {
    schema: String,
    table: String,
    relkind: String,
    name: String,
    definition: String,
    enabled: String,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct DomainConstraintRow {
    name: String,
    raw_name: String,
    definition: String,
}

#[derive(Deserialize)]
struct TypeRow {
    schema: String,
    name: String,
    raw_name: String,
    typtype: String,
    labels: Option<String>,
    base: Option<String>,
    not_null: bool,
    default: Option<String>,
    constraints: Vec<DomainConstraintRow>,
    attributes: Option<String>,
    subtype: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct ExtensionRow {
    name: String,
    version: String,
    schema: String,
}

/// Everything the batch returned, decoded.
struct Catalog {
    schemas: Vec<SchemaRow>,
    tables: Vec<TableRow>,
    columns: Vec<ColumnRow>,
    constraints: Vec<ConstraintRow>,
    indexes: Vec<IndexRow>,
    sequences: Vec<SequenceRow>,
    views: Vec<ViewRow>,
    functions: Vec<FunctionRow>,
    triggers: Vec<TriggerRow>,
    types: Vec<TypeRow>,
    extensions: Vec<ExtensionRow>,
}

fn decode<T: for<'de> Deserialize<'de>>(
    json: &BTreeMap<&'static str, String>,
    what: &'static str,
) -> Result<Vec<T>, FingerprintError> {
    let text = json.get(what).map_or("[]", String::as_str);
    serde_json::from_str(text).map_err(|e| FingerprintError::Catalog {
        what,
        detail: e.to_string(),
    })
}

/// The kind of object a relation is, by relkind.
fn relation_kind(relkind: &str) -> &'static str {
    match relkind {
        "f" => "foreign table",
        "v" => "view",
        "m" => "materialized view",
        _ => "table",
    }
}

/// An object with the key it would rather have and, if that key turns out
/// to be shared, one that tells the objects apart.
struct Candidate {
    object: Object,
    fallback: Option<String>,
}

impl Catalog {
    fn parse(json: &BTreeMap<&'static str, String>) -> Result<Self, FingerprintError> {
        Ok(Catalog {
            schemas: decode(json, "schemas")?,
            tables: decode(json, "tables")?,
            columns: decode(json, "columns")?,
            constraints: decode(json, "constraints")?,
            indexes: decode(json, "indexes")?,
            sequences: decode(json, "sequences")?,
            views: decode(json, "views")?,
            functions: decode(json, "functions")?,
            triggers: decode(json, "triggers")?,
            types: decode(json, "types")?,
            extensions: decode(json, "extensions")?,
        })
    }

    fn build(self, max: usize) -> Result<Schema, FingerprintError> {
        let mut out: Vec<Candidate> = Vec::new();
        let push = |out: &mut Vec<Candidate>, object: Object| {
            out.push(Candidate {
                object,
                fallback: None,
            })
        };
        // The key of the table each column, constraint or trigger belongs to.
        let tables: BTreeMap<String, String> = self
            .tables
            .iter()
            .map(|t| {
                let name = format!("{}.{}", t.schema, t.name);
                (
                    name.clone(),
                    format!("{} {name}", relation_kind(&t.relkind)),
                )
            })
            .collect();
        let parent = |table: &str| {
            Some(
                tables
                    .get(table)
                    .cloned()
                    .unwrap_or_else(|| format!("table {table}")),
            )
        };

        for s in self.schemas {
            let mut o = Object::new("schema", s.name);
            o.set_opt("comment", s.comment);
            push(&mut out, o);
        }

        for e in self.extensions {
            let mut o = Object::new("extension", e.name);
            o.set("version", e.version);
            o.set("schema", e.schema);
            push(&mut out, o);
        }

        for t in self.tables {
            let mut o = Object::new(
                relation_kind(&t.relkind),
                format!("{}.{}", t.schema, t.name),
            );
            o.set_opt("partition by", t.partition_key);
            o.set_opt("partition of", t.partition_of);
            o.set_opt("inherits", t.inherits);
            if t.persistence == "u" {
                o.set("persistence", "UNLOGGED");
            }
            match (t.rls, t.force_rls) {
                (true, true) => o.set("row security", "enabled and forced"),
                (true, false) => o.set("row security", "enabled"),
                (false, true) => o.set("row security", "forced but not enabled"),
                (false, false) => {}
            }
            o.set_opt("options", t.options);
            let identity = match t.replica_identity.as_str() {
                "n" => Some("NOTHING"),
                "f" => Some("FULL"),
                "i" => Some("USING INDEX"),
                _ => None,
            };
            o.set_opt("replica identity", identity.map(str::to_string));
            o.set_opt("access method", t.access_method.filter(|am| am != "heap"));
            o.set_opt("server", t.server);
            o.set_opt("comment", t.comment);
            push(&mut out, o);
        }

        // A serial default names its sequence, whose name PostgreSQL may have
        // generated; the sequence is keyed by its column, so defaults (the
        // column's own, or a partition's copy of it) name it that way too.
        let owned_nextval: Vec<(String, String)> = self
            .sequences
            .iter()
            .filter_map(|s| {
                let column = format!(
                    "{}.{}.{}",
                    s.owner_schema.as_ref()?,
                    s.owner_table.as_ref()?,
                    s.owner_column.as_ref()?
                );
                Some((
                    s.nextval.clone(),
                    format!("nextval(<sequence for column {column}>)"),
                ))
            })
            .collect();

        for c in self.columns {
            let table = format!("{}.{}", c.schema, c.table);
            let name = format!("{table}.{}", c.name);
            let mut o = Object::new("column", name).with_parent(parent(&table));
            o.set("position", c.position);
            o.set("type", c.type_);
            if c.not_null {
                o.set("not null", "NOT NULL");
            }
            let default = c.default.map(|d| {
                owned_nextval
                    .iter()
                    .filter(|(call, _)| d.contains(call.as_str()))
                    .fold(d.clone(), |d, (call, by)| d.replace(call.as_str(), by))
            });
            o.set_opt("default", default);
            o.set_opt("generated", c.generated);
            let identity = match c.identity.as_str() {
                "a" => Some("ALWAYS"),
                "d" => Some("BY DEFAULT"),
                _ => None,
            };
            o.set_opt("identity", identity.map(str::to_string));
            o.set_opt("collation", c.collation);
            o.set_opt("comment", c.comment);
            push(&mut out, o);
        }
        for k in self.constraints {
            let table = format!("{}.{}", k.schema, k.table);
            let full = format!("{table} {}", k.definition);
            let generated = match k.contype.as_str() {
                "p" => is_generated(&k.raw_name, &k.raw_table, None, "pkey", max),
                "u" | "x" => {
                    let label = if k.contype == "u" { "key" } else { "excl" };
                    let addition = name_addition(&k.index_columns, max);
                    is_generated(&k.raw_name, &k.raw_table, Some(&addition), label, max)
                }
                "f" => {
                    let addition = name_addition(&k.columns, max);
                    is_generated(&k.raw_name, &k.raw_table, Some(&addition), "fkey", max)
                }
                _ => {
                    // A CHECK is named after its column only when it uses exactly one.
                    let column = match k.columns.as_slice() {
                        [one] => Some(one.as_str()),
                        _ => None,
                    };
                    is_generated(&k.raw_name, &k.raw_table, column, "check", max)
                }
            };
            if !generated {
                let mut o = Object::new("constraint", format!("{table}.{}", k.name))
                    .with_parent(parent(&table));
                o.set("definition", k.definition);
                o.set_opt("comment", k.comment);
                push(&mut out, o);
                continue;
            }
            let columns = k.quoted_columns.join(", ");
            let (name, fallback) = match k.contype.as_str() {
                "p" => (format!("{table} PRIMARY KEY"), Some(full.clone())),
                "u" => (format!("{table} UNIQUE ({columns})"), Some(full.clone())),
                "f" => (
                    format!("{table} FOREIGN KEY ({columns})"),
                    Some(full.clone()),
                ),
                _ => (full, None),
            };
            let mut o = Object::new("constraint", name).with_parent(parent(&table));
            if fallback.is_some() {
                o.set("definition", k.definition);
            }
            o.set_opt("comment", k.comment);
            out.push(Candidate {
                object: o,
                fallback,
            });
        }

        for x in self.indexes {
            let table = format!("{}.{}", x.schema, x.table);
            let parent = Some(format!("{} {table}", relation_kind(&x.relkind)));
            let split = split_index_def(&x.definition, &x.name, &table);
            let addition = name_addition(&x.columns, max);
            let generated = split.is_some()
                && is_generated(&x.raw_name, &x.raw_table, Some(&addition), "idx", max);
            let mut o = match split {
                Some(def) if generated => {
                    Object::new("index", format!("{table} {}", def.key_tail()))
                }
                Some(def) => {
                    let mut o = Object::new("index", format!("{}.{}", x.schema, x.name));
                    o.set("definition", def.without_name(&table));
                    o
                }
                None => {
                    let mut o = Object::new("index", format!("{}.{}", x.schema, x.name));
                    o.set("definition", x.definition);
                    o
                }
            }
            .with_parent(parent);
            if !x.valid {
                o.set("validity", "INVALID");
            }
            if x.replica_identity {
                o.set("replica identity index", "REPLICA IDENTITY");
            }
            o.set_opt("comment", x.comment);
            push(&mut out, o);
        }

        for s in self.sequences {
            let mut o = match (
                &s.owner_schema,
                &s.owner_table,
                &s.owner_raw_table,
                &s.owner_column,
                &s.owner_raw_column,
            ) {
                (Some(schema), Some(table), Some(raw_table), Some(column), Some(raw_column)) => {
                    let kind = relation_kind(s.owner_relkind.as_deref().unwrap_or("r"));
                    let mut o =
                        Object::new("sequence for column", format!("{schema}.{table}.{column}"))
                            .with_parent(Some(format!("{kind} {schema}.{table}")));
                    if !is_generated(&s.raw_name, raw_table, Some(raw_column), "seq", max) {
                        o.set("name", format!("{}.{}", s.schema, s.name));
                    }
                    o
                }
                _ => Object::new("sequence", format!("{}.{}", s.schema, s.name)),
            };
            o.set("type", s.type_);
            o.set("start", s.start);
            o.set("increment", s.increment);
            o.set("min", s.min);
            o.set("max", s.max);
            o.set("cache", s.cache);
            if s.cycle {
                o.set("cycle", "CYCLE");
            }
            if s.persistence == "u" {
                o.set("persistence", "UNLOGGED");
            }
            o.set_opt("comment", s.comment);
            push(&mut out, o);
        }

        for v in self.views {
            let mut o = Object::new(
                relation_kind(&v.relkind),
                format!("{}.{}", v.schema, v.name),
            );
            o.set_opt("definition", v.definition);
            o.set_opt("options", v.options);
            o.set_opt("comment", v.comment);
            push(&mut out, o);
        }

        for f in self.functions {
            let kind = match f.kind.as_str() {
                "p" => "procedure",
                "a" => "aggregate",
                "w" => "window function",
                _ => "function",
            };
            let mut o = Object::new(kind, f.signature);
            o.set_opt("definition", f.definition);
            o.set_opt("comment", f.comment);
            push(&mut out, o);
        }

        for t in self.triggers {
            let table = format!("{}.{}", t.schema, t.table);
            let mut o = Object::new("trigger", format!("{table}.{}", t.name))
                .with_parent(Some(format!("{} {table}", relation_kind(&t.relkind))));
            o.set("definition", t.definition);
            let enabled = match t.enabled.as_str() {
                "D" => Some("DISABLED"),
                "R" => Some("ENABLED REPLICA"),
                "A" => Some("ENABLED ALWAYS"),
                _ => None,
            };
            o.set_opt("enabled", enabled.map(str::to_string));
            o.set_opt("comment", t.comment);
            push(&mut out, o);
        }

        for t in self.types {
            let name = format!("{}.{}", t.schema, t.name);
            let mut o = match t.typtype.as_str() {
                "d" => {
                    let mut o = Object::new("domain", name);
                    o.set_opt("type", t.base);
                    if t.not_null {
                        o.set("not null", "NOT NULL");
                    }
                    o.set_opt("default", t.default);
                    // A domain's CHECKs are a set; named ones keep their name
                    // unless PostgreSQL generated it.
                    let mut checks: Vec<String> = t
                        .constraints
                        .into_iter()
                        .map(|k| {
                            if is_generated(&k.raw_name, &t.raw_name, None, "check", max) {
                                k.definition
                            } else {
                                format!("CONSTRAINT {} {}", k.name, k.definition)
                            }
                        })
                        .collect();
                    checks.sort();
                    if !checks.is_empty() {
                        o.set("constraints", checks.join(" "));
                    }
                    o
                }
                other => {
                    let mut o = Object::new("type", name);
                    let definition = match other {
                        "e" => Some(format!("ENUM ({})", t.labels.unwrap_or_default())),
                        "r" => t.subtype.map(|s| format!("RANGE (SUBTYPE = {s})")),
                        _ => Some(format!("({})", t.attributes.unwrap_or_default())),
                    };
                    o.set_opt("definition", definition);
                    o
                }
            };
            o.set_opt("comment", t.comment);
            push(&mut out, o);
        }

        resolve(out)
    }
}

/// Gives every candidate a unique key. Candidates that share their preferred
/// key take their fallback; any still sharing one (true duplicates, such as
/// two identical unnamed CHECKs) are numbered in the order of their
/// properties, which does not depend on the order they were created in.
fn resolve(candidates: Vec<Candidate>) -> Result<Schema, FingerprintError> {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for c in &candidates {
        *count.entry(c.object.key()).or_default() += 1;
    }
    let mut groups: BTreeMap<String, Vec<Object>> = BTreeMap::new();
    for c in candidates {
        let mut object = c.object;
        if count[&object.key()] > 1
            && let Some(fallback) = c.fallback
        {
            object.name = fallback;
        }
        groups.entry(object.key()).or_default().push(object);
    }
    let mut objects = BTreeMap::new();
    for (key, mut group) in groups {
        if group.len() == 1 {
            objects.insert(key, group.remove(0));
            continue;
        }
        group.sort_by_cached_key(|o| serde_json::to_string(&o.attrs).unwrap_or_default());
        for (i, mut o) in group.into_iter().enumerate() {
            o.name = format!("{} #{}", o.name, i + 1);
            if objects.insert(o.key(), o).is_some() {
                return Err(FingerprintError::Catalog {
                    what: "object keys",
                    detail: format!("{key} #{} is not unique", i + 1),
                });
            }
        }
    }
    Ok(Schema { objects })
}

/// An index definition taken apart around its name and table.
struct IndexDef<'a> {
    unique: bool,
    only: bool,
    /// Everything after the table: `USING btree (status) WHERE ...`.
    rest: &'a str,
}

impl IndexDef<'_> {
    /// The definition with the name left out, so it does not appear twice.
    fn without_name(&self, table: &str) -> String {
        format!(
            "CREATE {}INDEX ON {}{table} {}",
            if self.unique { "UNIQUE " } else { "" },
            if self.only { "ONLY " } else { "" },
            self.rest
        )
    }

    /// What identifies an index whose name PostgreSQL generated.
    fn key_tail(&self) -> String {
        format!("{}{}", if self.unique { "UNIQUE " } else { "" }, self.rest)
    }
}

/// Splits `CREATE [UNIQUE] INDEX <name> ON [ONLY] <table> <rest>`.
fn split_index_def<'a>(def: &'a str, name: &str, table: &str) -> Option<IndexDef<'a>> {
    let (unique, tail) = match def.strip_prefix("CREATE UNIQUE INDEX ") {
        Some(t) => (true, t),
        None => (false, def.strip_prefix("CREATE INDEX ")?),
    };
    let tail = tail.strip_prefix(name)?.strip_prefix(" ON ")?;
    let (only, tail) = match tail.strip_prefix("ONLY ") {
        Some(t) => (true, t),
        None => (false, tail),
    };
    let rest = tail.strip_prefix(table)?.strip_prefix(' ')?;
    Some(IndexDef { unique, only, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, name: &str, attrs: &[(&str, &str)]) -> Object {
        let mut o = Object::new(kind, name.into());
        for (k, v) in attrs {
            o.set(k, *v);
        }
        if kind == "column" {
            let table = name.rsplit_once('.').unwrap().0;
            o.parent = Some(format!("table {table}"));
        }
        o
    }

    fn schema(objects: Vec<Object>) -> Schema {
        Schema {
            objects: objects.into_iter().map(|o| (o.key(), o)).collect(),
        }
    }

    fn tasks() -> Vec<Object> {
        vec![
            object("table", "public.tasks", &[]),
            object(
                "column",
                "public.tasks.id",
                &[
                    ("position", "1"),
                    ("type", "integer"),
                    ("not null", "NOT NULL"),
                ],
            ),
            object(
                "column",
                "public.tasks.title",
                &[("position", "2"), ("type", "character varying(200)")],
            ),
            object(
                "index",
                "public.idx_tasks_status",
                &[(
                    "definition",
                    "CREATE INDEX ON public.tasks USING btree (status)",
                )],
            ),
        ]
    }

    #[test]
    fn canonical_text_is_sorted_and_independent_of_insertion_order() {
        let a = schema(tasks());
        let b = schema(tasks().into_iter().rev().collect());
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.fingerprint(), b.fingerprint());
        let text = a.canonical();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], FORMAT);
        let keys: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(text.contains(
            "column public.tasks.id\t{\"not null\":\"NOT NULL\",\"position\":\"1\",\"type\":\"integer\"}\n"
        ));
        assert_eq!(a.fingerprint().len(), 64);
    }

    #[test]
    fn canonical_lines_cannot_be_split_by_catalog_text() {
        let s = schema(vec![object(
            "constraint",
            "public.t CHECK ((a <> 'x\ny\t'::text))",
            &[("comment", "two\nlines")],
        )]);
        let text = s.canonical();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("'x\\ny\\t'"));
        assert!(text.contains("\"two\\nlines\""));
    }

    #[test]
    fn every_property_changes_the_fingerprint() {
        let a = schema(tasks());
        let mut objects = tasks();
        objects[2].set("not null", "NOT NULL");
        assert_ne!(a.fingerprint(), schema(objects).fingerprint());
    }

    #[test]
    fn serde_round_trip_keeps_the_fingerprint() {
        let a = schema(tasks());
        let json = serde_json::to_string(&a).unwrap();
        let b: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn diff_names_objects_in_words() {
        let expected = schema(tasks());
        let mut actual_objects = tasks();
        actual_objects.retain(|o| o.kind != "index");
        actual_objects[2].set("type", "character varying(500)");
        actual_objects[2].set("not null", "NOT NULL");
        actual_objects[2].set("default", "'untitled'::character varying");
        actual_objects.push(object(
            "column",
            "public.tasks.email",
            &[("position", "3"), ("type", "text")],
        ));
        let actual = schema(actual_objects);
        let label = "934f38a4fc73";
        assert_eq!(
            Schema::diff(&expected, &actual, label),
            vec![
                "column tasks.email exists in the database but not after 934f38a4fc73",
                "column tasks.title has default 'untitled'::character varying in the database but no default after 934f38a4fc73",
                "column tasks.title is NOT NULL in the database but nullable after 934f38a4fc73",
                "column tasks.title is character varying(500) in the database but character varying(200) after 934f38a4fc73",
                "index idx_tasks_status is missing from the database (expected after 934f38a4fc73)",
            ]
        );
        assert!(Schema::diff(&expected, &expected, label).is_empty());
    }

    #[test]
    fn diff_does_not_list_the_parts_of_a_missing_table() {
        let expected = schema(tasks());
        let actual = schema(vec![]);
        assert_eq!(
            Schema::diff(&expected, &actual, "r1"),
            vec![
                "index idx_tasks_status is missing from the database (expected after r1)",
                "table tasks is missing from the database (expected after r1)",
            ]
        );
        assert_eq!(
            Schema::diff(&actual, &expected, "r1"),
            vec![
                "index idx_tasks_status exists in the database but not after r1",
                "table tasks exists in the database but not after r1",
            ]
        );
    }

    #[test]
    fn diff_of_multi_line_definitions_shows_the_first_differing_line() {
        let f = |body: &str| {
            schema(vec![object(
                "function",
                "public.bump(integer)",
                &[("definition", body)],
            )])
        };
        let expected = f("CREATE FUNCTION\nBEGIN\n  RETURN a + 1;\nEND");
        let actual = f("CREATE FUNCTION\nBEGIN\n  RETURN a + 2;\nEND");
        assert_eq!(
            Schema::diff(&expected, &actual, "r2"),
            vec![
                "function bump(integer) has a different definition in the database than after r2: line 3 is `RETURN a + 2;` in the database but `RETURN a + 1;` after r2"
            ]
        );
        let shorter = f("CREATE FUNCTION\nBEGIN");
        assert_eq!(
            Schema::diff(&expected, &shorter, "r2"),
            vec![
                "function bump(integer) has a different definition in the database than after r2: line 3 is (end) in the database but `RETURN a + 1;` after r2"
            ]
        );
    }

    #[test]
    fn properties_read_as_sentences() {
        let one = |kind: &str, name: &str, attr: &str, e: Option<&str>, a: Option<&str>| {
            let mut expected = object(kind, name, &[]);
            let mut actual = object(kind, name, &[]);
            if let Some(e) = e {
                expected.set(attr, e);
            }
            if let Some(a) = a {
                actual.set(attr, a);
            }
            Schema::diff(&schema(vec![expected]), &schema(vec![actual]), "r").remove(0)
        };
        assert_eq!(
            one("table", "public.t", "replica identity", None, Some("FULL")),
            "table t has REPLICA IDENTITY FULL in the database but REPLICA IDENTITY DEFAULT after r"
        );
        assert_eq!(
            one("trigger", "public.t.x", "enabled", None, Some("DISABLED")),
            "trigger t.x is DISABLED in the database but ENABLED after r"
        );
        assert_eq!(
            one(
                "column",
                "public.t.id",
                "identity",
                Some("ALWAYS"),
                Some("BY DEFAULT")
            ),
            "column t.id is GENERATED BY DEFAULT AS IDENTITY in the database but GENERATED ALWAYS AS IDENTITY after r"
        );
        assert_eq!(
            one("sequence", "public.s", "increment", Some("1"), Some("5")),
            "sequence s has increment 5 in the database but increment 1 after r"
        );
        assert_eq!(
            one("table", "public.t", "comment", None, Some("it's")),
            "table t has comment 'it''s' in the database but no comment after r"
        );
        assert_eq!(
            one(
                "table",
                "public.e",
                "partition by",
                Some("RANGE (at)"),
                None
            ),
            "table e is not partitioned in the database but partitioned by RANGE (at) after r"
        );
    }

    #[test]
    fn display_leaves_out_only_the_public_schema() {
        assert_eq!(
            object("column", "app.tasks.email", &[]).display(),
            "column app.tasks.email"
        );
        assert_eq!(
            object("sequence for column", "public.tasks.id", &[]).display(),
            "sequence for column tasks.id"
        );
    }

    #[test]
    fn generated_names_follow_postgres_rules() {
        assert_eq!(make_object_name("tasks", None, "pkey", 63), "tasks_pkey");
        assert_eq!(
            make_object_name("tasks", Some("project_id"), "fkey", 63),
            "tasks_project_id_fkey"
        );
        // Truncation: the longer part is shortened first, to 63 bytes in all.
        let long_table = "t".repeat(60);
        let long_col = "c".repeat(40);
        let name = make_object_name(&long_table, Some(&long_col), "seq", 63);
        assert_eq!(name.len(), 63);
        assert_eq!(name, format!("{}_{}_seq", "t".repeat(29), "c".repeat(29)));
        let name = make_object_name(&long_table, Some("id"), "seq", 63);
        assert_eq!(name, format!("{}_id_seq", "t".repeat(56)));
        // Multi-byte characters are never cut in half.
        let accented = "é".repeat(40);
        let name = make_object_name(&accented, None, "pkey", 63);
        assert!(name.len() <= 63 && name.ends_with("_pkey"));
        assert_eq!(name, format!("{}_pkey", "é".repeat(29)));

        assert!(is_generated("tasks_pkey", "tasks", None, "pkey", 63));
        assert!(is_generated("tasks_pkey1", "tasks", None, "pkey", 63));
        assert!(is_generated(
            "tasks_owner_fkey12",
            "tasks",
            Some("owner"),
            "fkey",
            63
        ));
        assert!(!is_generated("tasks_pkey01", "tasks", None, "pkey", 63));
        assert!(!is_generated("pk_tasks", "tasks", None, "pkey", 63));
        // A table renamed after creation keeps a name that no longer fits it.
        assert!(!is_generated("todo_pkey", "tasks", None, "pkey", 63));
    }

    #[test]
    fn name_addition_joins_columns_and_stops_when_long() {
        let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(name_addition(&cols(&["a", "b"]), 63), "a_b");
        let long = "x".repeat(50);
        let joined = name_addition(&cols(&[&long, &long, &long]), 63);
        assert_eq!(joined, format!("{long}_{long}"));
    }

    #[test]
    fn index_definitions_lose_their_name() {
        let def =
            "CREATE UNIQUE INDEX idx ON public.tasks USING btree (lower(email)) WHERE (active)";
        let d = split_index_def(def, "idx", "public.tasks").unwrap();
        assert_eq!(
            d.without_name("public.tasks"),
            "CREATE UNIQUE INDEX ON public.tasks USING btree (lower(email)) WHERE (active)"
        );
        assert_eq!(
            d.key_tail(),
            "UNIQUE USING btree (lower(email)) WHERE (active)"
        );
        let d = split_index_def(
            "CREATE INDEX \"My Idx\" ON ONLY public.events USING btree (at)",
            "\"My Idx\"",
            "public.events",
        )
        .unwrap();
        assert!(d.only);
        assert!(split_index_def(def, "other", "public.tasks").is_none());
    }

    #[test]
    fn colliding_generated_keys_fall_back_then_number() {
        let fk = |def: &str| Candidate {
            object: {
                let mut o = Object::new("constraint", "public.t FOREIGN KEY (owner)".into());
                o.set("definition", def);
                o
            },
            fallback: Some(format!("public.t {def}")),
        };
        let s = resolve(vec![
            fk("FOREIGN KEY (owner) REFERENCES public.b(id)"),
            fk("FOREIGN KEY (owner) REFERENCES public.a(id)"),
        ])
        .unwrap();
        let keys: Vec<&String> = s.objects.keys().collect();
        assert_eq!(
            keys,
            vec![
                "constraint public.t FOREIGN KEY (owner) REFERENCES public.a(id)",
                "constraint public.t FOREIGN KEY (owner) REFERENCES public.b(id)",
            ]
        );
        let check = || Candidate {
            object: Object::new("constraint", "public.t CHECK ((a > 0))".into()),
            fallback: None,
        };
        let s = resolve(vec![check(), check()]).unwrap();
        assert_eq!(s.objects.len(), 2);
        assert!(
            s.objects
                .contains_key("constraint public.t CHECK ((a > 0)) #2")
        );
    }

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(literal(r"a'b\c"), r"E'a''b\\c'");
        assert_eq!(text_array(&["public".into()]), "ARRAY[E'public']::text[]");
        assert_eq!(text_array(&[]), "ARRAY[]::text[]");
    }
}
