//! Tries to read a file, list the current directory and read the environment,
//! and records each outcome instead of failing: under the host's
//! deny-by-default WASI every attempt should come back as an error (or an
//! empty environment), and the upgrade still succeeds.

use guest_sdk::{Column, Op, Result, Type, Value};

guest_sdk::revision! {
    id: "f00000000002",
    down_revisions: ["934f38a4fc73"],
    message: "Tries to read files and the environment",
    upgrade: upgrade,
    downgrade: downgrade,
}

const TABLE: &str = "wasi_attempts";

fn outcome<T, E: std::fmt::Display>(
    r: std::result::Result<T, E>,
    ok: impl FnOnce(T) -> String,
) -> String {
    match r {
        Ok(v) => format!("ok: {}", ok(v)),
        Err(e) => format!("err: {e}"),
    }
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.create_table(TABLE)
        .column(Column::new("what", Type::Text))
        .column(Column::new("outcome", Type::Text))
        .execute()?;

    let attempts = [
        (
            "read_to_string /etc/passwd",
            outcome(std::fs::read_to_string("/etc/passwd"), |s| {
                format!("{} bytes", s.len())
            }),
        ),
        (
            "read_dir .",
            outcome(std::fs::read_dir("."), |dir| {
                let names: Vec<String> = dir
                    .map(|e| match e {
                        Ok(e) => e.file_name().to_string_lossy().into_owned(),
                        Err(e) => format!("<{e}>"),
                    })
                    .collect();
                format!("{} entries [{}]", names.len(), names.join(", "))
            }),
        ),
        ("env HOME", outcome(std::env::var("HOME"), |v| v)),
        (
            "env vars count",
            format!("ok: {}", std::env::vars().count()),
        ),
    ];

    for (what, outcome) in &attempts {
        eprintln!("wants_files_and_env: {what} -> {outcome}");
        op.execute(
            "INSERT INTO wasi_attempts (what, outcome) VALUES ($1, $2)",
            &[Value::Text(what.to_string()), Value::Text(outcome.clone())],
        )?;
    }
    Ok(())
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.drop_table(TABLE).execute()
}
