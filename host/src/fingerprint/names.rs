//! PostgreSQL's rules for the names it generates for constraints, indexes
//! and owned sequences, so that such names can be recognised and left out of
//! object keys.

/// The name PostgreSQL builds from a table name, an optional addition
/// (columns) and a label such as `pkey`: `name1_name2_label`, the longer of
/// the two names shortened first until the whole fits in `max` bytes, cut
/// on a character boundary.
pub(super) fn make_object_name(
    name1: &str,
    name2: Option<&str>,
    label: &str,
    max: usize,
) -> String {
    let mut overhead = label.len() + 1;
    if name2.is_some() {
        overhead += 1;
    }
    let avail = max.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let mut out = clip(name1, n1).to_string();
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(clip(name2, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// The longest prefix of `s` of at most `n` bytes that ends on a character boundary.
fn clip(s: &str, n: usize) -> &str {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Column names joined with `_` the way PostgreSQL builds the middle part
/// of index and foreign key names: it stops adding names once the result
/// reaches `max + 1` bytes and leaves the final cut to [`make_object_name`].
pub(super) fn name_addition(columns: &[String], max: usize) -> String {
    let mut out = String::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push('_');
        }
        out.push_str(clip(c, max));
        if out.len() > max {
            break;
        }
    }
    out
}

/// Whether `name` is what PostgreSQL generates for these parts, possibly with
/// the number it appends to the label after a name collision (`_fkey1`).
pub(super) fn is_generated(
    name: &str,
    name1: &str,
    name2: Option<&str>,
    label: &str,
    max: usize,
) -> bool {
    if name == make_object_name(name1, name2, label, max) {
        return true;
    }
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let suffix = &name[name.len() - digits..];
    !suffix.is_empty()
        && !suffix.starts_with('0')
        && name == make_object_name(name1, name2, &format!("{label}{suffix}"), max)
}
