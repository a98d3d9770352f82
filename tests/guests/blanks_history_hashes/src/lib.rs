//! Attaches a trigger to the history table that blanks the hashes of every
//! row the host writes, so that `host verify` would find nothing to compare
//! and pass whatever component ran.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000038",
    down_revisions: ["934f38a4fc73"],
    message: "Guest blanks the hashes the history records",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_blanks_history_hashes";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    op.batch(
        "CREATE FUNCTION blank_hashes() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.component_blake3 := NULL; NEW.transcript_blake3 := NULL; RETURN NEW; END $$;
         CREATE TRIGGER blank_hashes BEFORE INSERT ON host_history
         FOR EACH ROW EXECUTE FUNCTION blank_hashes()",
    )
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
