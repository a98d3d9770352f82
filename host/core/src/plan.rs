//! Targets (Alembic's syntax: `head`, `heads`, `base`, ids and prefixes,
//! `+N`, `-N`, `rev+N`, `label@head`, `label@-1`, `start:end`) and the ordered
//! steps that move a database from its current heads to a target. Pure: no I/O.

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

/// What a target is measured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// The single head (of the branch, with a label).
    Head,
    /// Every head (of the branch, with a label).
    Heads,
    /// Before the first revision (of the branch, with a label).
    Base,
    /// A full id or a prefix.
    Revision(String),
    /// The database's current heads (for a bare `+N` / `-N`).
    Current,
}

/// A parsed target, before it is resolved against a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `label@...`: restricts the target to one branch.
    pub label: Option<String>,
    /// Where it starts.
    pub anchor: Anchor,
    /// Steps up (positive) or down (negative) from the anchor.
    pub offset: i64,
}

/// A `start:end` range (offline SQL, history); either side may be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Where it starts (exclusive for SQL: what is assumed applied).
    pub start: Option<Target>,
    /// Where it ends.
    pub end: Option<Target>,
}

impl Target {
    /// The target `head`.
    pub fn head() -> Target {
        Target {
            label: None,
            anchor: Anchor::Head,
            offset: 0,
        }
    }

    /// Parses Alembic's target syntax.
    pub fn parse(text: &str) -> Result<Target, PlanError> {
        let bad = || PlanError::BadTarget(text.to_string());
        let t = text.trim();
        if t.is_empty() || t.contains(':') || t.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (label, rest) = match t.split_once('@') {
            Some((l, r)) if !l.is_empty() && !r.contains('@') => (Some(l.to_string()), r),
            Some(_) => return Err(bad()),
            None => (None, t),
        };
        let split = rest.find(['+', '-']);
        let (anchor_text, offset_text) = match split {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let offset = if offset_text.is_empty() {
            0
        } else {
            let n: i64 = offset_text[1..].parse().map_err(|_| bad())?;
            if n <= 0 {
                return Err(bad());
            }
            if offset_text.starts_with('-') { -n } else { n }
        };
        let anchor = match anchor_text {
            "" if offset != 0 => Anchor::Current,
            "" if label.is_some() => return Err(bad()),
            "" => return Err(bad()),
            "head" => Anchor::Head,
            "heads" => Anchor::Heads,
            "base" => Anchor::Base,
            id => Anchor::Revision(id.to_string()),
        };
        if anchor == Anchor::Heads && offset != 0 {
            return Err(bad());
        }
        Ok(Target {
            label,
            anchor,
            offset,
        })
    }
}

impl Range {
    /// Parses `start:end`, `start:` or `:end`; a plain target is `:target`.
    pub fn parse(text: &str) -> Result<Range, PlanError> {
        let side = |s: &str| -> Result<Option<Target>, PlanError> {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                Target::parse(s).map(Some)
            }
        };
        match text.split_once(':') {
            Some((a, b)) => Ok(Range {
                start: side(a)?,
                end: side(b)?,
            }),
            None => Ok(Range {
                start: None,
                end: Some(Target::parse(text)?),
            }),
        }
    }
}

/// A resolved target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// These revisions (and so everything they need) applied.
    At(Vec<String>),
    /// None of these revisions nor anything above them applied (`base`).
    Below(Vec<String>),
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

    /// The revisions the steps run, in order.
    pub fn revisions(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.revision.clone()).collect()
    }
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The target text is not a target.
    #[error(
        "{0:?} is not a target: use head, heads, base, a revision id (or a prefix of 4+ characters), +N, -N, rev+N, rev-N, label@head, label@base, label@rev or label@+N"
    )]
    BadTarget(String),
    /// A range where only a single target is allowed, or the other way round.
    #[error("{0}")]
    Range(String),
    /// A revision id did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// No revision carries the label.
    #[error("no such branch label {label:?}; labels in this project: {}", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    NoSuchBranch {
        /// The label asked for.
        label: String,
        /// Labels that exist.
        known: Vec<String>,
    },
    /// `label@rev` with a revision outside the branch.
    #[error("revision {revision} is not a member of branch {label:?}")]
    NotMember {
        /// The label.
        label: String,
        /// The revision.
        revision: String,
    },
    /// The database names a revision the project does not have.
    #[error(
        "the database is at revision {0}, which is not in this project's lock; use the lock that wrote it, or run `host identify` to find the revision the schema is at and `host stamp --purge <rev>` to record it"
    )]
    UnknownCurrent(String),
    /// `head` with several heads.
    #[error("{} several heads ({}); name one (e.g. `{}`), use `{}` for all of them{}", where_.as_deref().map(|l| format!("branch {l:?} has")).unwrap_or_else(|| "the project has".into()), heads.join(", "), heads[0], where_.as_deref().map(|l| format!("{l}@heads")).unwrap_or_else(|| "heads".into()), if where_.is_none() { ", or merge them with `host merge heads`" } else { "" })]
    MultipleHeads {
        /// The heads.
        heads: Vec<String>,
        /// The label, when the target named a branch.
        where_: Option<String>,
    },
    /// A relative step from several current heads.
    #[error("the database has several heads ({}), so {step} is ambiguous; use one of: {}", heads.join(", "), suggestions.join(", "))]
    AmbiguousFromHeads {
        /// Current heads.
        heads: Vec<String>,
        /// The relative target.
        step: String,
        /// Targets that would be unambiguous.
        suggestions: Vec<String>,
    },
    /// A walk reached a branch point or a merge.
    #[error("{step} is ambiguous at {at}: it can go to {}; name the revision instead (e.g. `{}`)", candidates.join(" or "), candidates[0])]
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
            PlanError::Range(_) => "bad_range",
            PlanError::Resolve(ResolveError::NotFound { .. }) => "unknown_revision",
            PlanError::Resolve(ResolveError::Ambiguous { .. }) => "ambiguous_prefix",
            PlanError::NoSuchBranch { .. } => "no_such_branch",
            PlanError::NotMember { .. } => "not_a_member",
            PlanError::UnknownCurrent(_) => "unknown_current",
            PlanError::MultipleHeads { .. } => "multiple_heads",
            PlanError::AmbiguousFromHeads { .. } => "ambiguous_heads",
            PlanError::AmbiguousWalk { .. } => "ambiguous_walk",
            PlanError::TooFar { .. } => "relative_out_of_range",
            PlanError::WrongDirection { .. } => "wrong_direction",
            PlanError::NotApplied { .. } => "not_applied",
        }
    }
}

/// Everything the current heads imply is applied.
pub fn applied_set(graph: &Graph, heads: &[String]) -> Result<BTreeSet<String>, PlanError> {
    for h in heads {
        if !graph.contains(h) {
            return Err(PlanError::UnknownCurrent(h.clone()));
        }
    }
    Ok(graph.ancestors(heads.iter().map(String::as_str)))
}

fn rel_text(t: &Target) -> String {
    let mut s = String::new();
    if let Some(l) = &t.label {
        s.push_str(l);
        s.push('@');
    }
    match &t.anchor {
        Anchor::Head => s.push_str("head"),
        Anchor::Heads => s.push_str("heads"),
        Anchor::Base => s.push_str("base"),
        Anchor::Revision(r) => s.push_str(r),
        Anchor::Current => {}
    }
    if t.offset > 0 {
        s.push_str(&format!("+{}", t.offset));
    } else if t.offset < 0 {
        s.push_str(&t.offset.to_string());
    }
    s
}

/// Resolves a target against the graph and the applied revisions.
pub fn resolve(
    graph: &Graph,
    target: &Target,
    applied: &BTreeSet<String>,
) -> Result<Point, PlanError> {
    let scope = match &target.label {
        Some(l) => Some(graph.branch(l).ok_or_else(|| PlanError::NoSuchBranch {
            label: l.clone(),
            known: graph.labels().iter().map(|(l, _)| l.to_string()).collect(),
        })?),
        None => None,
    };
    let scope = scope.as_ref();
    let start = match &target.anchor {
        Anchor::Head | Anchor::Heads => head_point(graph, target, scope)?,
        Anchor::Base => Point::Below(roots(graph, scope)),
        Anchor::Revision(text) => revision_point(graph, target, text, scope)?,
        Anchor::Current => current_point(graph, target, applied, scope)?,
    };
    walk(graph, start, target, scope)
}

fn in_scope(scope: Option<&BTreeSet<String>>, id: &str) -> bool {
    scope.is_none_or(|s| s.contains(id))
}

/// The revisions a walk from `base` starts below: the graph's bases, or the
/// members of the branch whose parents are all outside it.
fn roots(graph: &Graph, scope: Option<&BTreeSet<String>>) -> Vec<String> {
    match scope {
        None => graph.bases().iter().map(|s| s.to_string()).collect(),
        Some(s) => graph
            .sorted(s.iter().cloned())
            .into_iter()
            .filter(|id| {
                graph
                    .get(id)
                    .is_some_and(|r| r.parents.iter().all(|p| !s.contains(p)))
            })
            .collect(),
    }
}

/// `head` (one head, else an error naming them) or `heads`.
fn head_point(
    graph: &Graph,
    target: &Target,
    scope: Option<&BTreeSet<String>>,
) -> Result<Point, PlanError> {
    let heads: Vec<String> = graph
        .heads()
        .into_iter()
        .filter(|h| in_scope(scope, h))
        .map(String::from)
        .collect();
    if target.anchor == Anchor::Heads || heads.len() <= 1 {
        Ok(Point::At(heads))
    } else {
        Err(PlanError::MultipleHeads {
            heads,
            where_: target.label.clone(),
        })
    }
}

/// A revision named by id or prefix, which must be in the branch if one is named.
fn revision_point(
    graph: &Graph,
    target: &Target,
    text: &str,
    scope: Option<&BTreeSet<String>>,
) -> Result<Point, PlanError> {
    let id = match scope {
        Some(members) if !graph.contains(text) => {
            // Alembic lets a label disambiguate a prefix.
            let matches: Vec<&String> = members.iter().filter(|m| m.starts_with(text)).collect();
            match matches.as_slice() {
                [one] if text.len() >= 4 => one.to_string(),
                _ => graph.resolve(text)?.to_string(),
            }
        }
        _ => graph.resolve(text)?.to_string(),
    };
    if !in_scope(scope, &id) {
        return Err(PlanError::NotMember {
            label: target.label.clone().unwrap_or_default(),
            revision: id,
        });
    }
    Ok(Point::At(vec![id]))
}

/// Where the database is (`+N`, `-N`): its one current head, or below the
/// roots when nothing is applied; several heads are ambiguous.
fn current_point(
    graph: &Graph,
    target: &Target,
    applied: &BTreeSet<String>,
    scope: Option<&BTreeSet<String>>,
) -> Result<Point, PlanError> {
    let heads: Vec<String> = current_heads(graph, applied)
        .into_iter()
        .filter(|h| in_scope(scope, h))
        .collect();
    match heads.as_slice() {
        [] => Ok(Point::Below(roots(graph, scope))),
        [one] => Ok(Point::At(vec![one.clone()])),
        many => {
            let n = target.offset;
            let suggestions = many
                .iter()
                .map(|h| {
                    if n > 0 {
                        format!("{h}+{n}")
                    } else {
                        format!("{h}{n}")
                    }
                })
                .collect();
            Err(PlanError::AmbiguousFromHeads {
                heads: many.to_vec(),
                step: rel_text(target),
                suggestions,
            })
        }
    }
}

/// Moves `offset` steps from `start`: up through children (inside the branch
/// when a label is given), down through parents.
fn walk(
    graph: &Graph,
    start: Point,
    target: &Target,
    scope: Option<&BTreeSet<String>>,
) -> Result<Point, PlanError> {
    let walk = Walk {
        graph,
        scope,
        step: rel_text(target),
        from: start.describe(),
    };
    let mut cur = start;
    for taken in 0..target.offset.unsigned_abs() as i64 {
        cur = if target.offset > 0 {
            walk.up(&cur, taken)?
        } else {
            walk.down(&cur, taken)?
        };
    }
    Ok(cur)
}

impl Point {
    fn describe(&self) -> String {
        match self {
            Point::At(v) => v.join(", "),
            Point::Below(_) => "base".to_string(),
        }
    }
}

/// One relative walk: what the errors of each step name.
struct Walk<'a> {
    graph: &'a Graph,
    scope: Option<&'a BTreeSet<String>>,
    /// The step as the user wrote it (`+2`, `ae1027a6acf-1`).
    step: String,
    /// Where the walk started, in words.
    from: String,
}

impl Walk<'_> {
    /// The one revision a walk stands on, or an error when it stands on several.
    fn single<'p>(&self, v: &'p [String]) -> Result<&'p String, PlanError> {
        match v {
            [one] => Ok(one),
            _ => Err(PlanError::AmbiguousWalk {
                step: self.step.clone(),
                at: v.join(", "),
                candidates: v.to_vec(),
            }),
        }
    }

    /// One step up, to the only child (or root) there is.
    fn up(&self, cur: &Point, taken: i64) -> Result<Point, PlanError> {
        let options: Vec<String> = match cur {
            Point::Below(roots) => roots.clone(),
            Point::At(v) => self
                .graph
                .children(self.single(v)?)
                .into_iter()
                .filter(|c| in_scope(self.scope, c))
                .map(String::from)
                .collect(),
        };
        match options.as_slice() {
            [] => Err(PlanError::TooFar {
                step: self.step.clone(),
                from: self.from.clone(),
                available: taken,
                end: "head",
            }),
            [next] => Ok(Point::At(vec![next.clone()])),
            many => Err(PlanError::AmbiguousWalk {
                step: self.step.clone(),
                at: cur.describe(),
                candidates: many.to_vec(),
            }),
        }
    }

    /// One step down, to the only parent (or below a root).
    fn down(&self, cur: &Point, taken: i64) -> Result<Point, PlanError> {
        let v = match cur {
            Point::Below(_) => {
                return Err(PlanError::TooFar {
                    step: self.step.clone(),
                    from: self.from.clone(),
                    available: taken,
                    end: "base",
                });
            }
            Point::At(v) => v,
        };
        let one = self.single(v)?;
        let parents = &self.graph.get(one).expect("resolved ids exist").parents;
        match parents.as_slice() {
            [] => Ok(Point::Below(vec![one.clone()])),
            [p] => Ok(Point::At(vec![p.clone()])),
            many => Err(PlanError::AmbiguousWalk {
                step: self.step.clone(),
                at: one.clone(),
                candidates: many.to_vec(),
            }),
        }
    }
}

/// Plans `upgrade <target>` from the given heads table rows.
pub fn upgrade(graph: &Graph, current: &[String], target: &Target) -> Result<Plan, PlanError> {
    let applied = applied_set(graph, current)?;
    if target.anchor == Anchor::Current && target.offset < 0 {
        return Err(PlanError::WrongDirection {
            step: rel_text(target),
            command: Direction::Upgrade,
            hint: format!("host downgrade {}", rel_text(target)),
        });
    }
    let goals = match resolve(graph, target, &applied)? {
        Point::At(goals) => goals,
        Point::Below(_) => Vec::new(),
    };
    Ok(upgrade_to(graph, &applied, &goals))
}

/// The steps that apply everything `goals` need on top of `applied`.
pub fn upgrade_to(graph: &Graph, applied: &BTreeSet<String>, goals: &[String]) -> Plan {
    let wanted = graph.ancestors(goals.iter().map(String::as_str));
    let todo: Vec<String> = graph.sorted(wanted.difference(applied).cloned());
    let heads_before = graph.heads_of(applied);
    let mut heads = heads_before.clone();
    let steps = todo
        .into_iter()
        .map(|id| {
            // Incremental: recomputing the heads per step made long chains quadratic.
            heads = graph.heads_after_apply(&heads, &id);
            Step {
                direction: Direction::Upgrade,
                revision: id,
                heads_after: heads.clone(),
            }
        })
        .collect();
    Plan {
        steps,
        heads_before,
        heads_after: heads,
    }
}

/// Plans `downgrade <target>` from the given heads table rows.
pub fn downgrade(graph: &Graph, current: &[String], target: &Target) -> Result<Plan, PlanError> {
    let applied = applied_set(graph, current)?;
    if target.anchor == Anchor::Current && target.offset > 0 {
        return Err(PlanError::WrongDirection {
            step: rel_text(target),
            command: Direction::Downgrade,
            hint: format!("host upgrade {}", rel_text(target)),
        });
    }
    if target.anchor == Anchor::Current && applied.is_empty() {
        return Err(PlanError::TooFar {
            step: rel_text(target),
            from: "base".into(),
            available: 0,
            end: "base",
        });
    }
    let point = resolve(graph, target, &applied)?;
    let heads = graph.heads_of(&applied);
    let remove: BTreeSet<String> = match &point {
        Point::Below(roots) => graph
            .descendants(roots.iter().map(String::as_str))
            .intersection(&applied)
            .cloned()
            .collect(),
        Point::At(keep) => {
            for k in keep {
                if !applied.contains(k) {
                    return Err(PlanError::NotApplied {
                        target: k.clone(),
                        heads,
                    });
                }
            }
            let above = graph.descendants(keep.iter().map(String::as_str));
            let needed = graph.ancestors(keep.iter().map(String::as_str));
            above
                .difference(&needed)
                .filter(|r| applied.contains(*r))
                .cloned()
                .collect()
        }
    };
    Ok(downgrade_from(graph, &applied, remove))
}

/// The steps that revert `remove` from `applied`, dependents first.
pub fn downgrade_from(graph: &Graph, applied: &BTreeSet<String>, remove: BTreeSet<String>) -> Plan {
    let mut now = applied.clone();
    let heads_before = graph.heads_of(applied);
    let mut heads = heads_before.clone();
    let steps = graph
        .sorted(remove)
        .into_iter()
        .rev()
        .map(|id| {
            now.remove(&id);
            heads = graph.heads_after_revert(&heads, &id, &now);
            Step {
                direction: Direction::Downgrade,
                revision: id,
                heads_after: heads.clone(),
            }
        })
        .collect();
    Plan {
        steps,
        heads_before,
        heads_after: heads,
    }
}

/// The heads table after `stamp <targets>`: each target replaces the
/// revisions of its own lineage and leaves unrelated branches alone.
pub fn stamp(
    graph: &Graph,
    current: &[String],
    targets: &[Target],
    purge: bool,
) -> Result<Vec<String>, PlanError> {
    let mut applied = if purge {
        BTreeSet::new()
    } else {
        applied_set(graph, current)?
    };
    for t in targets {
        match resolve(graph, t, &applied)? {
            Point::Below(roots) => {
                let gone = graph.descendants(roots.iter().map(String::as_str));
                applied.retain(|r| !gone.contains(r));
            }
            Point::At(revs) => {
                let ids = revs.iter().map(String::as_str);
                let above = graph.descendants(ids.clone());
                let needed = graph.ancestors(ids);
                applied.retain(|r| !above.contains(r) || needed.contains(r));
                applied.extend(needed);
            }
        }
    }
    Ok(graph.heads_of(&applied))
}

/// Plans an offline (`--sql`) run over `start:end`: the start is assumed
/// applied, no database is read.
pub fn offline(graph: &Graph, direction: Direction, range: &Range) -> Result<Plan, PlanError> {
    let empty = BTreeSet::new();
    let point_set = |t: &Target| -> Result<BTreeSet<String>, PlanError> {
        Ok(match resolve(graph, t, &empty)? {
            Point::At(v) => graph.ancestors(v.iter().map(String::as_str)),
            Point::Below(_) => BTreeSet::new(),
        })
    };
    match direction {
        Direction::Upgrade => {
            let applied = match &range.start {
                Some(t) => point_set(t)?,
                None => BTreeSet::new(),
            };
            let end = range.end.clone().unwrap_or_else(Target::head);
            if end.anchor == Anchor::Current {
                return Err(PlanError::Range(
                    "offline mode does not read the database: write `start:+N`, not a bare +N"
                        .into(),
                ));
            }
            let heads = graph.heads_of(&applied);
            upgrade(graph, &heads, &end)
        }
        Direction::Downgrade => {
            let (Some(start), Some(end)) = (&range.start, &range.end) else {
                return Err(PlanError::Range(
                    "downgrade --sql needs both ends, as `from:to` (e.g. `head:base`), because offline mode does not read the database".into(),
                ));
            };
            let applied = point_set(start)?;
            downgrade(graph, &graph.heads_of(&applied), end)
        }
    }
}

/// Revisions in `start:end` for `history -r`: descendants of start that end needs.
pub fn range_members(
    graph: &Graph,
    range: &Range,
    applied: &BTreeSet<String>,
) -> Result<BTreeSet<String>, PlanError> {
    let all: BTreeSet<String> = graph.topological().map(|r| r.id.clone()).collect();
    let upper = match &range.end {
        None => all.clone(),
        Some(t) => match resolve(graph, t, applied)? {
            Point::At(v) => graph.ancestors(v.iter().map(String::as_str)),
            Point::Below(_) => BTreeSet::new(),
        },
    };
    let lower = match &range.start {
        None => all,
        Some(t) => match resolve(graph, t, applied)? {
            Point::At(v) => graph.descendants(v.iter().map(String::as_str)),
            Point::Below(_) => graph.topological().map(|r| r.id.clone()).collect(),
        },
    };
    Ok(upper.intersection(&lower).cloned().collect())
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

#[cfg(test)]
mod tests;
