//! Reading result columns off the wire into [`PgValue`]s, by the column's type.

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Kind, Type};

use super::datetime::{format_date, format_time, format_timestamp};
use super::encode::{IntWidth, Target, classify};
use super::numeric::Numeric;
use super::text::format_uuid;
use super::{BoxError, CodecError, PgValue, type_name};

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

pub(super) enum DecodeFail {
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

pub(super) fn decode_raw(ty: &Type, raw: &[u8]) -> Result<PgValue, DecodeFail> {
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
pub(super) fn format_char(byte: u8) -> String {
    match byte {
        0 => String::new(),
        b if b.is_ascii() => char::from(b).to_string(),
        b => format!("\\{b:03o}"),
    }
}
