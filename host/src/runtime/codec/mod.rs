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
//!
//! Layout: `encode.rs` turns a value into a parameter, `decode.rs` a column into a
//! value; both lean on the input syntax in `text.rs`, `datetime.rs` and `numeric.rs`.

// Crate-visible for its calendar (`days_from_civil`, `civil_from_days`),
// which the build wing is to reuse rather than keep a second one.
pub(crate) mod datetime;
mod decode;
mod encode;
mod numeric;
#[cfg(test)]
mod tests;
mod text;

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, Kind, ToSql, Type, to_sql_checked};

use encode::classify;

pub use decode::decode_column;

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
}
