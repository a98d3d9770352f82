use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::*;

fn op() -> Op {
    Op::recording(Direction::Upgrade)
}

fn invalid(r: Result<String>) -> String {
    match r {
        Err(Error::Invalid(m)) => m,
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[test]
fn quotes_plain_identifiers() {
    assert_eq!(quote_ident("projects").unwrap(), r#""projects""#);
    assert_eq!(quote_ident("MixedCase").unwrap(), r#""MixedCase""#);
    assert_eq!(quote_ident("with space").unwrap(), r#""with space""#);
    assert_eq!(quote_ident("ünïcode").unwrap(), r#""ünïcode""#);
}

#[test]
fn doubles_inner_quotes_so_names_cannot_escape() {
    assert_eq!(quote_ident(r#"a"b"#).unwrap(), r#""a""b""#);
    let evil = r#"x"; DROP TABLE projects; --"#;
    assert_eq!(
        quote_ident(evil).unwrap(),
        r#""x""; DROP TABLE projects; --""#
    );
    // Only doubled quotes inside: the identifier cannot end before the last character.
    assert_eq!(quote_ident(&"\"".repeat(3)).unwrap(), "\"".repeat(8));
}

#[test]
fn refuses_empty_nul_and_overlong_identifiers() {
    assert!(invalid(quote_ident("")).contains("empty"));
    assert!(invalid(quote_ident("a\0b")).contains("NUL"));
    let max = "a".repeat(63);
    assert_eq!(quote_ident(&max).unwrap().len(), 65);
    let msg = invalid(quote_ident(&"a".repeat(64)));
    assert!(
        msg.contains("64 bytes") && msg.contains("truncate"),
        "{msg}"
    );
    // The limit is in bytes, as in PostgreSQL: 32 two-byte characters are too many.
    assert!(quote_ident(&"é".repeat(31)).is_ok());
    assert!(quote_ident(&"é".repeat(32)).is_err());
}

#[test]
fn renders_every_type() {
    let cases = [
        (Type::SmallInt, "smallint"),
        (Type::Integer, "integer"),
        (Type::BigInt, "bigint"),
        (Type::Serial, "serial"),
        (Type::BigSerial, "bigserial"),
        (Type::Boolean, "boolean"),
        (Type::Real, "real"),
        (Type::FLOAT, "double precision"),
        (Type::Numeric(None), "numeric"),
        (Type::numeric(12, 2), "numeric(12, 2)"),
        (Type::Text, "text"),
        (Type::Varchar(50), "varchar(50)"),
        (Type::Bytea, "bytea"),
        (Type::Date, "date"),
        (Type::Time, "time"),
        (Type::Timestamp, "timestamp"),
        (Type::Timestamptz, "timestamptz"),
        (Type::Json, "json"),
        (Type::Jsonb, "jsonb"),
        (Type::Uuid, "uuid"),
        (Type::array(Type::Text), "text[]"),
        (Type::array(Type::Varchar(36)), "varchar(36)[]"),
        (Type::raw("interval"), "interval"),
    ];
    for (ty, sql) in cases {
        assert_eq!(ty.to_sql().unwrap(), sql);
    }
}

#[test]
fn refuses_impossible_types() {
    assert!(invalid(Type::Varchar(0).to_sql()).contains("varchar(0)"));
    assert!(Type::Varchar(10_485_761).to_sql().is_err());
    assert!(Type::numeric(0, 0).to_sql().is_err());
    assert!(Type::numeric(1001, 0).to_sql().is_err());
    assert!(Type::array(Type::BigSerial).to_sql().is_err());
    assert!(Type::raw("  ").to_sql().is_err());
}

#[test]
fn column_definitions() {
    let c = Column::new("created_at", Type::Timestamptz)
        .not_null()
        .server_default_raw("now()");
    assert_eq!(
        c.to_sql().unwrap(),
        r#""created_at" timestamptz NOT NULL DEFAULT now()"#
    );
    assert_eq!(
        Column::new("x", Type::Text)
            .not_null()
            .nullable()
            .to_sql()
            .unwrap(),
        r#""x" text"#
    );
    assert_eq!(
        Column::new("email", Type::Text).unique().to_sql().unwrap(),
        r#""email" text UNIQUE"#
    );
    assert!(
        Column::new("x", Type::Text)
            .server_default_raw(" ")
            .to_sql()
            .is_err()
    );
}

#[test]
fn column_foreign_keys_with_every_action() {
    let cases = [
        (FkAction::Cascade, "CASCADE"),
        (FkAction::SetNull, "SET NULL"),
        (FkAction::Restrict, "RESTRICT"),
        (FkAction::NoAction, "NO ACTION"),
        (FkAction::SetDefault, "SET DEFAULT"),
    ];
    for (action, sql) in cases {
        let c = Column::new("project_id", Type::Varchar(50))
            .references(ForeignKey::to("projects", "id").on_delete(action));
        assert_eq!(
            c.to_sql().unwrap(),
            alloc::format!(
                r#""project_id" varchar(50) REFERENCES "projects" ("id") ON DELETE {sql}"#
            )
        );
    }
    let named = Column::new("sprint_id", Type::Varchar(50)).references(
        ForeignKey::to("sprints", "id")
            .name("fk_sprint")
            .on_delete(FkAction::SetNull)
            .on_update(FkAction::Cascade),
    );
    assert_eq!(
        named.to_sql().unwrap(),
        r#""sprint_id" varchar(50) CONSTRAINT "fk_sprint" REFERENCES "sprints" ("id") ON DELETE SET NULL ON UPDATE CASCADE"#
    );
    let composite =
        Column::new("a", Type::Integer).references(ForeignKey::to_columns("p", ["x", "y"]));
    assert!(invalid(composite.to_sql()).contains("table-level"));
}

#[test]
fn create_table_with_indexes_is_one_script() {
    let mut op = op();
    let sql = op
        .create_table("sprints")
        .column(
            Column::new("id", Type::Varchar(50))
                .not_null()
                .primary_key(),
        )
        .column(Column::new("status", Type::Varchar(20)).not_null())
        .column(
            Column::new("primary_project", Type::Varchar(50))
                .not_null()
                .references(ForeignKey::to("projects", "id").on_delete(FkAction::Cascade)),
        )
        .column(Column::new("velocity", Type::FLOAT))
        .index("idx_sprints_status", ["status"])
        .index("idx_sprints_project_status", ["primary_project", "status"])
        .unique_index("uq_sprints_x", ["status"])
        .to_sql()
        .unwrap();
    assert_eq!(
        sql,
        r#"CREATE TABLE "sprints" (
    "id" varchar(50) NOT NULL PRIMARY KEY,
    "status" varchar(20) NOT NULL,
    "primary_project" varchar(50) NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    "velocity" double precision
);
CREATE INDEX "idx_sprints_status" ON "sprints" ("status");
CREATE INDEX "idx_sprints_project_status" ON "sprints" ("primary_project", "status");
CREATE UNIQUE INDEX "uq_sprints_x" ON "sprints" ("status");"#
    );
}

#[test]
fn create_table_composite_keys_and_if_not_exists() {
    let mut op = op();
    let sql = op
        .create_table("memberships")
        .if_not_exists()
        .column(Column::new("user_id", Type::BigInt).not_null())
        .column(Column::new("group_id", Type::BigInt).not_null())
        .primary_key(["user_id", "group_id"])
        .foreign_key(
            ["user_id", "group_id"],
            ForeignKey::to_columns("pairs", ["u", "g"])
                .name("fk_pair")
                .on_delete(FkAction::Restrict),
        )
        .index("idx_m_group", ["group_id"])
        .to_sql()
        .unwrap();
    assert_eq!(
        sql,
        r#"CREATE TABLE IF NOT EXISTS "memberships" (
    "user_id" bigint NOT NULL,
    "group_id" bigint NOT NULL,
    PRIMARY KEY ("user_id", "group_id"),
    CONSTRAINT "fk_pair" FOREIGN KEY ("user_id", "group_id") REFERENCES "pairs" ("u", "g") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_m_group" ON "memberships" ("group_id");"#
    );
}

#[test]
fn create_table_refuses_inconsistent_keys() {
    let mut op = op();
    let twice = op
        .create_table("t")
        .column(Column::new("a", Type::Integer).primary_key())
        .primary_key(["a"])
        .to_sql();
    assert!(invalid(twice).contains("more than once"));
    let two_inline = op
        .create_table("t")
        .column(Column::new("a", Type::Integer).primary_key())
        .column(Column::new("b", Type::Integer).primary_key())
        .to_sql();
    assert!(two_inline.is_err());
    let mismatched = op
        .create_table("t")
        .column(Column::new("a", Type::Integer))
        .foreign_key(["a"], ForeignKey::to_columns("p", ["x", "y"]))
        .to_sql();
    assert!(invalid(mismatched).contains("1 local column(s) with 2"));
    let empty_index = op
        .create_table("t")
        .column(Column::new("a", Type::Integer))
        .index("i", Vec::<String>::new())
        .to_sql();
    assert!(invalid(empty_index).contains("at least one column"));
    assert_eq!(
        op.create_table("t").to_sql().unwrap(),
        r#"CREATE TABLE "t" ();"#
    );
}

#[test]
fn hostile_names_stay_inside_their_quotes() {
    let mut op = op();
    let sql = op
        .create_table(r#"t"; DROP TABLE x; --"#)
        .column(Column::new(r#"c" text); DROP TABLE y; --"#, Type::Text))
        .index(r#"i"; --"#, [r#"c" text); DROP TABLE y; --"#])
        .to_sql()
        .unwrap();
    assert_eq!(
        sql,
        r#"CREATE TABLE "t""; DROP TABLE x; --" (
    "c"" text); DROP TABLE y; --" text
);
CREATE INDEX "i""; --" ON "t""; DROP TABLE x; --" ("c"" text); DROP TABLE y; --");"#
    );
    // Every quote in the output is either a delimiter or doubled.
    for line in sql.lines() {
        let unpaired = line.replace(r#""""#, "").matches('"').count();
        assert_eq!(unpaired % 2, 0, "{line}");
    }
    let long = "x".repeat(64);
    assert!(op.drop_table(long.as_str()).to_sql().is_err());
    assert!(op.drop_index("a\0").to_sql().is_err());
    assert!(
        op.add_column("t", Column::new("", Type::Text))
            .to_sql()
            .is_err()
    );
    assert!(
        op.alter_column("t", long.as_str())
            .drop_default()
            .to_sql()
            .is_err()
    );
}

#[test]
fn drop_table_and_indexes() {
    let mut op = op();
    assert_eq!(
        op.drop_table("tasks").to_sql().unwrap(),
        r#"DROP TABLE "tasks";"#
    );
    assert_eq!(
        op.drop_table("tasks")
            .if_exists()
            .cascade()
            .to_sql()
            .unwrap(),
        r#"DROP TABLE IF EXISTS "tasks" CASCADE;"#
    );
    assert_eq!(
        op.create_index("idx_a", "t", ["b", "a"]).to_sql().unwrap(),
        r#"CREATE INDEX "idx_a" ON "t" ("b", "a");"#
    );
    assert_eq!(
        op.create_index("idx_a", "t", ["a"])
            .unique()
            .concurrently()
            .if_not_exists()
            .to_sql()
            .unwrap(),
        r#"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "idx_a" ON "t" ("a");"#
    );
    assert_eq!(
        op.drop_index("idx_a").to_sql().unwrap(),
        r#"DROP INDEX "idx_a";"#
    );
    assert_eq!(
        op.drop_index("idx_a")
            .concurrently()
            .if_exists()
            .to_sql()
            .unwrap(),
        r#"DROP INDEX CONCURRENTLY IF EXISTS "idx_a";"#
    );
}

#[test]
fn add_and_drop_columns() {
    let mut op = op();
    assert_eq!(
        op.add_column("projects", Column::new("phases", Type::Jsonb))
            .to_sql()
            .unwrap(),
        "ALTER TABLE \"projects\"\n    ADD COLUMN \"phases\" jsonb;"
    );
    assert_eq!(
        op.add_columns(
            "projects",
            [
                Column::new("a", Type::Varchar(500)),
                Column::new("b", Type::array(Type::Text))
                    .not_null()
                    .server_default_raw("'{}'"),
            ],
        )
        .if_not_exists()
        .to_sql()
        .unwrap(),
        "ALTER TABLE \"projects\"\n    ADD COLUMN IF NOT EXISTS \"a\" varchar(500),\n    ADD COLUMN IF NOT EXISTS \"b\" text[] NOT NULL DEFAULT '{}';"
    );
    assert!(op.add_columns("t", []).to_sql().is_err());
    assert_eq!(
        op.drop_column("projects", "phases").to_sql().unwrap(),
        "ALTER TABLE \"projects\"\n    DROP COLUMN \"phases\";"
    );
    assert_eq!(
        op.drop_columns("projects", ["a", "b"])
            .if_exists()
            .cascade()
            .to_sql()
            .unwrap(),
        "ALTER TABLE \"projects\"\n    DROP COLUMN IF EXISTS \"a\" CASCADE,\n    DROP COLUMN IF EXISTS \"b\" CASCADE;"
    );
    assert!(op.drop_columns("t", Vec::<String>::new()).to_sql().is_err());
}

#[test]
fn alter_column_changes_in_order() {
    let mut op = op();
    assert_eq!(
        op.alter_column("tasks", "status")
            .drop_default()
            .set_type_using(Type::Integer, "status::integer")
            .set_default_raw("0")
            .set_not_null()
            .to_sql()
            .unwrap(),
        "ALTER TABLE \"tasks\"\n    ALTER COLUMN \"status\" DROP DEFAULT,\n    ALTER COLUMN \"status\" TYPE integer USING status::integer,\n    ALTER COLUMN \"status\" SET DEFAULT 0,\n    ALTER COLUMN \"status\" SET NOT NULL;"
    );
    assert_eq!(
        op.alter_column("t", "c")
            .set_type(Type::Text)
            .drop_not_null()
            .to_sql()
            .unwrap(),
        "ALTER TABLE \"t\"\n    ALTER COLUMN \"c\" TYPE text,\n    ALTER COLUMN \"c\" DROP NOT NULL;"
    );
    assert!(invalid(op.alter_column("t", "c").to_sql()).contains("changes nothing"));
    assert!(
        op.alter_column("t", "c")
            .set_type_using(Type::Text, "")
            .to_sql()
            .is_err()
    );
}

#[test]
fn constraints() {
    let mut op = op();
    assert_eq!(
        op.add_foreign_key(
            "tasks",
            ["primary_sprint"],
            ForeignKey::to("sprints", "id").on_delete(FkAction::Cascade),
        )
        .to_sql()
        .unwrap(),
        r#"ALTER TABLE "tasks" ADD FOREIGN KEY ("primary_sprint") REFERENCES "sprints" ("id") ON DELETE CASCADE;"#
    );
    assert_eq!(
        op.drop_constraint("tasks", "tasks_primary_sprint_fkey")
            .if_exists()
            .to_sql()
            .unwrap(),
        r#"ALTER TABLE "tasks" DROP CONSTRAINT IF EXISTS "tasks_primary_sprint_fkey";"#
    );
}

#[test]
fn execute_sends_ddl_as_a_batch_and_values_as_parameters() {
    let mut op = op();
    op.create_table("notes")
        .column(Column::new("id", Type::BigSerial).primary_key())
        .execute()
        .unwrap();
    let evil = "'); DROP TABLE notes; --";
    op.execute(
        r#"INSERT INTO "notes" ("body") VALUES ($1)"#,
        &[evil.into()],
    )
    .unwrap();
    op.execute_many(
        "INSERT INTO t VALUES ($1, $2)",
        &[
            vec![1i32.into(), None::<&str>.into()],
            vec![2i32.into(), "b".into()],
        ],
    )
    .unwrap();
    op.batch("SELECT 1; SELECT 2;").unwrap();
    op.query("SELECT 1", &[]).unwrap();
    op.info("done");
    assert_eq!(
        op.calls(),
        &[
            Call::Batch {
                script: "CREATE TABLE \"notes\" (\n    \"id\" bigserial PRIMARY KEY\n);".into()
            },
            Call::Execute {
                sql: r#"INSERT INTO "notes" ("body") VALUES ($1)"#.into(),
                params: vec![Value::Text(evil.into())],
            },
            Call::ExecuteMany {
                sql: "INSERT INTO t VALUES ($1, $2)".into(),
                rows: vec![
                    vec![Value::Int4(1), Value::Null],
                    vec![Value::Int4(2), Value::Text("b".into())]
                ],
            },
            Call::Batch {
                script: "SELECT 1; SELECT 2;".into()
            },
            Call::Query {
                sql: "SELECT 1".into(),
                params: vec![]
            },
            Call::Log {
                level: Level::Info,
                message: "done".into()
            },
        ]
    );
}

#[test]
fn invalid_statements_send_nothing() {
    let mut op = op();
    let err = op.drop_table("").execute().unwrap_err();
    assert!(err.to_string().starts_with("invalid migration: "));
    assert!(op.calls().is_empty());
}

#[test]
fn recording_context() {
    let op = Op::recording(Direction::Downgrade);
    assert_eq!(op.direction(), Direction::Downgrade);
    assert_eq!(op.mode(), Mode::Offline);
    assert!(op.is_offline());
    assert_eq!(op.config("anything"), None);
}

#[test]
fn value_conversions() {
    assert_eq!(Value::from(true), Value::Boolean(true));
    assert_eq!(Value::from(7i16), Value::Int2(7));
    assert_eq!(Value::from(7i64), Value::Int8(7));
    assert_eq!(Value::from(1.5f64), Value::Float8(1.5));
    assert_eq!(Value::from(String::from("s")), Value::Text("s".into()));
    assert_eq!(Value::from(vec![1u8, 2]), Value::Bytea(vec![1, 2]));
    assert_eq!(Value::from(None::<i32>), Value::Null);
    assert_eq!(Value::jsonb("{}"), Value::Jsonb("{}".into()));
    assert_eq!(Value::Int4(3).as_i64(), Some(3));
    assert_eq!(Value::Uuid("u".into()).as_str(), Some("u"));
    assert_eq!(Value::Float4(0.5).as_f64(), Some(0.5));
    assert_eq!(Value::Boolean(false).as_bool(), Some(false));
    assert!(Value::Null.is_null());
    assert_eq!(Value::Null.as_str(), None);
}

#[test]
fn rows_lookup_by_name() {
    let rows = Rows {
        columns: vec![
            ResultColumn {
                name: "id".into(),
                type_name: "int4".into(),
            },
            ResultColumn {
                name: "name".into(),
                type_name: "text".into(),
            },
        ],
        values: vec![vec![Value::Int4(1), Value::Text("a".into())]],
    };
    assert_eq!(rows.len(), 1);
    assert!(!rows.is_empty());
    assert_eq!(rows.get(0, "name"), Some(&Value::Text("a".into())));
    assert_eq!(rows.get(0, "missing"), None);
    assert_eq!(rows.get(1, "id"), None);
}

#[test]
fn db_errors_carry_sqlstate_message_detail_and_hint() {
    let e = |detail: Option<&str>, hint: Option<&str>| {
        Error::from(DbError {
            sqlstate: "42P07".into(),
            message: r#"relation "projects" already exists"#.into(),
            detail: detail.map(Into::into),
            hint: hint.map(Into::into),
        })
    };
    assert_eq!(
        e(None, None).to_string(),
        r#"42P07: relation "projects" already exists"#
    );
    assert_eq!(
        e(Some("d"), Some("h")).to_string(),
        r#"42P07: relation "projects" already exists (detail: d, hint: h)"#
    );
    assert_eq!(
        e(Some("d"), None).to_string(),
        r#"42P07: relation "projects" already exists (detail: d)"#
    );
    assert_eq!(
        e(None, Some("h")).to_string(),
        r#"42P07: relation "projects" already exists (hint: h)"#
    );
    assert_eq!(e(None, None).sqlstate(), Some("42P07"));
    assert_eq!(Error::msg("boom").to_string(), "boom");
    assert_eq!(Error::from("boom").sqlstate(), None);
}

#[test]
fn run_flattens_errors_to_text() {
    let failed = __private::run_with(op(), |op| op.drop_table("").execute());
    assert_eq!(failed.unwrap_err(), "invalid migration: empty identifier");
    let own = __private::run_with(op(), |_| Err::<(), _>("deliberate failure"));
    assert_eq!(own.unwrap_err(), "deliberate failure");
    assert_eq!(__private::run_with(op(), |_| Ok::<(), Error>(())), Ok(()));
}

#[test]
fn info_defaults() {
    let info = __private::info("abc", &["p1", "p2"], &[], &["d"], "msg", true);
    assert_eq!(info.id, "abc");
    assert_eq!(
        info.down_revisions,
        vec!["p1".to_string(), "p2".to_string()]
    );
    assert!(info.branch_labels.is_empty());
    assert_eq!(info.depends_on, vec!["d".to_string()]);
    assert!(__private::transactional(&[]));
    assert!(!__private::transactional(&[false]));
}
