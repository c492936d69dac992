//! What the management API reports about a stored npm version, read from its manifest
//! (`package.json` as published): DescribePackageVersion's fields, the dependencies by kind,
//! and the readme.

use serde_json::Value;

use crate::engine::{Dependency, License, VersionDetails};

/// npm's dependency maps and the `dependencyType` CodeArtifact gives each.
const DEPENDENCY_KINDS: [(&str, &str); 4] = [
    ("dependencies", "regular"),
    ("devDependencies", "dev"),
    ("peerDependencies", "peer"),
    ("optionalDependencies", "optional"),
];

/// What npm writes into a manifest when a package has no readme; not a readme.
const NO_README: &str = "ERROR: No README data found!";

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// `"MIT"`, `{"type": "MIT", "url": …}`, or the deprecated `licenses` array of either.
fn license(v: &Value) -> Option<License> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(License { name: s.trim().to_string(), url: None }),
        Value::Object(o) => {
            Some(License { name: text(o.get("type")).or_else(|| text(o.get("name")))?, url: text(o.get("url")) })
        }
        _ => None,
    }
}

pub(crate) fn version_details(m: &Value) -> VersionDetails {
    let mut licenses: Vec<License> = m.get("license").and_then(license).into_iter().collect();
    if licenses.is_empty() {
        licenses = m.get("licenses").and_then(Value::as_array).into_iter().flatten().filter_map(license).collect();
    }
    // `repository` is a URL (or `github:user/repo` shorthand) or `{"type": "git", "url": …}`.
    let repo = m.get("repository");
    VersionDetails {
        display_name: text(m.get("name")),
        summary: text(m.get("description")),
        home_page: text(m.get("homepage")),
        source_code_repository: text(repo).or_else(|| text(repo.and_then(|r| r.get("url")))),
        licenses,
    }
}

pub(crate) fn dependencies(m: &Value) -> Vec<Dependency> {
    let mut out = Vec::new();
    for (field, kind) in DEPENDENCY_KINDS {
        let Some(deps) = m.get(field).and_then(Value::as_object) else { continue };
        for (name, range) in deps {
            let (namespace, package) = match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
                Some((scope, n)) => (Some(scope.to_string()), n.to_string()),
                None => (None, name.clone()),
            };
            out.push(Dependency {
                namespace,
                package,
                dependency_type: Some(kind.to_string()),
                version_requirement: range.as_str().map(str::to_string),
            });
        }
    }
    out
}

pub(crate) fn readme(m: &Value) -> Option<String> {
    m.get("readme").and_then(Value::as_str).filter(|r| !r.trim().is_empty() && *r != NO_README).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn details_from_a_manifest() {
        let m = json!({
            "name": "@acme/util", "description": "Utilities", "homepage": "https://example.invalid/u",
            "repository": {"type": "git", "url": "git+https://example.invalid/u.git"},
            "license": {"type": "ISC", "url": "https://example.invalid/isc"},
        });
        let d = version_details(&m);
        assert_eq!(d.display_name.as_deref(), Some("@acme/util"));
        assert_eq!(d.summary.as_deref(), Some("Utilities"));
        assert_eq!(d.source_code_repository.as_deref(), Some("git+https://example.invalid/u.git"));
        assert_eq!(d.licenses, vec![License { name: "ISC".into(), url: Some("https://example.invalid/isc".into()) }]);
        let legacy = version_details(&json!({"licenses": [{"type": "MIT"}, "Apache-2.0"], "repository": "github:a/b"}));
        assert_eq!(legacy.licenses.len(), 2);
        assert_eq!(legacy.source_code_repository.as_deref(), Some("github:a/b"));
    }

    #[test]
    fn dependencies_by_kind_with_scopes() {
        let m = json!({
            "dependencies": {"ms": "^2.1.3", "@babel/core": "7.0.0"},
            "devDependencies": {"mocha": "^5"}, "peerDependencies": {"react": "*"},
            "optionalDependencies": {"fsevents": "2"},
        });
        let d = dependencies(&m);
        assert_eq!(d.len(), 5);
        let babel = d.iter().find(|x| x.package == "core").unwrap();
        assert_eq!((babel.namespace.as_deref(), babel.dependency_type.as_deref()), (Some("babel"), Some("regular")));
        let kinds: Vec<_> = d.iter().filter_map(|x| x.dependency_type.as_deref()).collect();
        assert!(kinds.contains(&"dev") && kinds.contains(&"peer") && kinds.contains(&"optional"));
        assert!(readme(&json!({"readme": NO_README})).is_none());
        assert_eq!(readme(&json!({"readme": "# x"})).as_deref(), Some("# x"));
    }
}
