//! Schema fingerprints against a real PostgreSQL: every test creates its own
//! databases and drops them.

use host::fingerprint::{Schema, Scope};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// A database that lives as long as the test, with an async client.
struct TestDb {
    _db: crate::common::TestDb,
    client: Client,
}

impl TestDb {
    async fn new() -> TestDb {
        let (client, db) = crate::common::async_db().await;
        TestDb { _db: db, client }
    }

    async fn run(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    async fn run_all(&self, statements: &[&str]) {
        for s in statements {
            self.run(s).await;
        }
    }

    async fn read(&self) -> Schema {
        Schema::read(&self.client, &Scope::default()).await.unwrap()
    }
}

/// Fails with the differences in words, which say more than two hashes.
fn assert_same(a: &Schema, b: &Schema) {
    let diff = Schema::diff(a, b, "the reference");
    assert!(diff.is_empty(), "schemas differ:\n{}", diff.join("\n"));
    assert_eq!(a.canonical(), b.canonical());
    assert_eq!(a.fingerprint(), b.fingerprint());
}

// A TaskMan-like schema in pieces that can be created in more than one
// order. Foreign keys, CHECKs and indexes have no names: PostgreSQL picks them.
const PRELUDE: &[&str] = &[
    "CREATE EXTENSION citext",
    "CREATE EXTENSION btree_gist",
    "CREATE TYPE task_status AS ENUM ('todo', 'doing', 'done')",
    "CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)",
];

const PROJECTS: &str = "CREATE TABLE projects (id serial PRIMARY KEY, name varchar(200) NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())";
const USERS: &str = "CREATE TABLE users (id bigserial PRIMARY KEY, email citext NOT NULL UNIQUE, display_name text)";
const MEMBERS: &str = "CREATE TABLE members (id bigint PRIMARY KEY, since date)";
const SPRINTS: &str = "CREATE TABLE sprints (id serial PRIMARY KEY, project_id integer NOT NULL, name text NOT NULL, starts_on date, ends_on date, CHECK (ends_on >= starts_on))";
const TASKS: &str = "CREATE TABLE tasks (id serial PRIMARY KEY, project_id integer NOT NULL, sprint_id integer, owner_id bigint,
    title varchar(200) NOT NULL, status task_status NOT NULL DEFAULT 'todo', priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 5),
    estimate positive_int, tags text[] DEFAULT '{}', search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED,
    created_at timestamptz DEFAULT now())";
/// The same table created with a column that is dropped again: attnums get a gap.
const TASKS_WITH_GAP: &str = "CREATE TABLE tasks (id serial PRIMARY KEY, junk integer, project_id integer NOT NULL, sprint_id integer, owner_id bigint,
    title varchar(200) NOT NULL, status task_status NOT NULL DEFAULT 'todo', priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 5),
    estimate positive_int, tags text[] DEFAULT '{}', search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED,
    created_at timestamptz DEFAULT now());
    ALTER TABLE tasks DROP COLUMN junk";
const ACTION_LISTS: &str = "CREATE TABLE action_lists (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, task_id integer NOT NULL,
    body jsonb NOT NULL DEFAULT '{}'::jsonb, position integer NOT NULL, UNIQUE (task_id, position))";
const EVENTS: &str = "CREATE TABLE events (id bigserial, at timestamptz NOT NULL, kind text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)";
const EVENTS_2024: &str =
    "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')";
const EVENTS_2025: &str =
    "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')";
const BOOKINGS: &str = "CREATE TABLE bookings (room integer, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&))";

const FOREIGN_KEYS: &[&str] = &[
    "ALTER TABLE sprints ADD FOREIGN KEY (project_id) REFERENCES projects ON DELETE CASCADE",
    "ALTER TABLE tasks ADD FOREIGN KEY (project_id) REFERENCES projects ON DELETE CASCADE",
    "ALTER TABLE tasks ADD FOREIGN KEY (sprint_id) REFERENCES sprints ON DELETE SET NULL",
    // Two foreign keys on one column: which one is `_fkey1` depends on order.
    "ALTER TABLE tasks ADD FOREIGN KEY (owner_id) REFERENCES users",
    "ALTER TABLE tasks ADD FOREIGN KEY (owner_id) REFERENCES members",
    "ALTER TABLE action_lists ADD FOREIGN KEY (task_id) REFERENCES tasks ON DELETE CASCADE",
];

const CHECKS: &[&str] = &[
    // With the inline CHECK these make tasks_priority_check, _check1, _check2 in creation order.
    "ALTER TABLE tasks ADD CHECK (priority >= 0)",
    "ALTER TABLE tasks ADD CHECK (priority <= 5)",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX idx_tasks_status ON tasks (status)",
    "CREATE INDEX ON tasks (project_id, status)",
    "CREATE INDEX ON tasks USING gin (tags)",
    "CREATE INDEX ON tasks (lower(title))",
    "CREATE UNIQUE INDEX ON users (lower(display_name)) WHERE display_name IS NOT NULL",
    // Two unnamed indexes on one column: tasks_created_at_idx and _idx1 in creation order.
    "CREATE INDEX ON tasks (created_at)",
    "CREATE INDEX ON tasks USING brin (created_at)",
    "CREATE INDEX ON events (kind)",
];

const ROUTINES: &[&str] = &[
    "CREATE SEQUENCE invoice_no START 1000 INCREMENT 5",
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.created_at := now(); RETURN NEW; END$$",
    "CREATE FUNCTION task_count(p integer) RETURNS bigint LANGUAGE sql STABLE AS $$SELECT count(*) FROM tasks WHERE project_id = p$$",
    "CREATE PROCEDURE archive() LANGUAGE sql AS $$DELETE FROM tasks WHERE status = 'done'$$",
    "CREATE VIEW open_tasks AS SELECT id, title FROM tasks WHERE status <> 'done'",
    "CREATE MATERIALIZED VIEW project_counts AS SELECT project_id, count(*) AS n FROM tasks GROUP BY project_id",
    "CREATE UNIQUE INDEX ON project_counts (project_id)",
    "CREATE TRIGGER tasks_touch BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION touch()",
    "COMMENT ON TABLE tasks IS 'Work items'",
    "COMMENT ON COLUMN tasks.title IS 'Short title'",
];

/// The schema in the order a first revision would write it.
async fn build_forward(db: &TestDb) {
    db.run_all(PRELUDE).await;
    db.run_all(&[
        PROJECTS,
        USERS,
        MEMBERS,
        SPRINTS,
        TASKS,
        ACTION_LISTS,
        EVENTS,
        EVENTS_2024,
        EVENTS_2025,
        BOOKINGS,
    ])
    .await;
    db.run_all(FOREIGN_KEYS).await;
    db.run_all(CHECKS).await;
    db.run_all(INDEXES).await;
    db.run_all(ROUTINES).await;
}

/// The same schema in another order, after leftovers that shift OIDs, take
/// the names PostgreSQL would generate, and leave a gap in a table's attnums.
async fn build_backward(db: &TestDb) {
    db.run_all(&[
        "CREATE TABLE junk (a int, b text); DROP TABLE junk",
        "CREATE FUNCTION junk() RETURNS int LANGUAGE sql AS 'SELECT 1'; DROP FUNCTION junk()",
    ])
    .await;
    let mut prelude = PRELUDE.to_vec();
    prelude.reverse();
    // The domain and the enum do not depend on the extensions, so types go first here.
    db.run_all(&prelude).await;
    // tasks_id_seq is taken while tasks is created, so its serial gets tasks_id_seq1.
    db.run("CREATE SEQUENCE tasks_id_seq").await;
    db.run_all(&[
        BOOKINGS,
        EVENTS,
        EVENTS_2025,
        EVENTS_2024,
        ACTION_LISTS,
        TASKS_WITH_GAP,
        SPRINTS,
        MEMBERS,
        USERS,
        PROJECTS,
    ])
    .await;
    db.run("DROP SEQUENCE tasks_id_seq").await;
    for s in FOREIGN_KEYS.iter().rev() {
        db.run(s).await;
    }
    for s in CHECKS.iter().rev() {
        db.run(s).await;
    }
    for s in INDEXES.iter().rev() {
        db.run(s).await;
    }
    db.run_all(&[
        ROUTINES[3],
        ROUTINES[2],
        ROUTINES[1],
        ROUTINES[0],
        ROUTINES[5],
        ROUTINES[6],
        ROUTINES[4],
        ROUTINES[9],
        ROUTINES[8],
        ROUTINES[7],
    ])
    .await;
}

async fn names(db: &TestDb, sql: &str) -> BTreeSet<String> {
    db.client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

#[tokio::test]
async fn creation_order_and_generated_names_do_not_change_the_fingerprint() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    build_forward(&a).await;
    build_backward(&b).await;

    // The two really did get different generated names.
    let seq_a = names(&a, "SELECT pg_get_serial_sequence('tasks', 'id')").await;
    let seq_b = names(&b, "SELECT pg_get_serial_sequence('tasks', 'id')").await;
    assert_eq!(seq_a, BTreeSet::from(["public.tasks_id_seq".to_string()]));
    assert_eq!(seq_b, BTreeSet::from(["public.tasks_id_seq1".to_string()]));
    let fk = "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conname LIKE 'tasks_owner_id_fkey%'";
    assert_ne!(names(&a, fk).await, names(&b, fk).await);
    let check = "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conname LIKE 'tasks_priority_check%'";
    assert_ne!(names(&a, check).await, names(&b, check).await);
    let idx = "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE indexname LIKE 'tasks_created_at_idx%'";
    assert_ne!(names(&a, idx).await, names(&b, idx).await);

    let (sa, sb) = (a.read().await, b.read().await);
    assert_same(&sa, &sb);

    let text = sa.canonical();
    println!("{text}");
    // Everything asked for is there.
    for needle in [
        "table public.tasks\t{\"comment\":\"Work items\"}",
        "column public.tasks.title\t",
        "column public.tasks.id\t{\"default\":\"nextval(<sequence for column public.tasks.id>)\",\"not null\":\"NOT NULL\",\"position\":\"1\",\"type\":\"integer\"}",
        "column public.events_2024.id\t{\"default\":\"nextval(<sequence for column public.events.id>)\"",
        "column public.tasks.project_id\t{\"not null\":\"NOT NULL\",\"position\":\"2\",\"type\":\"integer\"}",
        "sequence for column public.tasks.id\t",
        "sequence for column public.action_lists.id\t",
        "sequence public.invoice_no\t",
        "constraint public.tasks PRIMARY KEY\t",
        "constraint public.tasks FOREIGN KEY (project_id)\t{\"definition\":\"FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE\"}",
        "constraint public.tasks FOREIGN KEY (owner_id) REFERENCES public.members(id)\t",
        "constraint public.tasks FOREIGN KEY (owner_id) REFERENCES public.users(id)\t",
        "constraint public.tasks CHECK ((priority >= 0))\t",
        "constraint public.action_lists UNIQUE (task_id, \"position\")\t",
        "constraint public.bookings EXCLUDE USING gist (room WITH =, during WITH &&)\t",
        "index public.idx_tasks_status\t{\"definition\":\"CREATE INDEX ON public.tasks USING btree (status)\"}",
        "index public.tasks USING brin (created_at)\t",
        "index public.tasks USING btree (lower((title)::text))\t",
        "index public.users UNIQUE USING btree (lower(display_name)) WHERE (display_name IS NOT NULL)\t",
        "index public.project_counts UNIQUE USING btree (project_id)\t",
        "index public.events USING btree (kind)\t",
        "table public.events\t{\"partition by\":\"RANGE (at)\"}",
        "table public.events_2024\t{\"partition of\":\"public.events FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')\"}",
        "view public.open_tasks\t",
        "materialized view public.project_counts\t",
        "function public.touch()\t",
        "function public.task_count(integer)\t",
        "procedure public.archive()\t",
        "trigger public.tasks.tasks_touch\t{\"definition\":\"CREATE TRIGGER tasks_touch BEFORE INSERT ON public.tasks FOR EACH ROW EXECUTE FUNCTION public.touch()\"}",
        "type public.task_status\t{\"definition\":\"ENUM ('todo', 'doing', 'done')\"}",
        "domain public.positive_int\t{\"constraints\":\"CHECK ((VALUE > 0))\",\"type\":\"integer\"}",
        "extension citext\t{\"schema\":\"public\",\"version\":\"1.6\"}",
        "extension plpgsql\t",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // No generated name made it in, and nothing an extension owns.
    for absent in [
        "tasks_pkey",
        "tasks_id_seq",
        "_fkey",
        "_check",
        "_idx",
        "_key",
        "citextin",
        "gbtreekey",
        "junk",
    ] {
        assert!(!text.contains(absent), "{absent:?} in\n{text}");
    }
}

#[tokio::test]
async fn oids_differ_but_never_appear() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    build_forward(&a).await;
    build_backward(&b).await;
    let oid = "SELECT 'tasks'::regclass::oid::text";
    assert_ne!(names(&a, oid).await, names(&b, oid).await);
    let (sa, sb) = (a.read().await, b.read().await);
    assert_same(&sa, &sb);
    for (db, schema) in [(&a, &sa), (&b, &sb)] {
        let oids = names(
            db,
            "SELECT oid::text FROM pg_class WHERE oid >= 16384 UNION SELECT oid::text FROM pg_type WHERE oid >= 16384
             UNION SELECT oid::text FROM pg_proc WHERE oid >= 16384 UNION SELECT oid::text FROM pg_constraint WHERE oid >= 16384
             UNION SELECT oid::text FROM pg_trigger WHERE oid >= 16384 UNION SELECT oid::text FROM pg_namespace WHERE oid >= 16384
             UNION SELECT oid::text FROM pg_extension WHERE oid >= 16384",
        )
        .await;
        assert!(oids.len() > 50);
        let text = schema.canonical();
        let numbers: BTreeSet<String> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let leaked: Vec<&String> = numbers.intersection(&oids).collect();
        assert!(leaked.is_empty(), "OIDs {leaked:?} in\n{text}");
    }
}

#[tokio::test]
async fn manual_changes_are_reported_in_words() {
    let db = TestDb::new().await;
    build_forward(&db).await;
    let expected = db.read().await;
    db.run_all(&[
        "ALTER TABLE tasks ADD COLUMN email text",
        "ALTER TABLE projects ALTER COLUMN name TYPE varchar(500)",
        "ALTER TABLE sprints ALTER COLUMN name DROP NOT NULL",
        "ALTER TABLE tasks ALTER COLUMN priority SET DEFAULT 3",
        "DROP INDEX idx_tasks_status",
        "ALTER TABLE projects ADD CHECK (length(name) > 0)",
        "ALTER TABLE tasks DROP CONSTRAINT tasks_sprint_id_fkey",
        "ALTER TABLE tasks ADD FOREIGN KEY (sprint_id) REFERENCES sprints ON DELETE CASCADE",
        "CREATE OR REPLACE VIEW open_tasks AS SELECT id, title FROM tasks WHERE status = 'todo'",
        "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.created_at := clock_timestamp(); RETURN NEW; END$$",
        "CREATE TRIGGER tasks_touch_update BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION touch()",
        "ALTER TYPE task_status ADD VALUE 'blocked'",
    ])
    .await;
    let actual = db.read().await;
    let diff = Schema::diff(&expected, &actual, "934f38a4fc73");
    println!("{}", diff.join("\n"));
    let want = [
        "column tasks.email exists in the database but not after 934f38a4fc73",
        "column projects.name is character varying(500) in the database but character varying(200) after 934f38a4fc73",
        "column sprints.name is nullable in the database but NOT NULL after 934f38a4fc73",
        "column tasks.priority has default 3 in the database but default 0 after 934f38a4fc73",
        "index idx_tasks_status is missing from the database (expected after 934f38a4fc73)",
        "constraint projects CHECK ((length((name)::text) > 0)) exists in the database but not after 934f38a4fc73",
        "constraint tasks FOREIGN KEY (sprint_id) is FOREIGN KEY (sprint_id) REFERENCES public.sprints(id) ON DELETE CASCADE in the database but FOREIGN KEY (sprint_id) REFERENCES public.sprints(id) ON DELETE SET NULL after 934f38a4fc73",
        "view open_tasks has a different definition in the database than after 934f38a4fc73: line 4 is `WHERE (tasks.status = 'todo'::public.task_status);` in the database but `WHERE (tasks.status <> 'done'::public.task_status);` after 934f38a4fc73",
        "function touch() has a different definition in the database than after 934f38a4fc73: line 4 is `AS $function$BEGIN NEW.created_at := clock_timestamp(); RETURN NEW; END$function$` in the database but `AS $function$BEGIN NEW.created_at := now(); RETURN NEW; END$function$` after 934f38a4fc73",
        "trigger tasks.tasks_touch_update exists in the database but not after 934f38a4fc73",
        "type task_status is ENUM ('todo', 'doing', 'done', 'blocked') in the database but ENUM ('todo', 'doing', 'done') after 934f38a4fc73",
    ];
    let got: BTreeSet<&str> = diff.iter().map(String::as_str).collect();
    let want: BTreeSet<&str> = want.into_iter().collect();
    assert_eq!(got, want, "got:\n{}", diff.join("\n"));
    assert_ne!(expected.fingerprint(), actual.fingerprint());
}

#[tokio::test]
async fn bookkeeping_tables_are_left_out() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    for db in [&a, &b] {
        db.run_all(&[PROJECTS, MEMBERS, SPRINTS]).await;
    }
    // What the host's store creates, and a row in each.
    a.run(
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
         CREATE TABLE host_history (id bigserial PRIMARY KEY, revision varchar(32) NOT NULL,
            direction text NOT NULL CHECK (direction IN ('upgrade', 'downgrade', 'stamp')),
            component_blake3 text, transcript_blake3 text, applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            duration_ms double precision NOT NULL, host_version text NOT NULL);
         CREATE INDEX ON host_history (revision);
         INSERT INTO alembic_version VALUES ('934f38a4fc73');
         INSERT INTO host_history (revision, direction, duration_ms, host_version) VALUES ('934f38a4fc73', 'upgrade', 1, '0.1.0')",
    )
    .await;
    assert_same(&a.read().await, &b.read().await);

    // With nothing excluded they are there, whole, with their sequence and index.
    let everything = Scope {
        exclude_tables: vec![],
        ..Scope::default()
    };
    let sa = Schema::read(&a.client, &everything).await.unwrap();
    let sb = Schema::read(&b.client, &everything).await.unwrap();
    let text = sa.canonical();
    assert!(
        text.contains("sequence for column public.host_history.id\t"),
        "{text}"
    );
    assert!(
        text.contains("index public.host_history USING btree (revision)\t"),
        "{text}"
    );
    assert!(
        text.contains("constraint public.alembic_version.alembic_version_pkc\t"),
        "{text}"
    );
    assert_eq!(
        Schema::diff(&sb, &sa, "r"),
        vec![
            "table alembic_version exists in the database but not after r",
            "table host_history exists in the database but not after r",
        ]
    );

    // Qualified names exclude in one schema only.
    a.run("CREATE SCHEMA audit; CREATE TABLE audit.host_history (id int)")
        .await;
    let two = Scope {
        schemas: vec!["public".into(), "audit".into()],
        exclude_tables: vec!["public.host_history".into(), "alembic_version".into()],
    };
    let text = Schema::read(&a.client, &two).await.unwrap().canonical();
    assert!(text.contains("table audit.host_history\t"), "{text}");
    assert!(!text.contains("table public.host_history"), "{text}");
    assert!(text.contains("schema audit\t"), "{text}");
}

#[tokio::test]
async fn long_names_are_recognised_as_generated() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    let table = "t".repeat(60);
    let column = "a_rather_long_column_name_for_a_reference_x";
    let ddl = format!(
        "CREATE TABLE parent_with_a_long_name_too (id serial PRIMARY KEY, code text UNIQUE);
         CREATE TABLE {table} (id bigserial PRIMARY KEY, {column} integer REFERENCES parent_with_a_long_name_too,
            code text, CHECK ({column} > 0), UNIQUE ({column}, code));
         CREATE INDEX ON {table} ({column}, code, id)"
    );
    a.run(&ddl).await;
    let query = "SELECT conname FROM pg_constraint WHERE conrelid = (SELECT oid FROM pg_class WHERE relname = repeat('t', 60))
         UNION SELECT relname FROM pg_class WHERE relname LIKE 'tttt%' AND relname <> repeat('t', 60)";
    let generated = names(&a, query).await;
    assert_eq!(generated.len(), 6, "{generated:?}");
    assert!(generated.iter().all(|n| n.len() == 63), "{generated:?}");
    // In b every one of those names is taken, as a relation and as a
    // constraint, while the table is created: PostgreSQL numbers them all.
    let mut block = String::new();
    let mut unblock = String::new();
    for (i, n) in generated.iter().enumerate() {
        block.push_str(&format!(
            "CREATE SEQUENCE \"{n}\"; CREATE TABLE blocker_{i} (x int CONSTRAINT \"{n}\" CHECK (x > 0));\n"
        ));
        unblock.push_str(&format!("DROP SEQUENCE \"{n}\"; DROP TABLE blocker_{i};\n"));
    }
    b.run(&block).await;
    b.run(&ddl).await;
    b.run(&unblock).await;
    let numbered = names(&b, query).await;
    assert!(numbered.is_disjoint(&generated), "{numbered:?}");
    assert!(
        numbered.iter().all(|n| n.len() == 63 && n.ends_with('1')),
        "{numbered:?}"
    );
    let (sa, sb) = (a.read().await, b.read().await);
    assert_same(&sa, &sb);
    let text = sa.canonical();
    for n in &generated {
        assert!(!text.contains(n.as_str()), "{n} in\n{text}");
    }
    assert!(!text.contains("\"name\""), "{text}");
}

#[tokio::test]
async fn chosen_and_stale_names_are_kept() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    a.run("CREATE TABLE todo (id serial PRIMARY KEY, CONSTRAINT positive CHECK (id > 0)); ALTER TABLE todo RENAME TO tasks")
        .await;
    b.run("CREATE TABLE tasks (id serial PRIMARY KEY, CHECK (id > 0))")
        .await;
    let diff = Schema::diff(&b.read().await, &a.read().await, "r1");
    assert_eq!(
        diff,
        vec![
            "constraint tasks CHECK ((id > 0)) is missing from the database (expected after r1)",
            "constraint tasks PRIMARY KEY is missing from the database (expected after r1)",
            "constraint tasks.positive exists in the database but not after r1",
            "constraint tasks.todo_pkey exists in the database but not after r1",
            "sequence for column tasks.id is named public.todo_id_seq in the database but named as PostgreSQL generates it after r1",
        ]
    );
}

async fn show(c: &Client) -> String {
    let row = c
        .query_one(
            "SELECT current_setting('search_path') || ' | ' || current_setting('DateStyle') || ' | ' || current_setting('TimeZone')",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn the_callers_settings_survive_a_read() {
    let db = TestDb::new().await;
    db.run(PROJECTS).await;
    db.run("SET search_path = public, pg_temp; SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Europe/Paris'")
        .await;
    let session = show(&db.client).await;
    let outside = db.read().await;
    assert_eq!(show(&db.client).await, session);

    // Inside the caller's transaction, with values of its own.
    db.run("BEGIN; SET LOCAL search_path = pg_temp, public; SET LOCAL TimeZone = 'Asia/Tokyo'")
        .await;
    let local = show(&db.client).await;
    let inside = db.read().await;
    assert_eq!(show(&db.client).await, local);
    db.run("COMMIT").await;
    assert_eq!(show(&db.client).await, session);
    assert_same(&outside, &inside);
}

/// About 30 tables of the shape migrations produce: timing of `read`.
#[tokio::test]
async fn repeated_reads_of_thirty_tables_agree() {
    let db = TestDb::new().await;
    let mut ddl = String::from("CREATE TYPE state AS ENUM ('new', 'open', 'closed');\n");
    for i in 0..30 {
        let fk = if i > 0 {
            format!(", parent_id bigint REFERENCES t{} ON DELETE CASCADE", i - 1)
        } else {
            String::new()
        };
        ddl.push_str(&format!(
            "CREATE TABLE t{i} (id bigserial PRIMARY KEY, name varchar(200) NOT NULL, state state NOT NULL DEFAULT 'new',
                amount numeric(12,2) CHECK (amount >= 0), tags text[], data jsonb DEFAULT '{{}}'::jsonb,
                created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz{fk}, UNIQUE (name));
             CREATE INDEX ON t{i} (state, created_at);
             CREATE INDEX idx_t{i}_tags ON t{i} USING gin (tags);
             COMMENT ON TABLE t{i} IS 'table {i}';\n"
        ));
    }
    ddl.push_str(
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$;
         CREATE VIEW recent AS SELECT id, name FROM t0 WHERE created_at > now() - interval '1 day';",
    );
    for i in 0..30 {
        ddl.push_str(&format!(
            "CREATE TRIGGER t{i}_stamp BEFORE UPDATE ON t{i} FOR EACH ROW EXECUTE FUNCTION stamp();\n"
        ));
    }
    db.run(&ddl).await;
    let first = db.read().await;
    let mut times = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let s = db.read().await;
        times.push(started.elapsed());
        assert_eq!(s, first);
    }
    times.sort();
    let objects = first.objects.len();
    let total: Duration = times.iter().sum();
    println!(
        "read of {objects} objects ({} bytes canonical): min {:?}, median {:?}, max {:?}, mean {:?}",
        first.canonical().len(),
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        total / times.len() as u32
    );
    assert!(objects > 30 * 14, "{objects}");
}
