//! The package operations' view of a Maven version: its POM, stored as the version's
//! metadata when ingested (`xml::pom`).

use serde_json::Value;

use super::inherit::{interpolate, managed};
use crate::engine::{Dependency, License, VersionDetails};

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Name, description, URL, licenses and SCM from the POM.
pub(crate) fn version_details(pom: &Value) -> VersionDetails {
    VersionDetails {
        display_name: text(pom, "name"),
        summary: text(pom, "description"),
        home_page: text(pom, "url"),
        source_code_repository: text(pom, "scm_url").or_else(|| text(pom, "scm_connection")),
        licenses: pom
            .get("licenses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| Some(License { name: text(l, "name")?, url: text(l, "url") }))
            .collect(),
    }
}

/// Declared dependencies of a merged POM (`inherit.rs`), versions resolved where simple; the scope is the dependency type (Maven's default scope is `compile`).
pub(crate) fn dependencies(pom: &Value) -> Vec<Dependency> {
    pom.get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let group = text(d, "groupId").map(|g| interpolate(&g, pom));
            let artifact = interpolate(&text(d, "artifactId")?, pom);
            // A version or scope left out is the parent's dependencyManagement's.
            let managed = managed(pom, group.as_deref().unwrap_or(""), &artifact);
            let from = |k: &str| text(d, k).or_else(|| managed.and_then(|m| text(m, k)));
            Some(Dependency {
                namespace: group,
                package: artifact,
                dependency_type: Some(from("scope").unwrap_or_else(|| "compile".into())),
                version_requirement: from("version").map(|v| interpolate(&v, pom)),
            })
        })
        .collect()
}
