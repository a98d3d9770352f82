//! Target and range parsing, and planning with whatever parses, never panic.
#![no_main]

use host_core::graph::{Graph, Revision};
use host_core::plan::{self, Range, Target};
use libfuzzer_sys::fuzz_target;

fn graph() -> Graph {
    let rev = |id: &str, parents: &[&str], labels: &[&str]| Revision {
        id: id.into(),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        depends_on: vec![],
        branch_labels: labels.iter().map(|s| s.to_string()).collect(),
        message: String::new(),
    };
    Graph::new(vec![
        rev("r000", &[], &[]),
        rev("a001", &["r000"], &["alpha"]),
        rev("a002", &["a001"], &[]),
        rev("b001", &["r000"], &["beta"]),
        rev("m001", &["a002", "b001"], &[]),
    ])
    .expect("a valid graph")
}

fuzz_target!(|text: &str| {
    let g = graph();
    let _ = Range::parse(text);
    if let Ok(t) = Target::parse(text) {
        for current in [vec![], vec!["a002".to_string()], vec!["a002".into(), "b001".into()], vec!["m001".into()]] {
            let _ = plan::upgrade(&g, &current, &t);
            let _ = plan::downgrade(&g, &current, &t);
            let _ = plan::stamp(&g, &current, std::slice::from_ref(&t), false);
        }
    }
});
