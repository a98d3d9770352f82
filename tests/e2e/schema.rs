//! The TaskMan-v2 schema at head, written out from taskman-schema.md (not
//! from the guests' source), and a catalog reader to compare against.

use std::collections::BTreeMap;

/// (column, type as `format_type` prints it, NOT NULL, default)
pub type Col = (String, String, bool, Option<String>);

fn parse(spec: &str) -> Vec<Col> {
    spec.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, rest) = l.split_once(' ').unwrap();
            let (ty, null) = rest.rsplit_once(' ').unwrap();
            let ty = ty
                .replace("varchar", "character varying")
                .replace("timestamptz", "timestamp with time zone")
                .replace("float", "double precision");
            (name.to_string(), ty, null == "NN", None)
        })
        .chain(["created_at", "updated_at"].iter().map(|c| {
            (
                c.to_string(),
                "timestamp with time zone".to_string(),
                true,
                Some("now()".to_string()),
            )
        }))
        .collect()
}

/// Columns of a table at `a1b2c3d4e5f6` (before phases), in order.
pub fn columns_before_phases(table: &str) -> Vec<Col> {
    parse(match table {
        "projects" => PROJECTS,
        "sprints" => SPRINTS,
        "tasks" => TASKS,
        "action_lists" => ACTION_LISTS,
        _ => panic!("unknown table {table}"),
    })
}

/// Columns of a table at head, in order: revision 3 appends its columns.
pub fn columns_at_head(table: &str) -> Vec<Col> {
    let mut cols = columns_before_phases(table);
    let add = |cols: &mut Vec<Col>, name: &str, ty: &str, nn: bool| {
        cols.push((name.into(), ty.into(), nn, None))
    };
    match table {
        "projects" | "sprints" => {
            add(&mut cols, "phases", "jsonb", true);
            add(&mut cols, "pending_reason", "character varying(500)", false);
            add(&mut cols, "blocked_reason", "character varying(500)", false);
        }
        "tasks" => add(&mut cols, "phases", "jsonb", true),
        _ => {}
    }
    cols
}

const PROJECTS: &str = "
    id varchar(50) NN
    name varchar(200) NN
    mission text NN
    status varchar(20) NN
    start_date date NN
    target_end_date date NULL
    owner varchar(100) NN
    sponsors jsonb NN
    stakeholders jsonb NN
    repositories jsonb NN
    comms_channels jsonb NN
    okrs jsonb NN
    kpis jsonb NN
    roadmap jsonb NN
    risks jsonb NN
    assumptions jsonb NN
    constraints jsonb NN
    dependencies_external jsonb NN
    sprints jsonb NN
    related_projects jsonb NN
    shared_components jsonb NN
    security_posture text NULL
    compliance_requirements jsonb NN
    governance jsonb NN
    success_metrics jsonb NN
    mpv_policy jsonb NN
    tnve_mandate boolean NULL
    evidence_root varchar(500) NULL
    observability jsonb NN";

const SPRINTS: &str = "
    id varchar(50) NN
    name varchar(200) NN
    goal text NN
    cadence varchar(20) NN
    start_date date NN
    end_date date NN
    status varchar(20) NN
    owner varchar(100) NN
    primary_project varchar(50) NN
    tasks jsonb NN
    imported_tasks jsonb NN
    related_projects jsonb NN
    velocity_target_points float NULL
    committed_points float NULL
    actual_points float NULL
    carried_over_points float NULL
    definition_of_done jsonb NN
    dependencies jsonb NN
    scope_changes jsonb NN
    risks jsonb NN
    ceremonies jsonb NN
    metrics jsonb NN
    timezone varchar(50) NULL
    observability jsonb NN";

const TASKS: &str = "
    id varchar(50) NN
    title varchar(500) NN
    summary text NN
    description text NN
    status varchar(20) NN
    owner varchar(100) NN
    assignees jsonb NN
    priority varchar(20) NN
    severity varchar(20) NULL
    primary_project varchar(50) NN
    primary_sprint varchar(50) NN
    related_projects jsonb NN
    related_sprints jsonb NN
    estimate_points float NULL
    actual_time_hours float NULL
    due_at timestamptz NULL
    parents jsonb NN
    depends_on jsonb NN
    blocks jsonb NN
    blockers jsonb NN
    acceptance_criteria jsonb NN
    definition_of_done jsonb NN
    quality_gates jsonb NN
    verification jsonb NN
    actions_taken jsonb NN
    labels jsonb NN
    related_links jsonb NN
    shape varchar(20) NULL
    stage varchar(50) NULL
    work_type varchar(50) NULL
    work_stream varchar(100) NULL
    business_value_score integer NULL
    cost_of_delay_score integer NULL
    automation_candidate boolean NULL
    cycle_time_days float NULL
    risks jsonb NN
    observability jsonb NN";

const ACTION_LISTS: &str = "
    id varchar(50) NN
    title varchar(255) NN
    description text NULL
    status varchar(20) NN
    owner varchar(100) NULL
    tags jsonb NN
    project_id varchar(50) NULL
    sprint_id varchar(50) NULL
    items jsonb NN
    geometry_shape varchar(20) NULL
    priority varchar(20) NULL
    due_date timestamptz NULL
    evidence_refs jsonb NN
    extra_metadata jsonb NN
    notes text NULL
    parent_deleted_at timestamptz NULL
    parent_deletion_note jsonb NN
    completed_at timestamptz NULL";

/// Every index at head: (table, index, columns in order).
pub fn indexes_at_head() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        ("projects", "idx_projects_status", vec!["status"]),
        ("projects", "idx_projects_owner", vec!["owner"]),
        ("projects", "idx_projects_start_date", vec!["start_date"]),
        ("projects", "idx_projects_created_at", vec!["created_at"]),
        ("projects", "idx_projects_updated_at", vec!["updated_at"]),
        ("sprints", "idx_sprints_status", vec!["status"]),
        (
            "sprints",
            "idx_sprints_primary_project",
            vec!["primary_project"],
        ),
        ("sprints", "idx_sprints_owner", vec!["owner"]),
        ("sprints", "idx_sprints_start_date", vec!["start_date"]),
        ("sprints", "idx_sprints_end_date", vec!["end_date"]),
        (
            "sprints",
            "idx_sprints_project_status",
            vec!["primary_project", "status"],
        ),
        ("sprints", "idx_sprints_created_at", vec!["created_at"]),
        ("sprints", "idx_sprints_updated_at", vec!["updated_at"]),
        ("tasks", "idx_tasks_status", vec!["status"]),
        ("tasks", "idx_tasks_priority", vec!["priority"]),
        ("tasks", "idx_tasks_owner", vec!["owner"]),
        (
            "tasks",
            "idx_tasks_primary_project",
            vec!["primary_project"],
        ),
        ("tasks", "idx_tasks_primary_sprint", vec!["primary_sprint"]),
        (
            "tasks",
            "idx_tasks_status_priority",
            vec!["status", "priority"],
        ),
        (
            "tasks",
            "idx_tasks_project_status",
            vec!["primary_project", "status"],
        ),
        (
            "tasks",
            "idx_tasks_sprint_status",
            vec!["primary_sprint", "status"],
        ),
        ("tasks", "idx_tasks_created_at", vec!["created_at"]),
        ("tasks", "idx_tasks_updated_at", vec!["updated_at"]),
        ("action_lists", "idx_action_lists_owner", vec!["owner"]),
        (
            "action_lists",
            "idx_action_lists_sprint_id",
            vec!["sprint_id"],
        ),
        (
            "action_lists",
            "idx_action_lists_project_id",
            vec!["project_id"],
        ),
        (
            "action_lists",
            "idx_action_lists_project_status",
            vec!["project_id", "status"],
        ),
        (
            "action_lists",
            "idx_action_lists_created_at",
            vec!["created_at"],
        ),
        (
            "action_lists",
            "idx_action_lists_updated_at",
            vec!["updated_at"],
        ),
    ]
}

/// Every foreign key at head: (table, column, referenced table.column, ON DELETE).
pub fn foreign_keys_at_head() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("action_lists", "project_id", "projects.id", "SET NULL"),
        ("action_lists", "sprint_id", "sprints.id", "SET NULL"),
        ("sprints", "primary_project", "projects.id", "CASCADE"),
        ("tasks", "primary_project", "projects.id", "CASCADE"),
        ("tasks", "primary_sprint", "sprints.id", "CASCADE"),
    ]
}

/// The TaskMan tables.
pub const TABLES: [&str; 4] = ["projects", "sprints", "tasks", "action_lists"];

/// Columns of a table as the catalog has them, in order.
pub fn catalog_columns(c: &mut postgres::Client, table: &str) -> Vec<Col> {
    c.query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        &[&format!("public.{table}")],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// Non-primary-key indexes: (table, name, columns, unique), sorted.
pub fn catalog_indexes(c: &mut postgres::Client) -> Vec<(String, String, Vec<String>, bool)> {
    c.query(
        "SELECT t.relname::text, i.relname::text,
                array(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n),
                x.indisunique
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'public' AND NOT x.indisprimary AND t.relname <> 'alembic_version' AND t.relname <> 'host_history'
         ORDER BY 1, 2",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// Foreign keys: (table, column, target table.column, ON DELETE), sorted.
pub fn catalog_foreign_keys(c: &mut postgres::Client) -> Vec<(String, String, String, String)> {
    c.query(
        "SELECT t.relname::text, a.attname::text, ft.relname::text || '.' || fa.attname::text,
                CASE con.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'r' THEN 'RESTRICT'
                     WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END
         FROM pg_constraint con
         JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class ft ON ft.oid = con.confrelid
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
         JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[1]
         WHERE con.contype = 'f' ORDER BY 1, 2",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// Primary keys: table -> columns.
pub fn catalog_primary_keys(c: &mut postgres::Client) -> BTreeMap<String, Vec<String>> {
    c.query(
        "SELECT t.relname::text, array(SELECT a.attname::text FROM unnest(con.conkey) k(attnum)
                JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)
         FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE con.contype = 'p' AND n.nspname = 'public'",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Everything above in one comparable value, plus any CHECK/UNIQUE constraints.
pub fn snapshot(c: &mut postgres::Client) -> String {
    let tables: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = format!("tables {tables:?}\n");
    for t in &tables {
        if t.ends_with("_seq") {
            continue;
        }
        out.push_str(&format!("{t}: {:?}\n", catalog_columns(c, t)));
    }
    let others: Vec<(String, String)> = c
        .query(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE connamespace = 'public'::regnamespace AND contype NOT IN ('f', 'p') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    out.push_str(&format!(
        "indexes {:?}\nfks {:?}\npks {:?}\nother constraints {others:?}\n",
        catalog_indexes(c),
        catalog_foreign_keys(c),
        catalog_primary_keys(c)
    ));
    out
}
