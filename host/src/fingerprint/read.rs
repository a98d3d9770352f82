//! The I/O: pinning the settings that change deparsed text, and the catalog
//! queries, sent as one batch whose rows come back as JSON.

use super::catalog::Catalog;
use super::{FingerprintError, Schema, Scope};
use crate::sql::quote::literal;
use std::collections::BTreeMap;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Reads the schema: the caller's settings, then the batch of catalog queries.
pub(super) async fn schema(client: &Client, scope: &Scope) -> Result<Schema, FingerprintError> {
    let settings = read_settings(client).await?;
    let queries = catalog_queries(scope);
    let mut batch = pin_sql(PINNED.iter().map(|(n, v)| (*n, (*v).to_string())));
    for (_, q) in &queries {
        batch.push_str(&format!(
            "SELECT coalesce(json_agg(r), '[]')::text FROM ({q}) r;\n"
        ));
    }
    batch.push_str(&pin_sql(settings.saved.iter().cloned()));
    let messages = client
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
pub(super) fn text_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| literal(s)).collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// One query per object kind, each selecting rows that become JSON objects.
fn catalog_queries(scope: &Scope) -> Vec<(&'static str, String)> {
    let q = Filters::new(scope);
    vec![
        ("schemas", q.schemas()),
        ("tables", q.tables()),
        ("columns", q.columns()),
        ("constraints", q.constraints()),
        ("indexes", q.indexes()),
        ("sequences", q.sequences()),
        ("views", q.views()),
        ("functions", q.functions()),
        ("triggers", q.triggers()),
        ("types", q.types()),
        ("extensions", extensions_query()),
    ]
}

/// The WHERE-clause pieces that put an object in scope, shared by the queries.
struct Filters {
    /// The excluded tables as a text array literal.
    ex: String,
    /// The namespace `n` is one of the scope's schemas and not a system one.
    ns: String,
    /// The relation `c` in namespace `n` is in scope, not excluded and not an extension's.
    rel_scope: String,
}

/// A relation's storage options, sorted so that the order they were set in does not count.
const SORTED_OPTIONS: &str =
    "(SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(c.reloptions) o) AS options";

/// The condition that the object `oid` of `catalog` does not belong to an extension.
fn not_member(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// A JSON array of `expr` over constraint `k`'s columns, in constraint order.
fn quoted_conkey(expr: &str) -> String {
    format!(
        "coalesce((SELECT json_agg({expr} ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum), '[]')"
    )
}

impl Filters {
    /// The filters for `scope`, as SQL text.
    fn new(scope: &Scope) -> Self {
        let schemas = text_array(&scope.schemas);
        let ex = text_array(&scope.exclude_tables);
        let ns = format!(
            "n.nspname = ANY({schemas}) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"
        );
        let rel_scope = format!(
            "{ns} AND NOT {} AND {}",
            Self::excluded(&ex, "c", "n"),
            not_member("pg_class", "c.oid")
        );
        Filters { ex, ns, rel_scope }
    }

    /// The condition that relation `rel` in namespace `nsp` is an excluded table.
    fn excluded(ex: &str, rel: &str, nsp: &str) -> String {
        format!("({rel}.relname = ANY({ex}) OR {nsp}.nspname || '.' || {rel}.relname = ANY({ex}))")
    }

    fn schemas(&self) -> String {
        let ns = &self.ns;
        format!(
            "SELECT quote_ident(n.nspname) AS name, obj_description(n.oid, 'pg_namespace') AS comment
             FROM pg_namespace n WHERE {ns} AND {}",
            not_member("pg_namespace", "n.oid")
        )
    }

    fn tables(&self) -> String {
        let rel_scope = &self.rel_scope;
        let sorted_options = SORTED_OPTIONS;
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
        )
    }

    fn columns(&self) -> String {
        let rel_scope = &self.rel_scope;
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
        )
    }

    fn constraints(&self) -> String {
        let rel_scope = &self.rel_scope;
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
        )
    }

    fn indexes(&self) -> String {
        let rel_scope = &self.rel_scope;
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
        )
    }

    fn sequences(&self) -> String {
        let rel_scope = &self.rel_scope;
        let ex = &self.ex;
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
        )
    }

    fn views(&self) -> String {
        let rel_scope = &self.rel_scope;
        let sorted_options = SORTED_OPTIONS;
        format!(
            "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS name, c.relkind::text AS relkind,
                pg_get_viewdef(c.oid) AS definition, {sorted_options},
                obj_description(c.oid, 'pg_class') AS comment
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('v', 'm') AND {rel_scope}"
        )
    }

    fn functions(&self) -> String {
        let ns = &self.ns;
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
        )
    }

    fn triggers(&self) -> String {
        let rel_scope = &self.rel_scope;
        format!(
            "SELECT quote_ident(n.nspname) AS schema, quote_ident(c.relname) AS \"table\", c.relkind::text AS relkind,
                quote_ident(t.tgname) AS name, pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
                obj_description(t.oid, 'pg_trigger') AS comment
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {rel_scope}"
        )
    }

    fn types(&self) -> String {
        let ns = &self.ns;
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
        )
    }
}

/// Extensions are database-wide: every one is listed, whatever the scope.
fn extensions_query() -> String {
    "SELECT quote_ident(e.extname) AS name, e.extversion AS version, quote_ident(n.nspname) AS schema
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            .to_string()
}
