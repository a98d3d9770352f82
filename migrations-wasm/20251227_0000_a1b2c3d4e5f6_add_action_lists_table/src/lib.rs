//! TaskMan-v2 revision `a1b2c3d4e5f6`: the `action_lists` table.
//!
//! The guide's 18-column shape (`shared/taskman-schema.md` §3.4), with its
//! two SET NULL foreign keys (§3.5). This revision is the table's only owner.

use guest_sdk::{Column, FkAction, ForeignKey, Op, Result, Type};

guest_sdk::revision! {
    id: "a1b2c3d4e5f6",
    down_revisions: ["c7bb9a9f0570"],
    message: "Add action_lists table",
    upgrade: upgrade,
    downgrade: downgrade,
}

fn required(name: &str, ty: Type) -> Column {
    Column::new(name, ty).not_null()
}

fn optional(name: &str, ty: Type) -> Column {
    Column::new(name, ty)
}

/// Unnamed, so PostgreSQL calls it `action_lists_<column>_fkey`; deleting a
/// project or sprint keeps its action lists, detached.
fn set_null_to(table: &str) -> ForeignKey {
    ForeignKey::to(table, "id").on_delete(FkAction::SetNull)
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table("action_lists")
        .columns([
            required("id", Type::Varchar(50)).primary_key(),
            required("title", Type::Varchar(255)),
            optional("description", Type::Text),
            required("status", Type::Varchar(20)),
            optional("owner", Type::Varchar(100)),
            // JSON documents: NOT NULL, no server default (§2).
            required("tags", Type::Jsonb),
            optional("project_id", Type::Varchar(50)).references(set_null_to("projects")),
            optional("sprint_id", Type::Varchar(50)).references(set_null_to("sprints")),
            required("items", Type::Jsonb),
            optional("geometry_shape", Type::Varchar(20)),
            optional("priority", Type::Varchar(20)),
            optional("due_date", Type::Timestamptz),
            required("evidence_refs", Type::Jsonb),
            required("extra_metadata", Type::Jsonb),
            optional("notes", Type::Text),
            optional("parent_deleted_at", Type::Timestamptz),
            required("parent_deletion_note", Type::Jsonb),
            optional("completed_at", Type::Timestamptz),
            required("created_at", Type::Timestamptz).server_default_raw("now()"),
            required("updated_at", Type::Timestamptz).server_default_raw("now()"),
        ])
        .index("idx_action_lists_owner", ["owner"])
        .index("idx_action_lists_sprint_id", ["sprint_id"])
        .index("idx_action_lists_project_id", ["project_id"])
        .index("idx_action_lists_project_status", ["project_id", "status"])
        .index("idx_action_lists_created_at", ["created_at"])
        .index("idx_action_lists_updated_at", ["updated_at"])
        .execute()
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table("action_lists").execute()
}

#[cfg(test)]
mod tests {
    use guest_sdk::{Call, Direction, Op};

    #[test]
    fn upgrade_is_one_script_with_six_indexes_and_two_set_null_keys() {
        let mut op = Op::recording(Direction::Upgrade);
        super::upgrade(&mut op).unwrap();
        let [Call::Batch { script }] = op.calls() else {
            panic!("one batch expected, got {:?}", op.calls());
        };
        assert!(script.starts_with("CREATE TABLE \"action_lists\" ("));
        assert_eq!(script.matches("CREATE INDEX ").count(), 6);
        assert_eq!(script.matches("ON DELETE SET NULL").count(), 2);
        assert_eq!(script.matches(" jsonb NOT NULL").count(), 5);
    }

    #[test]
    fn downgrade_drops_the_table() {
        let mut op = Op::recording(Direction::Downgrade);
        super::downgrade(&mut op).unwrap();
        assert_eq!(
            op.calls(),
            [Call::Batch {
                script: "DROP TABLE \"action_lists\";".into()
            }]
        );
    }
}
