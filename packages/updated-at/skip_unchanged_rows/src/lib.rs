//! Version 1.1: an UPDATE that changes nothing keeps the row's updated_at.

use guest_sdk::{Op, Result};

guest_sdk::revision! {
    id: "0a7e5a000002",
    down_revisions: ["0a7e5a000001"],
    message: "updated_at: leave rows that did not change alone",
    upgrade: upgrade,
    downgrade: downgrade,
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.batch(
        "CREATE OR REPLACE FUNCTION host_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$\n\
         BEGIN\n    IF NEW IS DISTINCT FROM OLD THEN\n        NEW.updated_at := now();\n    END IF;\n    RETURN NEW;\nEND\n$fn$",
    )
}

/// Back to version 1.0's function.
fn downgrade(op: &mut Op) -> Result<()> {
    op.batch(
        "CREATE OR REPLACE FUNCTION host_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$\n\
         BEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND\n$fn$",
    )
}
