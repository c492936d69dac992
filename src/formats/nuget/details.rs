//! What the management API reports of a NuGet version, from its catalogEntry-like metadata
//! (an upstream registration leaf, or the `.nuspec` of a pushed package).

use serde_json::Value;

use crate::engine::{Dependency, License, VersionDetails};

fn text<'a>(m: &'a Value, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub(super) fn version_details(m: &Value) -> VersionDetails {
    let license = match (text(m, "licenseExpression"), text(m, "licenseUrl")) {
        (Some(e), url) => vec![License { name: e.to_string(), url: url.map(str::to_string) }],
        (None, Some(url)) => vec![License { name: url.to_string(), url: Some(url.to_string()) }],
        _ => Vec::new(),
    };
    VersionDetails {
        display_name: text(m, "id").map(str::to_string),
        summary: text(m, "summary").or_else(|| text(m, "description")).map(str::to_string),
        home_page: text(m, "projectUrl").map(str::to_string),
        source_code_repository: None,
        licenses: license,
    }
}

pub(super) fn dependencies(m: &Value) -> Vec<Dependency> {
    let groups = m.get("dependencyGroups").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    groups
        .iter()
        .flat_map(|g| {
            let tfm = text(g, "targetFramework").map(str::to_string);
            let deps = g.get("dependencies").and_then(Value::as_array).cloned().unwrap_or_default();
            deps.into_iter().filter_map(move |d| {
                Some(Dependency {
                    namespace: None,
                    package: text(&d, "id")?.to_string(),
                    dependency_type: tfm.clone(),
                    version_requirement: text(&d, "range").map(str::to_string),
                })
            })
        })
        .collect()
}
