//! TaskMan-v2 revision `934f38a4fc73`: `phases`, `pending_reason`, `blocked_reason`.
//!
//! Adds the 7 columns of `shared/taskman-schema.md` §5.1, gives every existing
//! row its entity's default phase document, then makes `phases` NOT NULL.
//!
//! `phases` gets no server default: §2 gives JSON document columns none (the
//! ORM supplies them), so the documents are only a back-fill for rows that
//! exist when this revision runs.

use guest_sdk::{Column, Op, Result, Type, Value, quote_ident};

guest_sdk::revision! {
    id: "934f38a4fc73",
    down_revisions: ["a1b2c3d4e5f6"],
    message: "Add phases and status fields",
    upgrade: upgrade,
    downgrade: downgrade,
}

// The same documents are in `migrations-wasm/phase_documents.json` for the
// end-to-end tests; a unit test below keeps the two identical.

/// Default `phases` document of a project.
pub const PROJECT_PHASES: &str = r#"{"research":{"status":"not_started","has_market_research":false,"has_technical_research":false,"research_adequate":false},"planning":{"status":"not_started","has_prd":false,"has_architecture":false,"has_roadmap":false}}"#;

/// Default `phases` document of a sprint.
pub const SPRINT_PHASES: &str = r#"{"planning":{"status":"not_started","has_sprint_goal":false,"has_capacity_plan":false,"tasks_estimated":false},"implementation":{"status":"not_started","progress_pct":0,"tasks_completed":0,"tasks_total":0}}"#;

/// Default `phases` document of a task.
pub const TASK_PHASES: &str = r#"{"research":{"status":"not_started","has_research":false,"research_adequate":false},"planning":{"status":"not_started","has_acceptance_criteria":false,"has_definition_of_done":false},"implementation":{"status":"not_started","progress_pct":0,"has_code_changes":false},"testing":{"status":"not_started","has_unit_tests":false,"tests_passing":false}}"#;

const PHASES: [(&str, &str); 3] = [
    ("projects", PROJECT_PHASES),
    ("sprints", SPRINT_PHASES),
    ("tasks", TASK_PHASES),
];

fn reasons() -> [Column; 2] {
    [
        Column::new("pending_reason", Type::Varchar(500)),
        Column::new("blocked_reason", Type::Varchar(500)),
    ]
}

fn upgrade(op: &mut Op) -> Result<()> {
    // Nullable at first, so tables that already hold rows accept the column.
    let phases = || Column::new("phases", Type::Jsonb);
    let [pending, blocked] = reasons();
    op.add_columns("projects", [phases(), pending, blocked])
        .execute()?;
    let [pending, blocked] = reasons();
    op.add_columns("sprints", [phases(), pending, blocked])
        .execute()?;
    op.add_column("tasks", phases()).execute()?;

    for (table, document) in PHASES {
        // The document travels as a jsonb parameter, never spliced into SQL.
        let update = format!(
            r#"UPDATE {} SET "phases" = $1 WHERE "phases" IS NULL"#,
            quote_ident(table)?
        );
        op.execute(&update, &[Value::jsonb(document)])?;
        op.alter_column(table, "phases").set_not_null().execute()?;
    }
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_column("tasks", "phases").execute()?;
    op.drop_columns("sprints", ["phases", "pending_reason", "blocked_reason"])
        .execute()?;
    op.drop_columns("projects", ["phases", "pending_reason", "blocked_reason"])
        .execute()
}

#[cfg(test)]
mod tests {
    use super::*;
    use guest_sdk::{Call, Direction};

    #[test]
    fn phase_documents_file_matches_the_constants() {
        let file = include_str!("../../phase_documents.json");
        let expected = format!(
            "{{\n  \"projects\": {PROJECT_PHASES},\n  \"sprints\": {SPRINT_PHASES},\n  \"tasks\": {TASK_PHASES}\n}}\n"
        );
        assert_eq!(file, expected);
    }

    #[test]
    fn upgrade_adds_back_fills_then_requires_phases() {
        let mut op = Op::recording(Direction::Upgrade);
        upgrade(&mut op).unwrap();
        let calls = op.calls();
        assert_eq!(calls.len(), 3 + 2 * 3);
        let Call::Batch { script } = &calls[0] else {
            panic!("{calls:?}")
        };
        assert_eq!(
            script,
            "ALTER TABLE \"projects\"\n    ADD COLUMN \"phases\" jsonb,\n    ADD COLUMN \"pending_reason\" varchar(500),\n    ADD COLUMN \"blocked_reason\" varchar(500);"
        );
        assert_eq!(
            calls[3],
            Call::Execute {
                sql: r#"UPDATE "projects" SET "phases" = $1 WHERE "phases" IS NULL"#.into(),
                params: vec![Value::Jsonb(PROJECT_PHASES.into())],
            }
        );
        assert_eq!(
            calls[4],
            Call::Batch {
                script: "ALTER TABLE \"projects\"\n    ALTER COLUMN \"phases\" SET NOT NULL;"
                    .into()
            }
        );
        assert_eq!(
            calls[8],
            Call::Batch {
                script: "ALTER TABLE \"tasks\"\n    ALTER COLUMN \"phases\" SET NOT NULL;".into()
            }
        );
    }

    #[test]
    fn downgrade_drops_the_seven_columns() {
        let mut op = Op::recording(Direction::Downgrade);
        downgrade(&mut op).unwrap();
        let text: Vec<_> = op
            .calls()
            .iter()
            .map(|c| match c {
                Call::Batch { script } => script.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(text.concat().matches("DROP COLUMN").count(), 7);
    }
}
