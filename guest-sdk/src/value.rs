use alloc::string::String;
use alloc::vec::Vec;

use crate::{Rows, Value};

impl Value {
    /// A `jsonb` parameter from a JSON document's text.
    pub fn jsonb(document: impl Into<String>) -> Value {
        Value::Jsonb(document.into())
    }

    /// A `json` parameter from a JSON document's text.
    pub fn json(document: impl Into<String>) -> Value {
        Value::Json(document.into())
    }

    /// True for SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as text, for every variant that travels as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s)
            | Value::Numeric(s)
            | Value::Json(s)
            | Value::Jsonb(s)
            | Value::Uuid(s)
            | Value::Date(s)
            | Value::Time(s)
            | Value::Timestamp(s)
            | Value::Timestamptz(s) => Some(s),
            _ => None,
        }
    }

    /// The value as `i64`, for every integer width.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int2(v) => Some(v.into()),
            Value::Int4(v) => Some(v.into()),
            Value::Int8(v) => Some(v),
            _ => None,
        }
    }

    /// The value as `f64`, for both float widths.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float4(v) => Some(v.into()),
            Value::Float8(v) => Some(v),
            _ => None,
        }
    }

    /// The value as `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Boolean(v) => Some(v),
            _ => None,
        }
    }
}

macro_rules! from_scalar {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant(v.into())
            }
        }
    )*};
}

from_scalar! {
    bool => Boolean,
    i16 => Int2,
    i32 => Int4,
    i64 => Int8,
    f32 => Float4,
    f64 => Float8,
    &str => Text,
    String => Text,
    Vec<u8> => Bytea,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the query returned no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Position of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The value in row `row` of the column called `name`.
    pub fn get(&self, row: usize, name: &str) -> Option<&Value> {
        let col = self.column_index(name)?;
        self.values.get(row)?.get(col)
    }
}
