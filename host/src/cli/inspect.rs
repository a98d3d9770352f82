//! The commands that only look: `current`, `history`, `heads`, `branches` and
//! `show`. All but `current` (and `history -i`) read only the lock.

use super::args::Context;
use super::output::{labels_text, marks, parents_text, print_verbose};
use anyhow::{Result, bail};
use host::plan::{self, Range, Target};
use std::collections::BTreeSet;
use std::process::ExitCode;

/// `host current`: the revisions the database's heads table names.
pub async fn current(ctx: &Context, verbose: bool) -> Result<ExitCode> {
    let project = ctx.project()?;
    let db = ctx.connect().await?;
    let heads = ctx.tables.read_heads(&db.client).await?;
    if verbose {
        say!("Current revision(s) for {}:", db.origin);
    }
    for h in &heads {
        let Some(rev) = project.graph.get(h) else {
            bail!(
                "the database's heads table names revision {h}, which is not in this project's lock; use the lock that wrote it, or `host stamp --purge <rev>`"
            );
        };
        if verbose {
            print_verbose(&project, rev, &marks(&project, rev));
        } else {
            say!("{h}{}{}", labels_text(rev), marks(&project, rev));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `host history`: the revisions newest first, optionally only a range.
pub async fn history(
    ctx: &Context,
    range: Option<&str>,
    verbose: bool,
    indicate_current: bool,
) -> Result<ExitCode> {
    let project = ctx.project()?;
    let current = if indicate_current {
        let client = ctx.connect().await?.client;
        ctx.tables.read_heads(&client).await?
    } else {
        Vec::new()
    };
    let applied = plan::applied_set(&project.graph, &current)?;
    let members = match range {
        Some(r) => Some(plan::range_members(
            &project.graph,
            &Range::parse(r)?,
            &applied,
        )?),
        None => None,
    };
    for rev in project.graph.topological().rev() {
        if members.as_ref().is_some_and(|m| !m.contains(&rev.id)) {
            continue;
        }
        let mut mark = marks(&project, rev);
        if current.contains(&rev.id) {
            mark = if mark.is_empty() {
                " (current)".to_string()
            } else {
                mark.replace(')', ", current)")
            };
        }
        if verbose {
            print_verbose(&project, rev, &mark);
        } else {
            say!(
                "{} -> {}{}{mark}, {}",
                parents_text(&rev.parents),
                rev.id,
                labels_text(rev),
                rev.message
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `host heads`: the project's heads, marking those only depended on.
pub fn heads(ctx: &Context, resolve_dependencies: bool, verbose: bool) -> Result<ExitCode> {
    let project = ctx.project()?;
    let heads = if resolve_dependencies {
        project.graph.resolved_heads()
    } else {
        project.graph.heads()
    };
    let effective: BTreeSet<&str> = project.graph.resolved_heads().into_iter().collect();
    for h in heads {
        let rev = project.graph.get(h).expect("heads exist");
        let mark = if effective.contains(h) {
            "(head)"
        } else {
            "(effective head)"
        };
        if verbose {
            print_verbose(&project, rev, &format!(" {mark}"));
        } else {
            say!("{h}{} {mark}", labels_text(rev));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `host branches`: each branch point and the revisions leaving it.
pub fn branches(ctx: &Context, verbose: bool) -> Result<ExitCode> {
    let project = ctx.project()?;
    for bp in project.graph.branch_points() {
        let rev = project.graph.get(bp).expect("branch points exist");
        if verbose {
            print_verbose(&project, rev, " (branchpoint)");
        } else {
            say!("{bp}{} (branchpoint), {}", labels_text(rev), rev.message);
        }
        for child in project.graph.children(bp) {
            let c = project.graph.get(child).expect("children exist");
            say!(
                "    -> {child}{}{}, {}",
                labels_text(c),
                marks(&project, c),
                c.message
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `host show <rev>`: the verbose block of each revision it names.
pub fn show(ctx: &Context, rev: &str) -> Result<ExitCode> {
    let project = ctx.project()?;
    let point = plan::resolve(&project.graph, &Target::parse(rev)?, &BTreeSet::new())?;
    let plan::Point::At(ids) = point else {
        bail!("{rev} is base, which is not a revision");
    };
    for id in ids {
        let r = project.graph.get(&id).expect("resolved ids exist");
        print_verbose(&project, r, &marks(&project, r));
    }
    Ok(ExitCode::SUCCESS)
}
