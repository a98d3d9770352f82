//! Unit tests for offline rendering: literals per variant and placeholder substitution.

use super::*;

fn text(s: &str) -> PgValue {
    PgValue::Text(s.to_owned())
}

fn inline(statement: &str, params: &[PgValue]) -> String {
    inline_params(statement, params).unwrap_or_else(|e| panic!("{statement}: {e}"))
}

#[test]
fn null_and_booleans_are_keywords() {
    assert_eq!(literal(&PgValue::Null), "NULL");
    assert_eq!(literal(&PgValue::Boolean(true)), "true");
    assert_eq!(literal(&PgValue::Boolean(false)), "false");
}

#[test]
fn integers_carry_their_type_and_negatives_are_parenthesised() {
    assert_eq!(literal(&PgValue::Int2(7)), "7::int2");
    assert_eq!(literal(&PgValue::Int2(i16::MIN)), "(-32768)::int2");
    assert_eq!(literal(&PgValue::Int4(0)), "0::int4");
    assert_eq!(literal(&PgValue::Int4(-5)), "(-5)::int4");
    assert_eq!(literal(&PgValue::Int4(i32::MAX)), "2147483647::int4");
    assert_eq!(literal(&PgValue::Int4(i32::MIN)), "(-2147483648)::int4");
    assert_eq!(
        literal(&PgValue::Int8(i64::MAX)),
        "9223372036854775807::int8"
    );
    assert_eq!(
        literal(&PgValue::Int8(i64::MIN)),
        "(-9223372036854775808)::int8"
    );
}

#[test]
fn floats_are_quoted_shortest_round_trip_text() {
    let f8 = |v: f64| literal(&PgValue::Float8(v));
    let f4 = |v: f32| literal(&PgValue::Float4(v));
    assert_eq!(f8(1.5), "'1.5'::float8");
    assert_eq!(f8(0.1), "'0.1'::float8");
    assert_eq!(f8(-2.0), "'-2'::float8");
    assert_eq!(f8(0.0), "'0'::float8");
    assert_eq!(f8(-0.0), "'-0'::float8");
    assert_eq!(f8(1e300), "'1e300'::float8");
    assert_eq!(f8(-1.5e-7), "'-1.5e-7'::float8");
    assert_eq!(f8(5e-324), "'5e-324'::float8");
    assert_eq!(f8(123_456.789), "'123456.789'::float8");
    assert_eq!(f8(1e16), "'1e16'::float8");
    assert_eq!(f8(f64::NAN), "'NaN'::float8");
    assert_eq!(f8(f64::INFINITY), "'Infinity'::float8");
    assert_eq!(f8(f64::NEG_INFINITY), "'-Infinity'::float8");
    assert_eq!(f4(1.1), "'1.1'::float4");
    assert_eq!(f4(f32::MAX), "'3.4028235e38'::float4");
    assert_eq!(f4(1e-45), "'1e-45'::float4");
    assert_eq!(f4(f32::NAN), "'NaN'::float4");
    assert_eq!(f4(f32::NEG_INFINITY), "'-Infinity'::float4");
    for v in [0.1, 1e300, 5e-324, -1.5e-7, 1.000_000_000_000_000_2, 1e16] {
        let rendered = float(v);
        assert_eq!(rendered.parse::<f64>().unwrap(), v, "{rendered}");
    }
}

#[test]
fn numerics_keep_their_text_and_scale() {
    assert_eq!(literal(&PgValue::Numeric("1.50".into())), "'1.50'::numeric");
    assert_eq!(
        literal(&PgValue::Numeric("-12.3400".into())),
        "'-12.3400'::numeric"
    );
    assert_eq!(literal(&PgValue::Numeric("NaN".into())), "'NaN'::numeric");
    assert_eq!(
        literal(&PgValue::Numeric("1'; DROP TABLE t; --".into())),
        "'1''; DROP TABLE t; --'::numeric"
    );
}

#[test]
fn text_is_an_untyped_string_escaped_only_when_needed() {
    assert_eq!(literal(&text("")), "''");
    assert_eq!(literal(&text("abc")), "'abc'");
    assert_eq!(literal(&text("it's")), "'it''s'");
    assert_eq!(literal(&text("''")), "''''''");
    assert_eq!(literal(&text("é ✓ 😀")), "'é ✓ 😀'");
    assert_eq!(literal(&text("$1 -- /* $$")), "'$1 -- /* $$'");
    assert_eq!(literal(&text("a\\b")), "E'a\\\\b'");
    assert_eq!(literal(&text("\\'")), "E'\\\\'''");
    assert_eq!(
        literal(&text("line\nnext\r\ttab\u{8}\u{c}")),
        "E'line\\nnext\\r\\ttab\\b\\f'"
    );
    assert_eq!(literal(&text("\u{1}F\u{7f}\u{b}")), "E'\\x01F\\x7f\\x0b'");
    assert_eq!(literal(&text("a\0b")), "E'a\\x00b'");
}

#[test]
fn bytea_is_hex_inside_an_escape_string() {
    assert_eq!(
        literal(&PgValue::Bytea(vec![0xde, 0xad, 0x00, 0x0f])),
        "E'\\\\xdead000f'::bytea"
    );
    assert_eq!(literal(&PgValue::Bytea(vec![])), "E'\\\\x'::bytea");
}

#[test]
fn json_and_scalar_types_are_cast_strings() {
    assert_eq!(
        literal(&PgValue::Json(r#"{"a": "it's"}"#.into())),
        r#"'{"a": "it''s"}'::json"#
    );
    assert_eq!(
        literal(&PgValue::Jsonb("{\"q\": \"\\\"\"}\n".into())),
        "E'{\"q\": \"\\\\\"\"}\\n'::jsonb"
    );
    assert_eq!(
        literal(&PgValue::Uuid(
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11".into()
        )),
        "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid"
    );
    assert_eq!(
        literal(&PgValue::Date("2024-02-29".into())),
        "'2024-02-29'::date"
    );
    assert_eq!(
        literal(&PgValue::Time("23:59:59.5".into())),
        "'23:59:59.5'::time"
    );
    assert_eq!(
        literal(&PgValue::Timestamp("2024-02-29 01:02:03".into())),
        "'2024-02-29 01:02:03'::timestamp"
    );
}

#[test]
fn timestamptz_without_an_offset_is_pinned_to_utc() {
    let tz = |s: &str| literal(&PgValue::Timestamptz(s.into()));
    assert_eq!(
        tz("2024-01-01 12:00:00"),
        "'2024-01-01 12:00:00+00'::timestamptz"
    );
    assert_eq!(
        tz("2024-01-01T12:00:00.5"),
        "'2024-01-01T12:00:00.5+00'::timestamptz"
    );
    assert_eq!(tz("2024-01-01"), "'2024-01-01+00'::timestamptz");
    assert_eq!(
        tz(" 0044-03-15 12:00 bc "),
        "'0044-03-15 12:00+00 BC'::timestamptz"
    );
    assert_eq!(tz("0044-03-15 BC"), "'0044-03-15+00 BC'::timestamptz");
    for zoned in [
        "2024-01-01T12:00:00Z",
        "2024-01-01 12:00:00+02:00",
        "2024-01-01 12:00:00-0330",
        "2024-01-01 12:00:00 UTC",
        "2024-01-01 12:00:00 +05",
        "0044-03-15 12:00:00+01 BC",
        "infinity",
        "-Infinity",
        "epoch",
    ] {
        assert_eq!(tz(zoned), format!("'{zoned}'::timestamptz"));
    }
}

#[test]
fn arrays_are_typed_constructors() {
    assert_eq!(literal(&PgValue::TextArray(vec![])), "'{}'::text[]");
    assert_eq!(literal(&PgValue::Int8Array(vec![])), "'{}'::int8[]");
    assert_eq!(
        literal(&PgValue::TextArray(vec![
            Some("a".into()),
            None,
            Some("it's".into()),
            Some("\\".into()),
            Some(String::new()),
        ])),
        "ARRAY['a', NULL, 'it''s', E'\\\\', '']::text[]"
    );
    assert_eq!(
        literal(&PgValue::TextArray(vec![None])),
        "ARRAY[NULL]::text[]"
    );
    assert_eq!(
        literal(&PgValue::Int8Array(vec![
            Some(1),
            None,
            Some(-5),
            Some(i64::MIN)
        ])),
        "ARRAY[1, NULL, -5, -9223372036854775808]::int8[]"
    );
}

#[test]
fn placeholders_are_replaced_and_may_repeat() {
    assert_eq!(
        inline(
            "INSERT INTO t (a, b) VALUES ($1, $2)",
            &[PgValue::Int4(1), text("x")]
        ),
        "INSERT INTO t (a, b) VALUES (1::int4, 'x')"
    );
    assert_eq!(
        inline("SELECT $1, $1 || $1", &[text("a")]),
        "SELECT 'a', 'a' || 'a'"
    );
    assert_eq!(
        inline("SELECT $2,$1", &[PgValue::Int2(1), PgValue::Int2(2)]),
        "SELECT 2::int2,1::int2"
    );
    assert_eq!(inline("SELECT 1", &[]), "SELECT 1");
    assert_eq!(inline("", &[]), "");
}

#[test]
fn multi_digit_placeholders_are_read_whole() {
    let params: Vec<PgValue> = (1..=12).map(PgValue::Int8).collect();
    let all: Vec<String> = (1..=12).map(|n| format!("${n}")).collect();
    let statement = format!("SELECT {}", all.join(","));
    let expected: Vec<String> = (1..=12).map(|n| format!("{n}::int8")).collect();
    assert_eq!(
        inline(&statement, &params),
        format!("SELECT {}", expected.join(","))
    );
    let ten: Vec<PgValue> = (1..=10).map(PgValue::Int8).collect();
    assert_eq!(
        inline_params("SELECT $10, $1, $2, $3, $4, $5, $6, $7, $8, $9", &ten[..9]),
        Err(OfflineError::MissingParameter {
            placeholder: "$10".into(),
            count: 9
        })
    );
    assert_eq!(
        inline("SELECT $01", &[PgValue::Boolean(true)]),
        "SELECT true"
    );
}

#[test]
fn casts_and_signs_stay_well_formed() {
    let neg = [PgValue::Int4(-5)];
    assert_eq!(inline("SELECT $1::int", &neg), "SELECT (-5)::int4::int");
    assert_eq!(inline("SELECT x-$1", &neg), "SELECT x-(-5)::int4");
    assert_eq!(inline("SELECT - $1", &neg), "SELECT - (-5)::int4");
    assert_eq!(
        inline("SELECT $1::text", &[PgValue::Float8(-1.0)]),
        "SELECT '-1'::float8::text"
    );
    assert_eq!(
        inline("SELECT 1-$1", &[PgValue::Numeric("-2".into())]),
        "SELECT 1-'-2'::numeric"
    );
}

#[test]
fn subscripts_and_field_selections_get_parentheses() {
    let array = [PgValue::Int8Array(vec![Some(1), Some(2)])];
    assert_eq!(
        inline("SELECT $1[2]", &array),
        "SELECT (ARRAY[1, 2]::int8[])[2]"
    );
    assert_eq!(
        inline("SELECT $1 [1:2]", &array),
        "SELECT (ARRAY[1, 2]::int8[]) [1:2]"
    );
    assert_eq!(
        inline("SELECT $1['a']", &[PgValue::Jsonb("{}".into())]),
        "SELECT ('{}'::jsonb)['a']"
    );
    assert_eq!(inline("SELECT ($1).f", &[PgValue::Null]), "SELECT (NULL).f");
    assert_eq!(inline("SELECT $1.f", &[PgValue::Null]), "SELECT (NULL).f");
    assert_eq!(
        inline("SELECT ARRAY[$1]", &[PgValue::Int8(3)]),
        "SELECT ARRAY[3::int8]"
    );
}

#[test]
fn placeholders_in_strings_are_left_alone() {
    let one = [PgValue::Int4(1)];
    assert_eq!(
        inline("SELECT '$1', $1, 'it''s $1'", &one),
        "SELECT '$1', 1::int4, 'it''s $1'"
    );
    // With standard_conforming_strings a backslash is an ordinary character.
    assert_eq!(inline(r"SELECT '\', $1", &one), r"SELECT '\', 1::int4");
    assert_eq!(
        inline(r"SELECT E'\'$1', $1", &one),
        r"SELECT E'\'$1', 1::int4"
    );
    assert_eq!(inline(r"SELECT e'\\', $1", &one), r"SELECT e'\\', 1::int4");
    assert_eq!(
        inline(r"SELECT E'a''$1\\', $1", &one),
        r"SELECT E'a''$1\\', 1::int4"
    );
    // Only a standalone E prefixes an escape string.
    assert_eq!(
        inline(r"SELECT x.name||'\', $1", &one),
        r"SELECT x.name||'\', 1::int4"
    );
    assert_eq!(
        inline("SELECT U&'$1', B'01', X'$1', N'$1', $1", &one),
        "SELECT U&'$1', B'01', X'$1', N'$1', 1::int4"
    );
}

#[test]
fn escape_strings_continue_across_newlines() {
    let one = [PgValue::Int4(1)];
    // The second part is still an E string, so \' does not end it.
    assert_eq!(
        inline("SELECT E'a'\n'\\'$1', $1", &one),
        "SELECT E'a'\n'\\'$1', 1::int4"
    );
    assert_eq!(
        inline("SELECT E'a' -- note\n  '\\'$1', $1", &one),
        "SELECT E'a' -- note\n  '\\'$1', 1::int4"
    );
    // Without a newline the strings do not join: the statement is an error anyway,
    // but the second quote starts a fresh standard string.
    assert_eq!(
        inline("SELECT E'a' '$1', $1", &one),
        "SELECT E'a' '$1', 1::int4"
    );
}

#[test]
fn placeholders_in_quoted_identifiers_are_left_alone() {
    let one = [text("v")];
    assert_eq!(
        inline(r#"SELECT "$1", "a""$1", $1 AS "x$1""#, &one),
        r#"SELECT "$1", "a""$1", 'v' AS "x$1""#
    );
}

#[test]
fn placeholders_in_dollar_quotes_are_left_alone() {
    let one = [PgValue::Int4(1)];
    assert_eq!(
        inline("SELECT $$ $1 ' $$, $1", &one),
        "SELECT $$ $1 ' $$, 1::int4"
    );
    assert_eq!(
        inline("SELECT $fn$ $1 $$ $2 $$ $fn$, $1", &one),
        "SELECT $fn$ $1 $$ $2 $$ $fn$, 1::int4"
    );
    assert_eq!(
        inline("SELECT $a$ $ab$ $1 $a$, $1", &one),
        "SELECT $a$ $ab$ $1 $a$, 1::int4"
    );
    assert_eq!(
        inline("SELECT $_x1$ $1 $_x1$, $1", &one),
        "SELECT $_x1$ $1 $_x1$, 1::int4"
    );
    assert_eq!(
        inline("DO $body$ BEGIN PERFORM '$1'; END $body$", &[]),
        "DO $body$ BEGIN PERFORM '$1'; END $body$"
    );
    // A tag cannot start with a digit: `$1$` is a placeholder and a stray `$`.
    assert_eq!(inline("SELECT $1$", &one), "SELECT 1::int4$");
}

#[test]
fn placeholders_in_comments_are_left_alone() {
    let one = [PgValue::Int4(1)];
    assert_eq!(
        inline("SELECT $1 -- $1 $2\n, $1", &one),
        "SELECT 1::int4 -- $1 $2\n, 1::int4"
    );
    assert_eq!(inline("SELECT $1 -- $2", &one), "SELECT 1::int4 -- $2");
    assert_eq!(
        inline("SELECT /* $1 /* $2 */ $3 */ $1", &one),
        "SELECT /* $1 /* $2 */ $3 */ 1::int4"
    );
    assert_eq!(
        inline("SELECT /*/ $2 */ $1 /**/", &one),
        "SELECT /*/ $2 */ 1::int4 /**/"
    );
    assert_eq!(
        inline("SELECT 2 -$1 - -$1", &one),
        "SELECT 2 -1::int4 - -1::int4"
    );
}

#[test]
fn dollars_inside_identifiers_are_not_placeholders() {
    let one = [PgValue::Int4(1)];
    assert_eq!(
        inline("SELECT a$1, foo$$bar, x1$2, é$1, $1", &one),
        "SELECT a$1, foo$$bar, x1$2, é$1, 1::int4"
    );
    assert_eq!(inline("SELECT 5$1, $1", &one), "SELECT 5$1, 1::int4");
    assert_eq!(
        inline("SELECT \"t\".$1, ($1)", &[PgValue::Int4(1)]),
        "SELECT \"t\".1::int4, (1::int4)"
    );
}

#[test]
fn missing_parameters_are_errors() {
    assert_eq!(
        inline_params("SELECT $1, $3", &[PgValue::Int4(1), PgValue::Int4(2)]),
        Err(OfflineError::MissingParameter {
            placeholder: "$3".into(),
            count: 2
        })
    );
    assert_eq!(
        inline_params("SELECT $1", &[]),
        Err(OfflineError::MissingParameter {
            placeholder: "$1".into(),
            count: 0
        })
    );
    assert_eq!(
        inline_params("SELECT $0", &[PgValue::Null]),
        Err(OfflineError::MissingParameter {
            placeholder: "$0".into(),
            count: 1
        })
    );
    assert_eq!(
        inline_params("SELECT $99999999999999999999999", &[PgValue::Null]),
        Err(OfflineError::MissingParameter {
            placeholder: "$99999999999999999999999".into(),
            count: 1
        })
    );
}

#[test]
fn unused_parameters_are_errors() {
    let three = [PgValue::Int4(1), PgValue::Int4(2), PgValue::Int4(3)];
    assert_eq!(
        inline_params("SELECT $2", &three),
        Err(OfflineError::UnusedParameters {
            numbers: vec![1, 3],
            count: 3
        })
    );
    assert_eq!(
        inline_params("SELECT $1, $3, '$2'", &three),
        Err(OfflineError::UnusedParameters {
            numbers: vec![2],
            count: 3
        })
    );
    assert_eq!(
        inline_params("SELECT 1", &three[..1]),
        Err(OfflineError::UnusedParameters {
            numbers: vec![1],
            count: 1
        })
    );
}

#[test]
fn nul_characters_are_errors() {
    for value in [
        text("a\0"),
        PgValue::Json("\0".into()),
        PgValue::Date("\0".into()),
        PgValue::TextArray(vec![None, Some("\0".into())]),
    ] {
        assert_eq!(
            inline_params("SELECT $2, $1", &[PgValue::Null, value]),
            Err(OfflineError::NulCharacter { number: 2 })
        );
    }
    assert_eq!(
        inline("SELECT $1", &[PgValue::Bytea(vec![0])]),
        "SELECT E'\\\\x00'::bytea"
    );
}

#[test]
fn unterminated_quotes_and_comments_are_errors() {
    for (statement, what, offset) in [
        ("SELECT 'abc", "a quoted string", 7),
        ("SELECT E'abc\\'", "a quoted string", 8),
        ("SELECT \"abc", "a quoted identifier", 7),
        ("SELECT $$abc$", "a dollar-quoted string", 7),
        ("SELECT $a$ $1 $b$", "a dollar-quoted string", 7),
        ("SELECT /* /* */", "a /* comment */", 7),
    ] {
        assert_eq!(
            inline_params(statement, &[]),
            Err(OfflineError::Unterminated { what, offset }),
            "{statement}"
        );
    }
    // A placeholder before the open quote is reported first.
    assert!(matches!(
        inline_params("SELECT $1, 'abc", &[]),
        Err(OfflineError::MissingParameter { .. })
    ));
}

#[test]
fn errors_say_what_to_do() {
    let missing = |placeholder: &str, count| {
        OfflineError::MissingParameter {
            placeholder: placeholder.into(),
            count,
        }
        .to_string()
    };
    assert_eq!(
        missing("$3", 2),
        "the statement uses $3, but only 2 parameters were passed ($1 to $2); pass one \
         value for every placeholder number, starting at $1"
    );
    assert_eq!(
        missing("$2", 1),
        "the statement uses $2, but only 1 parameter was passed ($1); pass one value for \
         every placeholder number, starting at $1"
    );
    assert!(missing("$1", 0).contains("but no parameters were passed"));
    assert_eq!(
        OfflineError::UnusedParameters {
            numbers: vec![2],
            count: 3
        }
        .to_string(),
        "parameter $2 (of 3) is never used by the statement; remove it from the call or \
         refer to it as $2"
    );
    assert_eq!(
        OfflineError::UnusedParameters {
            numbers: vec![1, 3],
            count: 3
        }
        .to_string(),
        "parameters $1, $3 (of 3) are never used by the statement; remove them from the \
         call or refer to them"
    );
    assert_eq!(
        OfflineError::NulCharacter { number: 2 }.to_string(),
        "parameter $2 contains a NUL character (U+0000), which PostgreSQL text cannot \
         hold; remove it, or send binary data as bytea"
    );
    assert_eq!(
        OfflineError::Unterminated {
            what: "a quoted string",
            offset: 7
        }
        .to_string(),
        "the statement ends inside a quoted string that starts at byte 7; close it \
         (PostgreSQL would reject the statement too)"
    );
}
