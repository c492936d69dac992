//! npm as the engine sees it: the upstream packument parsed into versions, assets and tags,
//! and the dependency prefetch rule (node-semver semantics).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::Value;

use super::names::{full_name, parse_name};
use crate::engine::{
    DependencyRequest, DocumentError, Format, UpstreamAsset, UpstreamDocument, UpstreamPackage, UpstreamVersion,
    VersionMetadata,
};
use crate::model::{AssetName, PackageFormat, PackageId, Version};

/// The npm format.
pub struct Npm;

/// The tarball a manifest's `dist` names, with its declared digests.
fn dist_asset(manifest: &RawValue) -> Option<UpstreamAsset> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        dist: Option<Value>,
    }
    // The struct skips every other field unparsed; a manifest it refuses (not an object, or
    // `dist` repeated) is read as a tree, so the outcome is the tree's in every case.
    let dist = match serde_json::from_str::<Manifest>(manifest.get()) {
        Ok(m) => m.dist?,
        Err(_) => serde_json::from_str::<Value>(manifest.get()).ok()?.get("dist")?.clone(),
    };
    let url = dist.get("tarball").and_then(Value::as_str)?;
    let name = file_name(url).and_then(|n| AssetName::new(n).ok())?;
    Some(UpstreamAsset {
        name,
        url: url.to_string(),
        sha1: dist.get("shasum").and_then(Value::as_str).map(str::to_string),
        sha256: None,
        sha512: dist.get("integrity").and_then(Value::as_str).and_then(sha512_of_integrity),
        size: None,
        attributes: Default::default(),
    })
}

/// `sha512-<base64>` → raw digest.
pub(crate) fn sha512_of_integrity(integrity: &str) -> Option<Vec<u8>> {
    integrity
        .split_whitespace()
        .find_map(|part| part.strip_prefix("sha512-"))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
}

/// The last path segment of a URL (the tarball file name).
fn file_name(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    path.rsplit('/').next().filter(|s| !s.is_empty())
}

/// Orders npm versions by semver; unparsable ones sort first, by text.
pub(crate) fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (node_semver::Version::parse(a), node_semver::Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
        (Err(_), Ok(_)) => std::cmp::Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

impl Format for Npm {
    fn format(&self) -> PackageFormat {
        PackageFormat::Npm
    }

    fn upstream_metadata_url(&self, base: &str, pkg: &PackageId) -> String {
        // Registries expect the scope's slash escaped in the packument path.
        format!("{}/{}", base.trim_end_matches('/'), full_name(pkg).replace('/', "%2f"))
    }

    fn parse_upstream(&self, _pkg: &PackageId, doc: &UpstreamDocument<'_>) -> Result<UpstreamPackage, DocumentError> {
        // Only the top level and each version's `dist` are parsed into trees; manifests stay
        // text (a 3,800-version packument as trees costs several times its 20 MB).
        let top: IndexMap<String, &RawValue> = serde_json::from_slice(doc.body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => DocumentError::Shape("a packument must be a JSON object"),
            _ => DocumentError::Syntax(Box::new(e)),
        })?;
        // Fields of the wrong type are ignored, as when the document was one tree.
        let field = |k: &str| top.get(k).map(|r| r.get());
        let times: HashMap<String, Value> =
            field("time").and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        let vs: IndexMap<String, Box<RawValue>> =
            field("versions").and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        let mut versions = Vec::with_capacity(vs.len());
        for (v, manifest) in vs {
            let Ok(version) = Version::new(v.as_str()) else { continue };
            let assets = dist_asset(&manifest).into_iter().collect();
            versions.push(UpstreamVersion {
                version,
                metadata: VersionMetadata::raw(manifest),
                assets,
                published_time: times.get(&v).and_then(Value::as_str).map(str::to_string),
            });
        }
        let tags: BTreeMap<String, Value> =
            field("dist-tags").and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        let tags = tags.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_string()))).collect();
        Ok(UpstreamPackage { versions, tags })
    }

    fn version_of_asset(&self, pkg: &PackageId, asset: &AssetName) -> Option<Version> {
        let v = asset.as_str().strip_prefix(pkg.name.as_str())?.strip_prefix('-')?.strip_suffix(".tgz")?;
        Version::new(v).ok()
    }

    fn dependencies_to_prefetch(&self, metadata: &Value) -> Vec<DependencyRequest> {
        let mut out = Vec::new();
        for field in ["dependencies", "optionalDependencies"] {
            let Some(deps) = metadata.get(field).and_then(Value::as_object) else { continue };
            for (name, spec) in deps {
                let Some(spec) = spec.as_str() else { continue };
                // `npm:<name>@<range>` aliases resolve against the aliased package.
                let (name, range) = match spec.strip_prefix("npm:") {
                    Some(alias) => match alias.rfind('@').filter(|i| *i > 0) {
                        Some(i) => (&alias[..i], &alias[i + 1..]),
                        None => (alias, "latest"),
                    },
                    None => (name.as_str(), spec),
                };
                // Git, file, URL and GitHub-shorthand specs are not registry versions.
                if range.contains(':') || range.contains('/') {
                    continue;
                }
                if let Some(package) = parse_name(name) {
                    let dep = DependencyRequest { package, range: range.trim().to_string() };
                    if !out.contains(&dep) {
                        out.push(dep);
                    }
                }
            }
        }
        out
    }

    fn versions_to_prefetch(&self, upstream: &UpstreamPackage, range: &str) -> Vec<Version> {
        let mut out: Vec<Version> = Vec::new();
        let range_txt = if range.is_empty() { "*" } else { range };
        let best = match node_semver::Range::parse(range_txt) {
            Ok(r) => upstream
                .versions
                .iter()
                .filter_map(|v| node_semver::Version::parse(v.version.as_str()).ok().map(|sv| (sv, &v.version)))
                .filter(|(sv, _)| r.satisfies(sv))
                .max_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, v)| v.clone()),
            // Not a range: a tag name.
            Err(_) => upstream.tags.get(range).and_then(|v| Version::new(v.as_str()).ok()),
        };
        out.extend(best);
        if let Some(latest) = upstream.tags.get("latest").and_then(|v| Version::new(v.as_str()).ok()) {
            if !out.contains(&latest) {
                out.push(latest);
            }
        }
        out
    }

    fn compare_versions(&self, a: &Version, b: &Version) -> std::cmp::Ordering {
        compare(a.as_str(), b.as_str())
    }

    /// `name` or `@scope/name` rules; the API passes the scope (without `@`) as the namespace.
    fn api_package_id(&self, namespace: Option<&str>, name: &str) -> Option<PackageId> {
        parse_name(&match namespace {
            Some(ns) => format!("@{ns}/{name}"),
            None => name.to_string(),
        })
    }

    /// The `latest` tag when it names a listed version, else the most recently published.
    fn default_display_version(
        &self,
        tags: &std::collections::BTreeMap<String, String>,
        listed: &[&Version],
    ) -> Option<Version> {
        let latest = tags.get("latest").and_then(|l| listed.iter().find(|v| v.as_str() == l.as_str()));
        latest.or(listed.first()).map(|v| (*v).clone())
    }

    /// CodeArtifact names every npm tarball `package.tgz` in its API.
    fn api_asset_name(&self, _asset: &AssetName) -> String {
        "package.tgz".to_string()
    }

    fn version_details(&self, metadata: &Value) -> crate::engine::VersionDetails {
        super::details::version_details(metadata)
    }

    fn dependencies(&self, metadata: &Value) -> Vec<crate::engine::Dependency> {
        super::details::dependencies(metadata)
    }

    fn readme(&self, metadata: &Value) -> Option<String> {
        super::details::readme(metadata)
    }
}

/// Dist-tags of a stored manifest map, for tests.
#[cfg(test)]
fn tags(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg_with(versions: &[&str], t: &[(&str, &str)]) -> UpstreamPackage {
        UpstreamPackage {
            versions: versions
                .iter()
                .map(|v| UpstreamVersion {
                    version: Version::new(*v).unwrap(),
                    metadata: Value::Null.into(),
                    assets: vec![],
                    published_time: None,
                })
                .collect(),
            tags: tags(t),
        }
    }

    #[test]
    fn prefetch_picks_max_satisfying_and_latest() {
        let up = pkg_with(&["2.0.0", "2.1.3", "3.0.0-canary.1"], &[("latest", "2.1.3"), ("next", "3.0.0-canary.1")]);
        let vs = |r: &str| Npm.versions_to_prefetch(&up, r).iter().map(|v| v.to_string()).collect::<Vec<_>>();
        assert_eq!(vs("^2.0.0"), ["2.1.3"]);
        assert_eq!(vs("2.0.0"), ["2.0.0", "2.1.3"]);
        assert_eq!(vs("next"), ["3.0.0-canary.1", "2.1.3"]);
        assert_eq!(vs("*"), ["2.1.3"], "prereleases excluded unless asked for");
        assert_eq!(vs(">=3.0.0-canary.0"), ["3.0.0-canary.1", "2.1.3"]);
    }

    #[test]
    fn dependency_specs() {
        let m = serde_json::json!({
            "dependencies": {"a": "^1", "b": "npm:c@^2", "d": "git+https://x/y.git", "e": "user/repo"},
            "optionalDependencies": {"f": "~1.2"},
            "devDependencies": {"g": "1"}
        });
        let deps: Vec<String> =
            Npm.dependencies_to_prefetch(&m).iter().map(|d| format!("{}@{}", full_name(&d.package), d.range)).collect();
        assert_eq!(deps, ["a@^1", "c@^2", "f@~1.2"]);
    }

    #[test]
    fn packument_parses_as_the_tree_did() {
        let body = br#"{"name":"p","dist-tags":{"latest":"1.0.0","bad":3},"time":{"1.0.0":"T1","2.0.0":7},
            "versions":{
              "2.0.0":{"name":"p","version":"2.0.0","dist":{"tarball":"http://up/p/-/p-2.0.0.tgz","shasum":"aa",
                       "integrity":"sha512-AAAA"},"scripts":{"test":"x"}},
              "not a version":{},
              "1.0.0":{"version":"1.0.0","dist":{"tarball":"http://up/p/-/p-1.0.0.tgz"},"dist":{"shasum":"bb"}},
              "1.0.1":null}}"#;
        let doc = UpstreamDocument { body, content_type: None, url: "http://up/p" };
        let pkg = parse_name("p").unwrap();
        let up = Npm.parse_upstream(&pkg, &doc).unwrap();
        let tree: Value = serde_json::from_slice(body).unwrap();
        let vs: Vec<&str> = up.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(vs, ["2.0.0", "1.0.0", "1.0.1"], "upstream order, invalid versions skipped");
        for v in &up.versions {
            assert_eq!(*v.metadata.value(), tree["versions"][v.version.as_str()], "{}", v.version);
        }
        let a = &up.versions[0].assets[0];
        assert_eq!((a.name.as_str(), a.sha1.as_deref()), ("p-2.0.0.tgz", Some("aa")));
        assert_eq!(a.sha512.as_deref(), Some(&[0u8, 0, 0][..]));
        assert_eq!(up.versions[0].published_time, None, "a non-string time is ignored");
        assert_eq!(up.versions[1].published_time.as_deref(), Some("T1"));
        // A repeated `dist`: the last one counts, as in a tree (it names no tarball).
        assert!(up.versions[1].assets.is_empty());
        assert!(up.versions[2].assets.is_empty());
        assert_eq!(up.tags, tags(&[("latest", "1.0.0")]));
        let bad = |b: &[u8]| Npm.parse_upstream(&pkg, &UpstreamDocument { body: b, content_type: None, url: "u" });
        assert!(matches!(bad(b"[1]"), Err(DocumentError::Shape(_))));
        assert!(matches!(bad(b"{\"versions\":"), Err(DocumentError::Syntax(_))));
        assert!(bad(br#"{"versions":[1]}"#).unwrap().versions.is_empty(), "versions of the wrong type are ignored");
    }

    #[test]
    fn asset_names_map_to_versions() {
        let p = parse_name("@babel/code-frame").unwrap();
        let v = Npm.version_of_asset(&p, &AssetName::new("code-frame-7.29.7.tgz").unwrap()).unwrap();
        assert_eq!(v.as_str(), "7.29.7");
        assert!(Npm.version_of_asset(&p, &AssetName::new("other-1.0.0.tgz").unwrap()).is_none());
        assert_eq!(Npm.upstream_metadata_url("http://u/", &p), "http://u/@babel%2fcode-frame");
    }
}
