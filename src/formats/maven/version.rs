//! Maven version order, after Maven's `ComparableVersion`: items split at `.`, `-` and
//! digit/letter transitions; numbers compare numerically; the known qualifiers order
//! alpha < beta < milestone < rc < snapshot < (release) < sp; other qualifiers come after
//! the known ones, in text order; trailing zeros and empty qualifiers do not count
//! (`1.0` = `1`, `1-ga` = `1`). No kept crate implements these rules, hence this file.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Num(u128),
    Text(String),
}

fn qualifier_rank(q: &str) -> (u8, &str) {
    match q {
        "alpha" | "a" => (0, ""),
        "beta" | "b" => (1, ""),
        "milestone" | "m" => (2, ""),
        "rc" | "cr" => (3, ""),
        "snapshot" => (4, ""),
        "" | "ga" | "final" | "release" => (5, ""),
        "sp" => (6, ""),
        other => (7, other),
    }
}

fn items(v: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    let flush = |cur: &mut String, out: &mut Vec<Item>, digits: bool| {
        if !cur.is_empty() {
            out.push(if digits {
                Item::Num(cur.parse().unwrap_or(u128::MAX))
            } else {
                Item::Text(cur.to_ascii_lowercase())
            });
        }
        cur.clear();
    };
    for c in v.chars() {
        if c == '.' || c == '-' || c == '_' {
            flush(&mut cur, &mut out, digits);
            continue;
        }
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != digits {
            flush(&mut cur, &mut out, digits);
        }
        digits = d;
        cur.push(c);
    }
    flush(&mut cur, &mut out, digits);
    // Trailing "null" items (0, release qualifiers) do not change a version.
    while matches!(out.last(), Some(Item::Num(0)))
        || matches!(out.last(), Some(Item::Text(t)) if qualifier_rank(t).0 == 5)
    {
        out.pop();
    }
    out
}

fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (Some(Item::Num(x)), Some(Item::Num(y))) => x.cmp(y),
        // A number is newer than any qualifier; a missing item is a release.
        (Some(Item::Num(_)), _) => Ordering::Greater,
        (_, Some(Item::Num(_))) => Ordering::Less,
        (Some(Item::Text(x)), Some(Item::Text(y))) => qualifier_rank(x).cmp(&qualifier_rank(y)),
        (Some(Item::Text(x)), None) => qualifier_rank(x).cmp(&(5, "")),
        (None, Some(Item::Text(y))) => (5, "").cmp(&qualifier_rank(y)),
    }
}

/// Compares two Maven versions.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (items(a), items(b));
    for i in 0..x.len().max(y.len()) {
        match cmp_item(x.get(i), y.get(i)) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

/// Whether a version is a release (not a snapshot) for `<release>`.
pub(crate) fn is_release(v: &str) -> bool {
    !v.ends_with("-SNAPSHOT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maven_order() {
        let ordered = [
            "1-alpha",
            "1-alpha2",
            "1-beta",
            "1-m1",
            "1-rc1",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-xyz",
            "1.0.1",
            "1.1",
            "1.2",
            "1.10",
            "2.0.3",
            "31.1-jre",
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(compare(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
        assert_eq!(compare("1.0", "1"), Ordering::Equal);
        assert_eq!(compare("1.0.0-ga", "1"), Ordering::Equal);
        assert_eq!(compare("1.12.1", "2.0.3"), Ordering::Less);
        assert!(!is_release("1.0-SNAPSHOT") && is_release("1.0"));
    }
}
