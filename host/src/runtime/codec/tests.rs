//! Unit tests for the codec: calendar, parsers, encoders and wire decoding.

use super::datetime::{
    Extended, USECS_PER_DAY, USECS_PER_SEC, civil_from_days, days_from_civil, days_in_month,
    format_date, format_time, format_timestamp, is_leap, parse_date, parse_time, parse_timestamp,
    push_ymd,
};
use super::decode::{DecodeFail, decode_raw, format_char};
use super::encode::{FLOAT4_DIGITS, FLOAT8_DIGITS, narrow_to_f32};
use super::numeric::{NUMERIC_POS, Numeric, parse_float, parse_numeric};
use super::text::{format_uuid, parse_bool, parse_bytea, parse_char, parse_uuid};

use super::*;

fn encode(value: &PgValue, ty: &Type) -> Result<Vec<u8>, String> {
    let mut out = BytesMut::new();
    match value.to_sql_checked(ty, &mut out) {
        Ok(IsNull::No) => Ok(out.to_vec()),
        Ok(IsNull::Yes) => Ok(b"NULL".to_vec()),
        Err(e) => Err(e.to_string()),
    }
}

fn numeric_round_trip(text: &str) -> String {
    let mut out = BytesMut::new();
    parse_numeric(text).unwrap().write(&mut out);
    Numeric::read(&out).unwrap().to_string()
}

fn ymd(days: i64) -> String {
    let mut s = String::new();
    push_ymd(&mut s, days);
    s
}

#[test]
fn civil_dates_match_known_day_numbers() {
    assert_eq!(days_from_civil(2000, 1, 1), 0);
    assert_eq!(days_from_civil(1999, 12, 31), -1);
    assert_eq!(days_from_civil(2000, 3, 1), 60);
    assert_eq!(days_from_civil(2001, 1, 1), 366);
    assert_eq!(days_from_civil(1970, 1, 1), -10_957);
    assert_eq!(days_from_civil(2024, 2, 29), 8_825);
    assert_eq!(
        days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
        1
    );
    assert_eq!(
        days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28),
        1
    );
    assert_eq!(
        days_from_civil(2400, 3, 1) - days_from_civil(2400, 2, 28),
        2
    );
    assert_eq!(civil_from_days(-10_957), (1970, 1, 1));
    assert_eq!(civil_from_days(8_825), (2024, 2, 29));
    assert_eq!(civil_from_days(-1), (1999, 12, 31));
}

#[test]
fn civil_dates_round_trip_day_by_day() {
    // About 1500 years either side of the epoch, every day once.
    let mut expected = civil_from_days(-550_000);
    for days in -550_000..550_000 {
        let date = civil_from_days(days);
        assert_eq!(date, expected, "day {days}");
        assert_eq!(days_from_civil(date.0, date.1, date.2), days);
        let (y, m, d) = date;
        expected = if d < days_in_month(y, m) {
            (y, m, d + 1)
        } else if m < 12 {
            (y, m + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
    }
}

#[test]
fn leap_years_follow_the_gregorian_rule() {
    assert!(is_leap(2000) && is_leap(2024) && is_leap(1600) && is_leap(0));
    assert!(!is_leap(1900) && !is_leap(2023) && !is_leap(2100));
    assert_eq!(parse_date("2024-02-29").unwrap(), Extended::Finite(8_825));
    assert!(parse_date("2023-02-29").is_err());
    assert!(parse_date("1900-02-29").is_err());
    assert!(parse_date("2000-02-29").is_ok());
}

#[test]
fn dates_parse_and_format() {
    assert_eq!(parse_date(" 2000-01-01 ").unwrap(), Extended::Finite(0));
    assert_eq!(parse_date("infinity").unwrap(), Extended::Infinity);
    assert_eq!(parse_date("-Infinity").unwrap(), Extended::NegInfinity);
    assert_eq!(parse_date("epoch").unwrap(), Extended::Finite(-10_957));
    assert_eq!(
        parse_date("0044-03-15 BC").unwrap(),
        Extended::Finite(days_from_civil(-43, 3, 15) as i32)
    );
    for bad in [
        "2024-13-01",
        "2024-00-10",
        "2024-01-32",
        "24-01-01",
        "2024/01/01",
        "",
        "x",
    ] {
        assert!(parse_date(bad).is_err(), "{bad}");
    }
    assert_eq!(format_date(0), "2000-01-01");
    assert_eq!(format_date(i32::MAX), "infinity");
    assert_eq!(format_date(i32::MIN), "-infinity");
    assert_eq!(
        format_date(days_from_civil(-43, 3, 15) as i32),
        "0044-03-15 BC"
    );
    assert_eq!(
        format_date(days_from_civil(10_000, 1, 1) as i32),
        "10000-01-01"
    );
    assert_eq!(ymd(days_from_civil(1, 1, 1)), "0001-01-01");
}

#[test]
fn numeric_text_round_trips_as_postgres_prints_it() {
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("-0.00", "0.00"),
        ("-0.5", "-0.5"),
        ("0.0000000001", "0.0000000001"),
        ("1e-10", "0.0000000001"),
        ("-1.5E-12", "-0.0000000000015"),
        (
            "123456789012345678901234567890.123",
            "123456789012345678901234567890.123",
        ),
        ("-12.3400", "-12.3400"),
        ("1e5", "100000"),
        ("1.50e1", "15.0"),
        ("1.5e-3", "0.0015"),
        ("+.5", "0.5"),
        ("5.", "5"),
        ("  42  ", "42"),
        ("10000", "10000"),
        ("9999.9999", "9999.9999"),
        ("0.00010000", "0.00010000"),
        ("100000000", "100000000"),
        ("NaN", "NaN"),
        ("nan", "NaN"),
        ("Infinity", "Infinity"),
        ("-inf", "-Infinity"),
        ("+Infinity", "Infinity"),
    ];
    for (input, expected) in cases {
        assert_eq!(numeric_round_trip(input), expected, "{input}");
    }
}

#[test]
fn numeric_binary_layout_is_base_10000() {
    let mut out = BytesMut::new();
    parse_numeric("-12345.678").unwrap().write(&mut out);
    let expected: Vec<u8> = [3i16, 1, 0x4000, 3, 1, 2345, 6780]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    assert_eq!(out.to_vec(), expected);

    let n = parse_numeric("0.0000000001").unwrap();
    assert_eq!((n.weight, n.dscale, n.digits.clone()), (-3, 10, vec![100]));
    let zero = parse_numeric("0.000").unwrap();
    assert_eq!((zero.sign, zero.weight, zero.dscale), (NUMERIC_POS, 0, 3));
    assert!(zero.digits.is_empty());
}

#[test]
fn numeric_rejects_malformed_and_oversized_input() {
    for bad in [
        "", "-", ".", "1e", "1e+", "abc", "1.2.3", "--1", "+NaN", "1 2", "0x10",
    ] {
        assert!(parse_numeric(bad).is_err(), "{bad:?}");
    }
    assert!(parse_numeric("1e1001").is_err());
    assert!(parse_numeric("1e1000").is_ok());
    assert!(parse_numeric(&format!("0.{}", "1".repeat(16_384))).is_err());
}

#[test]
fn numeric_reads_reject_corrupt_input() {
    assert!(Numeric::read(&[0, 1, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(Numeric::read(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err());
    assert!(Numeric::read(&[0, 0, 0, 0, 0x12, 0, 0, 0]).is_err());
}

#[test]
fn numerics_convert_to_integers_and_floats() {
    assert_eq!(parse_numeric("1e5").unwrap().to_integer().unwrap(), 100_000);
    assert_eq!(parse_numeric("-12.000").unwrap().to_integer().unwrap(), -12);
    assert_eq!(
        parse_numeric("-9223372036854775808")
            .unwrap()
            .to_integer()
            .unwrap(),
        i64::MIN
    );
    assert!(
        parse_numeric("9223372036854775808")
            .unwrap()
            .to_integer()
            .is_err()
    );
    assert!(parse_numeric("1.5").unwrap().to_integer().is_err());
    assert!(parse_numeric("NaN").unwrap().to_integer().is_err());
    assert_eq!(
        parse_numeric("0.1")
            .unwrap()
            .to_float::<f64>("float8")
            .unwrap(),
        0.1
    );
    assert_eq!(
        parse_numeric("0.1")
            .unwrap()
            .to_float::<f32>("float4")
            .unwrap(),
        0.1
    );
    assert!(
        parse_numeric("1e400")
            .unwrap()
            .to_float::<f64>("float8")
            .is_err()
    );
    assert!(
        parse_numeric("1e-400")
            .unwrap()
            .to_float::<f64>("float8")
            .is_err()
    );
    assert!(
        parse_numeric("NaN")
            .unwrap()
            .to_float::<f64>("float8")
            .unwrap()
            .is_nan()
    );
}

#[test]
fn floats_become_numerics_like_postgres_casts() {
    let render = |v: f64, digits| Numeric::from_float(v, digits).unwrap().to_string();
    assert_eq!(render(0.1, FLOAT8_DIGITS), "0.1");
    assert_eq!(render(1e20, FLOAT8_DIGITS), "100000000000000000000");
    assert_eq!(render(1.5e-7, FLOAT8_DIGITS), "0.00000015");
    assert_eq!(render(1.000_000_000_000_000_2, FLOAT8_DIGITS), "1");
    assert_eq!(render(-2.5, FLOAT8_DIGITS), "-2.5");
    assert_eq!(render(-0.0, FLOAT8_DIGITS), "0");
    assert_eq!(render(f64::from(0.1f32), FLOAT4_DIGITS), "0.1");
    assert_eq!(
        render(f64::from(123_456_789.123f32), FLOAT4_DIGITS),
        "123457000"
    );
    assert_eq!(render(f64::NAN, FLOAT8_DIGITS), "NaN");
    assert_eq!(render(f64::NEG_INFINITY, FLOAT8_DIGITS), "-Infinity");
}

#[test]
fn times_parse_round_and_format() {
    assert_eq!(parse_time("00:00:00").unwrap(), 0);
    assert_eq!(parse_time("10:20").unwrap(), 37_200_000_000);
    assert_eq!(parse_time("01:02:03.5").unwrap(), 3_723_500_000);
    assert_eq!(parse_time("23:59:60").unwrap(), USECS_PER_DAY);
    assert_eq!(parse_time("24:00:00").unwrap(), USECS_PER_DAY);
    assert_eq!(parse_time("00:00:00.0000005").unwrap(), 0);
    assert_eq!(parse_time("00:00:00.0000015").unwrap(), 2);
    assert_eq!(parse_time("00:00:00.00000051").unwrap(), 1);
    assert_eq!(parse_time("23:59:59.9999999").unwrap(), USECS_PER_DAY);
    for bad in [
        "24:00:01",
        "12:60:00",
        "1:2:3",
        "12",
        "12:00:00.",
        "noon",
        "12:00+02",
    ] {
        assert!(parse_time(bad).is_err(), "{bad}");
    }
    assert_eq!(format_time(0), "00:00:00");
    assert_eq!(format_time(3_723_500_000), "01:02:03.5");
    assert_eq!(format_time(3_723_000_001), "01:02:03.000001");
    assert_eq!(format_time(USECS_PER_DAY), "24:00:00");
}

#[test]
fn timestamps_parse_with_and_without_offsets() {
    let at = |text: &str| parse_timestamp(text).unwrap();
    let noon = 12 * 3600 * USECS_PER_SEC;
    assert_eq!(at("2000-01-01 12:00:00"), Extended::Finite((noon, None)));
    assert_eq!(at("2000-01-01T12:00:00Z").instant().unwrap(), noon);
    assert_eq!(at("2000-01-01T14:00:00+02:00").instant().unwrap(), noon);
    assert_eq!(at("2000-01-01T14:30:00+0230").instant().unwrap(), noon);
    assert_eq!(at("2000-01-01 09:00:00-03").instant().unwrap(), noon);
    assert_eq!(at("2000-01-01 12:00:00 UTC").instant().unwrap(), noon);
    assert_eq!(at("2000-01-01 12:00:00").instant().unwrap(), noon);
    assert_eq!(
        at("2000-01-01T14:00:00+02:00").wall(),
        noon + 2 * 3600 * USECS_PER_SEC
    );
    assert_eq!(at("2000-01-02").wall(), USECS_PER_DAY);
    assert_eq!(at("1999-12-31 23:59:59.999999").wall(), -1);
    assert_eq!(
        at("2000-01-01 00:00:00+01").instant().unwrap(),
        -3600 * USECS_PER_SEC
    );
    assert_eq!(at("infinity").wall(), i64::MAX);
    assert_eq!(at("-infinity").instant().unwrap(), i64::MIN);
    assert_eq!(at("epoch").wall(), -10_957 * USECS_PER_DAY);
    for bad in [
        "2000-01-01 12:00:00+16",
        "2000-01-01 12:00:00+02:0",
        "2000-01-01 12",
        "2000-01-01X12:00",
        "12:00:00",
        "2000-01-01 12:00:00 PST",
        "today",
    ] {
        assert!(parse_timestamp(bad).is_err(), "{bad}");
    }
    assert!(parse_timestamp("9999999-12-31 00:00:00").is_err());
}

#[test]
fn timestamps_format_like_postgres() {
    let micros = days_from_civil(2024, 2, 29) * USECS_PER_DAY + 3_723_450_000;
    assert_eq!(format_timestamp(micros, false), "2024-02-29 01:02:03.45");
    assert_eq!(
        format_timestamp(micros, true),
        "2024-02-29T01:02:03.45+00:00"
    );
    assert_eq!(format_timestamp(-1, false), "1999-12-31 23:59:59.999999");
    assert_eq!(format_timestamp(0, true), "2000-01-01T00:00:00+00:00");
    assert_eq!(format_timestamp(i64::MAX, true), "infinity");
    assert_eq!(format_timestamp(i64::MIN, false), "-infinity");
    let bc = days_from_civil(-43, 3, 15) * USECS_PER_DAY;
    assert_eq!(format_timestamp(bc, true), "0044-03-15T00:00:00+00:00 BC");
    assert_eq!(
        parse_timestamp("0044-03-15 00:00:00 BC").unwrap().wall(),
        bc
    );
}

#[test]
fn uuids_parse_in_every_postgres_spelling() {
    let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    for text in [
        canonical,
        "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
    ] {
        assert_eq!(format_uuid(&parse_uuid(text).unwrap()), canonical, "{text}");
    }
    for bad in [
        "",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
        "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
        "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eeébc99-9c0b-4ef8-bb6d-6bb9bd380a1",
    ] {
        assert!(parse_uuid(bad).is_err(), "{bad}");
    }
}

#[test]
fn booleans_chars_and_bytea_parse_like_postgres() {
    for yes in ["t", "TRUE", "tr", "y", "yes", "on", "1", " true "] {
        assert!(parse_bool(yes).unwrap(), "{yes}");
    }
    for no in ["f", "false", "n", "NO", "of", "off", "0"] {
        assert!(!parse_bool(no).unwrap(), "{no}");
    }
    for bad in ["o", "onn", "truth", "2", ""] {
        assert!(parse_bool(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_char("").unwrap(), 0);
    assert_eq!(parse_char("a").unwrap(), b'a');
    assert_eq!(parse_char("\\351").unwrap(), 0o351);
    assert!(parse_char("ab").is_err() && parse_char("é").is_err());
    assert_eq!(format_char(0o351), "\\351");
    assert_eq!(format_char(b'x'), "x");
    assert_eq!(format_char(0), "");
    assert_eq!(
        parse_bytea("\\xDEad be ef").unwrap(),
        [0xde, 0xad, 0xbe, 0xef]
    );
    assert_eq!(parse_bytea("a\\\\b\\000").unwrap(), b"a\\b\0");
    assert!(parse_bytea("\\xabc").is_err());
    assert!(parse_bytea("\\q").is_err());
}

#[test]
fn floats_parse_with_postgres_range_checks() {
    assert_eq!(parse_float::<f64>(" 1.5e3 ", "float8").unwrap(), 1500.0);
    assert_eq!(parse_float::<f64>("-.5", "float8").unwrap(), -0.5);
    assert!(
        parse_float::<f64>("-Infinity", "float8")
            .unwrap()
            .is_infinite()
    );
    assert!(parse_float::<f32>("NaN", "float4").unwrap().is_nan());
    assert!(parse_float::<f32>("1e39", "float4").is_err());
    assert!(parse_float::<f32>("1e-50", "float4").is_err());
    assert!(parse_float::<f32>("1e-40", "float4").is_ok());
    assert!(parse_float::<f64>("-NaN", "float8").is_err());
    assert!(parse_float::<f64>("1,5", "float8").is_err());
    assert!(narrow_to_f32(1e300).is_err() && narrow_to_f32(1e-300).is_err());
}

#[test]
fn values_encode_for_the_inferred_type() {
    assert_eq!(encode(&PgValue::Null, &Type::INT4).unwrap(), b"NULL");
    assert_eq!(encode(&PgValue::Int8(7), &Type::INT2).unwrap(), [0, 7]);
    assert_eq!(encode(&PgValue::Int2(-1), &Type::INT8).unwrap(), [0xff; 8]);
    assert_eq!(encode(&PgValue::Int4(1), &Type::OID).unwrap(), [0, 0, 0, 1]);
    assert_eq!(
        encode(&PgValue::Text("t".into()), &Type::BOOL).unwrap(),
        [1]
    );
    assert_eq!(
        encode(&PgValue::Text("42".into()), &Type::INT4).unwrap(),
        [0, 0, 0, 42]
    );
    assert_eq!(
        encode(&PgValue::Json("{}".into()), &Type::JSONB).unwrap(),
        b"\x01{}"
    );
    assert_eq!(
        encode(&PgValue::Jsonb("[]".into()), &Type::JSON).unwrap(),
        b"[]"
    );
    assert_eq!(
        encode(&PgValue::Date("2000-01-02".into()), &Type::TIMESTAMP).unwrap(),
        USECS_PER_DAY.to_be_bytes()
    );
    assert_eq!(
        encode(
            &PgValue::Timestamptz("2000-01-01T02:00:00+02:00".into()),
            &Type::TIMESTAMP
        )
        .unwrap(),
        0i64.to_be_bytes()
    );
    assert_eq!(
        encode(&PgValue::Numeric("12".into()), &Type::INT2).unwrap(),
        12i16.to_be_bytes()
    );
    assert_eq!(
        encode(
            &PgValue::Uuid("A0EEBC999C0B4EF8BB6D6BB9BD380A11".into()),
            &Type::TEXT
        )
        .unwrap(),
        b"A0EEBC999C0B4EF8BB6D6BB9BD380A11"
    );
    assert!(encode(&PgValue::Int8Array(vec![Some(1), None]), &Type::INT2_ARRAY).is_ok());
    assert!(encode(&PgValue::TextArray(vec![None]), &Type::VARCHAR_ARRAY).is_ok());
}

#[test]
fn encode_errors_name_value_type_and_fix() {
    let err = encode(&PgValue::Int8(300_000), &Type::INT2).unwrap_err();
    assert_eq!(
        err,
        "cannot send int8 value 300000 as int2: out of range for int2 (-32768 to 32767)"
    );
    let err = encode(&PgValue::Text("abc".into()), &Type::NUMERIC).unwrap_err();
    assert!(err.starts_with("cannot send text value \"abc\" as numeric: not a valid numeric"));
    assert!(err.contains("$1::text::numeric"), "{err}");
    let err = encode(&PgValue::Int4(5), &Type::TEXT).unwrap_err();
    assert_eq!(
        err,
        "cannot send int4 value 5 as text: no conversion from int4; pass Value::Text, \
         or write the parameter as $1::int4::text so PostgreSQL converts it"
    );
    let err = encode(&PgValue::Bytea(vec![1, 2]), &Type::INTERVAL).unwrap_err();
    assert!(err.contains("bytea value of 2 bytes as interval"), "{err}");
    assert!(err.contains("$1::text::interval"), "{err}");
    let err = encode(
        &PgValue::Int8Array(vec![Some(1), Some(70_000)]),
        &Type::INT2_ARRAY,
    )
    .unwrap_err();
    assert!(
        err.contains("element 2 (70000) is out of range for int2"),
        "{err}"
    );
    let err = encode(&PgValue::Numeric("1.5".into()), &Type::INT4).unwrap_err();
    assert!(err.contains("fractional part"), "{err}");
    let err = encode(&PgValue::Text("x".repeat(100)), &Type::DATE).unwrap_err();
    assert!(err.contains(&format!("{:?}...", "x".repeat(40))), "{err}");
    assert!(encode(&PgValue::Float8(1e300), &Type::FLOAT4).is_err());
    assert!(encode(&PgValue::TextArray(vec![]), &Type::INT8_ARRAY).is_err());
}

#[test]
fn encode_errors_are_codec_errors() {
    let mut out = BytesMut::new();
    let Err(err) = PgValue::Boolean(true).to_sql_checked(&Type::INT4, &mut out) else {
        panic!("a boolean was encoded as int4");
    };
    assert!(matches!(
        err.downcast_ref::<CodecError>(),
        Some(CodecError::Encode { type_name, .. }) if type_name == "int4"
    ));
}

#[test]
fn raw_values_decode_by_type() {
    let decode = |ty: &Type, raw: &[u8]| match decode_raw(ty, raw) {
        Ok(value) => value,
        Err(DecodeFail::Unsupported) => panic!("unsupported"),
        Err(DecodeFail::Invalid(reason)) => panic!("{reason}"),
    };
    assert_eq!(decode(&Type::OID, &[0xff; 4]), PgValue::Int8(4_294_967_295));
    assert_eq!(decode(&Type::CHAR, b"q"), PgValue::Text("q".into()));
    assert_eq!(decode(&Type::JSONB, b"\x01{}"), PgValue::Jsonb("{}".into()));
    assert_eq!(
        decode(&Type::DATE, &i32::MAX.to_be_bytes()),
        PgValue::Date("infinity".into())
    );
    let mut out = BytesMut::new();
    parse_numeric("-0.5").unwrap().write(&mut out);
    assert_eq!(
        decode(&Type::NUMERIC, &out),
        PgValue::Numeric("-0.5".into())
    );
    assert!(matches!(
        decode_raw(&Type::INTERVAL, &[]),
        Err(DecodeFail::Unsupported)
    ));
    assert!(matches!(
        decode_raw(&Type::INT4, &[0; 3]),
        Err(DecodeFail::Invalid(_))
    ));
    assert!(matches!(
        decode_raw(&Type::JSONB, b"\x02{}"),
        Err(DecodeFail::Invalid(_))
    ));
}

#[test]
fn type_names_spell_arrays_with_brackets() {
    assert_eq!(type_name(&Type::INT4), "int4");
    assert_eq!(type_name(&Type::JSONB), "jsonb");
    assert_eq!(type_name(&Type::BPCHAR), "bpchar");
    assert_eq!(type_name(&Type::TEXT_ARRAY), "text[]");
    assert_eq!(type_name(&Type::TIMESTAMPTZ_ARRAY), "timestamptz[]");
    assert_eq!(type_name(&Type::INT2_VECTOR), "int2vector");
}

#[test]
fn codec_errors_explain_themselves() {
    let unsupported = CodecError::Unsupported {
        column: "span".into(),
        type_name: "interval".into(),
    };
    assert_eq!(
        unsupported.to_string(),
        "column \"span\" has type interval, which cannot be returned to a migration; \
         cast it to text in the query (SELECT span::text ...)"
    );
    let missing = CodecError::NoSuchColumn { index: 3, count: 2 };
    assert_eq!(
        missing.to_string(),
        "the row has 2 columns, so there is no column 3"
    );
}
