//! How the command line prints: stdout that tolerates a closed pipe, heads
//! and revisions in Alembic's words, and errors as text or JSON.

use host::graph::Revision;
use host::plan;
use host::project::Project;
use host::runtime::runner;
use std::process::ExitCode;

/// Writes a line to stdout, ignoring a closed pipe (`host history | head`):
/// output is a report, and a migration must never die because nobody reads it.
/// Control characters are escaped (see [`terminal_safe`]).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stdout(), "{}", $crate::cli::output::terminal_safe(&line));
    }};
}

/// Like `say!` without the newline and without escaping: for SQL scripts,
/// whose text must reach psql exactly as the host rendered it.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// Prints an error for a person. Every error's own text names its cause; the
/// chain would repeat it.
pub fn error_text(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", terminal_safe(&e.to_string()));
    ExitCode::FAILURE
}

/// Text made safe for a terminal: every control character but line feeds
/// and tabs is escaped (`\u{1b}`, `\r`). Messages, ids and heads come from
/// locks, packages and databases that a stranger may have written, and an
/// escape sequence in them could clear the screen or rewrite earlier lines.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Prints an error as `{"error": {"kind", "message"}}` on stdout, for `--json`
/// callers that parse whatever the command prints.
pub fn error_json(e: &anyhow::Error) -> ExitCode {
    let kind = e
        .downcast_ref::<plan::PlanError>()
        .map(|p| p.kind())
        .unwrap_or_else(|| match e.downcast_ref::<runner::RunError>() {
            Some(runner::RunError::Plan(p)) => p.kind(),
            _ => "error",
        });
    let body = serde_json::json!({"error": {"kind": kind, "message": e.to_string()}});
    say!("{body}");
    ExitCode::FAILURE
}

/// Prints a plan: JSON, or one line per step and the heads before and after.
pub fn print_plan(project: &Project, plan: &plan::Plan, json: bool) -> anyhow::Result<()> {
    if json {
        say!("{}", serde_json::to_string(plan)?);
        return Ok(());
    }
    for s in &plan.steps {
        say!("{} {}", s.direction, s.revision);
    }
    say!(
        "heads: {} -> {}",
        describe_heads(project, &plan.heads_before),
        describe_heads(project, &plan.heads_after)
    );
    Ok(())
}

/// Heads in words: `base` when there are none, `(head)` after project heads.
pub fn describe_heads(project: &Project, heads: &[String]) -> String {
    if heads.is_empty() {
        return "base".to_string();
    }
    let project_heads = project.graph.heads();
    heads
        .iter()
        .map(|h| {
            if project_heads.contains(&h.as_str()) {
                format!("{h} (head)")
            } else {
                h.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A revision's parents, or `<base>` for a root.
pub fn parents_text(parents: &[String]) -> String {
    if parents.is_empty() {
        "<base>".to_string()
    } else {
        parents.join(", ")
    }
}

/// ` (label, ...)`, or nothing for a revision without branch labels.
pub fn labels_text(rev: &Revision) -> String {
    if rev.branch_labels.is_empty() {
        String::new()
    } else {
        format!(" ({})", rev.branch_labels.join(", "))
    }
}

/// Alembic's markers: head, base, branchpoint, mergepoint.
pub fn marks(project: &Project, rev: &Revision) -> String {
    let mut m = Vec::new();
    if project.graph.is_head(&rev.id) {
        m.push("head");
    }
    if rev.parents.is_empty() {
        m.push("base");
    }
    if project.graph.children(&rev.id).len() > 1 {
        m.push("branchpoint");
    }
    if rev.parents.len() > 1 {
        m.push("mergepoint");
    }
    if m.is_empty() {
        String::new()
    } else {
        format!(" ({})", m.join(", "))
    }
}

/// The block `--verbose` and `show` print for one revision, as Alembic does.
pub fn print_verbose(project: &Project, rev: &Revision, mark: &str) {
    let locked = project.locked(&rev.id);
    say!("Rev: {}{mark}", rev.id);
    say!("Parent: {}", parents_text(&rev.parents));
    if !rev.branch_labels.is_empty() {
        say!("Branch names: {}", rev.branch_labels.join(", "));
    }
    if !rev.depends_on.is_empty() {
        say!("Depends on: {}", rev.depends_on.join(", "));
    }
    if !locked.transactional {
        say!("Transactional: no");
    }
    say!("Component: {}", locked.file);
    say!("blake3: {}", locked.blake3);
    say!("\n    {}\n", rev.message);
}
