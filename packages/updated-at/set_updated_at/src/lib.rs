//! The `updated_at` trigger function, and a BEFORE UPDATE trigger using it
//! on each table named by the `tables` parameter.

use guest_sdk::{Error, Op, Result, quote_ident};

guest_sdk::revision! {
    id: "0a7e5a000001",
    down_revisions: [],
    message: "updated_at triggers",
    branch_labels: ["updated_at"],
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

/// Trigger name for a table: quoted, so any table name is safe.
fn trigger(table: &str) -> Result<String> {
    quote_ident(&format!("{table}_set_updated_at"))
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.batch(
        "CREATE FUNCTION host_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$\n\
         BEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND\n$fn$",
    )?;
    for table in tables(op)? {
        op.batch(&format!(
            "CREATE TRIGGER {} BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION host_set_updated_at()",
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
    op.batch("DROP FUNCTION host_set_updated_at()")
}
