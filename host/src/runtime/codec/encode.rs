//! Encoding a [`PgValue`] in the binary format of the type PostgreSQL inferred for a parameter,
//! and the error text that says how to fix a call when no exact conversion exists.

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, Kind, ToSql, Type};

use super::datetime::{Extended, USECS_PER_DAY, parse_date, parse_time, parse_timestamp};
use super::numeric::{Numeric, parse_float, parse_numeric};
use super::text::{parse_bool, parse_bytea, parse_char, parse_int, parse_uuid};
use super::{Fail, PgValue, invalid, type_name};

/// How a type is laid out on the wire, as far as this codec knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
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
pub(super) enum IntWidth {
    I2,
    I4,
    I8,
    Oid,
}

pub(super) fn classify(ty: &Type) -> Target {
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

impl PgValue {
    pub(super) fn encode(
        &self,
        target: Target,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Fail> {
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
    pub(super) fn variant(&self) -> &'static str {
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

    pub(super) fn describe(&self) -> String {
        let variant = self.variant();
        match self {
            PgValue::Null => "null".to_owned(),
            PgValue::Boolean(v) => format!("{variant} value {v}"),
            PgValue::Int2(v) => format!("{variant} value {v}"),
            PgValue::Int4(v) => format!("{variant} value {v}"),
            PgValue::Int8(v) => format!("{variant} value {v}"),
            PgValue::Float4(v) => format!("{variant} value {v}"),
            PgValue::Float8(v) => format!("{variant} value {v}"),
            PgValue::Bytea(bytes) => format!("{variant} value of {} bytes", bytes.len()),
            PgValue::TextArray(items) => format!("{variant} value of {} elements", items.len()),
            PgValue::Int8Array(items) => format!("{variant} value of {} elements", items.len()),
            // Every other variant travels as text.
            text => format!("{variant} value {}", quote(text.as_text().unwrap_or(""))),
        }
    }

    pub(super) fn explain(&self, fail: Fail, target: Target, ty: &Type) -> String {
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

pub(super) fn out_of_range(type_name: &str) -> Fail {
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
pub(super) const FLOAT4_DIGITS: usize = 6;
pub(super) const FLOAT8_DIGITS: usize = 15;

fn encode_float(v: f64, digits: usize, target: Target, out: &mut BytesMut) -> Result<(), Fail> {
    match target {
        Target::Float4 => out.put_f32(narrow_to_f32(v)?),
        Target::Float8 => out.put_f64(v),
        Target::Numeric => Numeric::from_float(v, digits)?.write(out),
        _ => return Err(Fail::Mismatch),
    }
    Ok(())
}

pub(super) fn narrow_to_f32(v: f64) -> Result<f32, Fail> {
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
