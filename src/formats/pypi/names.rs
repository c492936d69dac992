//! PyPI names and versions: PEP 503 name normalisation, PEP 440 versions (normalised form
//! and ordering), and which project version a distribution file belongs to.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::model::{PackageFormat, PackageId, PackageName, Version};

/// PEP 503: runs of `-`, `_` and `.` become one `-`, and the name is lower-cased.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// [`normalize`] for the start of a name: a trailing run of separators stays one `-`
/// (`Foo_` prefixes `foo-bar`, not `foobar`).
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let mut out = normalize(prefix);
    if !out.is_empty() && prefix.ends_with(['-', '_', '.']) {
        out.push('-');
    }
    out
}

/// Whether `name` is a valid project name (PEP 508: ASCII letters and digits, with `-`, `_`
/// and `.` inside).
pub(crate) fn is_valid(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The package id of a project, by its normalised name; `None` for an invalid name.
pub(crate) fn package_id(name: &str) -> Option<PackageId> {
    if !is_valid(name) {
        return None;
    }
    Some(PackageId { format: PackageFormat::Pypi, namespace: None, name: PackageName::new(normalize(name)).ok()? })
}

/// A version in PEP 440's normalised form (`1.0-RC1` → `1.0rc1`); versions PEP 440 cannot
/// parse (legacy releases) keep their text.
pub(crate) fn version(raw: &str) -> Option<Version> {
    let text = match pep440_rs::Version::from_str(raw) {
        Ok(v) => v.to_string(),
        Err(_) => raw.to_string(),
    };
    Version::new(text).ok()
}

/// PEP 440 order; versions it cannot parse sort before all others, by text.
pub(crate) fn compare(a: &Version, b: &Version) -> Ordering {
    match (pep440_rs::Version::from_str(a.as_str()), pep440_rs::Version::from_str(b.as_str())) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

const SDIST_SUFFIXES: [&str; 4] = [".tar.gz", ".zip", ".tar.bz2", ".tgz"];

/// Whether a file name is a distribution Depot serves (a wheel or an sdist).
pub(crate) fn is_distribution(filename: &str) -> bool {
    filename.ends_with(".whl") || SDIST_SUFFIXES.iter().any(|s| filename.ends_with(s))
}

/// The version a distribution file of `project` (normalised) belongs to: a wheel's second
/// dash-separated field; for an sdist, what follows the longest prefix that normalises to the
/// project name (sdist names may keep `-` in the project part: `foo-bar-1.0.tar.gz`).
pub(crate) fn version_of_file(project: &str, filename: &str) -> Option<Version> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        let (name, v) = (parts.next()?, parts.next()?);
        if normalize(name) != project {
            return None;
        }
        return version(v);
    }
    let stem = SDIST_SUFFIXES.iter().find_map(|s| filename.strip_suffix(s))?;
    stem.rmatch_indices('-')
        .map(|(i, _)| i)
        .find(|&i| normalize(&stem[..i]) == project)
        .and_then(|i| version(&stem[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_normalisation() {
        for n in ["Charset_Normalizer", "charset.normalizer", "CHARSET--normalizer", "charset-_.normalizer"] {
            assert_eq!(normalize(n), "charset-normalizer", "{n}");
        }
        assert!(is_valid("zope.interface") && is_valid("a") && is_valid("A_1"));
        assert!(!is_valid("-a") && !is_valid("a-") && !is_valid("a b") && !is_valid("") && !is_valid("../x"));
        assert_eq!(package_id("Requests").unwrap().name.as_str(), "requests");
    }

    #[test]
    fn name_prefixes_normalise_like_names() {
        assert_eq!(normalize_prefix("Charset_N"), "charset-n");
        assert_eq!(normalize_prefix("Charset_"), "charset-");
        assert_eq!(normalize_prefix("charset.-"), "charset-");
        assert_eq!(normalize_prefix("Zope"), "zope");
    }

    #[test]
    fn pep440_normal_form_and_order() {
        assert_eq!(version("1.0-RC1").unwrap().as_str(), "1.0rc1");
        assert_eq!(version("2026.10.18").unwrap().as_str(), "2026.10.18");
        let v = |s: &str| version(s).unwrap();
        assert_eq!(compare(&v("2.10.0"), &v("2.9.1")), Ordering::Greater);
        assert_eq!(compare(&v("1.0rc1"), &v("1.0")), Ordering::Less);
        assert_eq!(compare(&v("1.0.post1"), &v("1.0")), Ordering::Greater);
        assert_eq!(compare(&Version::new("nonsense").unwrap(), &v("0.1")), Ordering::Less);
    }

    #[test]
    fn versions_of_files() {
        let cases = [
            ("requests", "requests-2.34.2-py3-none-any.whl", "2.34.2"),
            ("requests", "requests-2.34.2.tar.gz", "2.34.2"),
            (
                "charset-normalizer",
                "charset_normalizer-3.5.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
                "3.5.2",
            ),
            ("charset-normalizer", "charset_normalizer-3.5.2.tar.gz", "3.5.2"),
            ("foo-bar", "foo-bar-1.0.tar.gz", "1.0"),
            ("foo-bar", "Foo.Bar-1.0-RC1.zip", "1.0rc1"),
        ];
        for (p, f, v) in cases {
            assert_eq!(version_of_file(p, f).map(|x| x.to_string()), Some(v.to_string()), "{f}");
        }
        assert_eq!(version_of_file("requests", "urllib3-2.8.0-py3-none-any.whl"), None);
        assert_eq!(version_of_file("requests", "requests-2.34.2.exe"), None);
        assert!(is_distribution("a-1.whl") && is_distribution("a-1.tar.gz") && !is_distribution("a-1.exe"));
    }
}
