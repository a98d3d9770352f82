//! Round trips through a real PostgreSQL: each value variant is sent as a
//! parameter of every type it converts to, read back with `decode_column`, and
//! compared both with a hand-written expectation and with what PostgreSQL
//! itself prints for the parameter (its output function, or `to_json` for
//! timestamptz, whose rendering the codec takes from there).
//!
//! Each test gets its own database from the shared test server.

use std::error::Error as _;

use crate::common::TestDb;
use host::runtime::codec::{CodecError, PgValue, decode_column, type_name};
use tokio_postgres::Client;

async fn connect() -> (Client, TestDb) {
    let (client, db) = crate::common::async_db().await;
    // Fixed settings make PostgreSQL's own renderings comparable to the codec's.
    client
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1",
        )
        .await
        .unwrap();
    (client, db)
}

fn text(s: &str) -> PgValue {
    PgValue::Text(s.to_owned())
}

/// Renders a decoded value the way PostgreSQL's output function prints it.
fn render(value: &PgValue) -> String {
    fn float(v: f64) -> String {
        match v {
            v if v.is_nan() => "NaN".to_owned(),
            f64::INFINITY => "Infinity".to_owned(),
            f64::NEG_INFINITY => "-Infinity".to_owned(),
            v => v.to_string(),
        }
    }
    match value {
        PgValue::Null => "NULL".to_owned(),
        PgValue::Boolean(b) => if *b { "t" } else { "f" }.to_owned(),
        PgValue::Int2(v) => v.to_string(),
        PgValue::Int4(v) => v.to_string(),
        PgValue::Int8(v) => v.to_string(),
        PgValue::Float4(v) if v.is_finite() => v.to_string(),
        PgValue::Float4(v) => float(f64::from(*v)),
        PgValue::Float8(v) => float(*v),
        PgValue::Numeric(s)
        | PgValue::Text(s)
        | PgValue::Json(s)
        | PgValue::Jsonb(s)
        | PgValue::Uuid(s)
        | PgValue::Date(s)
        | PgValue::Time(s)
        | PgValue::Timestamp(s)
        | PgValue::Timestamptz(s) => s.clone(),
        PgValue::Bytea(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("\\x{hex}")
        }
        PgValue::TextArray(items) => array_literal(items.iter().map(|item| match item {
            Some(s) => quote_element(s),
            None => "NULL".to_owned(),
        })),
        PgValue::Int8Array(items) => array_literal(items.iter().map(|item| match item {
            Some(v) => v.to_string(),
            None => "NULL".to_owned(),
        })),
    }
}

fn array_literal(elements: impl Iterator<Item = String>) -> String {
    format!("{{{}}}", elements.collect::<Vec<_>>().join(","))
}

fn quote_element(s: &str) -> String {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| "{}\",\\ \t\n\r\x0b\x0c".contains(c));
    if !needs_quotes {
        return s.to_owned();
    }
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// SQL printing parameter `$n` of type `ty` as the codec should decode it.
fn oracle(ty: &str, n: u8) -> String {
    if ty == "timestamptz" {
        format!("to_json(${n}::timestamptz) #>> '{{}}'")
    } else {
        format!("format('%s', ${n}::{ty})")
    }
}

/// Sends `value` as a `ty` parameter and checks that it comes back as `expected`,
/// which is also what PostgreSQL must print for it.
async fn check(client: &Client, value: PgValue, ty: &str, expected: &str) {
    let sql = format!("SELECT $1::{ty}, {}", oracle(ty, 1));
    let row = client
        .query_one(&sql, &[&value])
        .await
        .unwrap_or_else(|e| panic!("{value:?} as {ty}: {e} ({:?})", e.source()));
    let decoded = decode_column(&row, 0).unwrap();
    let printed: String = row.get(1);
    assert_eq!(
        printed, expected,
        "PostgreSQL's rendering of {value:?} as {ty}"
    );
    assert_eq!(
        render(&decoded),
        expected,
        "decoded {value:?} as {ty}: {decoded:?}"
    );
}

/// Sends `value` as a `ty` parameter and returns the codec's error message.
async fn send_error(client: &Client, value: PgValue, ty: &str) -> String {
    let sql = format!("SELECT $1::{ty}");
    let err = client
        .query_one(&sql, &[&value])
        .await
        .expect_err(&format!("{value:?} was sent as {ty}"));
    let source = err.source().expect("the codec's error is the source");
    let codec = source
        .downcast_ref::<CodecError>()
        .unwrap_or_else(|| panic!("not a codec error: {err}"));
    assert!(matches!(codec, CodecError::Encode { .. }));
    codec.to_string()
}

#[tokio::test]
async fn null_is_sent_and_read_for_every_type() {
    let (client, _db) = connect().await;
    for ty in [
        "bool",
        "int2",
        "int4",
        "int8",
        "oid",
        "float4",
        "float8",
        "numeric",
        "text",
        "varchar",
        "bpchar",
        "name",
        "\"char\"",
        "bytea",
        "json",
        "jsonb",
        "uuid",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "text[]",
        "int8[]",
        "int4[]",
        "interval",
        "point",
    ] {
        let row = client
            .query_one(
                &format!("SELECT $1::{ty}, $1::{ty} IS NULL"),
                &[&PgValue::Null],
            )
            .await
            .unwrap();
        assert_eq!(decode_column(&row, 0).unwrap(), PgValue::Null, "{ty}");
        assert!(row.get::<_, bool>(1), "{ty}");
    }
}

#[tokio::test]
async fn booleans_and_integers_round_trip() {
    let (client, _db) = connect().await;
    check(&client, PgValue::Boolean(true), "bool", "t").await;
    check(&client, PgValue::Boolean(false), "bool", "f").await;
    for ty in ["int2", "int4", "int8", "float4", "float8", "numeric"] {
        check(&client, PgValue::Int2(-5), ty, "-5").await;
        check(&client, PgValue::Int4(12_345), ty, "12345").await;
        check(&client, PgValue::Int8(-32_768), ty, "-32768").await;
    }
    check(
        &client,
        PgValue::Int8(i64::MAX),
        "int8",
        "9223372036854775807",
    )
    .await;
    check(
        &client,
        PgValue::Int8(i64::MIN),
        "numeric",
        "-9223372036854775808",
    )
    .await;
    check(&client, PgValue::Int8(2_147_483_647), "int4", "2147483647").await;
    check(&client, PgValue::Int4(4_000_000), "oid", "4000000").await;
    check(&client, PgValue::Int8(4_294_967_295), "oid", "4294967295").await;
}

#[tokio::test]
async fn floats_round_trip() {
    let (client, _db) = connect().await;
    for ty in ["float4", "float8", "numeric"] {
        check(&client, PgValue::Float4(1.5), ty, "1.5").await;
        check(&client, PgValue::Float8(-0.25), ty, "-0.25").await;
        check(&client, PgValue::Float8(f64::NAN), ty, "NaN").await;
        check(&client, PgValue::Float4(f32::INFINITY), ty, "Infinity").await;
        check(&client, PgValue::Float8(f64::NEG_INFINITY), ty, "-Infinity").await;
    }
    check(&client, PgValue::Float4(0.1), "float4", "0.1").await;
    check(
        &client,
        PgValue::Float4(0.1),
        "float8",
        "0.10000000149011612",
    )
    .await;
    // Numerics get the digits PostgreSQL's own float casts keep.
    check(&client, PgValue::Float4(0.1), "numeric", "0.1").await;
    check(&client, PgValue::Float8(0.1), "numeric", "0.1").await;
    check(
        &client,
        PgValue::Float8(1.000_000_000_000_000_2),
        "float8",
        "1.0000000000000002",
    )
    .await;
    check(
        &client,
        PgValue::Float8(1.000_000_000_000_000_2),
        "numeric",
        "1",
    )
    .await;
    check(&client, PgValue::Float8(1.5e-7), "numeric", "0.00000015").await;
    check(
        &client,
        PgValue::Float8(123_456.789),
        "numeric",
        "123456.789",
    )
    .await;

    // The codec's float-to-numeric conversion must agree with PostgreSQL's casts.
    for v in [1e20, 2.0 / 3.0, -1234.5678e-9, 6.02214076e23, 1e-300, 0.3] {
        let row = client
            .query_one(
                "SELECT $1::numeric, ($2::float8)::numeric::text",
                &[&PgValue::Float8(v), &v],
            )
            .await
            .unwrap();
        assert_eq!(
            render(&decode_column(&row, 0).unwrap()),
            row.get::<_, String>(1),
            "{v}"
        );
    }
    for v in [1e20f32, 2.0 / 3.0, 3.4e38, -1.17e-38, 0.3] {
        let row = client
            .query_one(
                "SELECT $1::numeric, ($2::float4)::numeric::text",
                &[&PgValue::Float4(v), &v],
            )
            .await
            .unwrap();
        assert_eq!(
            render(&decode_column(&row, 0).unwrap()),
            row.get::<_, String>(1),
            "{v}"
        );
    }
}

#[tokio::test]
async fn numerics_round_trip() {
    let (client, _db) = connect().await;
    let numeric = |s: &str| PgValue::Numeric(s.to_owned());
    for (input, expected) in [
        ("0", "0"),
        ("-0", "0"),
        ("0.000", "0.000"),
        ("-0.5", "-0.5"),
        ("0.0000000001", "0.0000000001"),
        ("1e-10", "0.0000000001"),
        ("-1.5e-20", "-0.000000000000000000015"),
        (
            "123456789012345678901234567890.123",
            "123456789012345678901234567890.123",
        ),
        ("-12.3400", "-12.3400"),
        ("1e5", "100000"),
        ("1.50e1", "15.0"),
        ("10000", "10000"),
        ("99999999.99990000", "99999999.99990000"),
        (" +.5 ", "0.5"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-inf", "-Infinity"),
    ] {
        check(&client, numeric(input), "numeric", expected).await;
        // PostgreSQL must read the same text the same way.
        let row = client
            .query_one("SELECT $1::text::numeric::text", &[&input])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), expected, "{input}");
    }
    let long = format!("{}.{}", "9".repeat(300), "1".repeat(300));
    check(&client, numeric(&long), "numeric", &long).await;
    for ty in ["int2", "int4", "int8", "float4", "float8"] {
        check(&client, numeric("42"), ty, "42").await;
        check(&client, numeric("-1.2e2"), ty, "-120").await;
    }
    check(&client, numeric("2.5"), "float8", "2.5").await;
    check(&client, numeric("NaN"), "float4", "NaN").await;
    check(&client, numeric("1.50e1"), "text", "1.50e1").await;
}

#[tokio::test]
async fn text_is_parsed_like_postgres_parses_it() {
    let (client, _db) = connect().await;
    for (input, ty) in [
        ("hello, world", "text"),
        ("héllo", "varchar"),
        ("ab", "bpchar"),
        ("pg_class", "name"),
        ("a", "\"char\""),
        ("", "\"char\""),
        (" 12.50 ", "numeric"),
        ("-1.5e3", "numeric"),
        ("NaN", "numeric"),
        ("42", "int2"),
        (" -2147483648 ", "int4"),
        ("+9223372036854775807", "int8"),
        ("12345", "oid"),
        ("1.5e3", "float8"),
        ("-Infinity", "float8"),
        ("0.1", "float4"),
        ("yes", "bool"),
        ("of", "bool"),
        ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "uuid"),
        ("{a0eebc999c0b4ef8bb6d6bb9bd380a11}", "uuid"),
        ("2024-02-29", "date"),
        ("infinity", "date"),
        ("0044-03-15 BC", "date"),
        ("13:45:10.25", "time"),
        ("24:00:00", "time"),
        ("00:00:00.0000015", "time"),
        ("2024-02-29T13:45:10.000001+05:00", "timestamp"),
        ("2024-02-29 23:59:60", "timestamp"),
        ("epoch", "timestamp"),
        ("2024-02-29 13:45:10+05:30", "timestamptz"),
        ("2024-02-29 13:45:10", "timestamptz"),
        ("2024-02-29T13:45:10.5-0330", "timestamptz"),
        ("-infinity", "timestamptz"),
        ("{\"b\": 1,  \"a\": [1, 2]}", "json"),
        ("{\"b\": 1,  \"a\": [1, 2]}", "jsonb"),
        ("\\xDEADbeef", "bytea"),
        ("a\\\\b\\001", "bytea"),
    ] {
        let sql = format!("SELECT {}", oracle(ty, 1).replace("$1", "$1::text"));
        let expected: String = client.query_one(&sql, &[&input]).await.unwrap().get(0);
        check(&client, text(input), ty, &expected).await;
    }
}

#[tokio::test]
async fn json_bytea_and_uuid_round_trip() {
    let (client, _db) = connect().await;
    let doc = "{\"b\": 1,  \"a\": [1, 2]}";
    for value in [
        PgValue::Json(doc.to_owned()),
        PgValue::Jsonb(doc.to_owned()),
    ] {
        check(&client, value.clone(), "json", doc).await;
        check(&client, value.clone(), "jsonb", "{\"a\": [1, 2], \"b\": 1}").await;
        check(&client, value, "text", doc).await;
    }
    check(
        &client,
        PgValue::Jsonb("\"é\\u00e9\"".into()),
        "jsonb",
        "\"éé\"",
    )
    .await;
    check(
        &client,
        PgValue::Bytea(vec![0, 1, 0xfe, 0xff]),
        "bytea",
        "\\x0001feff",
    )
    .await;
    check(&client, PgValue::Bytea(Vec::new()), "bytea", "\\x").await;
    let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    for spelling in [canonical, "A0EEBC999C0B4EF8BB6D6BB9BD380A11"] {
        check(&client, PgValue::Uuid(spelling.into()), "uuid", canonical).await;
        check(&client, PgValue::Uuid(spelling.into()), "text", spelling).await;
    }
}

#[tokio::test]
async fn dates_and_times_round_trip() {
    let (client, _db) = connect().await;
    let date = |s: &str| PgValue::Date(s.to_owned());
    let time = |s: &str| PgValue::Time(s.to_owned());
    for (input, expected) in [
        ("2024-02-29", "2024-02-29"),
        ("2000-01-01", "2000-01-01"),
        ("1999-12-31", "1999-12-31"),
        ("1900-03-01", "1900-03-01"),
        ("1583-01-01", "1583-01-01"),
        ("9999-12-31", "9999-12-31"),
        ("12345-06-07", "12345-06-07"),
        ("0001-01-01", "0001-01-01"),
        ("0044-03-15 BC", "0044-03-15 BC"),
        ("infinity", "infinity"),
        ("-infinity", "-infinity"),
    ] {
        check(&client, date(input), "date", expected).await;
    }
    check(
        &client,
        date("2024-02-29"),
        "timestamp",
        "2024-02-29 00:00:00",
    )
    .await;
    check(
        &client,
        date("2024-02-29"),
        "timestamptz",
        "2024-02-29T00:00:00+00:00",
    )
    .await;
    check(&client, date("infinity"), "timestamp", "infinity").await;
    check(&client, date("2024-02-29"), "text", "2024-02-29").await;

    for (input, expected) in [
        ("00:00:00", "00:00:00"),
        ("23:59:59.999999", "23:59:59.999999"),
        ("12:00:00.500", "12:00:00.5"),
        ("10:00", "10:00:00"),
        ("24:00:00", "24:00:00"),
        ("07:08:09.0000005", "07:08:09"),
    ] {
        check(&client, time(input), "time", expected).await;
    }
    check(&client, time("10:00"), "text", "10:00").await;
}

#[tokio::test]
async fn timestamps_round_trip() {
    let (client, _db) = connect().await;
    let ts = |s: &str| PgValue::Timestamp(s.to_owned());
    let tstz = |s: &str| PgValue::Timestamptz(s.to_owned());
    for (input, wall, utc) in [
        (
            "2024-02-29 13:45:10.5",
            "2024-02-29 13:45:10.5",
            "2024-02-29T13:45:10.5+00:00",
        ),
        (
            "1969-07-20T20:17:40",
            "1969-07-20 20:17:40",
            "1969-07-20T20:17:40+00:00",
        ),
        (
            "1999-12-31 23:59:59.999999",
            "1999-12-31 23:59:59.999999",
            "1999-12-31T23:59:59.999999+00:00",
        ),
        (
            "2000-01-01",
            "2000-01-01 00:00:00",
            "2000-01-01T00:00:00+00:00",
        ),
        (
            "0044-03-15 12:00:00 BC",
            "0044-03-15 12:00:00 BC",
            "0044-03-15T12:00:00+00:00 BC",
        ),
        ("infinity", "infinity", "infinity"),
        ("-infinity", "-infinity", "-infinity"),
    ] {
        check(&client, ts(input), "timestamp", wall).await;
        check(&client, ts(input), "timestamptz", utc).await;
        check(&client, tstz(input), "timestamptz", utc).await;
        check(&client, tstz(input), "timestamp", wall).await;
    }
    for (input, utc) in [
        ("2024-02-29T13:45:10+02:00", "2024-02-29T11:45:10+00:00"),
        ("2024-02-29T13:45:10Z", "2024-02-29T13:45:10+00:00"),
        (
            "2024-02-29 13:45:10.123456-0330",
            "2024-02-29T17:15:10.123456+00:00",
        ),
        ("2024-03-01 01:00:00+05", "2024-02-29T20:00:00+00:00"),
        ("2024-02-29 13:45:10 UTC", "2024-02-29T13:45:10+00:00"),
    ] {
        check(&client, tstz(input), "timestamptz", utc).await;
        // Without a zone to render in, a timestamp gets the UTC wall-clock time.
        let wall = utc.replace('T', " ").replace("+00:00", "");
        check(&client, tstz(input), "timestamp", &wall).await;
        // A timestamp that carries an offset keeps its wall clock, as PostgreSQL's input does.
        let row = client
            .query_one(
                "SELECT $1::timestamp, $2::text::timestamp::text",
                &[&ts(input), &input],
            )
            .await
            .unwrap();
        assert_eq!(
            render(&decode_column(&row, 0).unwrap()),
            row.get::<_, String>(1)
        );
    }
    check(
        &client,
        tstz("2024-02-29T13:45:10+02:00"),
        "text",
        "2024-02-29T13:45:10+02:00",
    )
    .await;
}

#[tokio::test]
async fn arrays_round_trip() {
    let (client, _db) = connect().await;
    let words = PgValue::TextArray(vec![
        Some("a".into()),
        None,
        Some("b c".into()),
        Some(String::new()),
        Some("NULL".into()),
        Some("q\"u\\o{t},e".into()),
        Some("é".into()),
    ]);
    let literal = r#"{a,NULL,"b c","","NULL","q\"u\\o{t},e",é}"#;
    for ty in ["text[]", "varchar[]", "bpchar[]", "name[]"] {
        check(&client, words.clone(), ty, literal).await;
    }
    check(&client, PgValue::TextArray(Vec::new()), "text[]", "{}").await;
    let numbers = PgValue::Int8Array(vec![Some(1), None, Some(-32_768), Some(32_767)]);
    for ty in ["int8[]", "int4[]", "int2[]"] {
        check(&client, numbers.clone(), ty, "{1,NULL,-32768,32767}").await;
    }
    check(
        &client,
        PgValue::Int8Array(vec![Some(i64::MIN)]),
        "int8[]",
        "{-9223372036854775808}",
    )
    .await;
    check(&client, PgValue::Int8Array(vec![Some(26)]), "oid[]", "{26}").await;
    check(&client, PgValue::Int8Array(Vec::new()), "int4[]", "{}").await;
}

#[tokio::test]
async fn typed_columns_of_a_table_round_trip() {
    let (client, _db) = connect().await;
    client
        .batch_execute(
            "CREATE TEMP TABLE codec_round_trip (
                c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
                c_float4 float4, c_float8 float8, c_numeric numeric, c_money numeric(10, 2),
                c_text text, c_varchar varchar(10), c_bpchar char(5), c_name name, c_char \"char\",
                c_bytea bytea, c_json json, c_jsonb jsonb, c_uuid uuid, c_date date, c_time time,
                c_timestamp timestamp, c_timestamptz timestamptz,
                c_text_array text[], c_varchar_array varchar(3)[], c_int8_array int8[],
                c_int4_array int4[], c_int2_array int2[]
            )",
        )
        .await
        .unwrap();
    let cases = [
        ("c_bool", PgValue::Boolean(true), "t"),
        ("c_bool", text("off"), "f"),
        ("c_int2", PgValue::Int8(-7), "-7"),
        ("c_int4", PgValue::Int2(300), "300"),
        ("c_int4", text("77"), "77"),
        ("c_int8", PgValue::Int4(-1), "-1"),
        (
            "c_int8",
            PgValue::Numeric("9e18".into()),
            "9000000000000000000",
        ),
        ("c_oid", PgValue::Int8(1259), "1259"),
        ("c_float4", PgValue::Float8(0.5), "0.5"),
        ("c_float4", PgValue::Int8(-100), "-100"),
        ("c_float8", PgValue::Float4(-2.25), "-2.25"),
        ("c_float8", PgValue::Numeric("1e-3".into()), "0.001"),
        ("c_numeric", PgValue::Numeric("-12.3400".into()), "-12.3400"),
        ("c_numeric", PgValue::Int8(10_000_000_000), "10000000000"),
        ("c_numeric", text("0.000"), "0.000"),
        ("c_money", PgValue::Numeric("1.005".into()), "1.01"),
        ("c_money", PgValue::Int4(7), "7.00"),
        ("c_text", text("plain"), "plain"),
        ("c_text", PgValue::Json("[1]".into()), "[1]"),
        ("c_text", PgValue::Date("2024-01-02".into()), "2024-01-02"),
        ("c_varchar", text("short"), "short"),
        (
            "c_varchar",
            PgValue::Uuid("0123456789abcdef0123456789abcdef".into()),
            "",
        ),
        ("c_bpchar", text("ab"), "ab   "),
        ("c_name", text("relname"), "relname"),
        ("c_char", text("z"), "z"),
        ("c_bytea", PgValue::Bytea(b"\x00hi".to_vec()), "\\x006869"),
        ("c_json", text("{\"k\":  true}"), "{\"k\":  true}"),
        (
            "c_jsonb",
            PgValue::Json("{\"k\":  true}".into()),
            "{\"k\": true}",
        ),
        (
            "c_jsonb",
            PgValue::Jsonb("[null, 1.50]".into()),
            "[null, 1.50]",
        ),
        (
            "c_uuid",
            PgValue::Uuid("0123456789ABCDEF0123456789ABCDEF".into()),
            "01234567-89ab-cdef-0123-456789abcdef",
        ),
        ("c_date", PgValue::Date("2024-02-29".into()), "2024-02-29"),
        ("c_time", PgValue::Time("08:30:00.25".into()), "08:30:00.25"),
        (
            "c_timestamp",
            PgValue::Timestamp("2024-02-29 08:30:00".into()),
            "2024-02-29 08:30:00",
        ),
        (
            "c_timestamp",
            PgValue::Date("2024-02-29".into()),
            "2024-02-29 00:00:00",
        ),
        (
            "c_timestamptz",
            PgValue::Timestamptz("2024-02-29 08:30:00+01".into()),
            "2024-02-29T07:30:00+00:00",
        ),
        (
            "c_timestamptz",
            PgValue::Timestamp("2024-02-29 08:30:00".into()),
            "2024-02-29T08:30:00+00:00",
        ),
        (
            "c_text_array",
            PgValue::TextArray(vec![Some("x".into()), None]),
            "{x,NULL}",
        ),
        (
            "c_varchar_array",
            PgValue::TextArray(vec![Some("abc".into())]),
            "{abc}",
        ),
        (
            "c_int8_array",
            PgValue::Int8Array(vec![Some(1), Some(2)]),
            "{1,2}",
        ),
        (
            "c_int4_array",
            PgValue::Int8Array(vec![None, Some(-5)]),
            "{NULL,-5}",
        ),
        ("c_int2_array", PgValue::Int8Array(vec![Some(9)]), "{9}"),
    ];
    let mut stored = 0;
    for (column, value, expected) in cases {
        let sql = format!(
            "INSERT INTO codec_round_trip ({column}) VALUES ($1) RETURNING {column}, {}",
            if column == "c_timestamptz" {
                format!("to_json({column}) #>> '{{}}'")
            } else {
                format!("format('%s', {column})")
            }
        );
        let result = client.query_one(&sql, &[&value]).await;
        if expected.is_empty() {
            // The canonical uuid is longer than varchar(10): PostgreSQL's check still applies.
            let err = result.expect_err("an over-long varchar was stored");
            let message = err.as_db_error().map(|e| e.message().to_owned());
            assert!(
                message.as_deref().unwrap_or("").contains("too long"),
                "{err:?}"
            );
            continue;
        }
        let row = result.unwrap_or_else(|e| panic!("{column} <- {value:?}: {e}"));
        let decoded = decode_column(&row, 0).unwrap();
        assert_eq!(row.get::<_, String>(1), expected, "{column} <- {value:?}");
        assert_eq!(
            render(&decoded),
            expected,
            "{column} <- {value:?}: {decoded:?}"
        );
        stored += 1;
    }
    let row = client
        .query_one("SELECT count(*) FROM codec_round_trip", &[])
        .await
        .unwrap();
    assert_eq!(decode_column(&row, 0).unwrap(), PgValue::Int8(stored));
}

#[tokio::test]
async fn domains_enums_and_citext_use_their_base_format() {
    let (mut client, _db) = connect().await;
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(
        "CREATE DOMAIN pg_temp.positive AS int4 CHECK (VALUE > 0);
         CREATE DOMAIN pg_temp.labels AS text[];
         CREATE TYPE pg_temp.mood AS ENUM ('sad', 'ok', 'happy');
         CREATE EXTENSION IF NOT EXISTS citext;
         CREATE TEMP TABLE codec_custom (
             n pg_temp.positive, l pg_temp.labels, m pg_temp.mood, moods pg_temp.mood[], c citext
         )",
    )
    .await
    .unwrap();
    let row = tx
        .query_one(
            "INSERT INTO codec_custom VALUES ($1, $2, $3, $4, $5) RETURNING *",
            &[
                &PgValue::Int8(5),
                &PgValue::TextArray(vec![Some("x".into())]),
                &text("happy"),
                &PgValue::TextArray(vec![Some("ok".into()), None]),
                &text("MiXeD"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(decode_column(&row, 0).unwrap(), PgValue::Int4(5));
    assert_eq!(
        decode_column(&row, 1).unwrap(),
        PgValue::TextArray(vec![Some("x".into())])
    );
    assert_eq!(decode_column(&row, 2).unwrap(), text("happy"));
    assert_eq!(
        decode_column(&row, 3).unwrap(),
        PgValue::TextArray(vec![Some("ok".into()), None])
    );
    assert_eq!(decode_column(&row, 4).unwrap(), text("MiXeD"));
    let names: Vec<String> = row.columns().iter().map(|c| type_name(c.type_())).collect();
    // Result columns report a domain by its base type.
    assert_eq!(names, ["int4", "text[]", "mood", "mood[]", "citext"]);
    let err = tx
        .query_one(
            "INSERT INTO codec_custom (n) VALUES ($1)",
            &[&PgValue::Int8(-1)],
        )
        .await
        .expect_err("the domain's check ran");
    let message = err.as_db_error().map(|e| e.message().to_owned());
    assert!(
        message.as_deref().unwrap_or("").contains("positive"),
        "{err:?}"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn encode_errors_reach_the_caller() {
    let (client, _db) = connect().await;
    assert_eq!(
        send_error(&client, PgValue::Int8(300_000), "int2").await,
        "cannot send int8 value 300000 as int2: out of range for int2 (-32768 to 32767)"
    );
    let message = send_error(&client, text("abc"), "numeric").await;
    assert!(message.starts_with("cannot send text value \"abc\" as numeric: not a valid numeric"));
    assert!(message.contains("$1::text::numeric"), "{message}");
    let message = send_error(&client, PgValue::Int4(5), "text").await;
    assert!(message.contains("pass Value::Text, or write the parameter as $1::int4::text"));
    let message = send_error(&client, PgValue::Numeric("2.5".into()), "int4").await;
    assert!(message.contains("fractional part"), "{message}");
    let message = send_error(&client, PgValue::Date("2024-02-30".into()), "date").await;
    assert!(message.contains("not a valid date"), "{message}");
    let message = send_error(&client, PgValue::Int8Array(vec![Some(1 << 40)]), "int4[]").await;
    assert!(message.contains("element 1 (1099511627776) is out of range for int4"));
    let message = send_error(&client, text("1 day"), "interval").await;
    assert!(
        message.contains("write the parameter as $1::text::interval"),
        "{message}"
    );
    // With the hinted cast PostgreSQL does the conversion itself.
    let row = client
        .query_one("SELECT ($1::text::interval)::text", &[&text("1 day")])
        .await
        .unwrap();
    assert_eq!(decode_column(&row, 0).unwrap(), text("1 day"));
}

#[tokio::test]
async fn unreadable_columns_say_what_to_do() {
    let (client, _db) = connect().await;
    let row = client
        .query_one(
            "SELECT interval '1 day' AS span, ARRAY[[1, 2], [3, 4]] AS grid, 1 AS one",
            &[],
        )
        .await
        .unwrap();
    let err = decode_column(&row, 0).unwrap_err();
    assert!(matches!(&err, CodecError::Unsupported { column, type_name }
        if column == "span" && type_name == "interval"));
    assert!(err.to_string().contains("SELECT span::text"), "{err}");
    let err = decode_column(&row, 1).unwrap_err();
    assert!(matches!(err, CodecError::Decode { .. }));
    assert!(err.to_string().contains("2-dimensional"), "{err}");
    let err = decode_column(&row, 3).unwrap_err();
    assert!(matches!(
        err,
        CodecError::NoSuchColumn { index: 3, count: 3 }
    ));
}

#[tokio::test]
async fn server_values_decode_and_name_their_types() {
    let (client, _db) = connect().await;
    let row = client
        .query_one(
            "SELECT 'pg_class'::regclass::oid, 'x'::\"char\", 'ab'::char(4), 'pg_type'::name,
                    '{a,b}'::varchar[], '{1,2}'::int2[], 1.10::numeric(5, 3), NULL::point,
                    '{\"a\":1}'::jsonb, now() - now() = interval '0' AS same",
            &[],
        )
        .await
        .unwrap();
    let decoded: Vec<PgValue> = (0..row.len())
        .map(|i| decode_column(&row, i).unwrap())
        .collect();
    assert_eq!(
        decoded,
        [
            PgValue::Int8(1259),
            text("x"),
            text("ab  "),
            text("pg_type"),
            PgValue::TextArray(vec![Some("a".into()), Some("b".into())]),
            PgValue::Int8Array(vec![Some(1), Some(2)]),
            PgValue::Numeric("1.100".into()),
            PgValue::Null,
            PgValue::Jsonb("{\"a\": 1}".into()),
            PgValue::Boolean(true),
        ]
    );
    let names: Vec<String> = row.columns().iter().map(|c| type_name(c.type_())).collect();
    assert_eq!(
        names,
        [
            "oid",
            "char",
            "bpchar",
            "name",
            "varchar[]",
            "int2[]",
            "numeric",
            "point",
            "jsonb",
            "bool"
        ]
    );
}
