//! Creates its canary table, then recurses without end. Every frame keeps a
//! buffer on the stack and does work after the recursive call, so the
//! optimiser can turn it neither into a loop nor into nothing; the call
//! stack overflows and the step must roll back.

use core::hint::black_box;

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000007",
    down_revisions: ["934f38a4fc73"],
    message: "Guest recurses without end",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_recurses";

#[inline(never)]
#[allow(unconditional_recursion)]
fn dive(depth: u64) -> u64 {
    // A small frame: the engine's call stack, not the guest's shadow stack
    // in linear memory, is what runs out first.
    let mut frame = [0u8; 16];
    frame[(depth % 16) as usize] = depth as u8;
    let frame = black_box(frame);
    // Not a tail call: the result is used after the call returns.
    let below = dive(black_box(depth.wrapping_add(1)));
    below.wrapping_add(u64::from(frame[(depth % 7) as usize]))
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    black_box(dive(black_box(0)));
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
