//! Catalog rows to objects: decoding what the queries returned, keying each
//! object (by name, or by what it is when PostgreSQL generated its name) and
//! making the keys unique.

use super::names::{is_generated, name_addition};
use super::{FingerprintError, Object, Schema};
use serde::Deserialize;
use std::collections::BTreeMap;

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
pub(super) struct Catalog {
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

/// The rows of one query, by the name it was sent under.
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
pub(super) struct Candidate {
    pub(super) object: Object,
    pub(super) fallback: Option<String>,
}

impl Catalog {
    /// Decodes the JSON text of each query's rows.
    pub(super) fn parse(json: &BTreeMap<&'static str, String>) -> Result<Self, FingerprintError> {
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

    /// Turns the rows into objects; `max` is the server's `max_identifier_length`.
    pub(super) fn build(self, max: usize) -> Result<Schema, FingerprintError> {
        let mut b = Builder::new(&self.tables, max);
        let owned_nextval = owned_nextval(&self.sequences);
        b.schemas(self.schemas);
        b.extensions(self.extensions);
        b.tables(self.tables);
        b.columns(self.columns, &owned_nextval);
        b.constraints(self.constraints);
        b.indexes(self.indexes);
        b.sequences(self.sequences);
        b.views(self.views);
        b.functions(self.functions);
        b.triggers(self.triggers);
        b.types(self.types);
        resolve(b.out)
    }
}

/// A serial default names its sequence, whose name PostgreSQL may have
/// generated; the sequence is keyed by its column, so defaults (the column's
/// own, or a partition's copy of it) name it that way too. Returns each owned
/// sequence's `nextval(...)` call with the words that replace it.
fn owned_nextval(sequences: &[SequenceRow]) -> Vec<(String, String)> {
    sequences
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
        .collect()
}

/// The objects made so far, and what every kind needs to make its own.
struct Builder {
    out: Vec<Candidate>,
    /// The key of the table each column, constraint or trigger belongs to.
    tables: BTreeMap<String, String>,
    /// The server's `max_identifier_length`, for the generated-name rule.
    max: usize,
}

impl Builder {
    /// A builder that knows every table's key.
    fn new(tables: &[TableRow], max: usize) -> Self {
        let tables = tables
            .iter()
            .map(|t| {
                let name = format!("{}.{}", t.schema, t.name);
                (
                    name.clone(),
                    format!("{} {name}", relation_kind(&t.relkind)),
                )
            })
            .collect();
        Builder {
            out: Vec::new(),
            tables,
            max,
        }
    }

    /// An object whose key needs no fallback.
    fn push(&mut self, object: Object) {
        self.out.push(Candidate {
            object,
            fallback: None,
        })
    }

    /// The key of `table` (schema-qualified), as the parent of its parts.
    fn parent(&self, table: &str) -> Option<String> {
        Some(
            self.tables
                .get(table)
                .cloned()
                .unwrap_or_else(|| format!("table {table}")),
        )
    }

    fn schemas(&mut self, rows: Vec<SchemaRow>) {
        for s in rows {
            let mut o = Object::new("schema", s.name);
            o.set_opt("comment", s.comment);
            self.push(o);
        }
    }

    fn extensions(&mut self, rows: Vec<ExtensionRow>) {
        for e in rows {
            let mut o = Object::new("extension", e.name);
            o.set("version", e.version);
            o.set("schema", e.schema);
            self.push(o);
        }
    }

    fn tables(&mut self, rows: Vec<TableRow>) {
        for t in rows {
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
            self.push(o);
        }
    }

    fn columns(&mut self, rows: Vec<ColumnRow>, owned_nextval: &[(String, String)]) {
        for c in rows {
            let table = format!("{}.{}", c.schema, c.table);
            let name = format!("{table}.{}", c.name);
            let mut o = Object::new("column", name).with_parent(self.parent(&table));
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
            self.push(o);
        }
    }

    fn constraints(&mut self, rows: Vec<ConstraintRow>) {
        for k in rows {
            let table = format!("{}.{}", k.schema, k.table);
            if !constraint_name_is_generated(&k, self.max) {
                let mut o = Object::new("constraint", format!("{table}.{}", k.name))
                    .with_parent(self.parent(&table));
                o.set("definition", k.definition);
                o.set_opt("comment", k.comment);
                self.push(o);
                continue;
            }
            let full = format!("{table} {}", k.definition);
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
            let mut o = Object::new("constraint", name).with_parent(self.parent(&table));
            if fallback.is_some() {
                o.set("definition", k.definition);
            }
            o.set_opt("comment", k.comment);
            self.out.push(Candidate {
                object: o,
                fallback,
            });
        }
    }

    fn indexes(&mut self, rows: Vec<IndexRow>) {
        for x in rows {
            let table = format!("{}.{}", x.schema, x.table);
            let parent = Some(format!("{} {table}", relation_kind(&x.relkind)));
            let split = split_index_def(&x.definition, &x.name, &table);
            let addition = name_addition(&x.columns, self.max);
            let generated = split.is_some()
                && is_generated(&x.raw_name, &x.raw_table, Some(&addition), "idx", self.max);
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
            self.push(o);
        }
    }

    fn sequences(&mut self, rows: Vec<SequenceRow>) {
        for s in rows {
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
                    if !is_generated(&s.raw_name, raw_table, Some(raw_column), "seq", self.max) {
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
            self.push(o);
        }
    }

    fn views(&mut self, rows: Vec<ViewRow>) {
        for v in rows {
            let mut o = Object::new(
                relation_kind(&v.relkind),
                format!("{}.{}", v.schema, v.name),
            );
            o.set_opt("definition", v.definition);
            o.set_opt("options", v.options);
            o.set_opt("comment", v.comment);
            self.push(o);
        }
    }

    fn functions(&mut self, rows: Vec<FunctionRow>) {
        for f in rows {
            let kind = match f.kind.as_str() {
                "p" => "procedure",
                "a" => "aggregate",
                "w" => "window function",
                _ => "function",
            };
            let mut o = Object::new(kind, f.signature);
            o.set_opt("definition", f.definition);
            o.set_opt("comment", f.comment);
            self.push(o);
        }
    }

    fn triggers(&mut self, rows: Vec<TriggerRow>) {
        for t in rows {
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
            self.push(o);
        }
    }

    /// Domains, enums, ranges and composite types.
    fn types(&mut self, rows: Vec<TypeRow>) {
        for t in rows {
            let name = format!("{}.{}", t.schema, t.name);
            let comment = t.comment.clone();
            let mut o = match t.typtype.as_str() {
                "d" => domain(name, t, self.max),
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
            o.set_opt("comment", comment);
            self.push(o);
        }
    }
}

/// Whether PostgreSQL would have given this constraint its name, by the rule
/// for its kind.
fn constraint_name_is_generated(k: &ConstraintRow, max: usize) -> bool {
    match k.contype.as_str() {
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
    }
}

/// A domain, without its comment.
fn domain(name: String, t: TypeRow, max: usize) -> Object {
    let mut o = Object::new("domain", name);
    o.set_opt("type", t.base);
    if t.not_null {
        o.set("not null", "NOT NULL");
    }
    o.set_opt("default", t.default);
    // A domain's CHECKs are a set; named ones keep their name unless
    // PostgreSQL generated it.
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

/// Gives every candidate a unique key. Candidates that share their preferred
/// key take their fallback; any still sharing one (true duplicates, such as
/// two identical unnamed CHECKs) are numbered in the order of their
/// properties, which does not depend on the order they were created in.
pub(super) fn resolve(candidates: Vec<Candidate>) -> Result<Schema, FingerprintError> {
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
pub(super) struct IndexDef<'a> {
    unique: bool,
    pub(super) only: bool,
    /// Everything after the table: `USING btree (status) WHERE ...`.
    rest: &'a str,
}

impl IndexDef<'_> {
    /// The definition with the name left out, so it does not appear twice.
    pub(super) fn without_name(&self, table: &str) -> String {
        format!(
            "CREATE {}INDEX ON {}{table} {}",
            if self.unique { "UNIQUE " } else { "" },
            if self.only { "ONLY " } else { "" },
            self.rest
        )
    }

    /// What identifies an index whose name PostgreSQL generated.
    pub(super) fn key_tail(&self) -> String {
        format!("{}{}", if self.unique { "UNIQUE " } else { "" }, self.rest)
    }
}

/// Splits `CREATE [UNIQUE] INDEX <name> ON [ONLY] <table> <rest>`.
pub(super) fn split_index_def<'a>(def: &'a str, name: &str, table: &str) -> Option<IndexDef<'a>> {
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
