//! Targets (`head`, `base`, ids, `+N`, `-N`) and the ordered steps that move
//! a database from its current heads to a target. Pure: no I/O.

use crate::graph::{Graph, ResolveError};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// Which way a step moves the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applies a revision.
    Upgrade,
    /// Reverts a revision.
    Downgrade,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        })
    }
}

/// A parsed target, before it is resolved against a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The single head.
    Head,
    /// Every head.
    Heads,
    /// Before the first revision.
    Base,
    /// A full id or a prefix.
    Revision(String),
    /// `+N` / `-N`, relative to the current heads.
    Relative(i64),
}

impl Target {
    /// Parses the target syntax Alembic users type.
    pub fn parse(text: &str) -> Result<Target, PlanError> {
        let t = text.trim();
        match t {
            "head" => return Ok(Target::Head),
            "heads" => return Ok(Target::Heads),
            "base" => return Ok(Target::Base),
            "" => return Err(PlanError::BadTarget(text.to_string())),
            _ => {}
        }
        if let Some(rest) = t.strip_prefix('+').or_else(|| t.strip_prefix('-')) {
            let n: i64 = rest
                .parse()
                .map_err(|_| PlanError::BadTarget(text.to_string()))?;
            if n <= 0 {
                return Err(PlanError::BadTarget(text.to_string()));
            }
            return Ok(Target::Relative(if t.starts_with('-') { -n } else { n }));
        }
        if t.contains(['@', ':', '+']) || t.contains('-') {
            return Err(PlanError::Unsupported(text.to_string()));
        }
        Ok(Target::Revision(t.to_string()))
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// The revision applied or reverted.
    pub revision: String,
    /// Heads table rows once this step is done.
    #[serde(skip)]
    pub heads_after: Vec<String>,
}

/// The ordered steps from the current heads to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Steps in the order they run.
    pub steps: Vec<Step>,
    /// Heads table rows before the first step.
    pub heads_before: Vec<String>,
    /// Heads table rows after the last step.
    pub heads_after: Vec<String>,
}

impl Plan {
    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The target text is not a target.
    #[error(
        "{0:?} is not a target: use head, heads, base, a revision id (or a prefix of 4+ characters), +N or -N"
    )]
    BadTarget(String),
    /// Valid Alembic syntax this host does not implement yet.
    #[error(
        "target {0:?} uses syntax (labels, ranges, rev+N) that this host does not support yet; use a revision id, head, base, +N or -N"
    )]
    Unsupported(String),
    /// A revision id did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The database names a revision the project does not have.
    #[error(
        "the database is at revision {0}, which is not in this project's lock; use the lock that wrote it, or `host stamp` the revision the schema really is at"
    )]
    UnknownCurrent(String),
    /// `head` with several heads.
    #[error("the project has several heads ({}); upgrade to one of them by id, or to `heads` for all", .0.join(", "))]
    MultipleHeads(Vec<String>),
    /// A relative step from several current heads.
    #[error("the database has several heads ({}); {} is ambiguous, name the revision instead (e.g. `{}`)", heads.join(", "), step, heads[0])]
    AmbiguousFromHeads {
        /// Current heads.
        heads: Vec<String>,
        /// The relative target.
        step: String,
    },
    /// A walk reached a branch point or a merge.
    #[error("{step} is ambiguous at {at}: it can go to {}; name the revision instead", candidates.join(" or "))]
    AmbiguousWalk {
        /// The relative target.
        step: String,
        /// Where the walk forked.
        at: String,
        /// The possible next revisions.
        candidates: Vec<String>,
    },
    /// A relative walk ran off the graph.
    #[error("{step} goes past the {end}: only {available} step(s) are possible from {from}")]
    TooFar {
        /// The relative target.
        step: String,
        /// Where the walk started.
        from: String,
        /// How many steps the graph allows.
        available: i64,
        /// "head" or "base".
        end: &'static str,
    },
    /// A relative target in the wrong direction.
    #[error("{step} points the wrong way for {command}; use `{hint}`")]
    WrongDirection {
        /// The relative target.
        step: String,
        /// "upgrade" or "downgrade".
        command: Direction,
        /// The command that would do it.
        hint: String,
    },
    /// A downgrade target that is not applied.
    #[error(
        "cannot downgrade to {target}: it is not applied (current heads: {}); `host upgrade {target}` moves up to it",
        if heads.is_empty() { "none, the database is at base".to_string() } else { heads.join(", ") }
    )]
    NotApplied {
        /// The target revision.
        target: String,
        /// Current heads.
        heads: Vec<String>,
    },
}

impl PlanError {
    /// A short machine-readable kind, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            PlanError::BadTarget(_) => "bad_target",
            PlanError::Unsupported(_) => "unsupported_target",
            PlanError::Resolve(ResolveError::NotFound { .. }) => "unknown_revision",
            PlanError::Resolve(ResolveError::Ambiguous { .. }) => "ambiguous_prefix",
            PlanError::UnknownCurrent(_) => "unknown_current",
            PlanError::MultipleHeads(_) => "multiple_heads",
            PlanError::AmbiguousFromHeads { .. } => "ambiguous_heads",
            PlanError::AmbiguousWalk { .. } => "ambiguous_walk",
            PlanError::TooFar { .. } => "relative_out_of_range",
            PlanError::WrongDirection { .. } => "wrong_direction",
            PlanError::NotApplied { .. } => "not_applied",
        }
    }
}

/// Everything the current heads imply is applied.
fn applied_set(graph: &Graph, heads: &[String]) -> Result<BTreeSet<String>, PlanError> {
    for h in heads {
        if !graph.contains(h) {
            return Err(PlanError::UnknownCurrent(h.clone()));
        }
    }
    Ok(graph.ancestors(heads.iter().map(String::as_str)))
}

fn rel_text(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// Plans `upgrade <target>` from the given heads table rows.
pub fn upgrade(graph: &Graph, current: &[String], target: &Target) -> Result<Plan, PlanError> {
    let applied = applied_set(graph, current)?;
    let goals: Vec<String> = match target {
        Target::Head => match graph.heads().as_slice() {
            [] => vec![],
            [one] => vec![one.to_string()],
            many => {
                return Err(PlanError::MultipleHeads(
                    many.iter().map(|s| s.to_string()).collect(),
                ));
            }
        },
        Target::Heads => graph.heads().iter().map(|s| s.to_string()).collect(),
        Target::Base => vec![],
        Target::Revision(r) => vec![graph.resolve(r)?.to_string()],
        Target::Relative(n) if *n < 0 => {
            return Err(PlanError::WrongDirection {
                step: rel_text(*n),
                command: Direction::Upgrade,
                hint: format!("host downgrade {n}"),
            });
        }
        Target::Relative(n) => vec![walk_up(graph, &current_heads(graph, &applied), *n)?],
    };
    let wanted = graph.ancestors(goals.iter().map(String::as_str));
    let todo: Vec<String> = graph.sorted(wanted.difference(&applied).cloned());
    let mut now = applied.clone();
    let steps = todo
        .into_iter()
        .map(|id| {
            now.insert(id.clone());
            Step {
                direction: Direction::Upgrade,
                revision: id,
                heads_after: graph.heads_of(&now),
            }
        })
        .collect();
    Ok(Plan {
        steps,
        heads_before: graph.heads_of(&applied),
        heads_after: graph.heads_of(&now),
    })
}

/// Plans `downgrade <target>` from the given heads table rows.
pub fn downgrade(graph: &Graph, current: &[String], target: &Target) -> Result<Plan, PlanError> {
    let applied = applied_set(graph, current)?;
    let heads = current_heads(graph, &applied);
    let remove: BTreeSet<String> = match target {
        Target::Base => applied.clone(),
        Target::Revision(r) => below(graph, &applied, &heads, graph.resolve(r)?)?,
        Target::Head | Target::Heads => BTreeSet::new(),
        Target::Relative(n) if *n > 0 => {
            return Err(PlanError::WrongDirection {
                step: rel_text(*n),
                command: Direction::Downgrade,
                hint: format!("host upgrade +{n}"),
            });
        }
        Target::Relative(n) => match walk_down(graph, &heads, -*n)? {
            Some(rev) => below(graph, &applied, &heads, &rev)?,
            // Walked off the root: the whole lineage of that root goes.
            None => {
                let root = lineage_root(graph, &heads[0]);
                graph
                    .descendants([root.as_str()])
                    .intersection(&applied)
                    .cloned()
                    .collect()
            }
        },
    };
    let mut now = applied.clone();
    let order = graph.sorted(remove);
    let steps = order
        .into_iter()
        .rev()
        .map(|id| {
            now.remove(&id);
            Step {
                direction: Direction::Downgrade,
                revision: id,
                heads_after: graph.heads_of(&now),
            }
        })
        .collect();
    Ok(Plan {
        steps,
        heads_before: graph.heads_of(&applied),
        heads_after: graph.heads_of(&now),
    })
}

/// What must be reverted to come down to `target`: everything applied that needs it, but not itself.
fn below(
    graph: &Graph,
    applied: &BTreeSet<String>,
    heads: &[String],
    target: &str,
) -> Result<BTreeSet<String>, PlanError> {
    if !applied.contains(target) {
        return Err(PlanError::NotApplied {
            target: target.to_string(),
            heads: heads.to_vec(),
        });
    }
    let mut gone: BTreeSet<String> = graph
        .descendants([target])
        .intersection(applied)
        .cloned()
        .collect();
    gone.remove(target);
    Ok(gone)
}

/// Current heads through parent edges only (what `+N`/`-N` walk from).
fn current_heads(graph: &Graph, applied: &BTreeSet<String>) -> Vec<String> {
    let with_children: BTreeSet<&str> = applied
        .iter()
        .flat_map(|id| {
            graph
                .get(id)
                .map(|r| r.parents.iter().map(String::as_str))
                .into_iter()
                .flatten()
        })
        .collect();
    graph.sorted(
        applied
            .iter()
            .filter(|id| !with_children.contains(id.as_str()))
            .cloned(),
    )
}

fn walk_up(graph: &Graph, heads: &[String], n: i64) -> Result<String, PlanError> {
    let step = rel_text(n);
    let (mut cur, mut options): (String, Vec<String>) = match heads {
        [] => (
            "base".to_string(),
            graph.bases().iter().map(|s| s.to_string()).collect(),
        ),
        [one] => (
            one.clone(),
            graph.children(one).iter().map(|s| s.to_string()).collect(),
        ),
        many => {
            return Err(PlanError::AmbiguousFromHeads {
                heads: many.to_vec(),
                step,
            });
        }
    };
    let from = cur.clone();
    for taken in 0..n {
        match options.as_slice() {
            [] => {
                return Err(PlanError::TooFar {
                    step,
                    from,
                    available: taken,
                    end: "head",
                });
            }
            [next] => cur = next.clone(),
            many => {
                return Err(PlanError::AmbiguousWalk {
                    step,
                    at: cur,
                    candidates: many.to_vec(),
                });
            }
        }
        options = graph.children(&cur).iter().map(|s| s.to_string()).collect();
    }
    Ok(cur)
}

/// Walks `n` parent edges down; `None` means one step past a root (base).
fn walk_down(graph: &Graph, heads: &[String], n: i64) -> Result<Option<String>, PlanError> {
    let step = rel_text(-n);
    let mut cur = match heads {
        [] => {
            return Err(PlanError::TooFar {
                step,
                from: "base".into(),
                available: 0,
                end: "base",
            });
        }
        [one] => one.clone(),
        many => {
            return Err(PlanError::AmbiguousFromHeads {
                heads: many.to_vec(),
                step,
            });
        }
    };
    let from = cur.clone();
    for taken in 0..n {
        let parents = &graph.get(&cur).expect("walk stays in the graph").parents;
        match parents.as_slice() {
            [] if taken == n - 1 => return Ok(None),
            [] => {
                return Err(PlanError::TooFar {
                    step,
                    from,
                    available: taken + 1,
                    end: "base",
                });
            }
            [p] => cur = p.clone(),
            many => {
                return Err(PlanError::AmbiguousWalk {
                    step,
                    at: cur,
                    candidates: many.to_vec(),
                });
            }
        }
    }
    Ok(Some(cur))
}

fn lineage_root(graph: &Graph, id: &str) -> String {
    let mut cur = id.to_string();
    while let Some(p) = graph.get(&cur).and_then(|r| r.parents.first()) {
        cur = p.clone();
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::graph;

    fn ids(plan: &Plan) -> Vec<String> {
        plan.steps.iter().map(|s| s.revision.clone()).collect()
    }

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    fn taskman() -> Graph {
        graph(&[
            "c7bb9a9f0570",
            "a1b2c3d4e5f6:c7bb9a9f0570",
            "934f38a4fc73:a1b2c3d4e5f6",
        ])
        .unwrap()
    }

    #[test]
    fn parses_targets() {
        assert_eq!(Target::parse("head").unwrap(), Target::Head);
        assert_eq!(Target::parse("+2").unwrap(), Target::Relative(2));
        assert_eq!(Target::parse("-1").unwrap(), Target::Relative(-1));
        assert_eq!(
            Target::parse("ae10").unwrap(),
            Target::Revision("ae10".into())
        );
        assert!(matches!(Target::parse("+0"), Err(PlanError::BadTarget(_))));
        assert!(matches!(Target::parse("+x"), Err(PlanError::BadTarget(_))));
        assert!(matches!(
            Target::parse("lbl@head"),
            Err(PlanError::Unsupported(_))
        ));
    }

    #[test]
    fn upgrade_head_from_base_applies_in_order() {
        let g = taskman();
        let p = upgrade(&g, &[], &Target::Head).unwrap();
        assert_eq!(
            ids(&p),
            v(&["c7bb9a9f0570", "a1b2c3d4e5f6", "934f38a4fc73"])
        );
        assert!(p.heads_before.is_empty());
        assert_eq!(p.heads_after, v(&["934f38a4fc73"]));
        assert_eq!(p.steps[0].heads_after, v(&["c7bb9a9f0570"]));
        assert!(p.steps.iter().all(|s| s.direction == Direction::Upgrade));
    }

    #[test]
    fn upgrade_is_a_no_op_at_or_above_target() {
        let g = taskman();
        let at_head = v(&["934f38a4fc73"]);
        assert!(upgrade(&g, &at_head, &Target::Head).unwrap().is_empty());
        assert!(
            upgrade(&g, &at_head, &Target::Revision("a1b2".into()))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn relative_walks() {
        let g = taskman();
        assert_eq!(
            ids(&upgrade(&g, &[], &Target::Relative(1)).unwrap()),
            v(&["c7bb9a9f0570"])
        );
        assert_eq!(
            ids(&upgrade(&g, &v(&["c7bb9a9f0570"]), &Target::Relative(2)).unwrap()),
            v(&["a1b2c3d4e5f6", "934f38a4fc73"])
        );
        let err = upgrade(&g, &v(&["a1b2c3d4e5f6"]), &Target::Relative(2)).unwrap_err();
        assert!(
            matches!(err, PlanError::TooFar { available: 1, .. }),
            "{err}"
        );
        let head = v(&["934f38a4fc73"]);
        assert_eq!(
            ids(&downgrade(&g, &head, &Target::Relative(-1)).unwrap()),
            v(&["934f38a4fc73"])
        );
        let p = downgrade(&g, &head, &Target::Relative(-3)).unwrap();
        assert_eq!(
            ids(&p),
            v(&["934f38a4fc73", "a1b2c3d4e5f6", "c7bb9a9f0570"])
        );
        assert!(p.heads_after.is_empty());
        assert!(matches!(
            downgrade(&g, &head, &Target::Relative(-4)).unwrap_err(),
            PlanError::TooFar { available: 3, .. }
        ));
        assert!(matches!(
            downgrade(&g, &[], &Target::Relative(-1)).unwrap_err(),
            PlanError::TooFar { .. }
        ));
        assert!(matches!(
            upgrade(&g, &head, &Target::Relative(-1)).unwrap_err(),
            PlanError::WrongDirection { .. }
        ));
        assert!(matches!(
            downgrade(&g, &head, &Target::Relative(1)).unwrap_err(),
            PlanError::WrongDirection { .. }
        ));
    }

    #[test]
    fn downgrade_to_revision_and_base() {
        let g = taskman();
        let head = v(&["934f38a4fc73"]);
        let p = downgrade(&g, &head, &Target::Revision("c7bb9a9f0570".into())).unwrap();
        assert_eq!(ids(&p), v(&["934f38a4fc73", "a1b2c3d4e5f6"]));
        assert_eq!(p.steps[0].heads_after, v(&["a1b2c3d4e5f6"]));
        assert_eq!(p.heads_after, v(&["c7bb9a9f0570"]));
        let p = downgrade(&g, &head, &Target::Base).unwrap();
        assert_eq!(ids(&p).len(), 3);
        let err =
            downgrade(&g, &v(&["c7bb9a9f0570"]), &Target::Revision("934f".into())).unwrap_err();
        assert!(matches!(err, PlanError::NotApplied { .. }));
    }

    #[test]
    fn unknown_current_revision_is_reported() {
        let err = upgrade(&taskman(), &v(&["zzzzzzzz"]), &Target::Head).unwrap_err();
        assert_eq!(err.kind(), "unknown_current");
        assert!(err.to_string().contains("stamp"));
    }

    #[test]
    fn branches_need_explicit_targets() {
        let g = graph(&["r", "a1:r", "b1:r", "m:a1,b1"]).unwrap();
        let p = upgrade(&g, &v(&["a1"]), &Target::Relative(1)).unwrap();
        assert_eq!(ids(&p), v(&["b1", "m"]));
        assert_eq!(p.steps[0].heads_after, v(&["a1", "b1"]));
        let err = upgrade(&g, &v(&["r"]), &Target::Relative(1)).unwrap_err();
        assert!(matches!(err, PlanError::AmbiguousWalk { .. }), "{err}");
        let err = downgrade(&g, &v(&["m"]), &Target::Relative(-1)).unwrap_err();
        assert!(matches!(err, PlanError::AmbiguousWalk { .. }), "{err}");
        let err = downgrade(&g, &v(&["a1", "b1"]), &Target::Relative(-1)).unwrap_err();
        assert!(matches!(err, PlanError::AmbiguousFromHeads { .. }), "{err}");
        let p = downgrade(&g, &v(&["a1", "b1"]), &Target::Revision("a1".into())).unwrap();
        assert!(p.is_empty());
        let p = downgrade(&g, &v(&["m"]), &Target::Revision("b1".into())).unwrap();
        assert_eq!(ids(&p), v(&["m"]));
        assert_eq!(p.heads_after, v(&["a1", "b1"]));
        let g2 = graph(&["r", "a1:r", "b1:r"]).unwrap();
        assert!(matches!(
            upgrade(&g2, &[], &Target::Head).unwrap_err(),
            PlanError::MultipleHeads(_)
        ));
        assert_eq!(
            ids(&upgrade(&g2, &[], &Target::Heads).unwrap()),
            v(&["r", "a1", "b1"])
        );
    }
}
