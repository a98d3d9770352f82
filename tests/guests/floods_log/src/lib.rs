//! Creates its canary table, logs one 8 MiB message whose second line is a
//! forged, coloured `error:` line, and succeeds. The log is not a data
//! channel (WASI stdout is cut at 64 KiB per call): the host should keep it
//! bounded and on its own prefixed lines.

use core::hint::black_box;

use guest_sdk::{Column, Level, Op, Result, Type};

guest_sdk::revision! {
    id: "e00000000016",
    down_revisions: ["934f38a4fc73"],
    message: "Guest logs 8 MiB",
    upgrade: upgrade,
    downgrade: downgrade,
}

const CANARY: &str = "canary_floods_log";
const SIZE: usize = 8 << 20;

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(CANARY)
        .column(Column::new("id", Type::Integer))
        .execute()?;
    let mut text = String::with_capacity(SIZE);
    text.push_str("floods_log says\n\x1b[31merror: forged by the guest\x1b[0m\n");
    while text.len() < SIZE {
        text.push(black_box('y'));
    }
    op.log(Level::Warn, &text);
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(CANARY).if_exists().execute()
}
