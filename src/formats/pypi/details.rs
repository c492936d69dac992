//! What the management API reports about a stored PyPI version, read from its parsed core
//! metadata (`dist::parse_metadata`): DescribePackageVersion's fields, `Requires-Dist` as
//! dependencies, and the long description as the readme.

use serde_json::Value;

use super::names;
use crate::engine::{Dependency, License, VersionDetails};

/// `Project-URL` labels that name the source repository (compared without case).
const SOURCE_LABELS: [&str; 5] = ["source", "source code", "repository", "code", "github"];
/// A `License` field longer than this is the license's full text, not its name.
const MAX_LICENSE_NAME: usize = 100;

fn text(m: &Value, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn strings<'a>(m: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    m.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// `License-Expression` (metadata 2.4), else a short `License` field, else the license
/// classifiers (`License :: OSI Approved :: MIT License` → `MIT License`).
fn licenses(m: &Value) -> Vec<License> {
    let named = text(m, "license_expression")
        .or_else(|| text(m, "license").filter(|l| l.len() <= MAX_LICENSE_NAME && !l.contains('\n')));
    if let Some(name) = named {
        return vec![License { name, url: None }];
    }
    strings(m, "classifiers")
        .filter(|c| c.starts_with("License ::"))
        .filter_map(|c| c.rsplit("::").next().map(str::trim))
        .filter(|n| !n.is_empty())
        .map(|n| License { name: n.to_string(), url: None })
        .collect()
}

pub(crate) fn version_details(m: &Value) -> VersionDetails {
    let source = strings(m, "project_urls").find_map(|u| {
        let (label, url) = u.split_once(',')?;
        SOURCE_LABELS.contains(&label.trim().to_ascii_lowercase().as_str()).then(|| url.trim().to_string())
    });
    VersionDetails {
        display_name: text(m, "name"),
        summary: text(m, "summary"),
        home_page: text(m, "home_page"),
        source_code_repository: source,
        licenses: licenses(m),
    }
}

/// One `Requires-Dist` value (PEP 508): the project name, then extras, a specifier (bare or
/// in parentheses) and an environment marker. The requirement keeps the specifier and the
/// marker, so an optional (`extra == …`) dependency reads as one.
fn requirement(spec: &str) -> Option<Dependency> {
    let spec = spec.trim();
    let end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(spec.len());
    let name = &spec[..end];
    if !names::is_valid(name) {
        return None;
    }
    let (rest, marker) = match spec[end..].split_once(';') {
        Some((r, m)) => (r, Some(m.trim())),
        None => (&spec[end..], None),
    };
    let mut rest = rest.trim();
    if rest.starts_with('[') {
        rest = rest.find(']').map_or("", |i| rest[i + 1..].trim());
    }
    let specifier = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(rest).trim();
    let requirement = match (specifier, marker) {
        ("", None | Some("")) => None,
        (s, None | Some("")) => Some(s.to_string()),
        (s, Some(m)) => Some(format!("{s}; {m}").trim_start_matches("; ").to_string()),
    };
    Some(Dependency {
        namespace: None,
        package: names::normalize(name),
        dependency_type: None,
        version_requirement: requirement,
    })
}

pub(crate) fn dependencies(m: &Value) -> Vec<Dependency> {
    strings(m, "requires_dist").filter_map(requirement).collect()
}

pub(crate) fn readme(m: &Value) -> Option<String> {
    text(m, "description")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requires_dist_forms() {
        let r = |s: &str| requirement(s).map(|d| (d.package, d.version_requirement));
        assert_eq!(r("requests (>=2)"), Some(("requests".into(), Some(">=2".into()))));
        assert_eq!(r("urllib3<3,>=1.21.1"), Some(("urllib3".into(), Some("<3,>=1.21.1".into()))));
        assert_eq!(r("Charset_Normalizer"), Some(("charset-normalizer".into(), None)));
        assert_eq!(
            r("PySocks!=1.5.7,>=1.5.6; extra == \"socks\""),
            Some(("pysocks".into(), Some("!=1.5.7,>=1.5.6; extra == \"socks\"".into())))
        );
        assert_eq!(
            r("idna[all] ; python_version < '3.8'"),
            Some(("idna".into(), Some("python_version < '3.8'".into())))
        );
        assert_eq!(r("; nothing"), None);
    }

    #[test]
    fn details_and_licenses() {
        let m = json!({
            "name": "Charset-Normalizer", "summary": "S", "home_page": null,
            "license": "MIT", "classifiers": ["License :: OSI Approved :: MIT License"],
            "project_urls": ["Changelog, https://example.invalid/c", "Code, https://example.invalid/src"],
        });
        let d = version_details(&m);
        assert_eq!(d.display_name.as_deref(), Some("Charset-Normalizer"));
        assert_eq!(d.source_code_repository.as_deref(), Some("https://example.invalid/src"));
        assert_eq!(d.licenses, vec![License { name: "MIT".into(), url: None }]);
        let from_classifier = version_details(
            &json!({"license": "long\ntext", "classifiers": ["License :: OSI Approved :: BSD License"]}),
        );
        assert_eq!(from_classifier.licenses[0].name, "BSD License");
        let expr = version_details(&json!({"license_expression": "Apache-2.0 OR MIT", "license": "x"}));
        assert_eq!(expr.licenses[0].name, "Apache-2.0 OR MIT");
    }
}
