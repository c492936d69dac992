//! Maven's inheritance, for the package operations: a POM inherits from its `<parent>` what
//! Maven's model builder inherits — groupId, version, description, url, licenses, scm,
//! properties, dependencyManagement and dependencies — but not artifactId, name or packaging.
//! Dependency versions left to the parent's dependencyManagement or written as `${property}`
//! are resolved from the merged POM where that is simple (properties, `${project.version}` and
//! the like); anything else stays as written.
//!
//! Not modelled: Maven appends the child's artifactId to an inherited url and scm urls (unless
//! the parent says `child.*.inherit.append.path="false"`); the parent's values are shown as
//! they are. Imported BOMs (`<scope>import</scope>`) are not followed.

use serde_json::{Map, Value};

use super::coords;
use crate::model::{PackageId, Version};

fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn items(v: &Value, k: &str) -> Vec<Value> {
    v.get(k).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The parent's coordinates from a stored POM.
pub(crate) fn parent(pom: &Value) -> Option<(PackageId, Version)> {
    let group: Vec<&str> = text(pom, "parent_groupId")?.split('.').collect();
    let pkg = coords::package_id(&group, text(pom, "parent_artifactId")?).ok()?;
    Some((pkg, Version::new(text(pom, "parent_version")?).ok()?))
}

fn key(d: &Value) -> (String, String) {
    (text(d, "groupId").unwrap_or("").to_string(), text(d, "artifactId").unwrap_or("").to_string())
}

/// `child` with what it inherits from `parent` (a merged POM).
pub(crate) fn inherit(child: &Value, parent: &Value) -> Value {
    let (Some(c), Some(p)) = (child.as_object(), parent.as_object()) else { return child.clone() };
    let mut out: Map<String, Value> = c.clone();
    for k in ["groupId", "version", "description", "url", "scm_url", "scm_connection"] {
        if text(child, k).is_none() {
            if let Some(v) = p.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
    }
    if items(child, "licenses").is_empty() {
        out.insert("licenses".into(), Value::Array(items(parent, "licenses")));
    }
    // The child's properties win over the parent's.
    let mut props = p.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    props.extend(c.get("properties").and_then(Value::as_object).cloned().unwrap_or_default());
    out.insert("properties".into(), Value::Object(props));
    // A child's declaration of the same dependency replaces its parent's.
    for list in ["dependencies", "dependencyManagement"] {
        let mut merged = items(child, list);
        let have: Vec<_> = merged.iter().map(key).collect();
        merged.extend(items(parent, list).into_iter().filter(|d| !have.contains(&key(d))));
        out.insert(list.into(), Value::Array(merged));
    }
    Value::Object(out)
}

/// The value of `${name}` in a merged POM.
fn property(pom: &Value, name: &str) -> Option<String> {
    let field = match name {
        "project.version" | "pom.version" | "version" => text(pom, "version").or_else(|| text(pom, "parent_version")),
        "project.groupId" | "pom.groupId" | "groupId" => text(pom, "groupId").or_else(|| text(pom, "parent_groupId")),
        "project.artifactId" | "pom.artifactId" | "artifactId" => text(pom, "artifactId"),
        "project.parent.version" | "parent.version" => text(pom, "parent_version"),
        "project.parent.groupId" | "parent.groupId" => text(pom, "parent_groupId"),
        _ => pom.get("properties").and_then(|p| p.get(name)).and_then(Value::as_str),
    };
    field.map(str::to_string)
}

/// `s` with every `${name}` the POM defines replaced (properties may refer to properties,
/// a few levels deep); unknown ones stay as written.
pub(crate) fn interpolate(s: &str, pom: &Value) -> String {
    let mut cur = s.to_string();
    for _ in 0..8 {
        let mut out = String::with_capacity(cur.len());
        let mut rest = cur.as_str();
        let mut changed = false;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else { break };
            let name = &rest[start + 2..start + len];
            out.push_str(&rest[..start]);
            match property(pom, name) {
                Some(v) => {
                    out.push_str(&v);
                    changed = true;
                }
                None => out.push_str(&rest[start..=start + len]),
            }
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        cur = out;
        if !changed {
            break;
        }
    }
    cur
}

/// The dependencyManagement entry for a dependency (same groupId and artifactId once
/// interpolated).
pub(crate) fn managed<'a>(pom: &'a Value, group: &str, artifact: &str) -> Option<&'a Value> {
    pom.get("dependencyManagement")?.as_array()?.iter().find(|m| {
        interpolate(text(m, "groupId").unwrap_or(""), pom) == group
            && interpolate(text(m, "artifactId").unwrap_or(""), pom) == artifact
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inherits_what_maven_inherits_and_resolves_versions() {
        let top = json!({"groupId": "g", "artifactId": "top", "version": "3", "name": "Top", "url": "http://top",
            "licenses": [{"name": "Apache-2.0"}], "scm_url": "http://scm",
            "properties": {"lib.version": "${base}.1", "base": "4"},
            "dependencyManagement": [{"groupId": "${project.groupId}", "artifactId": "managed", "version": "9", "scope": "test"}],
            "dependencies": []});
        let child = json!({"parent_groupId": "g", "parent_artifactId": "top", "parent_version": "3",
            "artifactId": "child", "version": "1.0", "licenses": [], "properties": {"base": "5"},
            "dependencies": [{"groupId": "g", "artifactId": "managed"}], "dependencyManagement": []});
        let (pkg, v) = parent(&child).unwrap();
        assert_eq!((pkg.name.as_str(), v.as_str()), ("top", "3"));
        let m = inherit(&child, &top);
        assert_eq!(m["licenses"][0]["name"], "Apache-2.0");
        assert_eq!(
            (m["url"].as_str(), m["scm_url"].as_str(), m["groupId"].as_str()),
            (Some("http://top"), Some("http://scm"), Some("g"))
        );
        assert!(m.get("name").is_none(), "name is not inherited");
        assert_eq!(m["version"], "1.0");
        assert_eq!(interpolate("${lib.version}", &m), "5.1", "the child's property wins");
        assert_eq!(interpolate("${project.version}-${nope}", &m), "1.0-${nope}");
        assert_eq!(managed(&m, "g", "managed").unwrap()["version"], "9");
        assert_eq!(interpolate("${a}", &json!({"properties": {"a": "${a}"}})), "${a}", "bounded");
    }
}
