//! The commands that write the project: `revision` and `merge` scaffold a
//! revision, `build` turns the revisions into components and the lock.

use super::args::Context;
use anyhow::{Result, bail};
use host::build::Language;
use host::build::scaffold::{self, NewRevision};
use host::plan::{self, Target};
use host::project::{self, Project};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `revision` and `merge` share: the new revision apart from its parents.
pub struct Scaffold<'a> {
    /// `--rev-id`, else a fresh random id.
    pub rev_id: &'a Option<String>,
    /// `--branch-label`s.
    pub labels: &'a [String],
    /// `--message`.
    pub message: &'a str,
    /// `--no-build`.
    pub no_build: bool,
    /// `--lang`, as clap checked it.
    pub lang: &'a str,
}

/// `host revision`: a new revision on a head (or, with `--splice`, anywhere).
pub async fn revision(
    ctx: &Context,
    head: &str,
    depends_on: &[String],
    splice: bool,
    new: Scaffold<'_>,
) -> Result<ExitCode> {
    let project = ctx.project()?;
    let graph = &project.graph;
    let parents = match plan::resolve(graph, &Target::parse(head)?, &BTreeSet::new())? {
        plan::Point::Below(_) => Vec::new(),
        plan::Point::At(ids) => ids,
    };
    for p in &parents {
        if !splice && !graph.heads().contains(&p.as_str()) {
            bail!(
                "{p} is not a head, so the new revision would start a branch; pass --splice to do that, or --head head"
            );
        }
    }
    let deps = depends_on
        .iter()
        .map(|d| match graph.label_owner(d) {
            Some(owner) => Ok(owner.to_string()),
            None => graph.resolve(d).map(str::to_string),
        })
        .collect::<Result<Vec<_>, _>>()?;
    scaffold_and_build(ctx, &project, parents, deps, new).await
}

/// `host merge`: a revision whose parents are the given heads.
pub async fn merge(ctx: &Context, revisions: &[String], new: Scaffold<'_>) -> Result<ExitCode> {
    let project = ctx.project()?;
    let mut parents = Vec::new();
    for r in revisions {
        match plan::resolve(&project.graph, &Target::parse(r)?, &BTreeSet::new())? {
            plan::Point::At(ids) => parents.extend(ids),
            plan::Point::Below(_) => {
                bail!("base cannot be merged; name revisions or `heads`")
            }
        }
    }
    let parents = project
        .graph
        .sorted(parents.into_iter().collect::<BTreeSet<_>>());
    if parents.len() < 2 {
        bail!(
            "a merge needs at least two revisions, got {}; the project's heads are {}",
            parents.join(", "),
            project.graph.heads().join(", ")
        );
    }
    scaffold_and_build(ctx, &project, parents, Vec::new(), new).await
}

/// Writes a revision's sources, then builds and locks the project.
async fn scaffold_and_build(
    ctx: &Context,
    project: &Project,
    parents: Vec<String>,
    depends_on: Vec<String>,
    new: Scaffold<'_>,
) -> Result<ExitCode> {
    let root = &ctx.root;
    let lang = new.lang.parse().unwrap_or(Language::Rust);
    let id = new.rev_id.clone().unwrap_or_else(scaffold::new_revision_id);
    if project.graph.contains(&id) {
        bail!("revision id {id} already exists in this project; pass another --rev-id");
    }
    let rev = NewRevision {
        id: id.clone(),
        down_revisions: parents,
        branch_labels: new.labels.to_vec(),
        depends_on,
        message: new.message.to_string(),
        created: std::time::SystemTime::now(),
    };
    let generated = if lang == Language::Rust {
        let folder = scaffold::write_revision(root, &rev, &guest_sdk())?;
        root.join(&folder).join("src").join("lib.rs")
    } else {
        let folder = scaffold::templates::write_revision(root, &rev, lang)?;
        root.join(&folder).join(lang.entry_file())
    };
    say!("Generated {}", generated.display());
    if new.no_build {
        say!("Not built: run `host build` once the revision is written");
        return Ok(ExitCode::SUCCESS);
    }
    let sandbox = super::args::sandbox(project, ctx.limits())?;
    let lock = host::build::build(root, &sandbox, false, &mut |e| eprintln!("{e}")).await?;
    say!(
        "Revision {id} built and locked ({} revisions in {})",
        lock.revisions.len(),
        root.join(host::lock::LOCK_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The guest SDK a new Rust revision depends on: `HOST_GUEST_SDK`, else the
/// one beside this host's sources.
fn guest_sdk() -> PathBuf {
    std::env::var_os("HOST_GUEST_SDK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("guest-sdk")
        })
}

/// `host build [--check]`.
pub async fn build(ctx: &Context, check: bool) -> Result<ExitCode> {
    let root = &ctx.root;
    let sandbox = super::args::sandbox_caching_in(project::cache_dir(root), ctx.limits())?;
    let lock = host::build::build(root, &sandbox, check, &mut |e| eprintln!("{e}")).await?;
    let verb = if check { "match" } else { "locked in" };
    say!(
        "{} revision(s) {verb} {}",
        lock.revisions.len(),
        root.join(host::lock::LOCK_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}
