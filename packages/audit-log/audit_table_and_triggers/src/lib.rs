//! The `audit_log` table, the function that writes to it, and an AFTER
//! INSERT OR UPDATE OR DELETE trigger on each table named by `tables`.

use guest_sdk::{Error, Op, Result, quote_ident};

guest_sdk::revision! {
    id: "a0d170000001",
    down_revisions: [],
    message: "audit_log table and triggers",
    branch_labels: ["audit_log"],
    upgrade: upgrade,
    downgrade: downgrade,
}

/// The `tables` parameter: a comma-separated list of table names.
fn tables(op: &Op) -> Result<Vec<String>> {
    let raw = op
        .config("tables")
        .ok_or_else(|| Error::msg("parameter `tables` is not set; install the package with --param tables=<t1,t2>"))?;
    let names: Vec<String> = raw.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    if names.is_empty() {
        return Err(Error::msg("parameter `tables` names no table"));
    }
    Ok(names)
}

fn trigger(table: &str) -> Result<String> {
    quote_ident(&format!("{table}_audit"))
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.batch(
        "CREATE TABLE audit_log (\n\
             id bigserial PRIMARY KEY,\n\
             table_name text NOT NULL,\n\
             operation text NOT NULL,\n\
             row_id text,\n\
             old_row jsonb,\n\
             new_row jsonb,\n\
             changed_by text NOT NULL DEFAULT current_user,\n\
             changed_at timestamptz NOT NULL DEFAULT now()\n\
         );\n\
         CREATE INDEX audit_log_table_row ON audit_log (table_name, row_id);\n\
         CREATE FUNCTION audit_log_record() RETURNS trigger LANGUAGE plpgsql AS $fn$\n\
         DECLARE\n    old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;\n\
             new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;\n\
         BEGIN\n\
             INSERT INTO audit_log (table_name, operation, row_id, old_row, new_row)\n\
             VALUES (TG_TABLE_NAME, TG_OP, coalesce(new_row ->> 'id', old_row ->> 'id'), old_row, new_row);\n\
             RETURN NULL;\n\
         END\n$fn$",
    )?;
    for table in tables(op)? {
        op.batch(&format!(
            "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION audit_log_record()",
            trigger(&table)?,
            quote_ident(&table)?
        ))?;
    }
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    for table in tables(op)? {
        op.batch(&format!("DROP TRIGGER {} ON {}", trigger(&table)?, quote_ident(&table)?))?;
    }
    op.batch("DROP FUNCTION audit_log_record();\nDROP TABLE audit_log")
}
