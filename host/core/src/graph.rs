//! The revision graph, built from the lock file alone (no WebAssembly is
//! touched), with Alembic's edges: parents (`down_revision`) and
//! `depends_on`.

use std::collections::{BTreeSet, HashMap};

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Revision id.
    pub id: String,
    /// Parents; several for a merge.
    pub parents: Vec<String>,
    /// Dependencies that are not parents.
    pub depends_on: Vec<String>,
    /// Branch labels.
    pub branch_labels: Vec<String>,
    /// Message.
    pub message: String,
}

/// Why a set of revisions does not form a valid graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Two revisions share an id.
    #[error("revision id {0} is used twice in the lock; give one of them a new id")]
    Duplicate(String),
    /// An id contains a character Alembic reserves for targets.
    #[error(
        "revision id {0:?} is not allowed: ids must be non-empty and must not contain '@', '-', '+', ':' or whitespace"
    )]
    InvalidId(String),
    /// A parent or dependency is unknown.
    #[error(
        "revision {revision} names {missing} as its {edge}, but no revision {missing} is in the lock; add it or fix the {edge}"
    )]
    Missing {
        /// The revision with the dangling edge.
        revision: String,
        /// The missing id.
        missing: String,
        /// "parent" or "dependency".
        edge: &'static str,
    },
    /// A revision points at itself.
    #[error("revision {0} names itself as a parent or dependency")]
    SelfReference(String),
    /// The edges form a cycle.
    #[error("the revisions {} form a cycle through their parents/dependencies; break it", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A branch label is used by two revisions.
    #[error("branch label {label:?} is used by both {first} and {second}; labels must be unique")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// First revision carrying it.
        first: String,
        /// Second revision carrying it.
        second: String,
    },
}

/// A validated revision graph.
#[derive(Debug, Clone)]
pub struct Graph {
    revs: Vec<Revision>,
    index: HashMap<String, usize>,
    /// Children through parent edges, per node.
    children: Vec<Vec<usize>>,
    /// Nodes that need each node (as parent or dependency), per node.
    dependents: Vec<Vec<usize>>,
    /// A topological order (parents first), stable with respect to input order.
    topo: Vec<usize>,
    /// Position of each node in `topo`.
    rank: Vec<usize>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id
            .chars()
            .any(|c| matches!(c, '@' | '-' | '+' | ':') || c.is_whitespace())
}

impl Graph {
    /// Builds and validates a graph; the input order breaks ties in orderings.
    pub fn new(revs: Vec<Revision>) -> Result<Graph, GraphError> {
        let mut index = HashMap::new();
        for (i, r) in revs.iter().enumerate() {
            if !valid_id(&r.id) {
                return Err(GraphError::InvalidId(r.id.clone()));
            }
            if index.insert(r.id.clone(), i).is_some() {
                return Err(GraphError::Duplicate(r.id.clone()));
            }
        }
        let mut labels: HashMap<&str, &str> = HashMap::new();
        for r in &revs {
            for l in &r.branch_labels {
                if let Some(first) = labels.insert(l, &r.id) {
                    return Err(GraphError::DuplicateLabel {
                        label: l.clone(),
                        first: first.to_string(),
                        second: r.id.clone(),
                    });
                }
            }
        }
        let n = revs.len();
        let mut children = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (i, r) in revs.iter().enumerate() {
            let edges = r
                .parents
                .iter()
                .map(|p| (p, "parent"))
                .chain(r.depends_on.iter().map(|d| (d, "dependency")));
            for (target, edge) in edges {
                if *target == r.id {
                    return Err(GraphError::SelfReference(r.id.clone()));
                }
                let Some(&t) = index.get(target) else {
                    return Err(GraphError::Missing {
                        revision: r.id.clone(),
                        missing: target.clone(),
                        edge,
                    });
                };
                if edge == "parent" {
                    children[t].push(i);
                }
                if !dependents[t].contains(&i) {
                    dependents[t].push(i);
                }
            }
        }
        let mut g = Graph {
            revs,
            index,
            children,
            dependents,
            topo: Vec::new(),
            rank: Vec::new(),
        };
        g.topo = g.toposort()?;
        g.rank = vec![0; n];
        for (pos, &i) in g.topo.iter().enumerate() {
            g.rank[i] = pos;
        }
        Ok(g)
    }

    /// Kahn's algorithm, always taking the earliest ready node in input order,
    /// so the order is deterministic and follows the lock where it can.
    fn toposort(&self) -> Result<Vec<usize>, GraphError> {
        let n = self.revs.len();
        let mut pending: Vec<usize> = (0..n).map(|i| self.needs(i).count()).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &self.dependents[i] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() < n {
            return Err(GraphError::Cycle(self.find_cycle(&pending)));
        }
        Ok(order)
    }

    /// Names the members of one cycle among nodes left unsorted.
    fn find_cycle(&self, pending: &[usize]) -> Vec<String> {
        let start = (0..self.revs.len()).find(|&i| pending[i] > 0).unwrap_or(0);
        let mut path = vec![start];
        let mut cur = start;
        loop {
            let next = self.needs(cur).find(|&p| pending[p] > 0).unwrap_or(start);
            if let Some(pos) = path.iter().position(|&x| x == next) {
                let mut cycle: Vec<String> = path[pos..]
                    .iter()
                    .map(|&i| self.revs[i].id.clone())
                    .collect();
                cycle.push(self.revs[next].id.clone());
                return cycle;
            }
            path.push(next);
            cur = next;
        }
    }

    /// Indices this node needs applied first: parents, then dependencies.
    fn needs(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let r = &self.revs[i];
        let mut seen = Vec::new();
        r.parents.iter().chain(&r.depends_on).filter_map(move |id| {
            let t = self.index[id];
            if seen.contains(&t) {
                None
            } else {
                seen.push(t);
                Some(t)
            }
        })
    }

    /// Number of revisions.
    pub fn len(&self) -> usize {
        self.revs.len()
    }

    /// Whether the graph has no revisions.
    pub fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }

    /// The revision with this exact id.
    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.index.get(id).map(|&i| &self.revs[i])
    }

    /// Whether this exact id exists.
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// All revisions in topological order, parents first.
    pub fn topological(&self) -> impl DoubleEndedIterator<Item = &Revision> {
        self.topo.iter().map(|&i| &self.revs[i])
    }

    /// Revisions no other revision has as a parent, in topological order.
    pub fn heads(&self) -> Vec<&str> {
        self.topo
            .iter()
            .filter(|&&i| self.children[i].is_empty())
            .map(|&i| self.revs[i].id.as_str())
            .collect()
    }

    /// Whether `id` is a head (a revision without children).
    pub fn is_head(&self, id: &str) -> bool {
        self.index
            .get(id)
            .is_some_and(|&i| self.children[i].is_empty())
    }

    /// Where `id` stands in the list the graph was built from (for a lock's
    /// graph, its position in the lock), in constant time.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Revisions without parents, in topological order.
    pub fn bases(&self) -> Vec<&str> {
        self.topo
            .iter()
            .filter(|&&i| self.revs[i].parents.is_empty())
            .map(|&i| self.revs[i].id.as_str())
            .collect()
    }

    /// Ids of the children (through parent edges) of `id`, in topological order.
    pub fn children(&self, id: &str) -> Vec<&str> {
        let mut c: Vec<usize> = self.children[self.index[id]].clone();
        c.sort_by_key(|&i| self.rank[i]);
        c.iter().map(|&i| self.revs[i].id.as_str()).collect()
    }

    /// The revision that carries a branch label.
    pub fn label_owner(&self, label: &str) -> Option<&str> {
        self.revs
            .iter()
            .find(|r| r.branch_labels.iter().any(|l| l == label))
            .map(|r| r.id.as_str())
    }

    /// Every branch label, with the revision carrying it, in topological order.
    pub fn labels(&self) -> Vec<(&str, &str)> {
        self.topological()
            .flat_map(|r| {
                r.branch_labels
                    .iter()
                    .map(move |l| (l.as_str(), r.id.as_str()))
            })
            .collect()
    }

    /// Revisions a label covers (Alembic's rule): the labelled revision, all
    /// its descendants, and its ancestors back to, not including, the previous
    /// branch point.
    pub fn branch(&self, label: &str) -> Option<BTreeSet<String>> {
        let owner = self.index[self.label_owner(label)?];
        let mut members = BTreeSet::new();
        let mut stack = vec![owner];
        while let Some(i) = stack.pop() {
            if members.insert(self.revs[i].id.clone()) {
                stack.extend(self.children[i].iter().copied());
            }
        }
        let mut cur = owner;
        loop {
            let parents = &self.revs[cur].parents;
            let [p] = parents.as_slice() else { break };
            let p = self.index[p.as_str()];
            if self.children[p].len() != 1 {
                break;
            }
            members.insert(self.revs[p].id.clone());
            cur = p;
        }
        Some(members)
    }

    /// Heads when dependencies count as edges too: revisions nothing needs.
    pub fn resolved_heads(&self) -> Vec<&str> {
        self.topo
            .iter()
            .filter(|&&i| self.dependents[i].is_empty())
            .map(|&i| self.revs[i].id.as_str())
            .collect()
    }

    /// Revisions with more than one child, in topological order.
    pub fn branch_points(&self) -> Vec<&str> {
        self.topo
            .iter()
            .filter(|&&i| self.children[i].len() > 1)
            .map(|&i| self.revs[i].id.as_str())
            .collect()
    }

    /// Resolves a full id or a unique prefix of at least four characters.
    pub fn resolve(&self, text: &str) -> Result<&str, ResolveError> {
        if let Some(&i) = self.index.get(text) {
            return Ok(&self.revs[i].id);
        }
        if text.len() < 4 {
            return Err(ResolveError::NotFound {
                text: text.to_string(),
                short: true,
            });
        }
        let matches: Vec<&str> = self
            .topological()
            .filter(|r| r.id.starts_with(text))
            .map(|r| r.id.as_str())
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(ResolveError::NotFound {
                text: text.to_string(),
                short: false,
            }),
            many => Err(ResolveError::Ambiguous {
                text: text.to_string(),
                candidates: many.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }

    /// `ids` and everything they need (parents and dependencies, transitively).
    pub fn ancestors<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<usize> = ids.into_iter().map(|id| self.index[id]).collect();
        while let Some(i) = stack.pop() {
            if out.insert(self.revs[i].id.clone()) {
                stack.extend(self.needs(i));
            }
        }
        out
    }

    /// `ids` and everything that needs them, transitively.
    pub fn descendants<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<usize> = ids.into_iter().map(|id| self.index[id]).collect();
        while let Some(i) = stack.pop() {
            if out.insert(self.revs[i].id.clone()) {
                stack.extend(self.dependents[i].iter().copied());
            }
        }
        out
    }

    /// The heads table rows for a set of applied revisions: every applied
    /// revision that no other applied revision needs (Alembic's rule).
    ///
    /// `applied` is always closed under "needs" (it is the ancestors of the
    /// heads), so a revision is needed by an applied one exactly when one of
    /// its direct dependents is applied: linear in the graph, not quadratic.
    pub fn heads_of(&self, applied: &BTreeSet<String>) -> Vec<String> {
        self.sorted(
            applied
                .iter()
                .filter(|id| {
                    let i = self.index[id.as_str()];
                    !self.dependents[i]
                        .iter()
                        .any(|&d| applied.contains(&self.revs[d].id))
                })
                .cloned(),
        )
    }

    /// `heads_of(applied ∪ {id})` from `heads_of(applied)`, in time linear in
    /// `id`'s edges: `applied` is closed under "needs" and does not hold `id`,
    /// so `id` becomes a head and what it needs stops being one.
    pub fn heads_after_apply(&self, heads: &[String], id: &str) -> Vec<String> {
        let rev = &self.revs[self.index[id]];
        let needs = |h: &String| rev.parents.contains(h) || rev.depends_on.contains(h);
        self.sorted(
            heads
                .iter()
                .filter(|h| !needs(h))
                .cloned()
                .chain([id.to_string()]),
        )
    }

    /// `heads_of(applied)` after `id` was removed from it, from the heads
    /// before: what `id` needed becomes a head when nothing left needs it.
    pub fn heads_after_revert(
        &self,
        heads: &[String],
        id: &str,
        applied: &BTreeSet<String>,
    ) -> Vec<String> {
        let rev = &self.revs[self.index[id]];
        let freed = rev
            .parents
            .iter()
            .chain(&rev.depends_on)
            .filter(|p| applied.contains(*p) && !heads.contains(p))
            .filter(|p| {
                !self.dependents[self.index[p.as_str()]]
                    .iter()
                    .any(|&d| applied.contains(&self.revs[d].id))
            })
            .cloned();
        let mut out: Vec<String> = heads.iter().filter(|h| *h != id).cloned().collect();
        for p in freed {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        self.sorted(out)
    }

    /// Orders ids topologically (parents first).
    pub fn sorted(&self, ids: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut v: Vec<String> = ids.into_iter().collect();
        v.sort_by_key(|id| self.rank[self.index[id.as_str()]]);
        v
    }
}

/// Why a revision reference did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No revision has this id or prefix.
    #[error("no revision matches {text:?}{}", if *short { "; a partial id needs at least four characters" } else { "; `host history` lists the revisions" })]
    NotFound {
        /// What was asked for.
        text: String,
        /// Whether the text was shorter than a usable prefix.
        short: bool,
    },
    /// Several revisions start with the prefix.
    #[error("{text:?} is ambiguous: it starts {}; give more characters", candidates.join(", "))]
    Ambiguous {
        /// What was asked for.
        text: String,
        /// The matching ids.
        candidates: Vec<String>,
    },
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `spec` is "id:parent1,parent2:dep1:label1" per revision.
    pub(crate) fn graph(spec: &[&str]) -> Result<Graph, GraphError> {
        let revs = spec
            .iter()
            .map(|s| {
                let mut parts = s.split(':');
                let id = parts.next().unwrap().to_string();
                let list = |p: Option<&str>| -> Vec<String> {
                    p.unwrap_or("")
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect()
                };
                let parents = list(parts.next());
                let depends_on = list(parts.next());
                let branch_labels = list(parts.next());
                Revision {
                    id,
                    parents,
                    depends_on,
                    branch_labels,
                    message: String::new(),
                }
            })
            .collect();
        Graph::new(revs)
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn linear_chain_heads_bases_order() {
        let g = graph(&["c:b", "a", "b:a"]).unwrap();
        assert_eq!(g.heads(), vec!["c"]);
        assert_eq!(g.bases(), vec!["a"]);
        let order: Vec<&str> = g.topological().map(|r| r.id.as_str()).collect();
        assert_eq!(order, vec!["a", "b", "c"]);
        assert_eq!(g.ancestors(["b"]), set(&["a", "b"]));
        assert_eq!(g.descendants(["b"]), set(&["b", "c"]));
    }

    #[test]
    fn branches_and_merge() {
        let g = graph(&["r", "a1:r", "b1:r", "m:a1,b1"]).unwrap();
        assert_eq!(g.heads(), vec!["m"]);
        assert_eq!(g.children("r"), vec!["a1", "b1"]);
        assert_eq!(g.heads_of(&set(&["r", "a1", "b1"])), vec!["a1", "b1"]);
        assert_eq!(g.heads_of(&set(&["r", "a1", "b1", "m"])), vec!["m"]);
        assert!(g.is_head("m") && !g.is_head("a1") && !g.is_head("nope"));
        assert_eq!(g.position("b1"), Some(2));
        assert_eq!(g.position("nope"), None);
    }

    #[test]
    fn labels_cover_descendants_and_ancestors_back_to_the_branch_point() {
        let g = graph(&["r", "a1:r", "a2:a1::alpha", "a3:a2", "b1:r", "b2:b1::beta"]).unwrap();
        assert_eq!(g.branch("alpha").unwrap(), set(&["a1", "a2", "a3"]));
        assert_eq!(g.branch("beta").unwrap(), set(&["b1", "b2"]));
        assert!(g.branch("gamma").is_none());
        assert_eq!(g.label_owner("beta"), Some("b2"));
        assert_eq!(g.branch_points(), vec!["r"]);
        let lin = graph(&["x:::root", "y:x"]).unwrap();
        assert_eq!(lin.branch("root").unwrap(), set(&["x", "y"]));
    }

    #[test]
    fn resolved_heads_drop_dependency_targets() {
        let g = graph(&["x", "a", "b:a:x"]).unwrap();
        assert_eq!(g.heads(), vec!["x", "b"]);
        assert_eq!(g.resolved_heads(), vec!["b"]);
    }

    #[test]
    fn dependency_only_head_is_not_stored() {
        let g = graph(&["x", "a", "b:a:x"]).unwrap();
        assert_eq!(g.heads_of(&set(&["x", "a", "b"])), vec!["b"]);
        assert_eq!(g.ancestors(["b"]), set(&["a", "b", "x"]));
    }

    #[test]
    fn rejects_invalid_graphs() {
        assert_eq!(
            graph(&["a", "a"]).unwrap_err(),
            GraphError::Duplicate("a".into())
        );
        assert_eq!(
            graph(&["a-1"]).unwrap_err(),
            GraphError::InvalidId("a-1".into())
        );
        assert_eq!(
            graph(&["a:a"]).unwrap_err(),
            GraphError::SelfReference("a".into())
        );
        assert!(matches!(
            graph(&["a:zz"]).unwrap_err(),
            GraphError::Missing { edge: "parent", .. }
        ));
        assert!(matches!(
            graph(&["a::zz"]).unwrap_err(),
            GraphError::Missing {
                edge: "dependency",
                ..
            }
        ));
        let GraphError::Cycle(c) = graph(&["a:c", "b:a", "c:b"]).unwrap_err() else {
            panic!("expected a cycle")
        };
        assert_eq!(c.len(), 4);
        assert!(matches!(
            graph(&["a", "b:a:c", "c::b"]).unwrap_err(),
            GraphError::Cycle(_)
        ));
    }

    #[test]
    fn duplicate_labels_are_refused() {
        let mut revs = vec![];
        for id in ["a", "b"] {
            revs.push(Revision {
                id: id.into(),
                parents: vec![],
                depends_on: vec![],
                branch_labels: vec!["lbl".into()],
                message: String::new(),
            });
        }
        assert!(matches!(
            Graph::new(revs).unwrap_err(),
            GraphError::DuplicateLabel { .. }
        ));
    }

    #[test]
    fn resolves_prefixes_like_alembic() {
        let g = graph(&[
            "ae1027a6acf",
            "27c6a30d7c24:ae1027a6acf",
            "27c6b0000000:ae1027a6acf",
        ])
        .unwrap();
        assert_eq!(g.resolve("ae1027a6acf").unwrap(), "ae1027a6acf");
        assert_eq!(g.resolve("ae10").unwrap(), "ae1027a6acf");
        assert!(matches!(
            g.resolve("ae1"),
            Err(ResolveError::NotFound { short: true, .. })
        ));
        let err = g.resolve("27c6").unwrap_err();
        assert!(
            err.to_string().contains("27c6a30d7c24, 27c6b0000000"),
            "{err}"
        );
        assert!(matches!(
            g.resolve("ffff"),
            Err(ResolveError::NotFound { short: false, .. })
        ));
    }
}
