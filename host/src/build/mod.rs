//! `host build`: finds a project's revisions (Rust crates and C, Python and
//! JavaScript folders), builds each through its language module, asks each
//! component for its `info()`, and writes (or, with `--check`, compares)
//! `migrations.lock`.
//!
//! Nothing here prints: progress and warnings reach the caller as
//! [`BuildEvent`]s while they happen.

pub mod c;
pub mod encode;
pub mod error;
pub mod js;
pub mod language;
pub mod python;
pub mod rust;
pub mod scaffold;
pub mod tool;

pub use encode::{encode, is_component};
pub use error::BuildError;
pub use language::{Language, sources_digest};
pub use rust::GUEST_TARGET;
pub use tool::ToolchainError;

use crate::lock::{LOCK_FILE, Lock, LockedRevision};
use crate::project::VerifiedComponent;
use crate::runtime::sandbox::{Info, Sandbox};
use error::io;
use std::collections::BTreeSet;
use std::path::Path;

/// Folder, under the project, that holds the built components.
pub const COMPONENTS_DIR: &str = "components";

/// What a build reports while it runs; its `Display` is the line to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// A C, Python or JavaScript folder is handed to its toolchain.
    Building {
        /// The revision folder.
        dir: String,
        /// Its language.
        language: Language,
    },
    /// A non-reproducible revision's sources are those it was locked with,
    /// so its component is kept rather than rebuilt into other bytes.
    Kept {
        /// The revision folder.
        dir: String,
        /// Its language.
        language: Language,
        /// The component file kept.
        file: String,
    },
    /// `--check` compared a non-reproducible revision by its sources digest.
    SourcesCompared {
        /// The revision id.
        id: String,
        /// Its language.
        language: Language,
    },
    /// A warning: a revision builds on one that is not in this project.
    OutsideProject {
        /// The revision with the dangling edge.
        revision: String,
        /// The id it builds on.
        missing: String,
    },
}

impl std::fmt::Display for BuildEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildEvent::Building { dir, language } => {
                write!(f, "building {dir} ({})", language.name())
            }
            BuildEvent::Kept {
                dir,
                language,
                file,
            } => write!(
                f,
                "{dir} ({}): sources unchanged, keeping {file}",
                language.name()
            ),
            BuildEvent::SourcesCompared { id, language } => write!(
                f,
                "{id} ({}): built from the locked sources; {} does not build byte-identical components, so the sources digest was compared instead of the bytes",
                language.name(),
                language.name()
            ),
            BuildEvent::OutsideProject { revision, missing } => write!(
                f,
                "warning: revision {revision} builds on {missing}, which is not in this project; this lock is usable only merged into a project that has it"
            ),
        }
    }
}

/// Where build events go.
pub type OnEvent<'a> = &'a mut (dyn FnMut(BuildEvent) + Send);

/// What one build works from: the project, the lock it replaces and the
/// compiled Rust workspace.
struct Context<'a> {
    project: &'a Path,
    old: Option<Lock>,
    compiled: rust::Compiled,
    check: bool,
}

/// One revision's component, before and after `info()`.
struct Built {
    dir: String,
    lang: Language,
    sources: Option<String>,
    component: Vec<u8>,
    hash: String,
}

/// Builds every revision (Rust crates, C, Python and JavaScript folders) and
/// writes (or, with `check`, compares) the lock; `on_event` hears of progress
/// and warnings as they happen.
pub async fn build(
    project: &Path,
    sandbox: &Sandbox,
    check: bool,
    on_event: OnEvent<'_>,
) -> Result<Lock, BuildError> {
    let grants =
        crate::project::read_grants(project).map_err(|e| BuildError::Settings(e.to_string()))?;
    let out_dir = project.join(COMPONENTS_DIR);
    if !check {
        std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
    }
    let old = std::fs::read_to_string(project.join(LOCK_FILE))
        .ok()
        .and_then(|t| Lock::parse(&t, &project.join(LOCK_FILE)).ok());
    let compiled = rust::compile(project)?;
    let mut units: Vec<(String, Language)> = compiled
        .dirs()
        .map(|d| (d.to_string(), Language::Rust))
        .collect();
    units.extend(language::revisions(project)?);
    let cx = Context {
        project,
        old,
        compiled,
        check,
    };
    let mut lock = Lock::new();
    let mut differs = Vec::new();
    for (dir, lang) in units {
        let built = cx.component(dir, lang, on_event)?;
        let info = identify(sandbox, &grants, &built).await?;
        let file = format!("{COMPONENTS_DIR}/{}.wasm", built.dir.replace('/', "_"));
        if check {
            cx.compare(&info.id, &built, &mut differs, on_event);
        } else {
            let path = project.join(&file);
            crate::project::write_atomically(&path, &built.component).map_err(io(&path))?;
        }
        lock.revisions.push(cx.locked(info, built, file));
    }
    keep_installed(&mut lock, cx.old.as_ref());
    order_parents_first(&mut lock, on_event)?;
    if check {
        if !differs.is_empty() {
            return Err(BuildError::Differs(differs));
        }
    } else {
        let path = project.join(LOCK_FILE);
        crate::project::write_lock(project, &lock).map_err(io(&path))?;
    }
    Ok(lock)
}

impl Context<'_> {
    /// Builds one revision through its language module (or keeps the
    /// component of unchanged sources).
    fn component(
        &self,
        dir: String,
        lang: Language,
        on_event: OnEvent<'_>,
    ) -> Result<Built, BuildError> {
        let sources = match lang {
            Language::Rust => None,
            _ => Some(sources_digest(self.project, &dir, lang)?),
        };
        let component = match self.unchanged_component(&dir, lang, &sources, on_event) {
            Some(bytes) => bytes,
            None => self.build_one(&dir, lang, on_event)?,
        };
        let hash = blake3::hash(&component).to_hex().to_string();
        Ok(Built {
            dir,
            lang,
            sources,
            component,
            hash,
        })
    }

    /// Builds one revision with its language's toolchain.
    fn build_one(
        &self,
        dir: &str,
        lang: Language,
        on_event: OnEvent<'_>,
    ) -> Result<Vec<u8>, BuildError> {
        // cargo built every crate already and showed its own progress.
        if lang != Language::Rust {
            on_event(BuildEvent::Building {
                dir: dir.to_string(),
                language: lang,
            });
        }
        Ok(match lang {
            Language::Rust => rust::build(&self.compiled, dir)?,
            Language::C => c::build(self.project, dir)?,
            Language::Python => python::build(self.project, dir)?,
            Language::Js => js::build(self.project, dir)?,
        })
    }

    /// The component already in the project for a revision whose toolchain is
    /// not reproducible, when its sources are those it was locked with: a
    /// rebuild would only give other bytes. `--check` always rebuilds.
    fn unchanged_component(
        &self,
        dir: &str,
        lang: Language,
        sources: &Option<String>,
        on_event: OnEvent<'_>,
    ) -> Option<Vec<u8>> {
        if self.check || lang.reproducible() {
            return None;
        }
        let locked = self
            .old
            .as_ref()?
            .revisions
            .iter()
            .find(|r| r.source.as_deref() == Some(dir))?;
        if locked.sources_blake3.as_ref() != sources.as_ref() {
            return None;
        }
        let bytes = std::fs::read(self.project.join(&locked.file)).ok()?;
        (blake3::hash(&bytes).to_hex().as_str() == locked.blake3).then(|| {
            on_event(BuildEvent::Kept {
                dir: dir.to_string(),
                language: lang,
                file: locked.file.clone(),
            });
            bytes
        })
    }

    /// `--check`: how a rebuilt revision differs from its locked one, if it does.
    fn compare(&self, id: &str, built: &Built, differs: &mut Vec<String>, on_event: OnEvent<'_>) {
        let lang = built.lang;
        match self.old.as_ref().and_then(|l| l.get(id)) {
            Some(locked) if locked.blake3 == built.hash => {}
            // Toolchains that snapshot an interpreter never give the same
            // bytes twice: the sources it was built from are compared instead.
            Some(locked) if !lang.reproducible() => {
                if locked.sources_blake3 == built.sources {
                    on_event(BuildEvent::SourcesCompared {
                        id: id.to_string(),
                        language: lang,
                    });
                } else {
                    differs.push(format!(
                        "{id} ({}): sources digest {} differs from the locked {}; the sources changed since `host build`",
                        lang.name(),
                        built.sources.as_deref().unwrap_or("-"),
                        locked.sources_blake3.as_deref().unwrap_or("(none)")
                    ));
                }
            }
            Some(locked) => differs.push(format!(
                "{id} built {}, locked {}",
                built.hash, locked.blake3
            )),
            None => differs.push(format!("{id} is not in the lock")),
        }
    }

    /// The lock entry of a built revision.
    fn locked(&self, info: Info, built: Built, file: String) -> LockedRevision {
        // Replay results stay valid while the component is the same bytes.
        let kept = self
            .old
            .as_ref()
            .and_then(|l| l.get(&info.id))
            .filter(|l| l.blake3 == built.hash);
        LockedRevision {
            transcript: kept.and_then(|l| l.transcript.clone()),
            fingerprint: kept.and_then(|l| l.fingerprint.clone()),
            id: info.id,
            down_revisions: info.down_revisions,
            branch_labels: info.branch_labels,
            depends_on: info.depends_on,
            message: info.message,
            transactional: info.transactional,
            file,
            blake3: built.hash,
            source: Some(built.dir),
            sources_blake3: built.sources,
            package: None,
            oci_digest: None,
        }
    }
}

/// Asks a component for its `info()`, then checks it links with the grants
/// its revision has in `host.toml`.
async fn identify(
    sandbox: &Sandbox,
    grants: &crate::project::Grants,
    built: &Built,
) -> Result<Info, BuildError> {
    let verified = VerifiedComponent {
        revision: built.dir.clone(),
        file: format!("the component built from {}", built.dir),
        bytes: built.component.clone(),
        blake3: built.hash.clone(),
    };
    // info() runs with nothing reachable, so any grantable import may link
    // for it; the revision's real grants are checked once its id is known.
    let everything: BTreeSet<String> = crate::imports::GRANTABLE
        .iter()
        .map(|g| g.to_string())
        .collect();
    let info = sandbox
        .info(&sandbox.prepare(&verified, &everything)?)
        .await?;
    let verified = VerifiedComponent {
        revision: info.id.clone(),
        ..verified
    };
    sandbox.prepare(
        &verified,
        &grants
            .get(&info.id)
            .map(|s| s.grant.clone())
            .unwrap_or_default(),
    )?;
    Ok(info)
}

/// Carries over the revisions installed from packages (`host install`): they
/// have no crate in the project, and a rebuild must not drop them.
fn keep_installed(lock: &mut Lock, old: Option<&Lock>) {
    for installed in old.iter().flat_map(|l| &l.revisions) {
        if installed.package.is_some() && lock.get(&installed.id).is_none() {
            lock.revisions.push(installed.clone());
        }
    }
}

/// Stores revisions parents-first so the lock reads like the history.
fn order_parents_first(lock: &mut Lock, on_event: OnEvent<'_>) -> Result<(), BuildError> {
    match lock.graph() {
        Ok(graph) => {
            let order: Vec<String> = graph.topological().map(|r| r.id.clone()).collect();
            lock.revisions
                .sort_by_key(|r| order.iter().position(|id| *id == r.id));
        }
        // Revisions that extend another project (test fixtures, packages) are
        // locked on their own and only form a graph once merged into it.
        Err(crate::graph::GraphError::Missing {
            revision, missing, ..
        }) => on_event(BuildEvent::OutsideProject { revision, missing }),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(id: &str, package: Option<&str>) -> LockedRevision {
        LockedRevision {
            id: id.into(),
            down_revisions: vec![],
            branch_labels: vec![],
            depends_on: vec![],
            message: "m".into(),
            transactional: true,
            file: format!("{id}.wasm"),
            blake3: "0".repeat(64),
            source: None,
            sources_blake3: None,
            transcript: None,
            fingerprint: None,
            package: package.map(String::from),
            oci_digest: None,
        }
    }

    #[test]
    fn a_rebuild_keeps_installed_package_revisions() {
        let mut old = Lock::new();
        old.revisions = vec![
            rev("own", None),
            rev("pkg", Some("ns/p@1.0.0")),
            rev("gone", None),
        ];
        let mut lock = Lock::new();
        lock.revisions = vec![rev("own", None)];
        keep_installed(&mut lock, Some(&old));
        let ids: Vec<&str> = lock.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["own", "pkg"]);
    }
}
