//! Unit tests of the canonical text, the diff sentences, the generated-name
//! rules and key resolution; reading a live catalog is tested end to end.

use super::catalog::{Candidate, resolve, split_index_def};
use super::names::{is_generated, make_object_name, name_addition};
use super::read::text_array;
use super::*;
use crate::sql::quote::literal;

fn object(kind: &str, name: &str, attrs: &[(&str, &str)]) -> Object {
    let mut o = Object::new(kind, name.into());
    for (k, v) in attrs {
        o.set(k, *v);
    }
    if kind == "column" {
        let table = name.rsplit_once('.').unwrap().0;
        o.parent = Some(format!("table {table}"));
    }
    o
}

fn schema(objects: Vec<Object>) -> Schema {
    Schema {
        objects: objects.into_iter().map(|o| (o.key(), o)).collect(),
    }
}

fn tasks() -> Vec<Object> {
    vec![
        object("table", "public.tasks", &[]),
        object(
            "column",
            "public.tasks.id",
            &[
                ("position", "1"),
                ("type", "integer"),
                ("not null", "NOT NULL"),
            ],
        ),
        object(
            "column",
            "public.tasks.title",
            &[("position", "2"), ("type", "character varying(200)")],
        ),
        object(
            "index",
            "public.idx_tasks_status",
            &[(
                "definition",
                "CREATE INDEX ON public.tasks USING btree (status)",
            )],
        ),
    ]
}

#[test]
fn canonical_text_is_sorted_and_independent_of_insertion_order() {
    let a = schema(tasks());
    let b = schema(tasks().into_iter().rev().collect());
    assert_eq!(a.canonical(), b.canonical());
    assert_eq!(a.fingerprint(), b.fingerprint());
    let text = a.canonical();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], FORMAT);
    let keys: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(text.contains(
        "column public.tasks.id\t{\"not null\":\"NOT NULL\",\"position\":\"1\",\"type\":\"integer\"}\n"
    ));
    assert_eq!(a.fingerprint().len(), 64);
}

#[test]
fn canonical_lines_cannot_be_split_by_catalog_text() {
    let s = schema(vec![object(
        "constraint",
        "public.t CHECK ((a <> 'x\ny\t'::text))",
        &[("comment", "two\nlines")],
    )]);
    let text = s.canonical();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("'x\\ny\\t'"));
    assert!(text.contains("\"two\\nlines\""));
}

#[test]
fn every_property_changes_the_fingerprint() {
    let a = schema(tasks());
    let mut objects = tasks();
    objects[2].set("not null", "NOT NULL");
    assert_ne!(a.fingerprint(), schema(objects).fingerprint());
}

#[test]
fn serde_round_trip_keeps_the_fingerprint() {
    let a = schema(tasks());
    let json = serde_json::to_string(&a).unwrap();
    let b: Schema = serde_json::from_str(&json).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.fingerprint(), b.fingerprint());
}

#[test]
fn diff_names_objects_in_words() {
    let expected = schema(tasks());
    let mut actual_objects = tasks();
    actual_objects.retain(|o| o.kind != "index");
    actual_objects[2].set("type", "character varying(500)");
    actual_objects[2].set("not null", "NOT NULL");
    actual_objects[2].set("default", "'untitled'::character varying");
    actual_objects.push(object(
        "column",
        "public.tasks.email",
        &[("position", "3"), ("type", "text")],
    ));
    let actual = schema(actual_objects);
    let label = "934f38a4fc73";
    assert_eq!(
        Schema::diff(&expected, &actual, label),
        vec![
            "column tasks.email exists in the database but not after 934f38a4fc73",
            "column tasks.title has default 'untitled'::character varying in the database but no default after 934f38a4fc73",
            "column tasks.title is NOT NULL in the database but nullable after 934f38a4fc73",
            "column tasks.title is character varying(500) in the database but character varying(200) after 934f38a4fc73",
            "index idx_tasks_status is missing from the database (expected after 934f38a4fc73)",
        ]
    );
    assert!(Schema::diff(&expected, &expected, label).is_empty());
}

#[test]
fn diff_does_not_list_the_parts_of_a_missing_table() {
    let expected = schema(tasks());
    let actual = schema(vec![]);
    assert_eq!(
        Schema::diff(&expected, &actual, "r1"),
        vec![
            "index idx_tasks_status is missing from the database (expected after r1)",
            "table tasks is missing from the database (expected after r1)",
        ]
    );
    assert_eq!(
        Schema::diff(&actual, &expected, "r1"),
        vec![
            "index idx_tasks_status exists in the database but not after r1",
            "table tasks exists in the database but not after r1",
        ]
    );
}

#[test]
fn diff_of_multi_line_definitions_shows_the_first_differing_line() {
    let f = |body: &str| {
        schema(vec![object(
            "function",
            "public.bump(integer)",
            &[("definition", body)],
        )])
    };
    let expected = f("CREATE FUNCTION\nBEGIN\n  RETURN a + 1;\nEND");
    let actual = f("CREATE FUNCTION\nBEGIN\n  RETURN a + 2;\nEND");
    assert_eq!(
        Schema::diff(&expected, &actual, "r2"),
        vec![
            "function bump(integer) has a different definition in the database than after r2: line 3 is `RETURN a + 2;` in the database but `RETURN a + 1;` after r2"
        ]
    );
    let shorter = f("CREATE FUNCTION\nBEGIN");
    assert_eq!(
        Schema::diff(&expected, &shorter, "r2"),
        vec![
            "function bump(integer) has a different definition in the database than after r2: line 3 is (end) in the database but `RETURN a + 1;` after r2"
        ]
    );
}

#[test]
fn properties_read_as_sentences() {
    let one = |kind: &str, name: &str, attr: &str, e: Option<&str>, a: Option<&str>| {
        let mut expected = object(kind, name, &[]);
        let mut actual = object(kind, name, &[]);
        if let Some(e) = e {
            expected.set(attr, e);
        }
        if let Some(a) = a {
            actual.set(attr, a);
        }
        Schema::diff(&schema(vec![expected]), &schema(vec![actual]), "r").remove(0)
    };
    assert_eq!(
        one("table", "public.t", "replica identity", None, Some("FULL")),
        "table t has REPLICA IDENTITY FULL in the database but REPLICA IDENTITY DEFAULT after r"
    );
    assert_eq!(
        one("trigger", "public.t.x", "enabled", None, Some("DISABLED")),
        "trigger t.x is DISABLED in the database but ENABLED after r"
    );
    assert_eq!(
        one(
            "column",
            "public.t.id",
            "identity",
            Some("ALWAYS"),
            Some("BY DEFAULT")
        ),
        "column t.id is GENERATED BY DEFAULT AS IDENTITY in the database but GENERATED ALWAYS AS IDENTITY after r"
    );
    assert_eq!(
        one("sequence", "public.s", "increment", Some("1"), Some("5")),
        "sequence s has increment 5 in the database but increment 1 after r"
    );
    assert_eq!(
        one("table", "public.t", "comment", None, Some("it's")),
        "table t has comment 'it''s' in the database but no comment after r"
    );
    assert_eq!(
        one(
            "table",
            "public.e",
            "partition by",
            Some("RANGE (at)"),
            None
        ),
        "table e is not partitioned in the database but partitioned by RANGE (at) after r"
    );
}

#[test]
fn display_leaves_out_only_the_public_schema() {
    assert_eq!(
        object("column", "app.tasks.email", &[]).display(),
        "column app.tasks.email"
    );
    assert_eq!(
        object("sequence for column", "public.tasks.id", &[]).display(),
        "sequence for column tasks.id"
    );
}

#[test]
fn generated_names_follow_postgres_rules() {
    assert_eq!(make_object_name("tasks", None, "pkey", 63), "tasks_pkey");
    assert_eq!(
        make_object_name("tasks", Some("project_id"), "fkey", 63),
        "tasks_project_id_fkey"
    );
    // Truncation: the longer part is shortened first, to 63 bytes in all.
    let long_table = "t".repeat(60);
    let long_col = "c".repeat(40);
    let name = make_object_name(&long_table, Some(&long_col), "seq", 63);
    assert_eq!(name.len(), 63);
    assert_eq!(name, format!("{}_{}_seq", "t".repeat(29), "c".repeat(29)));
    let name = make_object_name(&long_table, Some("id"), "seq", 63);
    assert_eq!(name, format!("{}_id_seq", "t".repeat(56)));
    // Multi-byte characters are never cut in half.
    let accented = "é".repeat(40);
    let name = make_object_name(&accented, None, "pkey", 63);
    assert!(name.len() <= 63 && name.ends_with("_pkey"));
    assert_eq!(name, format!("{}_pkey", "é".repeat(29)));

    assert!(is_generated("tasks_pkey", "tasks", None, "pkey", 63));
    assert!(is_generated("tasks_pkey1", "tasks", None, "pkey", 63));
    assert!(is_generated(
        "tasks_owner_fkey12",
        "tasks",
        Some("owner"),
        "fkey",
        63
    ));
    assert!(!is_generated("tasks_pkey01", "tasks", None, "pkey", 63));
    assert!(!is_generated("pk_tasks", "tasks", None, "pkey", 63));
    // A table renamed after creation keeps a name that no longer fits it.
    assert!(!is_generated("todo_pkey", "tasks", None, "pkey", 63));
}

#[test]
fn name_addition_joins_columns_and_stops_when_long() {
    let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(name_addition(&cols(&["a", "b"]), 63), "a_b");
    let long = "x".repeat(50);
    let joined = name_addition(&cols(&[&long, &long, &long]), 63);
    assert_eq!(joined, format!("{long}_{long}"));
}

#[test]
fn index_definitions_lose_their_name() {
    let def = "CREATE UNIQUE INDEX idx ON public.tasks USING btree (lower(email)) WHERE (active)";
    let d = split_index_def(def, "idx", "public.tasks").unwrap();
    assert_eq!(
        d.without_name("public.tasks"),
        "CREATE UNIQUE INDEX ON public.tasks USING btree (lower(email)) WHERE (active)"
    );
    assert_eq!(
        d.key_tail(),
        "UNIQUE USING btree (lower(email)) WHERE (active)"
    );
    let d = split_index_def(
        "CREATE INDEX \"My Idx\" ON ONLY public.events USING btree (at)",
        "\"My Idx\"",
        "public.events",
    )
    .unwrap();
    assert!(d.only);
    assert!(split_index_def(def, "other", "public.tasks").is_none());
}

#[test]
fn colliding_generated_keys_fall_back_then_number() {
    let fk = |def: &str| Candidate {
        object: {
            let mut o = Object::new("constraint", "public.t FOREIGN KEY (owner)".into());
            o.set("definition", def);
            o
        },
        fallback: Some(format!("public.t {def}")),
    };
    let s = resolve(vec![
        fk("FOREIGN KEY (owner) REFERENCES public.b(id)"),
        fk("FOREIGN KEY (owner) REFERENCES public.a(id)"),
    ])
    .unwrap();
    let keys: Vec<&String> = s.objects.keys().collect();
    assert_eq!(
        keys,
        vec![
            "constraint public.t FOREIGN KEY (owner) REFERENCES public.a(id)",
            "constraint public.t FOREIGN KEY (owner) REFERENCES public.b(id)",
        ]
    );
    let check = || Candidate {
        object: Object::new("constraint", "public.t CHECK ((a > 0))".into()),
        fallback: None,
    };
    let s = resolve(vec![check(), check()]).unwrap();
    assert_eq!(s.objects.len(), 2);
    assert!(
        s.objects
            .contains_key("constraint public.t CHECK ((a > 0)) #2")
    );
}

#[test]
fn literals_survive_quotes_and_backslashes() {
    assert_eq!(literal(r"a'b\c"), r"E'a''b\\c'");
    assert_eq!(text_array(&["public".into()]), "ARRAY[E'public']::text[]");
    assert_eq!(text_array(&[]), "ARRAY[]::text[]");
}
