//! The streamed packument against the one-tree rendering it replaced, byte for byte.

use serde_json::json;
use serde_json::value::RawValue;

use super::*;
use crate::engine::{VersionMetadata, ViewAsset};
use crate::model::{PackageFormat, PackageName, PackageVersionStatus};

/// The rendering before manifests were streamed: the whole document as one tree.
fn one_tree(endpoint: &str, view: &PackageView, abbreviated: bool) -> Vec<u8> {
    // Each version's manifest is `wire::manifest`'s: what changed is how the document around
    // them is assembled and written.
    let name = full_name(&view.package);
    let mut versions = Map::new();
    let mut time = Map::new();
    let mut modified: Option<&str> = None;
    for v in &view.versions {
        versions.insert(v.version.to_string(), manifest(endpoint, &view.package, v, abbreviated));
        if let Some(t) = &v.published_time {
            time.insert(v.version.to_string(), Value::String(t.clone()));
            if modified.is_none_or(|m| m < t.as_str()) {
                modified = Some(t);
            }
        }
    }
    let tags: Map<String, Value> = view.tags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mut doc = Map::new();
    if !abbreviated {
        doc.insert("_id".into(), Value::String(name.clone()));
    }
    doc.insert("name".into(), Value::String(name));
    if let Some(m) = modified {
        doc.insert("modified".into(), Value::String(m.to_string()));
    }
    doc.insert("dist-tags".into(), Value::Object(tags));
    doc.insert("versions".into(), Value::Object(versions));
    if !abbreviated {
        if let Some(m) = modified {
            time.insert("modified".into(), Value::String(m.to_string()));
        }
        doc.insert("time".into(), Value::Object(time));
    }
    serde_json::to_vec(&Value::Object(doc)).unwrap()
}

fn version(v: &str, metadata: VersionMetadata, time: Option<&str>) -> ViewVersion {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha1".to_string(), "ab".repeat(20));
    hashes.insert("sha512".to_string(), "cd".repeat(64));
    ViewVersion {
        version: Version::new(v).unwrap(),
        metadata,
        assets: vec![ViewAsset {
            name: AssetName::new(format!("p-{v}.tgz")).unwrap(),
            hashes,
            size: Some(10),
            attributes: Default::default(),
        }],
        status: PackageVersionStatus::Published,
        published_time: time.map(str::to_string),
    }
}

fn raw(text: &str) -> VersionMetadata {
    VersionMetadata::raw(RawValue::from_string(text.to_string()).unwrap())
}

#[test]
fn streamed_packument_matches_the_one_tree_rendering() {
    let package = PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("p").unwrap() };
    let view = PackageView {
        package,
        versions: vec![
            // Upstream text, with key order, escapes, numbers and an install script.
            version(
                "2.0.0",
                raw(r#"{ "version":"2.0.0", "name":"p", "z":1.50, "desc":"a \"q\" \u00e9",
                    "scripts":{"postinstall":"x"}, "dependencies":{"a":"^1"},
                    "dist":{"tarball":"http://up/p-2.0.0.tgz","fileCount":3,"shasum":"00"}, "bin":{"p":"b"} }"#),
                Some("2021-01-02T00:00:00.000Z"),
            ),
            // A stored (parsed) manifest without dist.
            version(
                "1.0.0",
                json!({"name": "p", "version": "1.0.0", "engines": {"node": ">=8"}, "os": ["linux"]}).into(),
                Some("2020-01-01T00:00:00.000Z"),
            ),
            // Metadata that is not an object, and no time.
            version("1.0.1", raw("null"), None),
            version("3.0.0-rc.1", json!(["odd"]).into(), Some("2022-05-05T00:00:00.000Z")),
        ],
        tags: [("latest", "2.0.0"), ("next", "3.0.0-rc.1")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    };
    for abbreviated in [false, true] {
        let streamed = packument("http://depot/npm/r/", &view, abbreviated);
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            String::from_utf8(one_tree("http://depot/npm/r/", &view, abbreviated)).unwrap(),
            "abbreviated: {abbreviated}"
        );
    }
    let empty = PackageView { versions: vec![], tags: BTreeMap::new(), ..view };
    assert_eq!(packument("e/", &empty, false), one_tree("e/", &empty, false));
}
