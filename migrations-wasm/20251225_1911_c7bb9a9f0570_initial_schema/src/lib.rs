//! TaskMan-v2 revision `c7bb9a9f0570`: projects, sprints and tasks.
//!
//! Specified in `shared/taskman-schema.md` §2 and §3.1–3.3, §3.5. The
//! `action_lists` table belongs to `a1b2c3d4e5f6` alone, so that no table is
//! created twice in the chain (§4.4).

use guest_sdk::{Column, CreateTable, FkAction, ForeignKey, Op, Result, Type};

guest_sdk::revision! {
    id: "c7bb9a9f0570",
    down_revisions: [],
    message: "Initial schema",
    upgrade: upgrade,
    downgrade: downgrade,
}

fn required(name: &str, ty: Type) -> Column {
    Column::new(name, ty).not_null()
}

fn optional(name: &str, ty: Type) -> Column {
    Column::new(name, ty)
}

/// JSON documents are NOT NULL without a server default: the ORM supplies them (§2).
fn document(name: &str) -> Column {
    required(name, Type::Jsonb)
}

fn id() -> Column {
    required("id", Type::Varchar(50)).primary_key()
}

/// Left unnamed, so PostgreSQL calls the constraint `<table>_<column>_fkey` (§2).
fn cascade_to(table: &str) -> ForeignKey {
    ForeignKey::to(table, "id").on_delete(FkAction::Cascade)
}

/// `created_at` / `updated_at`, the only columns with a server default (§2).
fn with_timestamps(table: CreateTable<'_>) -> CreateTable<'_> {
    table
        .column(required("created_at", Type::Timestamptz).server_default_raw("now()"))
        .column(required("updated_at", Type::Timestamptz).server_default_raw("now()"))
}

fn upgrade(op: &mut Op) -> Result<()> {
    // Each table goes with its indexes in one round trip; parents first.
    with_timestamps(op.create_table("projects").columns([
        id(),
        required("name", Type::Varchar(200)),
        required("mission", Type::Text),
        required("status", Type::Varchar(20)),
        required("start_date", Type::Date),
        optional("target_end_date", Type::Date),
        required("owner", Type::Varchar(100)),
        document("sponsors"),
        document("stakeholders"),
        document("repositories"),
        document("comms_channels"),
        document("okrs"),
        document("kpis"),
        document("roadmap"),
        document("risks"),
        document("assumptions"),
        document("constraints"),
        document("dependencies_external"),
        document("sprints"),
        document("related_projects"),
        document("shared_components"),
        optional("security_posture", Type::Text),
        document("compliance_requirements"),
        document("governance"),
        document("success_metrics"),
        document("mpv_policy"),
        optional("tnve_mandate", Type::Boolean),
        optional("evidence_root", Type::Varchar(500)),
        document("observability"),
    ]))
    .index("idx_projects_status", ["status"])
    .index("idx_projects_owner", ["owner"])
    .index("idx_projects_start_date", ["start_date"])
    .index("idx_projects_created_at", ["created_at"])
    .index("idx_projects_updated_at", ["updated_at"])
    .execute()?;

    with_timestamps(op.create_table("sprints").columns([
        id(),
        required("name", Type::Varchar(200)),
        required("goal", Type::Text),
        required("cadence", Type::Varchar(20)),
        required("start_date", Type::Date),
        required("end_date", Type::Date),
        required("status", Type::Varchar(20)),
        required("owner", Type::Varchar(100)),
        required("primary_project", Type::Varchar(50)).references(cascade_to("projects")),
        document("tasks"),
        document("imported_tasks"),
        document("related_projects"),
        optional("velocity_target_points", Type::FLOAT),
        optional("committed_points", Type::FLOAT),
        optional("actual_points", Type::FLOAT),
        optional("carried_over_points", Type::FLOAT),
        document("definition_of_done"),
        document("dependencies"),
        document("scope_changes"),
        document("risks"),
        document("ceremonies"),
        document("metrics"),
        optional("timezone", Type::Varchar(50)),
        document("observability"),
    ]))
    .index("idx_sprints_status", ["status"])
    .index("idx_sprints_primary_project", ["primary_project"])
    .index("idx_sprints_owner", ["owner"])
    .index("idx_sprints_start_date", ["start_date"])
    .index("idx_sprints_end_date", ["end_date"])
    .index("idx_sprints_project_status", ["primary_project", "status"])
    .index("idx_sprints_created_at", ["created_at"])
    .index("idx_sprints_updated_at", ["updated_at"])
    .execute()?;

    with_timestamps(op.create_table("tasks").columns([
        id(),
        required("title", Type::Varchar(500)),
        required("summary", Type::Text),
        required("description", Type::Text),
        required("status", Type::Varchar(20)),
        required("owner", Type::Varchar(100)),
        document("assignees"),
        required("priority", Type::Varchar(20)),
        optional("severity", Type::Varchar(20)),
        required("primary_project", Type::Varchar(50)).references(cascade_to("projects")),
        required("primary_sprint", Type::Varchar(50)).references(cascade_to("sprints")),
        document("related_projects"),
        document("related_sprints"),
        optional("estimate_points", Type::FLOAT),
        optional("actual_time_hours", Type::FLOAT),
        optional("due_at", Type::Timestamptz),
        document("parents"),
        document("depends_on"),
        document("blocks"),
        document("blockers"),
        document("acceptance_criteria"),
        document("definition_of_done"),
        document("quality_gates"),
        document("verification"),
        document("actions_taken"),
        document("labels"),
        document("related_links"),
        optional("shape", Type::Varchar(20)),
        optional("stage", Type::Varchar(50)),
        optional("work_type", Type::Varchar(50)),
        optional("work_stream", Type::Varchar(100)),
        optional("business_value_score", Type::Integer),
        optional("cost_of_delay_score", Type::Integer),
        optional("automation_candidate", Type::Boolean),
        optional("cycle_time_days", Type::FLOAT),
        document("risks"),
        document("observability"),
    ]))
    .index("idx_tasks_status", ["status"])
    .index("idx_tasks_priority", ["priority"])
    .index("idx_tasks_owner", ["owner"])
    .index("idx_tasks_primary_project", ["primary_project"])
    .index("idx_tasks_primary_sprint", ["primary_sprint"])
    .index("idx_tasks_status_priority", ["status", "priority"])
    .index("idx_tasks_project_status", ["primary_project", "status"])
    .index("idx_tasks_sprint_status", ["primary_sprint", "status"])
    .index("idx_tasks_created_at", ["created_at"])
    .index("idx_tasks_updated_at", ["updated_at"])
    .execute()
}

fn downgrade(op: &mut Op) -> Result<()> {
    // Children first; indexes and foreign keys go with their tables.
    op.drop_table("tasks").execute()?;
    op.drop_table("sprints").execute()?;
    op.drop_table("projects").execute()
}

#[cfg(test)]
mod tests {
    use guest_sdk::{Call, Direction, Op};

    fn scripts(direction: Direction) -> Vec<String> {
        let mut op = Op::recording(direction);
        match direction {
            Direction::Upgrade => super::upgrade(&mut op).unwrap(),
            Direction::Downgrade => super::downgrade(&mut op).unwrap(),
        }
        op.calls()
            .iter()
            .map(|c| match c {
                Call::Batch { script } => script.clone(),
                other => panic!("DDL only, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn upgrade_creates_three_tables_with_23_indexes_and_3_cascades() {
        let scripts = scripts(Direction::Upgrade);
        assert_eq!(scripts.len(), 3);
        let all = scripts.join("\n");
        assert_eq!(all.matches("CREATE TABLE ").count(), 3);
        assert_eq!(all.matches("CREATE INDEX ").count(), 23);
        assert_eq!(all.matches("ON DELETE CASCADE").count(), 3);
        assert_eq!(all.matches("DEFAULT now()").count(), 6);
        assert_eq!(all.matches(" jsonb NOT NULL").count(), 19 + 10 + 16);
        assert!(scripts[0].starts_with("CREATE TABLE \"projects\""));
        assert!(scripts[1].starts_with("CREATE TABLE \"sprints\""));
        assert!(scripts[2].starts_with("CREATE TABLE \"tasks\""));
    }

    #[test]
    fn downgrade_drops_children_first() {
        assert_eq!(
            scripts(Direction::Downgrade),
            [
                "DROP TABLE \"tasks\";",
                "DROP TABLE \"sprints\";",
                "DROP TABLE \"projects\";"
            ]
        );
    }
}
