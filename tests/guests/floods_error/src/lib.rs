//! Creates its canary table, then returns an 8 MiB error (well under every
//! limit) whose second line is a forged, coloured `error:` line. The host
//! should show the operator one bounded line, not 8 MiB of the guest's text
//! and not its line breaks or terminal escapes. The step must roll back.

use core::hint::black_box;

use guest_sdk::{Column, Error, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000015",
    down_revisions: ["934f38a4fc73"],
    message: "Guest returns an 8 MiB error",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_floods_error";
const SIZE: usize = 8 << 20;

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let mut text = String::with_capacity(SIZE);
    text.push_str("floods_error gives up\n\x1b[31merror: forged by the guest\x1b[0m\n");
    while text.len() < SIZE {
        text.push(black_box('x'));
    }
    Err(Error::msg(text))
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
