//! Creates its canary table, then spins until the host's fuel or deadline
//! stops it; the step must roll back.

use core::hint::black_box;

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000004",
    down_revisions: ["934f38a4fc73"],
    message: "Guest loops forever",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_loops_forever";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let mut counter = 0u64;
    loop {
        // black_box hides the counter from the optimiser, so the loop stays.
        counter = black_box(counter).wrapping_add(1);
    }
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
