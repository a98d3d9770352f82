use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::bindings::pgwasm::migration::{context, sql};
use crate::ident::{push_ident, push_ident_list};
use crate::schema::{Column, ForeignKey, Type, names};
use crate::{Direction, Error, Level, Mode, Result, Rows, Value};

/// One call an [`Op`] made, as kept by [`Op::recording`].
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `execute(sql, params)`.
    Execute {
        /// Statement text.
        sql: String,
        /// Its parameters.
        params: Vec<Value>,
    },
    /// `query(sql, params)`.
    Query {
        /// Statement text.
        sql: String,
        /// Its parameters.
        params: Vec<Value>,
    },
    /// `batch(script)`.
    Batch {
        /// Script text.
        script: String,
    },
    /// `execute-many(sql, rows)`.
    ExecuteMany {
        /// Statement text.
        sql: String,
        /// One parameter list per execution.
        rows: Vec<Vec<Value>>,
    },
    /// `log(level, message)`.
    Log {
        /// Severity.
        level: Level,
        /// Text.
        message: String,
    },
}

#[derive(Debug)]
struct Recorder {
    direction: Direction,
    calls: Vec<Call>,
}

/// The revision's handle on the database and on the run's context.
///
/// Inside a component it sends SQL through the host; [`Op::recording`] makes
/// one that only records, so a revision's SQL can be checked natively.
#[derive(Debug)]
pub struct Op {
    recorder: Option<Recorder>,
}

impl Op {
    pub(crate) fn host() -> Op {
        Op { recorder: None }
    }

    /// An `Op` that records every call instead of sending it, for native tests:
    /// it reports offline mode, `query` returns no rows and `execute` 0.
    pub fn recording(direction: Direction) -> Op {
        Op {
            recorder: Some(Recorder {
                direction,
                calls: Vec::new(),
            }),
        }
    }

    /// The calls recorded so far (empty when talking to the host).
    pub fn calls(&self) -> &[Call] {
        self.recorder.as_ref().map_or(&[], |r| &r.calls)
    }

    /// Runs one statement with `$1`-style parameters; returns the affected row count.
    pub fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64> {
        match &mut self.recorder {
            Some(r) => {
                r.calls.push(Call::Execute {
                    sql: statement.into(),
                    params: params.to_vec(),
                });
                Ok(0)
            }
            None => sql::execute(statement, params).map_err(Error::Db),
        }
    }

    /// Runs one statement with parameters and returns its rows (refused offline).
    pub fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows> {
        match &mut self.recorder {
            Some(r) => {
                r.calls.push(Call::Query {
                    sql: statement.into(),
                    params: params.to_vec(),
                });
                Ok(Rows {
                    columns: Vec::new(),
                    values: Vec::new(),
                })
            }
            None => sql::query(statement, params).map_err(Error::Db),
        }
    }

    /// Runs a parameterless script of several statements in one round trip.
    pub fn batch(&mut self, script: &str) -> Result<()> {
        match &mut self.recorder {
            Some(r) => {
                r.calls.push(Call::Batch {
                    script: script.into(),
                });
                Ok(())
            }
            None => sql::batch(script).map_err(Error::Db),
        }
    }

    /// Runs one statement once per parameter row, pipelined; returns the total row count.
    pub fn execute_many(&mut self, statement: &str, rows: &[Vec<Value>]) -> Result<u64> {
        match &mut self.recorder {
            Some(r) => {
                r.calls.push(Call::ExecuteMany {
                    sql: statement.into(),
                    rows: rows.to_vec(),
                });
                Ok(0)
            }
            None => sql::execute_many(statement, rows).map_err(Error::Db),
        }
    }

    /// Whether the host talks to a database or only records SQL text (`--sql`).
    pub fn mode(&self) -> Mode {
        match self.recorder {
            Some(_) => Mode::Offline,
            None => context::run_mode(),
        }
    }

    /// True in offline (`--sql`) mode, where `query` is refused.
    pub fn is_offline(&self) -> bool {
        self.mode() == Mode::Offline
    }

    /// Which way the revision is being applied.
    pub fn direction(&self) -> Direction {
        match &self.recorder {
            Some(r) => r.direction,
            None => context::run_direction(),
        }
    }

    /// A read-only parameter of this run (recording: always `None`).
    pub fn config(&self, key: &str) -> Option<String> {
        match self.recorder {
            Some(_) => None,
            None => context::config(key),
        }
    }

    /// Writes to the host's log for this revision.
    pub fn log(&mut self, level: Level, message: &str) {
        match &mut self.recorder {
            Some(r) => r.calls.push(Call::Log {
                level,
                message: message.into(),
            }),
            None => context::log(level, message),
        }
    }

    /// Logs at `info` level.
    pub fn info(&mut self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Logs at `warn` level.
    pub fn warn(&mut self, message: &str) {
        self.log(Level::Warn, message);
    }

    /// Starts a `CREATE TABLE`; indexes added with `.index()` go in the same round trip.
    pub fn create_table(&mut self, name: impl Into<String>) -> CreateTable<'_> {
        CreateTable {
            op: self,
            name: name.into(),
            if_not_exists: false,
            columns: Vec::new(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
        }
    }

    /// Starts a `DROP TABLE`.
    pub fn drop_table(&mut self, name: impl Into<String>) -> DropTable<'_> {
        DropTable {
            op: self,
            name: name.into(),
            if_exists: false,
            cascade: false,
        }
    }

    /// Starts a `CREATE INDEX name ON table (columns...)`, columns in the given order.
    pub fn create_index<I>(
        &mut self,
        name: impl Into<String>,
        table: impl Into<String>,
        columns: I,
    ) -> CreateIndex<'_>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        CreateIndex {
            op: self,
            index: Index {
                name: name.into(),
                table: table.into(),
                columns: names(columns),
                unique: false,
                if_not_exists: false,
                concurrently: false,
            },
        }
    }

    /// Starts a `DROP INDEX`.
    pub fn drop_index(&mut self, name: impl Into<String>) -> DropIndex<'_> {
        DropIndex {
            op: self,
            name: name.into(),
            if_exists: false,
            concurrently: false,
        }
    }

    /// Starts an `ALTER TABLE ... ADD COLUMN`.
    pub fn add_column(&mut self, table: impl Into<String>, column: Column) -> AddColumn<'_> {
        self.add_columns(table, [column])
    }

    /// Adds several columns in one `ALTER TABLE`, so the table is visited once.
    pub fn add_columns(
        &mut self,
        table: impl Into<String>,
        columns: impl IntoIterator<Item = Column>,
    ) -> AddColumn<'_> {
        AddColumn {
            op: self,
            table: table.into(),
            columns: columns.into_iter().collect(),
            if_not_exists: false,
        }
    }

    /// Starts an `ALTER TABLE ... DROP COLUMN`.
    pub fn drop_column(
        &mut self,
        table: impl Into<String>,
        column: impl Into<String>,
    ) -> DropColumn<'_> {
        self.drop_columns(table, [column])
    }

    /// Drops several columns in one `ALTER TABLE`.
    pub fn drop_columns<I>(&mut self, table: impl Into<String>, columns: I) -> DropColumn<'_>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        DropColumn {
            op: self,
            table: table.into(),
            columns: names(columns),
            if_exists: false,
            cascade: false,
        }
    }

    /// Starts an `ALTER TABLE ... ALTER COLUMN`; changes apply in the order given.
    pub fn alter_column(
        &mut self,
        table: impl Into<String>,
        column: impl Into<String>,
    ) -> AlterColumn<'_> {
        AlterColumn {
            op: self,
            table: table.into(),
            column: column.into(),
            changes: Vec::new(),
        }
    }

    /// Starts an `ALTER TABLE ... ADD [CONSTRAINT] FOREIGN KEY`.
    pub fn add_foreign_key<I>(
        &mut self,
        table: impl Into<String>,
        columns: I,
        references: ForeignKey,
    ) -> AddForeignKey<'_>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        AddForeignKey {
            op: self,
            table: table.into(),
            columns: names(columns),
            references,
        }
    }

    /// Starts an `ALTER TABLE ... DROP CONSTRAINT`.
    pub fn drop_constraint(
        &mut self,
        table: impl Into<String>,
        name: impl Into<String>,
    ) -> DropConstraint<'_> {
        DropConstraint {
            op: self,
            table: table.into(),
            name: name.into(),
            if_exists: false,
        }
    }
}

/// Sends a generated DDL script: parameterless, so the simple protocol's one
/// round trip is enough.
macro_rules! ddl_execute {
    () => {
        /// Generates the SQL and sends it to the host.
        pub fn execute(self) -> Result<()> {
            let script = self.to_sql()?;
            self.op.batch(&script)
        }
    };
}

#[derive(Debug, Clone)]
struct Index {
    name: String,
    table: String,
    columns: Vec<String>,
    unique: bool,
    if_not_exists: bool,
    concurrently: bool,
}

impl Index {
    fn write(&self, out: &mut String) -> Result<()> {
        out.push_str(if self.unique {
            "CREATE UNIQUE INDEX "
        } else {
            "CREATE INDEX "
        });
        if self.concurrently {
            out.push_str("CONCURRENTLY ");
        }
        if self.if_not_exists {
            out.push_str("IF NOT EXISTS ");
        }
        push_ident(out, &self.name)?;
        out.push_str(" ON ");
        push_ident(out, &self.table)?;
        out.push(' ');
        push_ident_list(out, &self.columns, "an index")?;
        out.push(';');
        Ok(())
    }
}

/// `CREATE TABLE` with its columns, keys and indexes.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct CreateTable<'op> {
    op: &'op mut Op,
    name: String,
    if_not_exists: bool,
    columns: Vec<Column>,
    primary_key: Vec<String>,
    foreign_keys: Vec<(Vec<String>, ForeignKey)>,
    indexes: Vec<Index>,
}

impl CreateTable<'_> {
    /// Adds a column (in table order).
    pub fn column(mut self, column: Column) -> Self {
        self.columns.push(column);
        self
    }

    /// Adds several columns (in table order).
    pub fn columns(mut self, columns: impl IntoIterator<Item = Column>) -> Self {
        self.columns.extend(columns);
        self
    }

    /// Declares a (composite) primary key; PostgreSQL names it `<table>_pkey`.
    pub fn primary_key<I>(mut self, columns: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.primary_key = names(columns);
        self
    }

    /// Adds a table-level foreign key from `columns`.
    pub fn foreign_key<I>(mut self, columns: I, references: ForeignKey) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.foreign_keys.push((names(columns), references));
        self
    }

    /// Adds a plain B-tree index on this table, sent in the same round trip.
    pub fn index<I>(self, name: impl Into<String>, columns: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.add_index(name.into(), names(columns), false)
    }

    /// Adds a unique index on this table, sent in the same round trip.
    pub fn unique_index<I>(self, name: impl Into<String>, columns: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.add_index(name.into(), names(columns), true)
    }

    fn add_index(mut self, name: String, columns: Vec<String>, unique: bool) -> Self {
        self.indexes.push(Index {
            name,
            table: self.name.clone(),
            columns,
            unique,
            if_not_exists: false,
            concurrently: false,
        });
        self
    }

    /// Adds `IF NOT EXISTS` to the table and its indexes.
    pub fn if_not_exists(mut self) -> Self {
        self.if_not_exists = true;
        self
    }

    /// The script: `CREATE TABLE ...;` then one `CREATE INDEX ...;` per index.
    pub fn to_sql(&self) -> Result<String> {
        let inline_pk = self.columns.iter().filter(|c| c.primary_key).count();
        if inline_pk > 1 || (inline_pk == 1 && !self.primary_key.is_empty()) {
            return Err(Error::Invalid(format!(
                "table {:?} declares its primary key more than once; use .primary_key([...]) for a composite key",
                self.name
            )));
        }
        let mut out = String::from("CREATE TABLE ");
        if self.if_not_exists {
            out.push_str("IF NOT EXISTS ");
        }
        push_ident(&mut out, &self.name)?;
        out.push_str(" (");
        let mut first = true;
        let mut item = |out: &mut String| {
            out.push_str(if first { "\n    " } else { ",\n    " });
            first = false;
        };
        for column in &self.columns {
            item(&mut out);
            column.write(&mut out)?;
        }
        if !self.primary_key.is_empty() {
            item(&mut out);
            out.push_str("PRIMARY KEY ");
            push_ident_list(&mut out, &self.primary_key, "a primary key")?;
        }
        for (columns, fk) in &self.foreign_keys {
            item(&mut out);
            fk.write_constraint(&mut out, columns)?;
        }
        out.push_str(if first { ");" } else { "\n);" });
        for index in &self.indexes {
            out.push('\n');
            let mut index = index.clone();
            index.if_not_exists = self.if_not_exists;
            index.write(&mut out)?;
        }
        Ok(out)
    }

    ddl_execute!();
}

/// `DROP TABLE`.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct DropTable<'op> {
    op: &'op mut Op,
    name: String,
    if_exists: bool,
    cascade: bool,
}

impl DropTable<'_> {
    /// Adds `IF EXISTS`.
    pub fn if_exists(mut self) -> Self {
        self.if_exists = true;
        self
    }

    /// Adds `CASCADE`: also drops views and foreign keys that depend on the table.
    pub fn cascade(mut self) -> Self {
        self.cascade = true;
        self
    }

    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::from("DROP TABLE ");
        if self.if_exists {
            out.push_str("IF EXISTS ");
        }
        push_ident(&mut out, &self.name)?;
        if self.cascade {
            out.push_str(" CASCADE");
        }
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}

/// `CREATE INDEX`.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct CreateIndex<'op> {
    op: &'op mut Op,
    index: Index,
}

impl CreateIndex<'_> {
    /// Makes it a `UNIQUE` index.
    pub fn unique(mut self) -> Self {
        self.index.unique = true;
        self
    }

    /// Adds `IF NOT EXISTS`.
    pub fn if_not_exists(mut self) -> Self {
        self.index.if_not_exists = true;
        self
    }

    /// Adds `CONCURRENTLY`; the revision must declare `transactional: false`.
    pub fn concurrently(mut self) -> Self {
        self.index.concurrently = true;
        self
    }

    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::new();
        self.index.write(&mut out)?;
        Ok(out)
    }

    ddl_execute!();
}

/// `DROP INDEX`.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct DropIndex<'op> {
    op: &'op mut Op,
    name: String,
    if_exists: bool,
    concurrently: bool,
}

impl DropIndex<'_> {
    /// Adds `IF EXISTS`.
    pub fn if_exists(mut self) -> Self {
        self.if_exists = true;
        self
    }

    /// Adds `CONCURRENTLY`; the revision must declare `transactional: false`.
    pub fn concurrently(mut self) -> Self {
        self.concurrently = true;
        self
    }

    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::from("DROP INDEX ");
        if self.concurrently {
            out.push_str("CONCURRENTLY ");
        }
        if self.if_exists {
            out.push_str("IF EXISTS ");
        }
        push_ident(&mut out, &self.name)?;
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}

/// `ALTER TABLE ... ADD COLUMN`, one or more.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct AddColumn<'op> {
    op: &'op mut Op,
    table: String,
    columns: Vec<Column>,
    if_not_exists: bool,
}

impl AddColumn<'_> {
    /// Adds `IF NOT EXISTS` to every column.
    pub fn if_not_exists(mut self) -> Self {
        self.if_not_exists = true;
        self
    }

    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        if self.columns.is_empty() {
            return Err(Error::Invalid(format!(
                "add_columns on {:?} needs at least one column",
                self.table
            )));
        }
        let mut out = String::from("ALTER TABLE ");
        push_ident(&mut out, &self.table)?;
        for (i, column) in self.columns.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("ADD COLUMN ");
            if self.if_not_exists {
                out.push_str("IF NOT EXISTS ");
            }
            column.write(&mut out)?;
        }
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}

/// `ALTER TABLE ... DROP COLUMN`, one or more.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct DropColumn<'op> {
    op: &'op mut Op,
    table: String,
    columns: Vec<String>,
    if_exists: bool,
    cascade: bool,
}

impl DropColumn<'_> {
    /// Adds `IF EXISTS` to every column.
    pub fn if_exists(mut self) -> Self {
        self.if_exists = true;
        self
    }

    /// Adds `CASCADE`: also drops what depends on the columns.
    pub fn cascade(mut self) -> Self {
        self.cascade = true;
        self
    }

    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        if self.columns.is_empty() {
            return Err(Error::Invalid(format!(
                "drop_columns on {:?} needs at least one column",
                self.table
            )));
        }
        let mut out = String::from("ALTER TABLE ");
        push_ident(&mut out, &self.table)?;
        for (i, column) in self.columns.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("DROP COLUMN ");
            if self.if_exists {
                out.push_str("IF EXISTS ");
            }
            push_ident(&mut out, column)?;
            if self.cascade {
                out.push_str(" CASCADE");
            }
        }
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}

#[derive(Debug, Clone)]
enum Change {
    Type(Type, Option<String>),
    SetNotNull,
    DropNotNull,
    SetDefault(String),
    DropDefault,
}

/// `ALTER TABLE ... ALTER COLUMN`: type, nullability and default changes.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct AlterColumn<'op> {
    op: &'op mut Op,
    table: String,
    column: String,
    changes: Vec<Change>,
}

impl AlterColumn<'_> {
    /// Changes the type, letting PostgreSQL cast the existing values implicitly.
    pub fn set_type(mut self, ty: Type) -> Self {
        self.changes.push(Change::Type(ty, None));
        self
    }

    /// Changes the type, converting values with a RAW SQL `USING` expression
    /// (e.g. `"status::integer"`); never build it from untrusted input.
    pub fn set_type_using(mut self, ty: Type, using_sql: impl Into<String>) -> Self {
        self.changes.push(Change::Type(ty, Some(using_sql.into())));
        self
    }

    /// Adds `SET NOT NULL`.
    pub fn set_not_null(mut self) -> Self {
        self.changes.push(Change::SetNotNull);
        self
    }

    /// Adds `DROP NOT NULL`.
    pub fn drop_not_null(mut self) -> Self {
        self.changes.push(Change::DropNotNull);
        self
    }

    /// Sets the server default from a RAW SQL expression such as `now()`.
    pub fn set_default_raw(mut self, sql_expression: impl Into<String>) -> Self {
        self.changes.push(Change::SetDefault(sql_expression.into()));
        self
    }

    /// Removes the server default.
    pub fn drop_default(mut self) -> Self {
        self.changes.push(Change::DropDefault);
        self
    }

    /// The statement text: one `ALTER TABLE` with one action per change.
    pub fn to_sql(&self) -> Result<String> {
        if self.changes.is_empty() {
            return Err(Error::Invalid(format!(
                "alter_column {:?}.{:?} changes nothing",
                self.table, self.column
            )));
        }
        let mut out = String::from("ALTER TABLE ");
        push_ident(&mut out, &self.table)?;
        for (i, change) in self.changes.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("ALTER COLUMN ");
            push_ident(&mut out, &self.column)?;
            match change {
                Change::Type(ty, using) => {
                    out.push_str(" TYPE ");
                    ty.write(&mut out)?;
                    if let Some(expr) = using {
                        if expr.trim().is_empty() {
                            return Err(Error::Invalid("empty USING expression".into()));
                        }
                        out.push_str(" USING ");
                        out.push_str(expr);
                    }
                }
                Change::SetNotNull => out.push_str(" SET NOT NULL"),
                Change::DropNotNull => out.push_str(" DROP NOT NULL"),
                Change::SetDefault(expr) => {
                    if expr.trim().is_empty() {
                        return Err(Error::Invalid("empty server default".into()));
                    }
                    out.push_str(" SET DEFAULT ");
                    out.push_str(expr);
                }
                Change::DropDefault => out.push_str(" DROP DEFAULT"),
            }
        }
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}

/// `ALTER TABLE ... ADD [CONSTRAINT "name"] FOREIGN KEY`.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct AddForeignKey<'op> {
    op: &'op mut Op,
    table: String,
    columns: Vec<String>,
    references: ForeignKey,
}

impl AddForeignKey<'_> {
    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::from("ALTER TABLE ");
        push_ident(&mut out, &self.table)?;
        out.push_str(" ADD ");
        self.references.write_constraint(&mut out, &self.columns)?;
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}

/// `ALTER TABLE ... DROP CONSTRAINT`.
#[must_use = "nothing is sent until .execute() is called"]
#[derive(Debug)]
pub struct DropConstraint<'op> {
    op: &'op mut Op,
    table: String,
    name: String,
    if_exists: bool,
}

impl DropConstraint<'_> {
    /// Adds `IF EXISTS`.
    pub fn if_exists(mut self) -> Self {
        self.if_exists = true;
        self
    }

    /// The statement text.
    pub fn to_sql(&self) -> Result<String> {
        let mut out = String::from("ALTER TABLE ");
        push_ident(&mut out, &self.table)?;
        out.push_str(" DROP CONSTRAINT ");
        if self.if_exists {
            out.push_str("IF EXISTS ");
        }
        push_ident(&mut out, &self.name)?;
        out.push(';');
        Ok(out)
    }

    ddl_execute!();
}
