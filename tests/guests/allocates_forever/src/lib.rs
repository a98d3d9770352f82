//! Creates its canary table, then allocates and touches 1 MiB chunks until the
//! host's memory cap stops it; the step must roll back.

use core::hint::black_box;

use guest_sdk::{Column, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000005",
    down_revisions: ["934f38a4fc73"],
    message: "Guest allocates forever",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_allocates_forever";
const CHUNK: usize = 1 << 20;

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        // Writing every page makes the memory real, not just reserved.
        chunk.resize(CHUNK, 1u8);
        kept.push(black_box(chunk));
        black_box(&mut kept);
    }
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
