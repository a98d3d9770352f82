//! The package commands of the CLI: keygen, package build/sign/list,
//! publish, search, install.

use anyhow::{Result, bail};
use clap::Subcommand;
use host::package::{self, oci::Credentials, oci::Registry, reference::Reference};
use host::project::{self, Project};
use host::runtime::sandbox::Limits;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Commands for sharing migrations through OCI registries.
#[derive(Subcommand)]
pub enum PackageCommand {
    /// Create an ed25519 key pair for signing packages: <NAME>.key (private, mode 0600) and <NAME>.pub.
    Keygen {
        /// Path and base name of the key files.
        name: PathBuf,
    },
    /// Build, sign or list migration packages.
    Package {
        #[command(subcommand)]
        action: PackageAction,
    },
    /// Push a built, signed package: `host publish <registry>/<namespace>/<name>:<version>`.
    Publish {
        /// Where to publish; the tag must be the version in package.toml.
        reference: String,
        /// The package folder (holding package.toml and dist/).
        #[arg(long, default_value = ".")]
        package: PathBuf,
        /// Plain HTTP for a registry that is not on this machine.
        #[arg(long)]
        insecure: bool,
    },
    /// List the migration packages of a registry, with their versions.
    Search {
        /// Registry host, e.g. ghcr.io or 127.0.0.1:5000.
        registry: String,
        /// Only repositories whose name contains this.
        term: Option<String>,
        /// Plain HTTP for a registry that is not on this machine.
        #[arg(long)]
        insecure: bool,
    },
    /// Pull a package, verify its signature, hashes and imports, add its revisions to the lock.
    Install {
        /// `<registry>/<namespace>/<name>:<version>` or `...@sha256:<digest>`.
        reference: String,
        /// A package parameter, KEY=VALUE (recorded in host.toml); repeatable.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// What the package's root needs in this project (revision or label), instead of its declared depends_on.
        #[arg(long)]
        depends_on: Vec<String>,
        /// Plain HTTP for a registry that is not on this machine.
        #[arg(long)]
        insecure: bool,
    },
}

/// `host package ...`.
#[derive(Subcommand)]
pub enum PackageAction {
    /// Build the package's revision crates and write dist/ (components, OCI documents, the index).
    Build {
        /// The package folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Do not run cargo: package the components already in the package's migrations.lock.
        #[arg(long)]
        locked: bool,
    },
    /// Sign a built package's index with a private key from `host keygen`.
    Sign {
        /// The package folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The private key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// List the packages installed in this project.
    List,
}

fn registry(host: &str, insecure: bool) -> Registry {
    Registry::new(host, insecure, Credentials::lookup(host))
}

/// Runs a package command for the project at `root`.
pub async fn run(cmd: &PackageCommand, ctx: &super::args::Context) -> Result<ExitCode> {
    let root = &ctx.root;
    match cmd {
        PackageCommand::Keygen { name } => keygen(name)?,
        PackageCommand::Package { action } => match action {
            PackageAction::Build { dir, locked } => build(dir, *locked, ctx.limits()).await?,
            PackageAction::Sign { dir, key } => sign(dir, key)?,
            PackageAction::List => list(root)?,
        },
        PackageCommand::Publish {
            reference,
            package: dir,
            insecure,
        } => publish(reference, dir, *insecure)?,
        PackageCommand::Search {
            registry: host,
            term,
            insecure,
        } => search(host, term.as_deref(), *insecure)?,
        PackageCommand::Install {
            reference,
            params,
            depends_on,
            insecure,
        } => install(root, reference, params, depends_on, *insecure).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `host keygen <name>`: a key pair, and how installers come to trust it.
fn keygen(name: &Path) -> Result<()> {
    let key = package::sign::generate()?;
    let private = name.with_extension("key");
    let public = name.with_extension("pub");
    package::sign::write_private(&private, &key)?;
    let text = package::sign::public_text(&key.verifying_key());
    std::fs::write(&public, format!("{text}\n"))?;
    say!("Private key: {} (keep it secret)", private.display());
    say!("Public key:  {} ({})", text, public.display());
    say!("Installers trust it with, in their host.toml:\n[trust]\n\"<namespace>\" = [\"{text}\"]");
    Ok(())
}

/// `host package build`: components, OCI documents and the index in dist/.
async fn build(dir: &Path, locked: bool, limits: Limits) -> Result<()> {
    let sandbox = super::args::sandbox_caching_in(project::cache_dir(dir), limits)?;
    let built = package::build::build(dir, &sandbox, !locked, &mut |e| eprintln!("{e}")).await?;
    let i = &built.index;
    say!(
        "Built {}/{}@{}: {} revision(s) in {}; index {}",
        i.namespace,
        i.name,
        i.version,
        i.revisions.len(),
        dir.join(package::DIST_DIR).display(),
        built.digest
    );
    // Installers give packages no grants: say so now, not at their install.
    for r in &i.revisions {
        let refused =
            host::imports::refused(r.imports.iter().map(String::as_str), &Default::default());
        if !refused.is_empty() {
            eprintln!(
                "warning: revision {} imports {}; installers will refuse the package",
                r.id,
                refused.join(", ")
            );
        }
    }
    say!("Next: host package sign {} --key <your.key>", dir.display());
    Ok(())
}

/// `host package sign`: sign a built index.
fn sign(dir: &Path, key: &Path) -> Result<()> {
    let (built, sig) = package::build::sign(dir, key)?;
    let i = &built.index;
    say!(
        "Signed {}/{}@{} (index {}) with {}",
        i.namespace,
        i.name,
        i.version,
        built.digest,
        sig.key
    );
    Ok(())
}

/// `host package list`: installed packages, their parameters and revisions.
fn list(root: &Path) -> Result<()> {
    let project = Project::open(root)?;
    let packages = package::install::list(&project);
    if packages.is_empty() {
        say!("No packages installed.");
    }
    for (name, revs) in packages {
        say!("{name}");
        let short = name.rsplit_once('@').map_or(name.as_str(), |(n, _)| n);
        for (k, v) in project.host_toml.packages.get(short).into_iter().flatten() {
            say!("  param {k} = {v:?}");
        }
        for r in revs {
            say!("  {} {} ({})", r.id, r.message, r.file);
        }
    }
    Ok(())
}

/// `host publish <reference>`.
fn publish(reference: &str, dir: &Path, insecure: bool) -> Result<()> {
    let r = Reference::parse(reference).map_err(anyhow::Error::msg)?;
    let digest = package::publish::publish(dir, &r, &registry(&r.registry, insecure))?;
    say!("Published {r} ({digest})");
    say!("Install it with: host install {r}");
    Ok(())
}

/// `host search <registry> [term]`.
fn search(host: &str, term: Option<&str>, insecure: bool) -> Result<()> {
    let search = package::publish::search(&registry(host, insecure), term)?;
    for (repo, why) in &search.skipped {
        eprintln!("warning: left out {host}/{repo}: {why}");
    }
    if search.found.is_empty() {
        say!("No migration packages found in {host}.");
    }
    for f in search.found {
        say!(
            "{host}/{}  {}  {}",
            f.repository,
            f.versions.join(", "),
            f.description
        );
    }
    Ok(())
}

/// `host install <reference>`.
async fn install(
    root: &Path,
    reference: &str,
    params: &[String],
    depends_on: &[String],
    insecure: bool,
) -> Result<()> {
    let r = Reference::parse(reference).map_err(anyhow::Error::msg)?;
    let mut opts = package::install::Options::default();
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            bail!("--param {p:?}: expected KEY=VALUE");
        };
        opts.params.insert(k.to_string(), v.to_string());
    }
    if !depends_on.is_empty() {
        opts.depends_on = Some(depends_on.to_vec());
    }
    let done = package::install::install(root, &registry(&r.registry, insecure), &r, &opts).await?;
    for w in &done.warnings {
        eprintln!("warning: {}", super::output::terminal_safe(w));
    }
    say!("Installed {} ({})", done.package, done.digest);
    for id in &done.added {
        say!("  added {id}");
    }
    if !done.kept.is_empty() {
        say!("  already installed: {}", done.kept.join(", "));
    }
    for (k, v) in &done.params {
        say!("  param {k} = {v:?}");
    }
    say!("Apply with: host run head");
    Ok(())
}
