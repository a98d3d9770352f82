//! Conversion between the WIT `value` variant and PostgreSQL's binary wire format.
//!
//! Guest statements run as prepared statements, so every parameter reaches
//! [`PgValue`]'s `ToSql` with the type PostgreSQL inferred for it. Instead of
//! demanding the one matching variant, a value encodes itself for that type
//! whenever the conversion is exact or is the one PostgreSQL would apply itself:
//! integers widen, text is parsed in PostgreSQL's input syntax, floats become
//! numerics the way `float8::numeric` does. Anything else is refused with an
//! error naming the value, the type and a fix.
//!
//! Renderings produced by [`decode_column`]:
//! - numeric: exactly as PostgreSQL prints it, scale included (`1.50`, `NaN`, `Infinity`).
//! - date `YYYY-MM-DD`, time `HH:MM:SS[.ffffff]`, timestamp
//!   `YYYY-MM-DD HH:MM:SS[.ffffff]`: fractions lose trailing zeros, years before
//!   1 AD carry PostgreSQL's ` BC` suffix, `infinity` and `-infinity` pass through.
//! - timestamptz: ISO 8601 in UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, which is
//!   what PostgreSQL's `to_json` prints under `TimeZone = 'UTC'`. The wire value
//!   is an instant without a zone, so this keeps the result independent of the
//!   session's `TimeZone` and readable by any RFC 3339 parser.
//! - uuid: lowercase and hyphenated.
//!
//! Timestamps written without an offset are taken as UTC wherever an instant is
//! needed: the session's `TimeZone` is unknown while a parameter is encoded.

use std::error::Error;
use std::fmt::{self, Write as _};
use std::num::IntErrorKind;

use bytes::{BufMut, BytesMut};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

type BoxError = Box<dyn Error + Sync + Send>;

/// A PostgreSQL value as the WIT interface carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum PgValue {
    /// SQL NULL, accepted for every type.
    Null,
    /// `bool`.
    Boolean(bool),
    /// `int2`.
    Int2(i16),
    /// `int4`.
    Int4(i32),
    /// `int8`; also carries `oid` results.
    Int8(i64),
    /// `float4`.
    Float4(f32),
    /// `float8`.
    Float8(f64),
    /// `numeric` as decimal text (`-12.3400`, `1e5`, `NaN`, `Infinity`).
    Numeric(String),
    /// `text` and the other string types.
    Text(String),
    /// `bytea`.
    Bytea(Vec<u8>),
    /// `json` document text.
    Json(String),
    /// `jsonb` document text.
    Jsonb(String),
    /// `uuid`, hyphenated or as 32 hex digits.
    Uuid(String),
    /// `date` as `YYYY-MM-DD`.
    Date(String),
    /// `time` as `HH:MM:SS[.ffffff]`.
    Time(String),
    /// `timestamp` as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    Timestamp(String),
    /// `timestamptz` as ISO 8601; no offset means UTC.
    Timestamptz(String),
    /// One-dimensional `text[]`.
    TextArray(Vec<Option<String>>),
    /// One-dimensional `int8[]`; also `int2[]`, `int4[]` and `oid[]`.
    Int8Array(Vec<Option<i64>>),
}

/// Why a value could not cross between a migration and PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A parameter cannot be sent as the type PostgreSQL expects for it.
    #[error("cannot send {value} as {type_name}: {reason}")]
    Encode {
        /// The value's variant and, shortened, its content.
        value: String,
        /// The parameter's type, as [`type_name`] spells it.
        type_name: String,
        /// What is wrong and how to fix the call.
        reason: String,
    },
    /// A result column has a type that has no `value` counterpart.
    #[error(
        "column \"{column}\" has type {type_name}, which cannot be returned to a migration; \
         cast it to text in the query (SELECT {column}::text ...)"
    )]
    Unsupported {
        /// The column's name in the result.
        column: String,
        /// The column's type, as [`type_name`] spells it.
        type_name: String,
    },
    /// A result column's bytes are not what its type promises.
    #[error("cannot read column \"{column}\" of type {type_name}: {reason}")]
    Decode {
        /// The column's name in the result.
        column: String,
        /// The column's type, as [`type_name`] spells it.
        type_name: String,
        /// What was wrong with the bytes.
        reason: String,
    },
    /// The row has no column at the requested index.
    #[error("the row has {count} columns, so there is no column {index}")]
    NoSuchColumn {
        /// The index asked for.
        index: usize,
        /// How many columns the row has.
        count: usize,
    },
}

/// PostgreSQL's name for a type: `int4`, `jsonb`, `bpchar`; arrays as `text[]`.
///
/// Arrays are spelled with `[]` rather than their catalog name (`_text`) because
/// that is how migration authors write them; other names are the catalog's
/// `typname`, unqualified.
pub fn type_name(ty: &Type) -> String {
    match ty.kind() {
        Kind::Array(element) if ty.name().starts_with('_') => format!("{}[]", type_name(element)),
        _ => ty.name().to_owned(),
    }
}

/// Reads column `idx` of `row` as a [`PgValue`], by the column's type.
pub fn decode_column(row: &Row, idx: usize) -> Result<PgValue, CodecError> {
    let column = row.columns().get(idx).ok_or(CodecError::NoSuchColumn {
        index: idx,
        count: row.len(),
    })?;
    let ty = column.type_();
    let decode_error = |reason: String| CodecError::Decode {
        column: column.name().to_owned(),
        type_name: type_name(ty),
        reason,
    };
    let raw: Option<RawBytes<'_>> = row.try_get(idx).map_err(|e| decode_error(e.to_string()))?;
    let Some(RawBytes(raw)) = raw else {
        return Ok(PgValue::Null);
    };
    decode_raw(ty, raw).map_err(|fail| match fail {
        DecodeFail::Unsupported => CodecError::Unsupported {
            column: column.name().to_owned(),
            type_name: type_name(ty),
        },
        DecodeFail::Invalid(reason) => decode_error(reason),
    })
}

impl ToSql for PgValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        // A domain travels in its base type's format.
        if let Kind::Domain(base) = ty.kind() {
            return self.to_sql(base, out);
        }
        let target = classify(ty);
        self.encode(target, ty, out).map_err(|fail| {
            Box::new(CodecError::Encode {
                value: self.describe(),
                type_name: type_name(ty),
                reason: self.explain(fail, target, ty),
            }) as BoxError
        })
    }

    // Every type is accepted here so that a mismatch is reported by `to_sql`,
    // which can say what to do about it, instead of as a bare "wrong type".
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// How a type is laid out on the wire, as far as this codec knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    /// text, varchar, bpchar, name, unknown, citext and enums: plain UTF-8.
    Text,
    /// The one-byte `"char"`.
    Char,
    Bytea,
    Json,
    Jsonb,
    Uuid,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    TextArray,
    IntArray(IntWidth),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntWidth {
    I2,
    I4,
    I8,
    Oid,
}

fn classify(ty: &Type) -> Target {
    match ty.kind() {
        Kind::Domain(base) => return classify(base),
        Kind::Enum(_) => return Target::Text,
        Kind::Array(element) => {
            return match classify(element) {
                Target::Text => Target::TextArray,
                Target::Int2 => Target::IntArray(IntWidth::I2),
                Target::Int4 => Target::IntArray(IntWidth::I4),
                Target::Int8 => Target::IntArray(IntWidth::I8),
                Target::Oid => Target::IntArray(IntWidth::Oid),
                _ => Target::Other,
            };
        }
        _ => {}
    }
    match *ty {
        Type::BOOL => Target::Bool,
        Type::INT2 => Target::Int2,
        Type::INT4 => Target::Int4,
        Type::INT8 => Target::Int8,
        Type::OID => Target::Oid,
        Type::FLOAT4 => Target::Float4,
        Type::FLOAT8 => Target::Float8,
        Type::NUMERIC => Target::Numeric,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => Target::Text,
        Type::CHAR => Target::Char,
        Type::BYTEA => Target::Bytea,
        Type::JSON => Target::Json,
        Type::JSONB => Target::Jsonb,
        Type::UUID => Target::Uuid,
        Type::DATE => Target::Date,
        Type::TIME => Target::Time,
        Type::TIMESTAMP => Target::Timestamp,
        Type::TIMESTAMPTZ => Target::Timestamptz,
        // Extension types get per-database OIDs, so only the name identifies them.
        _ if ty.name() == "citext" => Target::Text,
        _ => Target::Other,
    }
}

/// Why a value could not be encoded; turned into a message by `PgValue::explain`.
#[derive(Debug)]
enum Fail {
    /// No conversion exists between the variant and the type.
    Mismatch,
    /// The text is not in the expected input syntax.
    Syntax(String),
    /// Well-formed, but the type cannot hold it.
    Invalid(String),
}

fn invalid(reason: impl Into<String>) -> Fail {
    Fail::Invalid(reason.into())
}

impl PgValue {
    /// The text of the variants that travel as text (numeric, text, json,
    /// uuid, dates and times); `None` for the others.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            PgValue::Numeric(s)
            | PgValue::Text(s)
            | PgValue::Json(s)
            | PgValue::Jsonb(s)
            | PgValue::Uuid(s)
            | PgValue::Date(s)
            | PgValue::Time(s)
            | PgValue::Timestamp(s)
            | PgValue::Timestamptz(s) => Some(s),
            _ => None,
        }
    }

    fn encode(&self, target: Target, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Fail> {
        use PgValue as V;
        use Target as T;
        match (self, target) {
            (V::Null, _) => return Ok(IsNull::Yes),
            (V::Boolean(b), T::Bool) => out.put_u8(u8::from(*b)),
            (V::Int2(v), _) => encode_int(i64::from(*v), target, out)?,
            (V::Int4(v), _) => encode_int(i64::from(*v), target, out)?,
            (V::Int8(v), _) => encode_int(*v, target, out)?,
            (V::Float4(v), _) => encode_float(f64::from(*v), FLOAT4_DIGITS, target, out)?,
            (V::Float8(v), _) => encode_float(*v, FLOAT8_DIGITS, target, out)?,
            (V::Numeric(s), T::Text) => {
                parse_numeric(s)?;
                out.put_slice(s.as_bytes());
            }
            (V::Numeric(s), _) => encode_numeric(&parse_numeric(s)?, target, out)?,
            (V::Text(s), _) => encode_text(s, target, out)?,
            (V::Bytea(bytes), T::Bytea) => out.put_slice(bytes),
            (V::Json(s) | V::Jsonb(s), T::Json | T::Text) => out.put_slice(s.as_bytes()),
            (V::Json(s) | V::Jsonb(s), T::Jsonb) => put_jsonb(s, out),
            (V::Uuid(s), T::Uuid) => out.put_slice(&parse_uuid(s)?),
            (V::Uuid(s), T::Text) => {
                parse_uuid(s)?;
                out.put_slice(s.as_bytes());
            }
            (V::Date(s), T::Date | T::Timestamp | T::Timestamptz | T::Text) => {
                let day = parse_date(s)?;
                encode_date(day, target, s, out)?;
            }
            (V::Time(s), T::Time) => out.put_i64(parse_time(s)?),
            (V::Time(s), T::Text) => {
                parse_time(s)?;
                out.put_slice(s.as_bytes());
            }
            (V::Timestamp(s), T::Timestamp) => out.put_i64(parse_timestamp(s)?.wall()),
            (V::Timestamp(s), T::Timestamptz) => out.put_i64(parse_timestamp(s)?.instant()?),
            (V::Timestamptz(s), T::Timestamp | T::Timestamptz) => {
                // With no zone at hand, an instant becomes its UTC wall-clock time.
                out.put_i64(parse_timestamp(s)?.instant()?);
            }
            (V::Timestamp(s) | V::Timestamptz(s), T::Text) => {
                parse_timestamp(s)?;
                out.put_slice(s.as_bytes());
            }
            (V::TextArray(items), T::TextArray) => {
                items.to_sql(ty, out).map_err(|e| invalid(e.to_string()))?;
            }
            (V::Int8Array(items), T::IntArray(width)) => encode_int_array(items, width, ty, out)?,
            _ => return Err(Fail::Mismatch),
        }
        Ok(IsNull::No)
    }

    /// The variant's name in the WIT interface.
    fn variant(&self) -> &'static str {
        match self {
            PgValue::Null => "null",
            PgValue::Boolean(_) => "boolean",
            PgValue::Int2(_) => "int2",
            PgValue::Int4(_) => "int4",
            PgValue::Int8(_) => "int8",
            PgValue::Float4(_) => "float4",
            PgValue::Float8(_) => "float8",
            PgValue::Numeric(_) => "numeric",
            PgValue::Text(_) => "text",
            PgValue::Bytea(_) => "bytea",
            PgValue::Json(_) => "json",
            PgValue::Jsonb(_) => "jsonb",
            PgValue::Uuid(_) => "uuid",
            PgValue::Date(_) => "date",
            PgValue::Time(_) => "time",
            PgValue::Timestamp(_) => "timestamp",
            PgValue::Timestamptz(_) => "timestamptz",
            PgValue::TextArray(_) => "text-array",
            PgValue::Int8Array(_) => "int8-array",
        }
    }

    /// The SQL type the variant stands for, as written in a cast.
    fn sql_type(&self) -> &'static str {
        match self {
            PgValue::Null | PgValue::Text(_) => "text",
            PgValue::Boolean(_) => "bool",
            PgValue::TextArray(_) => "text[]",
            PgValue::Int8Array(_) => "int8[]",
            other => other.variant(),
        }
    }

    fn describe(&self) -> String {
        let variant = self.variant();
        match self {
            PgValue::Null => "null".to_owned(),
            PgValue::Boolean(v) => format!("{variant} value {v}"),
            PgValue::Int2(v) => format!("{variant} value {v}"),
            PgValue::Int4(v) => format!("{variant} value {v}"),
            PgValue::Int8(v) => format!("{variant} value {v}"),
            PgValue::Float4(v) => format!("{variant} value {v}"),
            PgValue::Float8(v) => format!("{variant} value {v}"),
            PgValue::Numeric(s)
            | PgValue::Text(s)
            | PgValue::Json(s)
            | PgValue::Jsonb(s)
            | PgValue::Uuid(s)
            | PgValue::Date(s)
            | PgValue::Time(s)
            | PgValue::Timestamp(s)
            | PgValue::Timestamptz(s) => format!("{variant} value {}", quote(s)),
            PgValue::Bytea(bytes) => format!("{variant} value of {} bytes", bytes.len()),
            PgValue::TextArray(items) => format!("{variant} value of {} elements", items.len()),
            PgValue::Int8Array(items) => format!("{variant} value of {} elements", items.len()),
        }
    }

    fn explain(&self, fail: Fail, target: Target, ty: &Type) -> String {
        let name = type_name(ty);
        match fail {
            Fail::Syntax(problem) if matches!(self, PgValue::Text(_)) => format!(
                "{problem}; fix the text, or write the parameter as $1::text::{name} \
                 so PostgreSQL parses it with its full input syntax"
            ),
            Fail::Syntax(problem) | Fail::Invalid(problem) => problem,
            Fail::Mismatch => match variant_for(target) {
                Some(variant) => format!(
                    "no conversion from {}; pass {variant}, or write the parameter as \
                     $1::{}::{name} so PostgreSQL converts it",
                    self.variant(),
                    self.sql_type()
                ),
                None => format!(
                    "the host has no binary encoding for {name}; pass Value::Text and \
                     write the parameter as $1::text::{name}"
                ),
            },
        }
    }
}

/// The guest SDK variant that naturally carries a target type.
fn variant_for(target: Target) -> Option<&'static str> {
    Some(match target {
        Target::Bool => "Value::Boolean",
        Target::Int2 => "Value::Int2",
        Target::Int4 => "Value::Int4",
        Target::Int8 | Target::Oid => "Value::Int8",
        Target::Float4 => "Value::Float4",
        Target::Float8 => "Value::Float8",
        Target::Numeric => "Value::Numeric",
        Target::Text | Target::Char => "Value::Text",
        Target::Bytea => "Value::Bytea",
        Target::Json => "Value::Json",
        Target::Jsonb => "Value::Jsonb",
        Target::Uuid => "Value::Uuid",
        Target::Date => "Value::Date",
        Target::Time => "Value::Time",
        Target::Timestamp => "Value::Timestamp",
        Target::Timestamptz => "Value::Timestamptz",
        Target::TextArray => "Value::TextArray",
        Target::IntArray(_) => "Value::Int8Array",
        Target::Other => return None,
    })
}

/// Quotes a string for an error message, cut short so a large value cannot flood it.
fn quote(s: &str) -> String {
    const LIMIT: usize = 40;
    if s.chars().count() <= LIMIT {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(LIMIT).collect();
        format!("{head:?}...")
    }
}

fn out_of_range(type_name: &str) -> Fail {
    let bounds = match type_name {
        "int2" => " (-32768 to 32767)",
        "int4" => " (-2147483648 to 2147483647)",
        "oid" => " (0 to 4294967295)",
        _ => "",
    };
    invalid(format!("out of range for {type_name}{bounds}"))
}

fn encode_int(v: i64, target: Target, out: &mut BytesMut) -> Result<(), Fail> {
    match target {
        Target::Int2 => out.put_i16(i16::try_from(v).map_err(|_| out_of_range("int2"))?),
        Target::Int4 => out.put_i32(i32::try_from(v).map_err(|_| out_of_range("int4"))?),
        Target::Int8 => out.put_i64(v),
        Target::Oid => out.put_u32(u32::try_from(v).map_err(|_| out_of_range("oid"))?),
        // Rounds to the nearest representable float, as PostgreSQL's int-to-float casts do.
        Target::Float4 => out.put_f32(v as f32),
        Target::Float8 => out.put_f64(v as f64),
        Target::Numeric => Numeric::from_integer(v).write(out),
        _ => return Err(Fail::Mismatch),
    }
    Ok(())
}

/// Significant digits PostgreSQL keeps when casting float4 / float8 to numeric (FLT_DIG, DBL_DIG).
const FLOAT4_DIGITS: usize = 6;
const FLOAT8_DIGITS: usize = 15;

fn encode_float(v: f64, digits: usize, target: Target, out: &mut BytesMut) -> Result<(), Fail> {
    match target {
        Target::Float4 => out.put_f32(narrow_to_f32(v)?),
        Target::Float8 => out.put_f64(v),
        Target::Numeric => Numeric::from_float(v, digits)?.write(out),
        _ => return Err(Fail::Mismatch),
    }
    Ok(())
}

fn narrow_to_f32(v: f64) -> Result<f32, Fail> {
    let narrowed = v as f32;
    if narrowed.is_infinite() && v.is_finite() {
        return Err(invalid("out of range for float4 (overflow)"));
    }
    if narrowed == 0.0 && v != 0.0 {
        return Err(invalid("out of range for float4 (underflow)"));
    }
    Ok(narrowed)
}

fn encode_numeric(n: &Numeric, target: Target, out: &mut BytesMut) -> Result<(), Fail> {
    match target {
        Target::Numeric => n.write(out),
        Target::Int2 | Target::Int4 | Target::Int8 | Target::Oid => {
            encode_int(n.to_integer()?, target, out)?;
        }
        Target::Float4 => out.put_f32(n.to_float::<f32>("float4")?),
        Target::Float8 => out.put_f64(n.to_float::<f64>("float8")?),
        _ => return Err(Fail::Mismatch),
    }
    Ok(())
}

fn encode_text(s: &str, target: Target, out: &mut BytesMut) -> Result<(), Fail> {
    match target {
        Target::Text | Target::Json => out.put_slice(s.as_bytes()),
        Target::Jsonb => put_jsonb(s, out),
        Target::Char => out.put_u8(parse_char(s)?),
        Target::Bool => out.put_u8(u8::from(parse_bool(s)?)),
        Target::Int2 | Target::Int4 | Target::Int8 | Target::Oid => {
            encode_int(parse_int(s)?, target, out)?;
        }
        Target::Float4 => out.put_f32(parse_float::<f32>(s, "float4")?),
        Target::Float8 => out.put_f64(parse_float::<f64>(s, "float8")?),
        Target::Numeric => parse_numeric(s)?.write(out),
        Target::Bytea => out.put_slice(&parse_bytea(s)?),
        Target::Uuid => out.put_slice(&parse_uuid(s)?),
        Target::Date => encode_date(parse_date(s)?, target, s, out)?,
        Target::Time => out.put_i64(parse_time(s)?),
        // Like PostgreSQL's timestamp input, an offset in the text is ignored here.
        Target::Timestamp => out.put_i64(parse_timestamp(s)?.wall()),
        Target::Timestamptz => out.put_i64(parse_timestamp(s)?.instant()?),
        Target::TextArray | Target::IntArray(_) | Target::Other => return Err(Fail::Mismatch),
    }
    Ok(())
}

fn put_jsonb(s: &str, out: &mut BytesMut) {
    // jsonb's binary form is a format version byte followed by the document text.
    out.put_u8(1);
    out.put_slice(s.as_bytes());
}

fn encode_date(
    day: Extended<i32>,
    target: Target,
    text: &str,
    out: &mut BytesMut,
) -> Result<(), Fail> {
    match target {
        Target::Date => out.put_i32(match day {
            Extended::NegInfinity => i32::MIN,
            Extended::Finite(days) => days,
            Extended::Infinity => i32::MAX,
        }),
        Target::Timestamp | Target::Timestamptz => {
            let stamp = match day {
                Extended::NegInfinity => Extended::NegInfinity,
                Extended::Finite(days) => Extended::Finite((i64::from(days) * USECS_PER_DAY, None)),
                Extended::Infinity => Extended::Infinity,
            };
            out.put_i64(stamp.wall());
        }
        Target::Text => out.put_slice(text.as_bytes()),
        _ => return Err(Fail::Mismatch),
    }
    Ok(())
}

fn encode_int_array(
    items: &[Option<i64>],
    width: IntWidth,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<(), Fail> {
    let written = match width {
        IntWidth::I8 => items.to_sql(ty, out),
        IntWidth::I4 => narrow_items::<i32>(items, "int4")?.to_sql(ty, out),
        IntWidth::I2 => narrow_items::<i16>(items, "int2")?.to_sql(ty, out),
        IntWidth::Oid => narrow_items::<u32>(items, "oid")?.to_sql(ty, out),
    };
    written.map(drop).map_err(|e| invalid(e.to_string()))
}

fn narrow_items<N: TryFrom<i64>>(
    items: &[Option<i64>],
    type_name: &str,
) -> Result<Vec<Option<N>>, Fail> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.map(|v| {
                N::try_from(v).map_err(|_| {
                    // Numbered from 1, as PostgreSQL subscripts are.
                    invalid(format!(
                        "element {} ({v}) is out of range for {type_name}",
                        i + 1
                    ))
                })
            })
            .transpose()
        })
        .collect()
}

fn parse_int(text: &str) -> Result<i64, Fail> {
    text.trim_ascii()
        .parse::<i64>()
        .map_err(|e| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => out_of_range("int8"),
            _ => Fail::Syntax("not a valid integer".to_owned()),
        })
}

fn parse_bool(text: &str) -> Result<bool, Fail> {
    // PostgreSQL takes any unique prefix of true/false/yes/no, plus on/off/1/0.
    let s = text.trim_ascii().to_ascii_lowercase();
    let prefix_of = |word: &str, min_len: usize| s.len() >= min_len && word.starts_with(&s);
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || s == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0" {
        Ok(false)
    } else {
        Err(Fail::Syntax(
            "not a valid boolean (expected true/false, yes/no, on/off or 1/0)".to_owned(),
        ))
    }
}

fn parse_char(text: &str) -> Result<u8, Fail> {
    match text.as_bytes() {
        // An empty string is the zero byte, which PostgreSQL prints as nothing.
        [] => Ok(0),
        [b] if b.is_ascii() => Ok(*b),
        // High bytes are written as PostgreSQL prints them: a backslash and three octal digits.
        [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
            Ok(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
        }
        _ => Err(Fail::Syntax(
            "a \"char\" holds one ASCII character or a \\ooo octal escape".to_owned(),
        )),
    }
}

fn parse_bytea(text: &str) -> Result<Vec<u8>, Fail> {
    let syntax = |what: &str| Fail::Syntax(format!("not a valid bytea literal ({what})"));
    if let Some(hex) = text.strip_prefix("\\x") {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return Err(syntax("odd number of hex digits"));
        }
        return digits
            .chunks(2)
            .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| syntax("expected hex digits after \\x"));
    }
    // The escape format: literal bytes, `\\` for a backslash, `\ooo` for any byte.
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first != b'\\' {
            bytes.push(first);
            rest = tail;
            continue;
        }
        match tail {
            [b'\\', after @ ..] => {
                bytes.push(b'\\');
                rest = after;
            }
            [
                a @ b'0'..=b'3',
                b @ b'0'..=b'7',
                c @ b'0'..=b'7',
                after @ ..,
            ] => {
                bytes.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                rest = after;
            }
            _ => {
                return Err(syntax(
                    "a backslash must start \\x, \\\\ or a \\ooo octal escape",
                ));
            }
        }
    }
    Ok(bytes)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a uuid the way PostgreSQL does: 32 hex digits in any case, optionally
/// in braces, with a single hyphen allowed after any group of four digits.
fn parse_uuid(text: &str) -> Result<[u8; 16], Fail> {
    let syntax = || {
        Fail::Syntax(
            "not a valid uuid (expected 32 hex digits, optionally hyphenated as 8-4-4-4-12)"
                .to_owned(),
        )
    };
    let bytes = text.as_bytes();
    let braced = bytes.first() == Some(&b'{');
    let mut pos = usize::from(braced);
    let mut uuid = [0u8; 16];
    for (i, byte) in uuid.iter_mut().enumerate() {
        let hi = bytes
            .get(pos)
            .copied()
            .and_then(hex_value)
            .ok_or_else(syntax)?;
        let lo = bytes
            .get(pos + 1)
            .copied()
            .and_then(hex_value)
            .ok_or_else(syntax)?;
        *byte = hi << 4 | lo;
        pos += 2;
        if i % 2 == 1 && i < 15 && bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
    }
    if braced {
        if bytes.get(pos) != Some(&b'}') {
            return Err(syntax());
        }
        pos += 1;
    }
    if pos != bytes.len() {
        return Err(syntax());
    }
    Ok(uuid)
}

fn format_uuid(uuid: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// Something that may also be one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extended<T> {
    NegInfinity,
    Finite(T),
    Infinity,
}

/// Local wall-clock microseconds since 2000-01-01, with the offset east of UTC
/// in microseconds if the text had one.
type Stamp = Extended<(i64, Option<i64>)>;

impl Stamp {
    /// Microseconds for a `timestamp`: the wall-clock time, offset ignored.
    fn wall(&self) -> i64 {
        match *self {
            Extended::NegInfinity => i64::MIN,
            Extended::Finite((local, _)) => local,
            Extended::Infinity => i64::MAX,
        }
    }

    /// Microseconds for a `timestamptz`: the instant, taking no offset as UTC.
    fn instant(&self) -> Result<i64, Fail> {
        match *self {
            Extended::Finite((local, Some(offset))) => local
                .checked_sub(offset)
                .ok_or_else(|| invalid("timestamp out of range")),
            _ => Ok(self.wall()),
        }
    }
}

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from PostgreSQL's epoch, 2000-01-01, to a proleptic Gregorian date
/// whose year 0 is 1 BC.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Leap years in (0, n]; floor division keeps the count right for n < 0.
    let leaps_through = |n: i64| n.div_euclid(4) - n.div_euclid(100) + n.div_euclid(400);
    const DAYS_BEFORE_MONTH: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let year_start = 365 * (year - 2000) + leaps_through(year - 1) - leaps_through(1999);
    let leap_day = i64::from(month > 2 && is_leap(year));
    year_start + DAYS_BEFORE_MONTH[(month - 1) as usize] + leap_day + i64::from(day) - 1
}

/// The date `days` after 2000-01-01, as (year, month, day) with year 0 for 1 BC.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // 146097 days make 400 Gregorian years; that guess is off by at most one year.
    let mut year = 2000 + (days * 400).div_euclid(146_097);
    while days_from_civil(year, 1, 1) > days {
        year -= 1;
    }
    while days_from_civil(year + 1, 1, 1) <= days {
        year += 1;
    }
    let mut rest = days - days_from_civil(year, 1, 1);
    let mut month = 1;
    loop {
        let length = i64::from(days_in_month(year, month));
        if rest < length {
            break;
        }
        rest -= length;
        month += 1;
    }
    (year, month, rest as u32 + 1)
}

/// Parses exactly `min..=max` ASCII digits.
fn digits(s: &str, min: usize, max: usize) -> Option<i64> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

/// Splits off PostgreSQL's ` BC` era suffix.
fn strip_era(s: &str) -> (&str, bool) {
    match strip_suffix_ignore_case(s, " BC") {
        Some(rest) => (rest.trim_end_matches(' '), true),
        None => (s, false),
    }
}

/// Parses `YYYY-MM-DD` (four to seven year digits) into days since 2000-01-01.
fn parse_ymd(s: &str, bc: bool) -> Option<i64> {
    let mut parts = s.split('-');
    let year = digits(parts.next()?, 4, 7)?;
    let month = u32::try_from(digits(parts.next()?, 1, 2)?).ok()?;
    let day = u32::try_from(digits(parts.next()?, 1, 2)?).ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) {
        return None;
    }
    // There is no year 0: 1 BC is astronomical year 0.
    let year = if bc {
        if year == 0 {
            return None;
        }
        1 - year
    } else {
        year
    };
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Matches the special inputs that date and timestamp input share.
fn special_day(s: &str) -> Option<Extended<i64>> {
    if s.eq_ignore_ascii_case("infinity") {
        Some(Extended::Infinity)
    } else if s.eq_ignore_ascii_case("-infinity") {
        Some(Extended::NegInfinity)
    } else if s.eq_ignore_ascii_case("epoch") {
        Some(Extended::Finite(days_from_civil(1970, 1, 1)))
    } else {
        None
    }
}

fn parse_date(text: &str) -> Result<Extended<i32>, Fail> {
    let s = text.trim_ascii();
    let days = match special_day(s) {
        Some(Extended::Finite(days)) => days,
        Some(Extended::Infinity) => return Ok(Extended::Infinity),
        Some(Extended::NegInfinity) => return Ok(Extended::NegInfinity),
        None => {
            let (s, bc) = strip_era(s);
            parse_ymd(s, bc).ok_or_else(|| {
                Fail::Syntax(
                    "not a valid date (expected YYYY-MM-DD, infinity or -infinity)".to_owned(),
                )
            })?
        }
    };
    match i32::try_from(days) {
        Ok(days) if days != i32::MIN && days != i32::MAX => Ok(Extended::Finite(days)),
        _ => Err(invalid("date out of range")),
    }
}

/// Parses `H[H]:MM[:SS[.fraction]]` into microseconds since midnight, up to 24:00:00.
fn parse_time_of_day(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, ':');
    let hours = digits(parts.next()?, 1, 2)?;
    let minutes = digits(parts.next()?, 2, 2)?;
    let (seconds, micros) = match parts.next() {
        None => (0, 0),
        Some(rest) => {
            let (whole, fraction) = match rest.split_once('.') {
                Some((whole, fraction)) => (whole, Some(fraction)),
                None => (rest, None),
            };
            let micros = match fraction {
                Some(f) => round_micros(f)?,
                None => 0,
            };
            (digits(whole, 2, 2)?, micros)
        }
    };
    // PostgreSQL accepts a leap second (:60) by rolling it into the next minute.
    if hours > 24 || minutes > 59 || seconds > 60 {
        return None;
    }
    let total = ((hours * 60 + minutes) * 60 + seconds) * USECS_PER_SEC + micros;
    (total <= USECS_PER_DAY).then_some(total)
}

/// Turns fractional-second digits into microseconds, rounding half to even past
/// the sixth digit as PostgreSQL's `rint` does.
fn round_micros(fraction: &str) -> Option<i64> {
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kept, dropped) = fraction.split_at(fraction.len().min(6));
    let micros = format!("{kept:0<6}").parse::<i64>().ok()?;
    let round_up = match dropped.as_bytes().split_first() {
        Some((&first, _)) if first > b'5' => true,
        Some((&b'5', rest)) => rest.iter().any(|&b| b != b'0') || micros % 2 == 1,
        _ => false,
    };
    Some(micros + i64::from(round_up))
}

fn parse_time(text: &str) -> Result<i64, Fail> {
    parse_time_of_day(text.trim_ascii()).ok_or_else(|| {
        Fail::Syntax("not a valid time (expected HH:MM:SS[.ffffff], at most 24:00:00)".to_owned())
    })
}

/// Parses `Z`, `UTC`, `±HH`, `±HHMM` or `±HH:MM` into microseconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (hours, minutes) = if let Some((h, m)) = rest.split_once(':') {
        (digits(h, 1, 2)?, digits(m, 2, 2)?)
    } else if rest.len() == 4 {
        (digits(rest.get(..2)?, 2, 2)?, digits(rest.get(2..)?, 2, 2)?)
    } else {
        (digits(rest, 1, 2)?, 0)
    };
    // PostgreSQL's limit for a numeric zone offset.
    if hours > 15 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60) * USECS_PER_SEC)
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][offset][ BC]`, `infinity`,
/// `-infinity` or `epoch`.
fn parse_timestamp(text: &str) -> Result<Stamp, Fail> {
    let s = text.trim_ascii();
    match special_day(s) {
        Some(Extended::Finite(days)) => return Ok(Extended::Finite((days * USECS_PER_DAY, None))),
        Some(Extended::Infinity) => return Ok(Extended::Infinity),
        Some(Extended::NegInfinity) => return Ok(Extended::NegInfinity),
        None => {}
    }
    let stamp = parse_finite_timestamp(s).ok_or_else(|| {
        Fail::Syntax(
            "not a valid timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff] with an optional \
             Z or +HH:MM offset)"
                .to_owned(),
        )
    })?;
    Ok(Extended::Finite(
        stamp.ok_or_else(|| invalid("timestamp out of range"))?,
    ))
}

/// The outer `None` is a syntax error, the inner one a value too far out to count.
fn parse_finite_timestamp(s: &str) -> Option<Option<(i64, Option<i64>)>> {
    let (s, bc) = strip_era(s);
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(at) => (&s[..at], s[at + 1..].trim_start_matches(' ')),
        None => (s, ""),
    };
    let days = parse_ymd(date, bc)?;
    let (micros, offset) = if rest.is_empty() {
        (0, None)
    } else {
        let split = rest.find(['+', '-', 'Z', 'z', ' ']).unwrap_or(rest.len());
        let zone = rest[split..].trim_start_matches(' ');
        let offset = if zone.is_empty() {
            None
        } else {
            Some(parse_offset(zone)?)
        };
        (parse_time_of_day(&rest[..split])?, offset)
    };
    let local = days
        .checked_mul(USECS_PER_DAY)
        .and_then(|start| start.checked_add(micros));
    Some(local.map(|local| (local, offset)))
}

fn format_date(days: i32) -> String {
    match days {
        i32::MIN => "-infinity".to_owned(),
        i32::MAX => "infinity".to_owned(),
        days => {
            let mut s = String::with_capacity(13);
            let bc = push_ymd(&mut s, i64::from(days));
            if bc {
                s.push_str(" BC");
            }
            s
        }
    }
}

/// Appends `YYYY-MM-DD` and returns whether the year is BC, for the caller to
/// place the suffix where PostgreSQL does: at the very end.
fn push_ymd(s: &mut String, days: i64) -> bool {
    let (year, month, day) = civil_from_days(days);
    let (year, bc) = if year <= 0 {
        (1 - year, true)
    } else {
        (year, false)
    };
    let _ = write!(s, "{year:04}-{month:02}-{day:02}");
    bc
}

fn push_time(s: &mut String, micros: i64) {
    let secs = micros / USECS_PER_SEC;
    let fraction = micros % USECS_PER_SEC;
    let _ = write!(
        s,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
}

fn format_time(micros: i64) -> String {
    let mut s = String::with_capacity(15);
    push_time(&mut s, micros);
    s
}

/// `utc` selects the timestamptz rendering: ISO 8601 with a `+00:00` offset.
fn format_timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MIN => return "-infinity".to_owned(),
        i64::MAX => return "infinity".to_owned(),
        _ => {}
    }
    let mut s = String::with_capacity(35);
    let bc = push_ymd(&mut s, micros.div_euclid(USECS_PER_DAY));
    s.push(if utc { 'T' } else { ' ' });
    push_time(&mut s, micros.rem_euclid(USECS_PER_DAY));
    if utc {
        s.push_str("+00:00");
    }
    if bc {
        s.push_str(" BC");
    }
    s
}

/// Float syntax as PostgreSQL's float input takes it, range errors included.
fn parse_float<F: PgFloat>(text: &str, type_name: &str) -> Result<F, Fail> {
    let s = text.trim_ascii();
    let (_, unsigned) = split_sign(s);
    let special = ["infinity", "inf"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
        || s.eq_ignore_ascii_case("nan");
    let syntax = || {
        Fail::Syntax(format!(
            "not a valid {type_name} (expected a decimal number, NaN or Infinity)"
        ))
    };
    if !special && scan_decimal(s).is_none() {
        return Err(syntax());
    }
    let value: F = s.parse().map_err(|_| syntax())?;
    check_float_range(value, !special, mantissa_is_nonzero(s), type_name)
}

/// Rejects what PostgreSQL rejects: a finite input that overflowed or a nonzero
/// one that underflowed to zero.
fn check_float_range<F: PgFloat>(
    value: F,
    finite_input: bool,
    nonzero_input: bool,
    type_name: &str,
) -> Result<F, Fail> {
    if finite_input && value.is_infinite() {
        return Err(invalid(format!("out of range for {type_name} (overflow)")));
    }
    if nonzero_input && value.is_zero() {
        return Err(invalid(format!("out of range for {type_name} (underflow)")));
    }
    Ok(value)
}

fn mantissa_is_nonzero(s: &str) -> bool {
    s.bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| matches!(b, b'1'..=b'9'))
}

/// The float types, for parsing and range checks shared between them.
trait PgFloat: std::str::FromStr + Copy {
    fn is_infinite(self) -> bool;
    fn is_zero(self) -> bool;
}

impl PgFloat for f32 {
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

impl PgFloat for f64 {
    fn is_infinite(self) -> bool {
        f64::is_infinite(self)
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// The pieces of `[sign]digits[.digits][e[sign]digits]`.
struct DecimalParts<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    /// Saturates far beyond any limit a caller checks, so it cannot overflow.
    exponent: i64,
}

fn scan_decimal(s: &str) -> Option<DecimalParts<'_>> {
    let (negative, body) = split_sign(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (integer.is_empty() && fraction.is_empty()) || !all_digits(integer) || !all_digits(fraction)
    {
        return None;
    }
    let exponent = match exponent {
        None => 0,
        Some(e) => {
            let (negative, magnitude) = split_sign(e);
            if magnitude.is_empty() || !all_digits(magnitude) {
                return None;
            }
            let value = magnitude.bytes().fold(0i64, |acc, b| {
                acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
            });
            if negative { -value } else { value }
        }
    };
    Some(DecimalParts {
        negative,
        integer,
        fraction,
        exponent,
    })
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// PostgreSQL's limits on a numeric's exponent and display scale.
const NUMERIC_MAX_EXPONENT: i64 = 1000;
const NUMERIC_MAX_DSCALE: i64 = 0x3FFF;

/// A numeric in PostgreSQL's own representation: base-10000 digits, the first of
/// weight `weight`, with no leading or trailing zero digits, shown with `dscale`
/// decimal places.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Numeric {
    sign: u16,
    weight: i16,
    dscale: u16,
    digits: Vec<i16>,
}

impl Numeric {
    fn special(sign: u16) -> Numeric {
        Numeric {
            sign,
            weight: 0,
            dscale: 0,
            digits: Vec::new(),
        }
    }

    fn is_special(&self) -> bool {
        self.sign != NUMERIC_POS && self.sign != NUMERIC_NEG
    }

    fn from_integer(v: i64) -> Numeric {
        let text = v.to_string();
        let (negative, magnitude) = split_sign(&text);
        // At most 20 digits and scale 0: nothing here can exceed a limit.
        Numeric::from_digits(negative, magnitude.as_bytes(), magnitude.len() as i64, 0)
            .unwrap_or_else(|_| Numeric::special(NUMERIC_NAN))
    }

    /// Converts as PostgreSQL's float-to-numeric cast does: rounded to `significant`
    /// digits, NaN and the infinities kept.
    fn from_float(v: f64, significant: usize) -> Result<Numeric, Fail> {
        if v.is_nan() {
            return Ok(Numeric::special(NUMERIC_NAN));
        }
        if v.is_infinite() {
            return Ok(Numeric::special(if v > 0.0 {
                NUMERIC_PINF
            } else {
                NUMERIC_NINF
            }));
        }
        let scientific = format!("{:.*e}", significant - 1, v);
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        // printf's %g, which PostgreSQL goes through, drops trailing zeros; they
        // would otherwise count towards the scale.
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        parse_numeric(&format!("{mantissa}e{exponent}"))
    }

    /// Builds a numeric from decimal digits with `point` of them before the decimal point.
    fn from_digits(
        negative: bool,
        decimal: &[u8],
        point: i64,
        dscale: u16,
    ) -> Result<Numeric, Fail> {
        let first = decimal.iter().position(|&d| d != b'0');
        let last = decimal.iter().rposition(|&d| d != b'0');
        let (Some(first), Some(last)) = (first, last) else {
            // Zero is never negative in PostgreSQL.
            return Ok(Numeric {
                sign: NUMERIC_POS,
                weight: 0,
                dscale,
                digits: Vec::new(),
            });
        };
        let significant = &decimal[first..=last];
        let point = point - first as i64;
        // Zero-pad in front so the decimal point falls on a base-10000 digit boundary.
        let pad = (4 - point.rem_euclid(4)) % 4;
        let weight = (point + pad) / 4 - 1;
        let padded_len = pad as usize + significant.len();
        let digits: Vec<i16> = (0..padded_len.div_ceil(4))
            .map(|group| {
                (0..4).fold(0i16, |acc, k| {
                    let at = (group * 4 + k) as i64 - pad;
                    let d = usize::try_from(at)
                        .ok()
                        .and_then(|at| significant.get(at))
                        .map_or(0, |d| d - b'0');
                    acc * 10 + i16::from(d)
                })
            })
            .collect();
        let weight =
            i16::try_from(weight).map_err(|_| invalid("value overflows numeric format"))?;
        if i16::try_from(digits.len()).is_err() {
            return Err(invalid("value overflows numeric format"));
        }
        Ok(Numeric {
            sign: if negative { NUMERIC_NEG } else { NUMERIC_POS },
            weight,
            dscale,
            digits,
        })
    }

    fn write(&self, out: &mut BytesMut) {
        // Lengths were bounded when the digits were built.
        out.put_i16(self.digits.len() as i16);
        out.put_i16(self.weight);
        out.put_u16(self.sign);
        out.put_u16(self.dscale);
        for &digit in &self.digits {
            out.put_i16(digit);
        }
    }

    fn read(raw: &[u8]) -> Result<Numeric, String> {
        let field = |at: usize| -> Result<[u8; 2], String> {
            raw.get(at..at + 2)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| "numeric value is truncated".to_owned())
        };
        let ndigits = i16::from_be_bytes(field(0)?);
        let weight = i16::from_be_bytes(field(2)?);
        let sign = u16::from_be_bytes(field(4)?);
        let dscale = u16::from_be_bytes(field(6)?);
        let ndigits = usize::try_from(ndigits).map_err(|_| "negative numeric digit count")?;
        if raw.len() != 8 + 2 * ndigits {
            return Err(format!(
                "numeric of {ndigits} digits has {} bytes",
                raw.len()
            ));
        }
        if ![
            NUMERIC_POS,
            NUMERIC_NEG,
            NUMERIC_NAN,
            NUMERIC_PINF,
            NUMERIC_NINF,
        ]
        .contains(&sign)
        {
            return Err(format!("unknown numeric sign {sign:#06x}"));
        }
        let digits = (0..ndigits)
            .map(|i| {
                let digit = i16::from_be_bytes(field(8 + 2 * i)?);
                if (0..10_000).contains(&digit) {
                    Ok(digit)
                } else {
                    Err(format!("numeric digit {digit} is not in base 10000"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Numeric {
            sign,
            weight,
            dscale,
            digits,
        })
    }

    fn to_integer(&self) -> Result<i64, Fail> {
        if self.is_special() {
            return Err(invalid(format!("{self} has no integer value")));
        }
        let weight = i64::from(self.weight);
        if self.digits.len() as i64 > weight + 1 {
            return Err(invalid(
                "has a fractional part; round it, or write the parameter as $1::numeric \
                 so PostgreSQL rounds it",
            ));
        }
        // Past five base-10000 digits the value cannot fit an i64 anyway.
        if weight > 5 {
            return Err(out_of_range("int8"));
        }
        let magnitude = (0..=weight).fold(0i128, |acc, k| {
            let digit = self.digits.get(k as usize).copied().unwrap_or(0);
            acc * 10_000 + i128::from(digit)
        });
        let value = if self.sign == NUMERIC_NEG {
            -magnitude
        } else {
            magnitude
        };
        i64::try_from(value).map_err(|_| out_of_range("int8"))
    }

    fn to_float<F: PgFloat>(&self, type_name: &str) -> Result<F, Fail> {
        let value: F = self
            .to_string()
            .parse()
            .map_err(|_| invalid(format!("cannot convert to {type_name}")))?;
        check_float_range(
            value,
            !self.is_special(),
            !self.digits.is_empty(),
            type_name,
        )
    }
}

fn parse_numeric(text: &str) -> Result<Numeric, Fail> {
    let s = text.trim_ascii();
    let (negative, unsigned) = split_sign(s);
    // NaN takes no sign; the infinities may have one.
    if s.eq_ignore_ascii_case("nan") {
        return Ok(Numeric::special(NUMERIC_NAN));
    }
    if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
        return Ok(Numeric::special(if negative {
            NUMERIC_NINF
        } else {
            NUMERIC_PINF
        }));
    }
    let parts = scan_decimal(s).ok_or_else(|| {
        Fail::Syntax(
            "not a valid numeric (expected digits with an optional sign, decimal point and \
             exponent, NaN or Infinity)"
                .to_owned(),
        )
    })?;
    if parts.exponent.abs() > NUMERIC_MAX_EXPONENT {
        return Err(invalid("numeric exponent out of range"));
    }
    // Like PostgreSQL, an exponent shifts the scale: 1.50e1 is 15.0.
    let dscale = (parts.fraction.len() as i64 - parts.exponent).max(0);
    let dscale = u16::try_from(dscale)
        .ok()
        .filter(|&d| i64::from(d) <= NUMERIC_MAX_DSCALE)
        .ok_or_else(|| invalid("numeric scale out of range"))?;
    let decimal = [parts.integer.as_bytes(), parts.fraction.as_bytes()].concat();
    let point = parts.integer.len() as i64 + parts.exponent;
    Numeric::from_digits(parts.negative, &decimal, point, dscale)
}

impl fmt::Display for Numeric {
    /// Prints the way PostgreSQL's numeric output does, with exactly `dscale` decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sign {
            NUMERIC_NAN => return f.write_str("NaN"),
            NUMERIC_PINF => return f.write_str("Infinity"),
            NUMERIC_NINF => return f.write_str("-Infinity"),
            _ => {}
        }
        let weight = i32::from(self.weight);
        let digit_of_weight = |w: i32| -> i16 {
            usize::try_from(weight - w)
                .ok()
                .and_then(|k| self.digits.get(k))
                .copied()
                .unwrap_or(0)
        };
        let mut integer = String::new();
        for w in (0..=weight).rev() {
            let _ = write!(integer, "{:04}", digit_of_weight(w));
        }
        let integer = integer.trim_start_matches('0');
        if self.sign == NUMERIC_NEG {
            f.write_str("-")?;
        }
        f.write_str(if integer.is_empty() { "0" } else { integer })?;
        let dscale = usize::from(self.dscale);
        if dscale > 0 {
            let mut fraction = String::with_capacity(dscale + 4);
            let mut w = -1;
            while fraction.len() < dscale {
                let _ = write!(fraction, "{:04}", digit_of_weight(w));
                w -= 1;
            }
            write!(f, ".{}", &fraction[..dscale])?;
        }
        Ok(())
    }
}

/// A column's bytes as they came off the wire, for decoding by type here.
struct RawBytes<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawBytes<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(RawBytes(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

enum DecodeFail {
    Unsupported,
    Invalid(String),
}

impl From<String> for DecodeFail {
    fn from(reason: String) -> Self {
        DecodeFail::Invalid(reason)
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], DecodeFail> {
    raw.try_into()
        .map_err(|_| DecodeFail::Invalid(format!("expected {N} bytes, got {}", raw.len())))
}

fn utf8(raw: &[u8]) -> Result<String, DecodeFail> {
    String::from_utf8(raw.to_vec()).map_err(|e| DecodeFail::Invalid(e.to_string()))
}

fn decode_raw(ty: &Type, raw: &[u8]) -> Result<PgValue, DecodeFail> {
    if let Kind::Domain(base) = ty.kind() {
        return decode_raw(base, raw);
    }
    Ok(match classify(ty) {
        Target::Bool => PgValue::Boolean(fixed::<1>(raw)?[0] != 0),
        Target::Int2 => PgValue::Int2(i16::from_be_bytes(fixed(raw)?)),
        Target::Int4 => PgValue::Int4(i32::from_be_bytes(fixed(raw)?)),
        Target::Int8 => PgValue::Int8(i64::from_be_bytes(fixed(raw)?)),
        Target::Oid => PgValue::Int8(i64::from(u32::from_be_bytes(fixed(raw)?))),
        Target::Float4 => PgValue::Float4(f32::from_be_bytes(fixed(raw)?)),
        Target::Float8 => PgValue::Float8(f64::from_be_bytes(fixed(raw)?)),
        Target::Numeric => PgValue::Numeric(Numeric::read(raw)?.to_string()),
        Target::Text => PgValue::Text(utf8(raw)?),
        Target::Char => PgValue::Text(format_char(fixed::<1>(raw)?[0])),
        Target::Bytea => PgValue::Bytea(raw.to_vec()),
        Target::Json => PgValue::Json(utf8(raw)?),
        Target::Jsonb => match raw.split_first() {
            Some((1, document)) => PgValue::Jsonb(utf8(document)?),
            _ => return Err("unknown jsonb format version".to_owned().into()),
        },
        Target::Uuid => PgValue::Uuid(format_uuid(&fixed(raw)?)),
        Target::Date => PgValue::Date(format_date(i32::from_be_bytes(fixed(raw)?))),
        Target::Time => PgValue::Time(format_time(i64::from_be_bytes(fixed(raw)?))),
        Target::Timestamp => {
            PgValue::Timestamp(format_timestamp(i64::from_be_bytes(fixed(raw)?), false))
        }
        Target::Timestamptz => {
            PgValue::Timestamptz(format_timestamp(i64::from_be_bytes(fixed(raw)?), true))
        }
        Target::TextArray => {
            check_one_dimension(raw)?;
            let items = Vec::<Option<String>>::from_sql(ty, raw).map_err(|e| e.to_string())?;
            PgValue::TextArray(items)
        }
        Target::IntArray(width) => {
            check_one_dimension(raw)?;
            PgValue::Int8Array(match width {
                IntWidth::I2 => int_items::<i16>(ty, raw)?,
                IntWidth::I4 => int_items::<i32>(ty, raw)?,
                IntWidth::I8 => int_items::<i64>(ty, raw)?,
                IntWidth::Oid => int_items::<u32>(ty, raw)?,
            })
        }
        Target::Other => return Err(DecodeFail::Unsupported),
    })
}

fn int_items<'a, I: FromSql<'a> + Into<i64>>(
    ty: &Type,
    raw: &'a [u8],
) -> Result<Vec<Option<i64>>, DecodeFail> {
    let items = Vec::<Option<I>>::from_sql(ty, raw).map_err(|e| e.to_string())?;
    Ok(items.into_iter().map(|item| item.map(Into::into)).collect())
}

fn check_one_dimension(raw: &[u8]) -> Result<(), DecodeFail> {
    let dimensions = i32::from_be_bytes(fixed(raw.get(..4).unwrap_or_default())?);
    if dimensions > 1 {
        return Err(DecodeFail::Invalid(format!(
            "{dimensions}-dimensional arrays cannot be returned; unnest the array or cast it \
             to text in the query"
        )));
    }
    Ok(())
}

/// Renders a `"char"` byte as PostgreSQL prints it.
fn format_char(byte: u8) -> String {
    match byte {
        0 => String::new(),
        b if b.is_ascii() => char::from(b).to_string(),
        b => format!("\\{b:03o}"),
    }
}

#[cfg(test)]
mod tests {
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
}
