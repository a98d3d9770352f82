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

mod catalog;
mod diff;
mod names;
mod read;
#[cfg(test)]
mod tests;

use crate::db::error::describe_brief;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio_postgres::Client;

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
    #[error("{what} failed: {}", describe_brief(.source))]
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
    /// An object with no parent and no properties yet.
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

    /// Sets a property.
    fn set(&mut self, attr: &str, value: impl Into<String>) {
        self.attrs.insert(attr.into(), value.into());
    }

    /// Sets a property unless it is absent or empty, which both mean the default.
    fn set_opt(&mut self, attr: &str, value: Option<String>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.set(attr, v);
        }
    }

    /// The object, belonging to `parent`.
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
        read::schema(client, scope).await
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
