//! Table-driven cases over several graph shapes: each names the current
//! heads, a command and a target, and expects either the steps in order with
//! the heads before and after, or an error kind.

use super::*;
use crate::graph::tests::graph;

/// Graph shapes as "id:parents:depends_on:labels".
fn shape(name: &str) -> Graph {
    let spec: &[&str] = match name {
        "linear" => &["a", "b:a", "c:b", "d:c"],
        "labelled" => &["r", "a1:r::alpha", "a2:a1", "b1:r::beta", "b2:b1"],
        "merged" => &["r", "a1:r", "a2:a1", "b1:r", "m:a2,b1", "n:m"],
        "diamond" => &["r", "x:r", "y:r", "z:x,y"],
        "two_roots" => &["p1:::p", "p2:p1", "q1:::q", "q2:q1:p2"],
        "dep_on_head" => &["a", "b:a", "x:::xl", "c:b:x"],
        "prefixes" => &["abcd1111", "abcd2222:abcd1111", "abce3333:abcd2222"],
        "forest" => &["a1:::al", "a2:a1", "b1:::bl", "b2:b1", "c1:::cl"],
        other => panic!("unknown shape {other}"),
    };
    graph(spec).unwrap()
}

enum Cmd {
    Up,
    Down,
    Stamp,
}

/// (shape, current heads, command, target, expected steps "u:x d:y" or "!kind", heads after)
type Case = (
    &'static str,
    &'static str,
    Cmd,
    &'static str,
    &'static str,
    &'static str,
);

fn list(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn run(case: &Case) -> Result<(String, Vec<String>, Vec<String>), String> {
    let (shape_name, current, cmd, target, _, _) = case;
    let g = shape(shape_name);
    let current = list(current);
    let t = Target::parse(target).map_err(|e| e.kind().to_string())?;
    let plan = match cmd {
        Cmd::Up => upgrade(&g, &current, &t),
        Cmd::Down => downgrade(&g, &current, &t),
        Cmd::Stamp => {
            return stamp(&g, &current, &[t], false)
                .map(|h| {
                    (
                        String::new(),
                        g.heads_of(&applied_set(&g, &current).unwrap()),
                        h,
                    )
                })
                .map_err(|e| e.kind().to_string());
        }
    }
    .map_err(|e| e.kind().to_string())?;
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let d = if s.direction == Direction::Upgrade {
                "u"
            } else {
                "d"
            };
            format!("{d}:{}", s.revision)
        })
        .collect::<Vec<_>>()
        .join(" ");
    // Every step's heads must chain into the next, and the incremental heads
    // must equal the heads recomputed from the applied set.
    let mut heads = plan.heads_before.clone();
    let mut applied = applied_set(&g, &current).unwrap();
    for s in &plan.steps {
        assert_ne!(heads, s.heads_after, "a step must change the heads");
        if s.direction == Direction::Upgrade {
            applied.insert(s.revision.clone());
        } else {
            applied.remove(&s.revision);
        }
        assert_eq!(s.heads_after, g.heads_of(&applied), "after {}", s.revision);
        heads = s.heads_after.clone();
    }
    assert_eq!(heads, plan.heads_after);
    Ok((steps, plan.heads_before, plan.heads_after))
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Cmd::*;
    vec![
        // linear
        ("linear", "", Up, "head", "u:a u:b u:c u:d", "d"),
        ("linear", "", Up, "+2", "u:a u:b", "b"),
        ("linear", "b", Up, "+1", "u:c", "c"),
        ("linear", "b", Up, "c", "u:c", "c"),
        ("linear", "d", Up, "b", "", "d"),
        ("linear", "d", Up, "+1", "!relative_out_of_range", ""),
        ("linear", "d", Up, "-1", "!wrong_direction", ""),
        ("linear", "d", Down, "-2", "d:d d:c", "b"),
        ("linear", "d", Down, "base", "d:d d:c d:b d:a", ""),
        ("linear", "d", Down, "-4", "d:d d:c d:b d:a", ""),
        ("linear", "d", Down, "-5", "!relative_out_of_range", ""),
        ("linear", "b", Down, "d", "!not_applied", ""),
        ("linear", "d", Down, "+1", "!wrong_direction", ""),
        ("linear", "", Down, "-1", "!relative_out_of_range", ""),
        ("linear", "a", Up, "b+2", "u:b u:c u:d", "d"),
        ("linear", "d", Down, "head-3", "d:d d:c d:b", "a"),
        ("linear", "", Up, "base+3", "u:a u:b u:c", "c"),
        ("linear", "zzzz", Up, "head", "!unknown_current", ""),
        ("linear", "", Up, "nope", "!unknown_revision", ""),
        ("linear", "", Up, "x@head", "!no_such_branch", ""),
        ("linear", "", Up, "@head", "!bad_target", ""),
        ("linear", "d", Stamp, "b", "", "b"),
        ("linear", "", Stamp, "c", "", "c"),
        ("linear", "c", Stamp, "base", "", ""),
        // labelled branches from one root
        ("labelled", "", Up, "head", "!multiple_heads", ""),
        ("labelled", "", Up, "heads", "u:r u:a1 u:a2 u:b1 u:b2", "a2 b2"),
        ("labelled", "", Up, "alpha@head", "u:r u:a1 u:a2", "a2"),
        ("labelled", "a2", Up, "beta@head", "u:b1 u:b2", "a2 b2"),
        ("labelled", "a2 b2", Down, "-1", "!ambiguous_heads", ""),
        ("labelled", "a2 b2", Down, "beta@-1", "d:b2", "a2 b1"),
        ("labelled", "a2 b2", Down, "beta@base", "d:b2 d:b1", "a2"),
        ("labelled", "a2 b2", Down, "alpha@a1", "d:a2", "a1 b2"),
        ("labelled", "a2", Up, "beta@a1", "!not_a_member", ""),
        ("labelled", "r", Up, "+1", "!ambiguous_walk", ""),
        ("labelled", "r", Up, "alpha@+1", "u:a1", "a1"),
        ("labelled", "a1 b1", Up, "+1", "!ambiguous_heads", ""),
        ("labelled", "a2 b2", Stamp, "alpha@base", "", "b2"),
        // merge with a longer side
        ("merged", "", Up, "head", "u:r u:a1 u:a2 u:b1 u:m u:n", "n"),
        ("merged", "a2", Up, "+1", "u:b1 u:m", "m"),
        ("merged", "a1", Up, "m", "u:a2 u:b1 u:m", "m"),
        ("merged", "m", Down, "-1", "!ambiguous_walk", ""),
        ("merged", "n", Down, "-1", "d:n", "m"),
        ("merged", "m", Down, "b1", "d:m", "a2 b1"),
        ("merged", "m", Down, "a2", "d:m", "a2 b1"),
        ("merged", "a2 b1", Up, "+1", "!ambiguous_heads", ""),
        ("merged", "a2 b1", Stamp, "m", "", "m"),
        ("merged", "m", Stamp, "a1", "", "a1 b1"),
        // diamond
        ("diamond", "", Up, "z", "u:r u:x u:y u:z", "z"),
        ("diamond", "x", Up, "y", "u:y", "x y"),
        ("diamond", "z", Down, "r", "d:z d:y d:x", "r"),
        ("diamond", "z", Down, "x", "d:z", "x y"),
        ("diamond", "x y", Down, "r", "d:y d:x", "r"),
        // two roots, cross dependency
        ("two_roots", "", Up, "q@head", "u:p1 u:p2 u:q1 u:q2", "q2"),
        ("two_roots", "q2", Down, "p@base", "d:q2 d:p2 d:p1", "q1"),
        ("two_roots", "q2", Down, "p1", "d:q2 d:p2", "p1 q1"),
        ("two_roots", "", Up, "heads", "u:p1 u:p2 u:q1 u:q2", "q2"),
        ("two_roots", "", Up, "head", "!multiple_heads", ""),
        // dependency on another head
        ("dep_on_head", "", Up, "c", "u:a u:b u:x u:c", "c"),
        ("dep_on_head", "c", Down, "xl@base", "d:c d:x", "b"),
        ("dep_on_head", "c", Down, "b", "d:c", "b x"),
        ("dep_on_head", "b", Up, "xl@head", "u:x", "b x"),
        // partial ids
        ("prefixes", "", Up, "abcd", "!ambiguous_prefix", ""),
        ("prefixes", "", Up, "abcd2", "u:abcd1111 u:abcd2222", "abcd2222"),
        ("prefixes", "", Up, "abc", "!unknown_revision", ""),
        ("prefixes", "", Up, "abce", "u:abcd1111 u:abcd2222 u:abce3333", "abce3333"),
        // forest of independent lineages
        ("forest", "", Up, "heads", "u:a1 u:a2 u:b1 u:b2 u:c1", "a2 b2 c1"),
        ("forest", "a2 b2 c1", Down, "bl@base", "d:b2 d:b1", "a2 c1"),
        ("forest", "a2", Up, "cl@head", "u:c1", "a2 c1"),
        ("forest", "a2 c1", Down, "base", "d:c1 d:a2 d:a1", ""),
        ("forest", "", Up, "base+1", "!ambiguous_walk", ""),
        ("forest", "", Up, "bl@base+1", "u:b1", "b1"),
    ]
}

#[test]
fn table_of_graph_cases() {
    let all = cases();
    assert!(all.len() >= 40);
    let mut failures = Vec::new();
    for case in &all {
        let (shape_name, current, _, target, want_steps, want_heads) = case;
        let got = run(case);
        let ok = match (&got, want_steps.strip_prefix('!')) {
            (Err(kind), Some(want_kind)) => kind == want_kind,
            (Ok((steps, before, after)), None) => {
                let mut cur = list(current);
                cur.sort();
                let mut before = before.clone();
                before.sort();
                let mut after = after.clone();
                after.sort();
                let mut want_after = list(want_heads);
                want_after.sort();
                let shape_ok = steps == want_steps || matches!(case.2, Cmd::Stamp);
                shape_ok
                    && after == want_after
                    && (cur.iter().all(|c| !c.is_empty()) && before == cur || cur.is_empty())
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{shape_name} at [{current}] {target}: want {want_steps} -> [{want_heads}], got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn parses_target_syntax() {
    let t = Target::parse("alpha@head-1").unwrap();
    assert_eq!(t.label.as_deref(), Some("alpha"));
    assert_eq!(t.anchor, Anchor::Head);
    assert_eq!(t.offset, -1);
    assert_eq!(Target::parse("+2").unwrap().anchor, Anchor::Current);
    assert_eq!(
        Target::parse("ae10+2").unwrap().anchor,
        Anchor::Revision("ae10".into())
    );
    assert_eq!(Target::parse("lbl@-3").unwrap().offset, -3);
    for bad in ["", "+0", "+x", "a@b@c", "heads+1", "a:b", "a b"] {
        assert!(Target::parse(bad).is_err(), "{bad:?} must not parse");
    }
    let r = Range::parse("a:head").unwrap();
    assert_eq!(r.start.unwrap().anchor, Anchor::Revision("a".into()));
    assert!(Range::parse(":").unwrap().start.is_none());
}

#[test]
fn offline_plans_need_no_database() {
    let g = shape("linear");
    let p = offline(&g, Direction::Upgrade, &Range::parse("head").unwrap()).unwrap();
    assert_eq!(p.steps.len(), 4);
    let p = offline(&g, Direction::Upgrade, &Range::parse("b:d").unwrap()).unwrap();
    assert_eq!(
        p.steps
            .iter()
            .map(|s| s.revision.as_str())
            .collect::<Vec<_>>(),
        vec!["c", "d"]
    );
    let p = offline(&g, Direction::Downgrade, &Range::parse("d:b").unwrap()).unwrap();
    assert_eq!(p.steps.len(), 2);
    assert_eq!(
        offline(&g, Direction::Downgrade, &Range::parse("b").unwrap())
            .unwrap_err()
            .kind(),
        "bad_range"
    );
    assert_eq!(
        offline(&g, Direction::Upgrade, &Range::parse("+1").unwrap())
            .unwrap_err()
            .kind(),
        "bad_range"
    );
}

#[test]
fn history_ranges() {
    let g = shape("linear");
    let none = BTreeSet::new();
    let m = range_members(&g, &Range::parse("b:c").unwrap(), &none).unwrap();
    assert_eq!(m.into_iter().collect::<Vec<_>>(), vec!["b", "c"]);
    let m = range_members(&g, &Range::parse("c:").unwrap(), &none).unwrap();
    assert_eq!(m.into_iter().collect::<Vec<_>>(), vec!["c", "d"]);
}

#[test]
fn errors_name_the_way_out() {
    let g = shape("labelled");
    let err = downgrade(&g, &list("a2 b2"), &Target::parse("-1").unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("a2-1") && err.to_string().contains("b2-1"),
        "{err}"
    );
    let err = upgrade(&g, &list("r"), &Target::parse("+1").unwrap()).unwrap_err();
    assert!(err.to_string().contains("a1 or b1"), "{err}");
    let err = upgrade(&g, &[], &Target::head()).unwrap_err();
    assert!(
        err.to_string().contains("heads") && err.to_string().contains("merge"),
        "{err}"
    );
}
