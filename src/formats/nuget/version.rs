//! NuGet versions: parsing, the normalized form the V3 protocol puts in URLs and documents,
//! precedence (SemVer 2 with NuGet's optional fourth part), and version-range notation.
//!
//! No maintained crate implements NuGet's rules (the `semver` crate rejects four-part and
//! two-part versions), so this follows NuGet.Versioning's `NuGetVersion` directly.

use std::cmp::Ordering;

/// A parsed NuGet version. Build metadata is dropped: NuGet ignores it for identity and
/// precedence, and the flat container leaves it out of URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NuGetVersion {
    parts: [u32; 4],
    /// Prerelease labels, lower-cased (NuGet compares them case-insensitively).
    pre: Vec<String>,
}

impl NuGetVersion {
    /// Parses `Major[.Minor[.Patch[.Revision]]][-pre.labels][+build]`; `None` when invalid.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (s, build) = match s.split_once('+') {
            Some((v, b)) => (v, Some(b)),
            None => (s, None),
        };
        if let Some(b) = build {
            if !labels_ok(b, false) {
                return None;
            }
        }
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = [0u32; 4];
        for (n, piece) in core.split('.').enumerate() {
            // NuGet keeps each part in an Int32 and allows leading zeros (`01.0` is `1.0.0`).
            if n == 4 || piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u32 = piece.parse().ok()?;
            if v > i32::MAX as u32 {
                return None;
            }
            parts[n] = v;
        }
        let pre = match pre {
            Some(p) if labels_ok(p, true) => p.split('.').map(str::to_ascii_lowercase).collect(),
            Some(_) => return None,
            None => Vec::new(),
        };
        Some(Self { parts, pre })
    }

    /// Whether this is a prerelease version.
    pub(crate) fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// The normalized, lower-cased form: three parts, a fourth only when it is not zero, the
    /// prerelease labels, no build metadata.
    pub(crate) fn normalized(&self) -> String {
        let [a, b, c, d] = self.parts;
        let mut out = if d == 0 { format!("{a}.{b}.{c}") } else { format!("{a}.{b}.{c}.{d}") };
        if !self.pre.is_empty() {
            out.push('-');
            out.push_str(&self.pre.join("."));
        }
        out
    }
}

/// SemVer 2 label syntax: non-empty dot-separated identifiers of ASCII alphanumerics and `-`.
/// Prerelease numeric identifiers must not have leading zeros; build metadata may.
fn labels_ok(s: &str, prerelease: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(prerelease && id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            // A release sorts after every prerelease of the same numbers.
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => cmp_labels(&self.pre, &other.pre),
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_labels(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let xn = x.bytes().all(|c| c.is_ascii_digit());
        let yn = y.bytes().all(|c| c.is_ascii_digit());
        let ord = match (xn, yn) {
            // Numeric identifiers compare by value; lengths first avoids overflow.
            (true, true) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// The normalized, lower-cased form of `s` (`1.0` → `1.0.0`, `1.0.0.0` → `1.0.0`,
/// `1.0.0-Beta+b1` → `1.0.0-beta`); `None` for an invalid version.
pub(crate) fn normalize(s: &str) -> Option<String> {
    NuGetVersion::parse(s).map(|v| v.normalized())
}

/// Orders two version strings by NuGet precedence. Invalid versions sort before valid ones
/// and among themselves by text, so a sort never fails on bad input.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (NuGetVersion::parse(a), NuGetVersion::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// A nuspec dependency's version attribute in NuGet's normalized interval notation, as
/// catalog entries carry it: `1.0` → `[1.0.0, )`, `[1.0]` → `[1.0.0]`, `(,2.0)` → `(, 2.0.0)`,
/// absent or empty → `(, )`. `None` for a range NuGet would reject (floating ranges such as
/// `1.*` included: nuspecs in packages do not carry them).
pub(crate) fn normalize_range(spec: Option<&str>) -> Option<String> {
    let s = spec.map(str::trim).unwrap_or("");
    if s.is_empty() {
        return Some("(, )".into());
    }
    let (open, close) = (s.as_bytes()[0], s.as_bytes()[s.len() - 1]);
    if !matches!(open, b'[' | b'(') {
        return Some(format!("[{}, )", normalize(s)?));
    }
    if !matches!(close, b']' | b')') || s.len() < 2 {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    let bound = |v: &str| -> Option<Option<NuGetVersion>> {
        let v = v.trim();
        if v.is_empty() {
            Some(None)
        } else {
            NuGetVersion::parse(v).map(Some)
        }
    };
    match inner.split_once(',') {
        None => {
            // `[1.0]` is the only single-version bracket form NuGet accepts.
            let v = NuGetVersion::parse(inner)?;
            (open == b'[' && close == b']').then(|| format!("[{}]", v.normalized()))
        }
        Some((lo, hi)) => {
            let (lo, hi) = (bound(lo)?, bound(hi)?);
            if let (Some(l), Some(h)) = (&lo, &hi) {
                let ord = l.cmp(h);
                if ord == Ordering::Greater || (ord == Ordering::Equal && !(open == b'[' && close == b']')) {
                    return None;
                }
            }
            let text = |v: &Option<NuGetVersion>| v.as_ref().map(|v| v.normalized()).unwrap_or_default();
            // An absent bound is always exclusive in NuGet's normalized output.
            let open = if lo.is_none() { '(' } else { open as char };
            let close = if hi.is_none() { ')' } else { close as char };
            Some(format!("{open}{}, {}{close}", text(&lo), text(&hi)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_nuget() {
        for (input, want) in [
            ("1.0", "1.0.0"),
            ("1", "1.0.0"),
            ("1.0.0.0", "1.0.0"),
            ("1.0.0.1", "1.0.0.1"),
            ("01.002.03", "1.2.3"),
            ("1.0.0-Beta", "1.0.0-beta"),
            ("1.0.0-RC.1+Build.5", "1.0.0-rc.1"),
            ("1.0.0+sha.abc", "1.0.0"),
            ("6.0.8", "6.0.8"),
            (" 2.6.4 ", "2.6.4"),
            ("1.0-alpha-2", "1.0.0-alpha-2"),
        ] {
            assert_eq!(normalize(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_versions() {
        for bad in [
            "",
            "a",
            "1.",
            ".1",
            "1..0",
            "1.0.0.0.0",
            "1.0.0-",
            "1.0.0-beta..1",
            "1.0.0-be_ta",
            "1.0.0+",
            "1.0.0-01",
            "-1.0",
            "1.0 .0",
            "99999999999.0",
            "1.0.0-beta+a+b",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn orders_by_nuget_precedence() {
        let ordered = [
            "0.9.9",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-BETA",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0",
            "1.0.0.1",
            "1.0.1",
            "1.10.0",
            "10.0.0",
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(compare(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
        assert_eq!(compare("1.0", "1.0.0.0"), Ordering::Equal);
        assert_eq!(compare("1.0.0-Beta", "1.0.0-beta"), Ordering::Equal);
        assert_eq!(compare("1.0.0+a", "1.0.0+b"), Ordering::Equal);
        assert_eq!(compare("junk", "1.0.0"), Ordering::Less);
    }

    #[test]
    fn ranges_in_normalized_notation() {
        for (input, want) in [
            (None, "(, )"),
            (Some(""), "(, )"),
            (Some("1.0"), "[1.0.0, )"),
            (Some("1.0.0-Beta"), "[1.0.0-beta, )"),
            (Some("[1.0]"), "[1.0.0]"),
            (Some("[1.0,2.0)"), "[1.0.0, 2.0.0)"),
            (Some("(1.0, 2.0]"), "(1.0.0, 2.0.0]"),
            (Some("(,2.0)"), "(, 2.0.0)"),
            (Some("[1.0,)"), "[1.0.0, )"),
            (Some("[,2.0]"), "(, 2.0.0]"),
            (Some("[1.0,1.0]"), "[1.0.0, 1.0.0]"),
        ] {
            assert_eq!(normalize_range(input).as_deref(), Some(want), "{input:?}");
        }
        for bad in ["[1.0", "(1.0)", "[2.0,1.0]", "(1.0,1.0)", "1.*", "[a,b]", "[", "]"] {
            assert_eq!(normalize_range(Some(bad)), None, "{bad:?}");
        }
    }
}
