//! Reads the wall clock, the monotonic clock and the random source twice and
//! stores what it saw, so a test can check that the host's WASI gives a fixed
//! wall clock, a fixed monotonic clock and randomness seeded from the
//! component's blake3 (same component, same bytes). Also writes one line to
//! stdout and one to stderr, which the host should capture into its log.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use guest_sdk::{Column, Op, Result, Type, Value};

guest_sdk::revision! {
    id: "f00000000001",
    down_revisions: ["934f38a4fc73"],
    message: "Reads the clock and random numbers",
    upgrade: upgrade,
    downgrade: downgrade,
}

const TABLE: &str = "wasi_observations";

fn upgrade(op: &mut Op) -> Result<()> {
    let start = Instant::now();
    println!("clock_random: hello from stdout");
    eprintln!("clock_random: hello from stderr");

    op.create_table(TABLE)
        .column(Column::new("n", Type::Integer))
        .column(Column::new("wall_secs", Type::BigInt))
        .column(Column::new("wall_nanos", Type::BigInt))
        .column(Column::new("mono_nanos", Type::BigInt))
        .column(Column::new("random_hex", Type::Text))
        .execute()?;

    for n in 1..=2 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| format!("wall clock before the UNIX epoch: {e}"))?;
        let mono = start.elapsed();
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| format!("random source failed: {e}"))?;
        let random_hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();

        op.execute(
            "INSERT INTO wasi_observations (n, wall_secs, wall_nanos, mono_nanos, random_hex) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                Value::Int4(n),
                Value::Int8(i64::try_from(wall.as_secs()).unwrap_or(i64::MAX)),
                Value::Int8(i64::from(wall.subsec_nanos())),
                Value::Int8(i64::try_from(mono.as_nanos()).unwrap_or(i64::MAX)),
                Value::Text(random_hex),
            ],
        )?;
    }
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(TABLE).execute()
}
