//! Creates its canary table, then recurses without end with a 4 KiB buffer
//! in every frame. Such buffers live on the guest's own stack in linear
//! memory (the "shadow stack", 1 MiB by default), which runs out long before
//! the engine's call stack: the guest then writes below address 0 and traps
//! on an out-of-bounds access. The step must roll back.

use core::hint::black_box;

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000014",
    down_revisions: ["934f38a4fc73"],
    message: "Guest recurses with big frames",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_recurses_big_frames";

#[inline(never)]
#[allow(unconditional_recursion)]
fn dive(depth: u64) -> u64 {
    let mut frame = [0u8; 4096];
    frame[(depth % 4096) as usize] = depth as u8;
    let frame = black_box(frame);
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
