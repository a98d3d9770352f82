//! Offline rendering against a real PostgreSQL: a literal from `offline::literal`
//! must read back as exactly what the same value sent as a bound parameter
//! becomes (same type, same binary value), under any session settings, and a
//! statement with inlined parameters must do what the bound statement does.
//!
//! Each test gets its own database from the shared test server.

use std::error::Error;

use crate::common::TestDb;
use host::runtime::codec::PgValue;
use host::runtime::inline::{OfflineError, inline_params, literal};
use host::sql::lex::terminate;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Client, Row};

async fn connect() -> (Client, TestDb) {
    crate::common::async_db().await
}

/// A column's bytes exactly as the server sent them, whatever its type.
#[derive(Debug, PartialEq)]
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Every column of `row` as (type, bytes).
fn columns(row: &Row) -> Vec<(Type, Option<Raw>)> {
    (0..row.len())
        .map(|i| (row.columns()[i].type_().clone(), row.get(i)))
        .collect()
}

fn text(s: &str) -> PgValue {
    PgValue::Text(s.to_owned())
}

fn owned(s: &str) -> String {
    s.to_owned()
}

/// Each variant with its edge cases, and the type it is bound as.
fn cases() -> Vec<(PgValue, &'static str)> {
    use PgValue as V;
    let mut cases = vec![
        (V::Null, "int4"),
        (V::Null, "text"),
        (V::Boolean(true), "bool"),
        (V::Boolean(false), "bool"),
    ];
    for v in [0, 1, -1, i16::MIN, i16::MAX] {
        cases.push((V::Int2(v), "int2"));
    }
    for v in [0, 42, -5, i32::MIN, i32::MAX] {
        cases.push((V::Int4(v), "int4"));
    }
    for v in [0, 7, -7, i64::MIN, i64::MAX] {
        cases.push((V::Int8(v), "int8"));
    }
    for v in [
        0.0,
        -0.0,
        1.1,
        -2.5,
        3.402_823_5e38,
        1e-45,
        1.175_494_4e-38,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        cases.push((V::Float4(v), "float4"));
    }
    for v in [
        0.0,
        -0.0,
        0.1,
        1.000_000_000_000_000_2,
        123_456.789,
        1e16,
        -1.5e-7,
        1e300,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        cases.push((V::Float8(v), "float8"));
    }
    for v in [
        "0",
        "1.50",
        "-12.3400",
        "1e5",
        "-0.000",
        "123456789012345678901234567890.123456789",
        "NaN",
        "Infinity",
        "-Infinity",
    ] {
        cases.push((V::Numeric(owned(v)), "numeric"));
    }
    for v in [
        "",
        "plain",
        "it's",
        "''",
        "back\\slash",
        "\\'",
        "\\x41",
        "line\nbreak\r\n\ttab",
        "\u{1}\u{8}\u{b}\u{c}\u{1b}\u{7f}",
        "é ✓ 😀 \u{a0} \u{2028}",
        "$1 $$ -- /* */ \"q\"",
        "E'x'",
    ] {
        cases.push((text(v), "text"));
    }
    let all_bytes: Vec<u8> = (0..=255).collect();
    for v in [vec![], vec![0], b"'\\".to_vec(), all_bytes] {
        cases.push((V::Bytea(v), "bytea"));
    }
    for v in [
        "{}",
        r#"{"a": [1, 2.50, null], "b": "it's \"quoted\" \\ \u00e9"}"#,
        "{\n  \"pretty\": true\n}",
        "\"\\u0000\"",
    ] {
        cases.push((V::Json(owned(v)), "json"));
    }
    for v in ["{}", r#"{"b": 1, "a": [true, "it's \\"]}"#, "[1, 2.50]"] {
        cases.push((V::Jsonb(owned(v)), "jsonb"));
    }
    for v in [
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
    ] {
        cases.push((V::Uuid(owned(v)), "uuid"));
    }
    for v in [
        "2024-02-29",
        "0044-03-15 BC",
        "infinity",
        "-infinity",
        "epoch",
    ] {
        cases.push((V::Date(owned(v)), "date"));
    }
    for v in [
        "00:00:00",
        "12:34:56.789",
        "23:59:59.999999",
        "24:00:00",
        "10:20",
    ] {
        cases.push((V::Time(owned(v)), "time"));
    }
    for v in [
        "2024-02-29 01:02:03.45",
        "2024-02-29T01:02:03",
        "2024-02-29",
        "0044-03-15 12:00:00 BC",
        "2000-01-01 14:00:00+02:00",
        "infinity",
        "-infinity",
    ] {
        cases.push((V::Timestamp(owned(v)), "timestamp"));
    }
    for v in [
        "2024-02-29 01:02:03.45",
        "2024-02-29T01:02:03Z",
        "2024-02-29 01:02:03+05:30",
        "2024-02-29T01:02:03-0330",
        "2024-02-29 01:02:03 UTC",
        "2024-02-29",
        "0044-03-15 12:00:00 BC",
        "0044-03-15 BC",
        "epoch",
        "infinity",
        "-infinity",
    ] {
        cases.push((V::Timestamptz(owned(v)), "timestamptz"));
    }
    for v in [
        vec![],
        vec![None],
        vec![Some(owned("a")), None, Some(owned(""))],
        vec![
            Some(owned("it's")),
            Some(owned("back\\slash")),
            Some(owned("{\"braces\", commas}")),
            Some(owned("line\nbreak")),
            Some(owned("NULL")),
        ],
    ] {
        cases.push((V::TextArray(v), "text[]"));
    }
    for v in [
        vec![],
        vec![None, None],
        vec![Some(1), None, Some(-5)],
        vec![Some(i64::MIN), Some(i64::MAX), Some(0)],
    ] {
        cases.push((V::Int8Array(v), "int8[]"));
    }
    cases
}

/// Session settings that change how literals could be read; the renderings must not care.
const SETTINGS: [&str; 2] = [
    "SET TimeZone = 'UTC'; SET standard_conforming_strings = on; SET DateStyle = 'ISO, YMD'",
    "SET TimeZone = 'America/St_Johns'; SET standard_conforming_strings = off; \
     SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'postgres_verbose'; \
     SET extra_float_digits = -15; SET bytea_output = 'escape'",
];

#[tokio::test]
async fn literals_read_back_as_the_bound_value_and_type() {
    let (client, _db) = connect().await;
    let cases = cases();
    for settings in SETTINGS {
        client.batch_execute(settings).await.unwrap();
        for (value, type_name) in &cases {
            let rendered = literal(value);
            let sql = format!("SELECT {rendered}, $1::{type_name}");
            let row = client
                .query_one(&sql, &[value])
                .await
                .unwrap_or_else(|e| panic!("{sql} with {value:?}: {e:?}"));
            let [(literal_type, literal_raw), (bound_type, bound_raw)] =
                <[_; 2]>::try_from(columns(&row)).unwrap();
            assert_eq!(literal_raw, bound_raw, "{rendered} under {settings}");
            if *value != PgValue::Null {
                assert_eq!(literal_type, bound_type, "{rendered}");
            }
        }
    }
}

#[tokio::test]
async fn text_literals_are_text_and_nul_is_refused_both_ways() {
    let (client, _db) = connect().await;
    let row = client
        .query_one(&format!("SELECT {}", literal(&text("x"))), &[])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_(), &Type::TEXT);

    let nul = text("a\0b");
    assert_eq!(
        inline_params("SELECT $1", std::slice::from_ref(&nul)),
        Err(OfflineError::NulCharacter { number: 1 })
    );
    // The literal itself is still safe: PostgreSQL rejects it like the bound value.
    let offline = client
        .query_one(&format!("SELECT {}", literal(&nul)), &[])
        .await
        .unwrap_err();
    let online = client
        .query_one("SELECT $1::text", &[&nul])
        .await
        .unwrap_err();
    for err in [offline, online] {
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err:?}"));
        assert!(db.message().contains("0x00"), "{}", db.message());
    }
}

/// Runs `sql` with bound parameters and with inlined ones; both must return the same.
async fn same_both_ways(client: &Client, sql: &str, params: &[PgValue]) -> Vec<Row> {
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
    let bound = client
        .query(sql, &refs)
        .await
        .unwrap_or_else(|e| panic!("bound {sql}: {e:?}"));
    let inlined = inline_params(sql, params).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let offline = client
        .query(&inlined, &[])
        .await
        .unwrap_or_else(|e| panic!("inlined {inlined}: {e:?}"));
    assert_eq!(bound.len(), offline.len(), "{inlined}");
    for (b, o) in bound.iter().zip(&offline) {
        // Only types and values: an unaliased column is named after its
        // expression, which a literal changes (`?column?` becomes `int4`).
        assert_eq!(columns(b), columns(o), "{inlined}");
    }
    offline
}

#[tokio::test]
async fn inlined_statements_behave_like_bound_ones() {
    use PgValue as V;
    let (client, _db) = connect().await;
    client.batch_execute(SETTINGS[0]).await.unwrap();
    let skip_contexts = "SELECT $1::int4 + 1 AS \"$1\", '$2' AS s, $$ $1 $$ AS d, E'\\'$1' AS e, \
         $tag$ $2 $$ $tag$ AS f /* $1 /* nested $2 */ */, -$1::int4 AS neg, 10-$1::int4 AS diff, \
         $2::text || $2 AS twice, U&'$1' AS u -- $3 \n, 'it''s $1' AS q";
    let rows = same_both_ways(&client, skip_contexts, &[V::Int4(-5), text("x'y\\z")]).await;
    let neg: i32 = rows[0].get("neg");
    let twice: String = rows[0].get("twice");
    assert_eq!((neg, twice.as_str()), (5, "x'y\\zx'y\\z"));

    let cases: Vec<(&str, Vec<PgValue>)> = vec![
        (
            "SELECT x FROM unnest($1::int8[]) AS x WHERE x = ANY($2) ORDER BY x",
            vec![
                V::Int8Array(vec![Some(3), None, Some(-1), Some(i64::MIN)]),
                V::Int8Array(vec![Some(i64::MIN), Some(3)]),
            ],
        ),
        (
            "SELECT v FROM (VALUES (1), (2), (3)) t(v) WHERE v = $1",
            vec![text("2")],
        ),
        (
            "SELECT length($1), upper($1), $1 = 'Ab', $2::int4 IS NULL",
            vec![text("Ab"), V::Null],
        ),
        (
            "SELECT $1::jsonb -> 'a', $2::numeric * 2, $3::float8 / 3, $4::bytea, $5::uuid::text",
            vec![
                V::Jsonb(r#"{"a": [1, "b"]}"#.into()),
                V::Numeric("1.50".into()),
                V::Float8(0.1),
                V::Bytea(vec![0, 255, b'\\']),
                V::Uuid("A0EEBC999C0B4EF8BB6D6BB9BD380A11".into()),
            ],
        ),
        (
            "SELECT $1::date + 1, $2::time, $3::timestamp, $4::timestamptz, \
             $4::timestamptz AT TIME ZONE 'Asia/Tokyo'",
            vec![
                V::Date("2024-02-28".into()),
                V::Time("12:00:00.5".into()),
                V::Timestamp("2024-02-28 23:59:59".into()),
                V::Timestamptz("2024-02-28 23:59:59".into()),
            ],
        ),
        (
            "SELECT $1::int8 * 1000000000, $2::float4, NOT $3, $3 OR true",
            vec![V::Int4(5), V::Float4(1.1), V::Boolean(false)],
        ),
        (
            "SELECT array_length($1::text[], 1), ($1::text[])[2], $2::text[] = '{}'",
            vec![
                V::TextArray(vec![Some("a".into()), Some("it's".into())]),
                V::TextArray(vec![]),
            ],
        ),
        (
            "SELECT $10::int8 + $1::int8 - $2 - $3 - $4 - $5 - $6 - $7 - $8 - $9, $1 * $1",
            (1..=10).map(V::Int8).collect(),
        ),
    ];
    for (sql, params) in &cases {
        same_both_ways(&client, sql, params).await;
    }

    // PostgreSQL cannot infer a type for a bare `$1[2]`, so this one is checked
    // against its expected value rather than a bound run.
    let sql = inline_params(
        "SELECT $1[2], $1 [1:2], $2['k']",
        &[
            V::Int8Array(vec![Some(7), Some(8), Some(9)]),
            V::Jsonb(r#"{"k": "v"}"#.into()),
        ],
    )
    .unwrap();
    let row = client.query_one(&sql, &[]).await.unwrap();
    let second: i64 = row.get(0);
    let slice: Vec<i64> = row.get(1);
    assert_eq!((second, slice), (8, vec![7, 8]), "{sql}");
}

#[tokio::test]
async fn inlined_inserts_store_what_bound_inserts_store() {
    use PgValue as V;
    let (client, _db) = connect().await;
    // The codec takes zone-less instants as UTC; a script matches it under UTC.
    client.batch_execute(SETTINGS[0]).await.unwrap();
    let columns_and_values: Vec<(&str, PgValue)> = vec![
        ("int2", V::Int8(7)),
        ("int4", text("42")),
        ("int8", V::Int4(-5)),
        ("numeric", V::Float8(0.1)),
        ("numeric(10, 2)", V::Numeric("1.5".into())),
        ("float4", V::Float4(1.1)),
        ("float8", V::Int8(3)),
        ("float8", V::Float8(-0.0)),
        ("text", text("it's \\ \n")),
        ("varchar(10)", text("v")),
        ("bytea", V::Bytea(vec![0, 1, 254, 255])),
        ("json", V::Json(r#"{"a" : 1}"#.into())),
        ("jsonb", V::Json(r#"{"b": 2, "a": 1}"#.into())),
        ("jsonb", V::Jsonb("[1, 2]".into())),
        ("uuid", V::Uuid("A0EEBC999C0B4EF8BB6D6BB9BD380A11".into())),
        ("date", V::Date("2024-02-29".into())),
        ("time", V::Time("12:34:56.5".into())),
        ("timestamp", V::Date("2024-02-29".into())),
        ("timestamp", V::Timestamp("2024-02-29 01:02:03".into())),
        ("timestamptz", V::Timestamptz("2024-02-29 01:02:03".into())),
        ("timestamptz", V::Date("2024-02-29".into())),
        ("text[]", V::TextArray(vec![Some("a".into()), None])),
        ("int8[]", V::Int8Array(vec![Some(i64::MIN), None])),
        ("int4[]", V::Int8Array(vec![Some(1), Some(-2)])),
        ("int2[]", V::Int8Array(vec![])),
        ("bool", V::Boolean(true)),
        ("int4", V::Null),
    ];
    let defs: Vec<String> = columns_and_values
        .iter()
        .enumerate()
        .map(|(i, (ty, _))| format!("c{i} {ty}"))
        .collect();
    client
        .batch_execute(&format!(
            "CREATE TABLE t (via text PRIMARY KEY, {})",
            defs.join(", ")
        ))
        .await
        .unwrap();
    let names: Vec<String> = (0..columns_and_values.len())
        .map(|i| format!("c{i}"))
        .collect();
    let placeholders: Vec<String> = (2..=columns_and_values.len() + 1)
        .map(|n| format!("${n}"))
        .collect();
    let insert = format!(
        "INSERT INTO t (via, {}) VALUES ($1, {})",
        names.join(", "),
        placeholders.join(", ")
    );
    let with = |via: &str| -> Vec<PgValue> {
        std::iter::once(text(via))
            .chain(columns_and_values.iter().map(|(_, v)| v.clone()))
            .collect()
    };
    let bound = with("bound");
    let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
    client.execute(&insert, &refs).await.unwrap();
    let script = terminate(&inline_params(&insert, &with("offline")).unwrap());
    client.batch_execute(&script).await.unwrap();

    let select = format!("SELECT {} FROM t WHERE via = $1", names.join(", "));
    let bound_row = client.query_one(&select, &[&"bound"]).await.unwrap();
    let offline_row = client.query_one(&select, &[&"offline"]).await.unwrap();
    for (i, ((ty, value), (b, o))) in columns_and_values
        .iter()
        .zip(columns(&bound_row).into_iter().zip(columns(&offline_row)))
        .enumerate()
    {
        assert_eq!(b, o, "c{i} {ty} from {value:?}: {script}");
    }
}

#[tokio::test]
async fn terminated_statements_form_a_script() {
    let (client, _db) = connect().await;
    let statements = [
        (
            "CREATE TABLE notes (id int8 PRIMARY KEY, body text) -- the table",
            vec![],
        ),
        (
            "INSERT INTO notes VALUES ($1, $2) /* first; */",
            vec![PgValue::Int8(1), text("semi; colon -- not a comment")],
        ),
        (
            "INSERT INTO notes VALUES ($1, $2);",
            vec![PgValue::Int8(2), text("line\none")],
        ),
        (
            "  DO $$ BEGIN INSERT INTO notes VALUES (3, '$1;'); END $$  \n",
            vec![],
        ),
        (
            "INSERT INTO notes SELECT $1 + 1, $2 -- trailing $2;",
            vec![PgValue::Int8(3), text("\\")],
        ),
    ];
    let mut script = String::new();
    for (sql, params) in &statements {
        script.push_str(&terminate(&inline_params(sql, params).unwrap()));
        script.push('\n');
    }
    client.batch_execute(&script).await.unwrap();
    let rows = client
        .query("SELECT id, body FROM notes ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            (1, "semi; colon -- not a comment".to_owned()),
            (2, "line\none".to_owned()),
            (3, "$1;".to_owned()),
            (4, "\\".to_owned()),
        ],
        "{script}"
    );
}
