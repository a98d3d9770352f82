use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::ident::{push_ident, push_ident_list};
use crate::{Error, Result};

/// A PostgreSQL column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `smallint` (int2).
    SmallInt,
    /// `integer` (int4).
    Integer,
    /// `bigint` (int8).
    BigInt,
    /// `serial`: integer filled from a sequence the column owns.
    Serial,
    /// `bigserial`: bigint filled from a sequence the column owns.
    BigSerial,
    /// `boolean`.
    Boolean,
    /// `real` (float4).
    Real,
    /// `double precision` (float8); SQLAlchemy's `Float` maps here, see [`Type::FLOAT`].
    DoublePrecision,
    /// `numeric(precision, scale)`, or unconstrained `numeric` with `None`.
    Numeric(Option<(u16, u16)>),
    /// `text`.
    Text,
    /// `varchar(n)`.
    Varchar(u32),
    /// `bytea`.
    Bytea,
    /// `date`.
    Date,
    /// `time` (without time zone).
    Time,
    /// `timestamp` (without time zone).
    Timestamp,
    /// `timestamptz` (timestamp with time zone).
    Timestamptz,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// `uuid`.
    Uuid,
    /// A one-dimensional array of the inner type, e.g. `text[]`.
    Array(Box<Type>),
    /// RAW SQL type text, emitted verbatim (e.g. `interval`, `inet`): never
    /// build it from untrusted input.
    Raw(String),
}

// PostgreSQL's own limits, checked here so an error names the column instead
// of a position in a batch.
const MAX_VARCHAR: u32 = 10_485_760;
const MAX_NUMERIC: u16 = 1000;

impl Type {
    /// SQLAlchemy's `Float`, which PostgreSQL stores as `double precision`.
    pub const FLOAT: Type = Type::DoublePrecision;

    /// `numeric(precision, scale)`.
    pub fn numeric(precision: u16, scale: u16) -> Type {
        Type::Numeric(Some((precision, scale)))
    }

    /// An array of `inner`, e.g. `Type::array(Type::Text)` for `text[]`.
    pub fn array(inner: Type) -> Type {
        Type::Array(Box::new(inner))
    }

    /// RAW SQL type text; see [`Type::Raw`].
    pub fn raw(sql: impl Into<String>) -> Type {
        Type::Raw(sql.into())
    }

    /// The type as PostgreSQL spells it.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::new();
        self.write(&mut out)?;
        Ok(out)
    }

    pub(crate) fn write(&self, out: &mut String) -> Result<()> {
        let name = match self {
            Type::SmallInt => "smallint",
            Type::Integer => "integer",
            Type::BigInt => "bigint",
            Type::Serial => "serial",
            Type::BigSerial => "bigserial",
            Type::Boolean => "boolean",
            Type::Real => "real",
            Type::DoublePrecision => "double precision",
            Type::Numeric(None) => "numeric",
            Type::Numeric(Some((p, s))) => {
                if *p == 0 || *p > MAX_NUMERIC || *s > MAX_NUMERIC {
                    return Err(Error::Invalid(format!(
                        "numeric({p}, {s}): precision must be 1..={MAX_NUMERIC} and scale 0..={MAX_NUMERIC}"
                    )));
                }
                let _ = write!(out, "numeric({p}, {s})");
                return Ok(());
            }
            Type::Text => "text",
            Type::Varchar(n) => {
                if *n == 0 || *n > MAX_VARCHAR {
                    return Err(Error::Invalid(format!(
                        "varchar({n}): length must be 1..={MAX_VARCHAR}"
                    )));
                }
                let _ = write!(out, "varchar({n})");
                return Ok(());
            }
            Type::Bytea => "bytea",
            Type::Date => "date",
            Type::Time => "time",
            Type::Timestamp => "timestamp",
            Type::Timestamptz => "timestamptz",
            Type::Json => "json",
            Type::Jsonb => "jsonb",
            Type::Uuid => "uuid",
            Type::Array(inner) => {
                // serial is a column shorthand, not a type; PostgreSQL's
                // error for `serial[]` would be less clear than this one.
                if matches!(**inner, Type::Serial | Type::BigSerial) {
                    return Err(Error::Invalid(
                        "serial types cannot be array elements".into(),
                    ));
                }
                inner.write(out)?;
                out.push_str("[]");
                return Ok(());
            }
            Type::Raw(sql) => {
                if sql.trim().is_empty() {
                    return Err(Error::Invalid("empty raw type".into()));
                }
                sql
            }
        };
        out.push_str(name);
        Ok(())
    }
}

/// What a foreign key does when the referenced row is deleted or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FkAction {
    /// `NO ACTION`: fail at the end of the statement (PostgreSQL's default).
    NoAction,
    /// `RESTRICT`: fail immediately.
    Restrict,
    /// `CASCADE`: delete or update the referencing rows too.
    Cascade,
    /// `SET NULL`: null the referencing columns.
    SetNull,
    /// `SET DEFAULT`: reset the referencing columns to their defaults.
    SetDefault,
}

impl FkAction {
    fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// The referenced side of a foreign key, its actions and optional constraint name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    name: Option<String>,
    table: String,
    columns: Vec<String>,
    on_delete: Option<FkAction>,
    on_update: Option<FkAction>,
}

impl ForeignKey {
    /// References `table(column)`.
    pub fn to(table: impl Into<String>, column: impl Into<String>) -> Self {
        Self::to_columns(table, [column.into()])
    }

    /// References several columns of `table`, for a composite key.
    pub fn to_columns<I>(table: impl Into<String>, columns: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        ForeignKey {
            name: None,
            table: table.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            on_delete: None,
            on_update: None,
        }
    }

    /// Names the constraint; unnamed, PostgreSQL calls it `<table>_<column>_fkey`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `ON DELETE`.
    pub fn on_delete(mut self, action: FkAction) -> Self {
        self.on_delete = Some(action);
        self
    }

    /// Sets `ON UPDATE`.
    pub fn on_update(mut self, action: FkAction) -> Self {
        self.on_update = Some(action);
        self
    }

    pub(crate) fn write_name(&self, out: &mut String) -> Result<()> {
        if let Some(name) = &self.name {
            out.push_str("CONSTRAINT ");
            push_ident(out, name)?;
            out.push(' ');
        }
        Ok(())
    }

    /// Writes `REFERENCES "t" ("c") ON DELETE ...`.
    pub(crate) fn write_references(&self, out: &mut String) -> Result<()> {
        out.push_str("REFERENCES ");
        push_ident(out, &self.table)?;
        out.push(' ');
        push_ident_list(out, &self.columns, "a foreign key")?;
        if let Some(a) = self.on_delete {
            out.push_str(" ON DELETE ");
            out.push_str(a.sql());
        }
        if let Some(a) = self.on_update {
            out.push_str(" ON UPDATE ");
            out.push_str(a.sql());
        }
        Ok(())
    }

    /// Writes a table constraint `[CONSTRAINT "n"] FOREIGN KEY (...) REFERENCES ...`.
    pub(crate) fn write_constraint(&self, out: &mut String, local: &[String]) -> Result<()> {
        if local.len() != self.columns.len() {
            return Err(Error::Invalid(format!(
                "foreign key to {:?} pairs {} local column(s) with {} referenced column(s)",
                self.table,
                local.len(),
                self.columns.len()
            )));
        }
        self.write_name(out)?;
        out.push_str("FOREIGN KEY ");
        push_ident_list(out, local, "a foreign key")?;
        out.push(' ');
        self.write_references(out)
    }
}

/// A column definition, for `create_table` and `add_column`.
///
/// Columns are nullable unless [`Column::not_null`] is called, as in Alembic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub(crate) name: String,
    ty: Type,
    not_null: bool,
    default_sql: Option<String>,
    pub(crate) primary_key: bool,
    unique: bool,
    references: Option<ForeignKey>,
}

impl Column {
    /// A nullable column of type `ty`.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Column {
            name: name.into(),
            ty,
            not_null: false,
            default_sql: None,
            primary_key: false,
            unique: false,
            references: None,
        }
    }

    /// Adds `NOT NULL`.
    pub fn not_null(mut self) -> Self {
        self.not_null = true;
        self
    }

    /// Makes the column nullable again (the default).
    pub fn nullable(mut self) -> Self {
        self.not_null = false;
        self
    }

    /// Sets a server default from a RAW SQL expression such as `now()`.
    ///
    /// The text is emitted verbatim: PostgreSQL cannot take parameters in
    /// DDL, so never build it from untrusted input.
    pub fn server_default_raw(mut self, sql_expression: impl Into<String>) -> Self {
        self.default_sql = Some(sql_expression.into());
        self
    }

    /// Makes this column the table's primary key (for a composite key use
    /// [`crate::CreateTable::primary_key`]).
    pub fn primary_key(mut self) -> Self {
        self.primary_key = true;
        self
    }

    /// Adds a `UNIQUE` constraint on this column alone.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Adds a foreign key from this column.
    pub fn references(mut self, fk: ForeignKey) -> Self {
        self.references = Some(fk);
        self
    }

    /// The column definition as it appears in `CREATE TABLE` or `ADD COLUMN`.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::new();
        self.write(&mut out)?;
        Ok(out)
    }

    pub(crate) fn write(&self, out: &mut String) -> Result<()> {
        push_ident(out, &self.name)?;
        out.push(' ');
        self.ty.write(out)?;
        if self.not_null {
            out.push_str(" NOT NULL");
        }
        if let Some(expr) = &self.default_sql {
            if expr.trim().is_empty() {
                return Err(Error::Invalid(format!(
                    "column {:?} has an empty server default",
                    self.name
                )));
            }
            out.push_str(" DEFAULT ");
            out.push_str(expr);
        }
        if self.primary_key {
            out.push_str(" PRIMARY KEY");
        }
        if self.unique {
            out.push_str(" UNIQUE");
        }
        if let Some(fk) = &self.references {
            if fk.columns.len() != 1 {
                return Err(Error::Invalid(format!(
                    "column {:?} references {} columns of {:?}; use a table-level foreign key",
                    self.name,
                    fk.columns.len(),
                    fk.table
                )));
            }
            out.push(' ');
            fk.write_name(out)?;
            fk.write_references(out)?;
        }
        Ok(())
    }
}

/// Collects column names from anything iterable, e.g. `["a", "b"]`.
pub(crate) fn names<I>(items: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}
