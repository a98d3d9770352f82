//! Creates its canary table, then returns an error whose text grows to
//! 200 MiB. The buffer is reserved up front, so the text and the copy the
//! SDK makes of it fit under the default 512 MiB cap and the host really
//! receives 200 MiB; under a smaller cap the cap stops it. Either way the
//! host must not crash or flood its output, and the step must roll back.

use core::hint::black_box;

use guest_sdk::{Column, Error, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000008",
    down_revisions: ["934f38a4fc73"],
    message: "Guest returns a gigantic error",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_huge_error";
const TARGET: usize = 200 << 20;
const CHUNK: &str = "gigantic error text ";

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let mut text = String::with_capacity(TARGET);
    text.push_str("huge_error: ");
    while text.len() + CHUNK.len() <= TARGET {
        text.push_str(black_box(CHUNK));
    }
    Err(Error::msg(black_box(text)))
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
