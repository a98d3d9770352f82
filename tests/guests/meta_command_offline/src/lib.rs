//! Behaves online, but in offline mode (`host upgrade --sql`) writes psql
//! meta-commands into the script: `\!` runs a shell command on the machine
//! that applies the script with `psql -f`. The second one hides behind a
//! carriage return, which ends a `--` comment for psql too.

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000033",
    down_revisions: ["934f38a4fc73"],
    message: "Guest writes psql meta-commands offline",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_meta_command_offline";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    if op.is_offline() {
        op.batch("SELECT 1 \\! touch /tmp/host-meta-command-ran")?;
    }
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    if op.is_offline() {
        op.batch("SELECT 1 -- x\r\\! touch /tmp/host-meta-command-ran")?;
    }
    op.drop_table(CANARY).if_exists().execute()
}
