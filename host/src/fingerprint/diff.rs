//! Drift in words: the differences between two schemas, one sentence per
//! object or property, as `verify` and the runner report them.

use super::Schema;
use std::collections::BTreeSet;

impl Schema {
    /// The differences between what revision `label` should leave and what
    /// the database has, one sentence each, in key order. The parts of a
    /// table that is missing or extra as a whole are not listed separately.
    pub fn diff(expected: &Schema, actual: &Schema, label: &str) -> Vec<String> {
        let keys: BTreeSet<&String> = expected
            .objects
            .keys()
            .chain(actual.objects.keys())
            .collect();
        let mut out = Vec::new();
        for key in keys {
            match (expected.objects.get(key), actual.objects.get(key)) {
                (None, Some(a)) => {
                    let parent_extra = a.parent.as_ref().is_some_and(|p| {
                        actual.objects.contains_key(p) && !expected.objects.contains_key(p)
                    });
                    if !parent_extra {
                        out.push(format!(
                            "{} exists in the database but not after {label}",
                            a.display()
                        ));
                    }
                }
                (Some(e), None) => {
                    let parent_missing = e.parent.as_ref().is_some_and(|p| {
                        expected.objects.contains_key(p) && !actual.objects.contains_key(p)
                    });
                    if !parent_missing {
                        out.push(format!(
                            "{} is missing from the database (expected after {label})",
                            e.display()
                        ));
                    }
                }
                (Some(e), Some(a)) => {
                    let attrs: BTreeSet<&String> = e.attrs.keys().chain(a.attrs.keys()).collect();
                    for attr in attrs {
                        let (ev, av) = (e.attrs.get(attr), a.attrs.get(attr));
                        if ev != av {
                            out.push(attr_difference(
                                &a.display(),
                                attr,
                                ev.map(String::as_str),
                                av.map(String::as_str),
                                label,
                            ));
                        }
                    }
                }
                (None, None) => {}
            }
        }
        out
    }
}

/// One sentence for one property that differs.
fn attr_difference(
    who: &str,
    attr: &str,
    expected: Option<&str>,
    actual: Option<&str>,
    label: &str,
) -> String {
    // Function bodies and view definitions span lines: quoting both whole
    // would bury the change, so the first differing line is shown instead.
    if let (Some(e), Some(a)) = (expected, actual)
        && (e.contains('\n') || a.contains('\n'))
    {
        let (el, al): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
        let n = el.iter().zip(&al).take_while(|(x, y)| x == y).count();
        let line = |v: &[&str]| {
            v.get(n)
                .map_or("(end)".to_string(), |l| format!("`{}`", l.trim()))
        };
        return format!(
            "{who} has a different {attr} in the database than after {label}: line {} is {} in the database but {} after {label}",
            n + 1,
            line(&al),
            line(&el),
        );
    }
    let (verb, a) = phrase(attr, actual);
    let (_, e) = phrase(attr, expected);
    format!("{who} {verb} {a} in the database but {e} after {label}")
}

/// How each property reads in a sentence: the attribute, its verb, the words
/// for a value (`{}` stands for it) and the words for its absence, which
/// means the default. Attributes not listed read "has <attr> <value>" and
/// "has no <attr>".
const PHRASES: &[(&str, &str, &str, &str)] = &[
    ("type", "is", "{}", "undefined"),
    ("definition", "is", "{}", "undefined"),
    ("persistence", "is", "{}", "logged"),
    ("enabled", "is", "{}", "ENABLED"),
    ("validity", "is", "{}", "valid"),
    (
        "replica identity",
        "has",
        "REPLICA IDENTITY {}",
        "REPLICA IDENTITY DEFAULT",
    ),
    (
        "replica identity index",
        "is",
        "the table's replica identity",
        "not the table's replica identity",
    ),
    ("partition by", "is", "partitioned by {}", "not partitioned"),
    ("partition of", "is", "a partition of {}", "not a partition"),
    ("inherits", "is", "inheriting from {}", "not inheriting"),
    ("not null", "is", "NOT NULL", "nullable"),
    (
        "identity",
        "is",
        "GENERATED {} AS IDENTITY",
        "not an identity column",
    ),
    (
        "generated",
        "is",
        "GENERATED ALWAYS AS ({}) STORED",
        "not a generated column",
    ),
    ("position", "is", "at position {}", "at position "),
    ("name", "is", "named {}", "named as PostgreSQL generates it"),
    ("cycle", "is", "CYCLE", "NO CYCLE"),
    ("comment", "has", "comment '{}'", "no comment"),
];

/// How a property reads in a sentence: the verb and the words for its value
/// (or for its absence, which means the default).
fn phrase(attr: &str, value: Option<&str>) -> (&'static str, String) {
    let Some((_, verb, present, absent)) = PHRASES.iter().find(|(a, ..)| *a == attr) else {
        return match value {
            Some(v) => ("has", format!("{attr} {v}")),
            None => ("has", format!("no {attr}")),
        };
    };
    match value {
        // A comment is quoted as an SQL literal would be.
        Some(v) if attr == "comment" => (verb, present.replacen("{}", &v.replace('\'', "''"), 1)),
        Some(v) => (verb, present.replacen("{}", v, 1)),
        None => (verb, (*absent).to_string()),
    }
}
