//! `Nuget`, the `Format` the engine calls back. The connection's URL is the upstream's
//! service index (its discovery document); a package's metadata is its registration index,
//! with the pages nuget.org leaves out of large indexes fetched and inlined
//! (`linked_documents`, `merge_documents`), so the one stored document lists every version.
//! Each version has one file, `<id>.<version>.nupkg` (lower-case), at the leaf's
//! `packageContent`, checked against `packageHash` (SHA-512, base64) when the leaf gives it.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::{nuspec, version};
use crate::engine::{
    Dependency, DocumentError, Format, Inspection, UpstreamAsset, UpstreamDocument, UpstreamPackage, UpstreamVersion,
    VersionDetails,
};
use crate::model::{AssetName, PackageFormat, PackageId, PackageName, Version};
use crate::store::ReadSeek;

/// The NuGet format.
pub struct Nuget;

/// The package id as Depot stores it (NuGet ids match case-insensitively).
pub(super) fn package_id(id: &str) -> Option<PackageId> {
    let lower = id.to_ascii_lowercase();
    let ok = !lower.is_empty()
        && lower.len() <= 100
        && lower.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then(|| Some(PackageId { format: PackageFormat::Nuget, namespace: None, name: PackageName::new(lower).ok()? }))?
}

/// A version as Depot stores it: NuGet's normalised form, lower-cased.
pub(super) fn stored_version(v: &str) -> Option<Version> {
    Version::new(version::normalize(v)?).ok()
}

/// The one file of a version: `<id>.<version>.nupkg`.
pub(super) fn nupkg_name(pkg: &PackageId, v: &Version) -> Option<AssetName> {
    AssetName::new(format!("{}.{}.nupkg", pkg.name, v)).ok()
}

fn syntax(e: serde_json::Error) -> DocumentError {
    DocumentError::Syntax(Box::new(e))
}

/// A service index's resource of one of `types`, first match in `types`' order.
pub(super) fn resource(index: &Value, types: &[&str]) -> Option<String> {
    let res = index.get("resources")?.as_array()?;
    types.iter().find_map(|t| {
        res.iter().find(|r| r.get("@type").and_then(Value::as_str) == Some(t))?.get("@id")?.as_str().map(str::to_string)
    })
}

fn pages(doc: &Value) -> Result<&Vec<Value>, DocumentError> {
    doc.get("items").and_then(Value::as_array).ok_or(DocumentError::Shape("a registration index without items"))
}

impl Format for Nuget {
    fn format(&self) -> PackageFormat {
        PackageFormat::Nuget
    }

    /// Without a service index: nuget.org's layout next to it.
    fn upstream_metadata_url(&self, base: &str, pkg: &PackageId) -> String {
        let root = base.strip_suffix("/index.json").unwrap_or(base).trim_end_matches('/');
        format!("{root}/registration/{}/index.json", pkg.name)
    }

    fn discovery_url(&self, base: &str) -> Option<String> {
        Some(base.to_string())
    }

    /// SemVer 2 registrations first (they list every version; the plain hive hides SemVer 2 ones).
    fn upstream_metadata_url_from(
        &self,
        _base: &str,
        pkg: &PackageId,
        discovery: &UpstreamDocument<'_>,
    ) -> Result<String, DocumentError> {
        let index: Value = serde_json::from_slice(discovery.body).map_err(syntax)?;
        let reg = resource(
            &index,
            &[
                "RegistrationsBaseUrl/3.6.0",
                "RegistrationsBaseUrl/3.4.0",
                "RegistrationsBaseUrl/3.0.0-rc",
                "RegistrationsBaseUrl",
            ],
        )
        .ok_or(DocumentError::Shape("a service index without RegistrationsBaseUrl"))?;
        Ok(format!("{}/{}/index.json", reg.trim_end_matches('/'), pkg.name))
    }

    fn linked_documents(&self, _pkg: &PackageId, doc: &UpstreamDocument<'_>) -> Result<Vec<String>, DocumentError> {
        let index: Value = serde_json::from_slice(doc.body).map_err(syntax)?;
        Ok(pages(&index)?
            .iter()
            .filter(|p| p.get("items").is_none())
            .filter_map(|p| p.get("@id").and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    fn merge_documents(
        &self,
        _pkg: &PackageId,
        doc: &UpstreamDocument<'_>,
        linked: &[(String, bytes::Bytes)],
    ) -> Result<Vec<u8>, DocumentError> {
        let mut index: Value = serde_json::from_slice(doc.body).map_err(syntax)?;
        let Some(items) = index.get_mut("items").and_then(Value::as_array_mut) else {
            return Err(DocumentError::Shape("a registration index without items"));
        };
        for page in items.iter_mut().filter(|p| p.get("items").is_none()) {
            let id = page.get("@id").and_then(Value::as_str).unwrap_or_default().to_string();
            let (_, body) =
                linked.iter().find(|(u, _)| *u == id).ok_or(DocumentError::Shape("a page was not fetched"))?;
            let fetched: Value = serde_json::from_slice(body).map_err(syntax)?;
            let leaves =
                fetched.get("items").cloned().ok_or(DocumentError::Shape("a registration page without items"))?;
            page["items"] = leaves;
        }
        serde_json::to_vec(&index).map_err(syntax)
    }

    fn parse_upstream(&self, pkg: &PackageId, doc: &UpstreamDocument<'_>) -> Result<UpstreamPackage, DocumentError> {
        let index: Value = serde_json::from_slice(doc.body).map_err(syntax)?;
        let mut versions = Vec::new();
        for page in pages(&index)? {
            let leaves =
                page.get("items").and_then(Value::as_array).ok_or(DocumentError::Shape("a page not inlined"))?;
            for leaf in leaves {
                let entry = leaf.get("catalogEntry").ok_or(DocumentError::Shape("a leaf without catalogEntry"))?;
                let text = |k: &str| entry.get(k).and_then(Value::as_str);
                // An unusable version is left out rather than failing the package.
                let Some(v) = text("version").and_then(stored_version) else { continue };
                let url = leaf.get("packageContent").and_then(Value::as_str).or_else(|| text("packageContent"));
                let (Some(url), Some(name)) = (url, nupkg_name(pkg, &v)) else { continue };
                let sha512 = match (text("packageHash"), text("packageHashAlgorithm")) {
                    (Some(h), None | Some("SHA512")) => base64::engine::general_purpose::STANDARD.decode(h).ok(),
                    _ => None,
                };
                let size = entry.get("packageSize").and_then(Value::as_u64);
                versions.push(UpstreamVersion {
                    assets: vec![UpstreamAsset {
                        name,
                        url: url.to_string(),
                        sha1: None,
                        sha256: None,
                        sha512,
                        size,
                        attributes: Default::default(),
                    }],
                    published_time: text("published").map(str::to_string),
                    metadata: entry.clone().into(),
                    version: v,
                });
            }
        }
        versions.sort_by(|a, b| version::compare(a.version.as_str(), b.version.as_str()));
        versions.dedup_by(|a, b| a.version == b.version);
        Ok(UpstreamPackage { versions, tags: BTreeMap::new() })
    }

    /// The `.nuspec` is kept beside the `.nupkg` (served at `<id>.nuspec`); its metadata is
    /// the version's when the registration gave none (a push).
    fn inspect_asset(
        &self,
        _pkg: &PackageId,
        asset: &AssetName,
        file: &mut dyn ReadSeek,
    ) -> Result<Option<Inspection>, DocumentError> {
        if !asset.as_str().ends_with(".nupkg") {
            return Ok(None);
        }
        let parsed = nuspec::read_nupkg(file).map_err(|e| DocumentError::Syntax(Box::new(e)))?;
        let metadata = Some(parsed.to_metadata()).filter(|m| !m.is_null());
        Ok(Some(Inspection { metadata, core_metadata: Some(parsed.nuspec_bytes) }))
    }

    fn compare_versions(&self, a: &Version, b: &Version) -> std::cmp::Ordering {
        version::compare(a.as_str(), b.as_str())
    }

    fn api_package_id(&self, namespace: Option<&str>, name: &str) -> Option<PackageId> {
        if namespace.is_some_and(|n| !n.is_empty()) {
            return None;
        }
        package_id(name)
    }

    fn api_version(&self, v: &str) -> Option<Version> {
        stored_version(v)
    }

    fn api_name_prefix(&self, prefix: &str) -> String {
        prefix.to_ascii_lowercase()
    }

    fn version_details(&self, m: &Value) -> VersionDetails {
        super::details::version_details(m)
    }

    fn dependencies(&self, m: &Value) -> Vec<Dependency> {
        super::details::dependencies(m)
    }

    fn readme(&self, m: &Value) -> Option<String> {
        m.get("readme").and_then(Value::as_str).map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(body: &'a [u8], url: &'a str) -> UpstreamDocument<'a> {
        UpstreamDocument { body, content_type: None, url }
    }

    #[test]
    fn service_index_registration_pages_and_leaves() {
        let pkg = package_id("Depot.Fixture.Core").unwrap();
        assert_eq!(pkg.name.as_str(), "depot.fixture.core");
        let si = br#"{"resources":[{"@id":"http://up/reg/","@type":"RegistrationsBaseUrl"},{"@id":"http://up/reg2/","@type":"RegistrationsBaseUrl/3.6.0"}]}"#;
        let url =
            Nuget.upstream_metadata_url_from("http://up/v3/index.json", &pkg, &doc(si, "http://up/v3/index.json"));
        assert_eq!(url.unwrap(), "http://up/reg2/depot.fixture.core/index.json");
        let leaf = |v: &str| {
            serde_json::json!({"packageContent": format!("http://up/f/{v}.nupkg"),
                "catalogEntry": {"id": "Depot.Fixture.Core", "version": v, "packageHash": "AAAA", "packageHashAlgorithm": "SHA512"}})
        };
        let index = serde_json::json!({"items": [
            {"@id": "http://up/p1.json", "lower": "1.0.0", "upper": "1.0.0"},
            {"@id": "http://up/i#page", "items": [leaf("1.0.0.0"), leaf("1.0.0-Beta"), leaf("2.0.0+build.7")]}
        ]});
        let body = serde_json::to_vec(&index).unwrap();
        let d = doc(&body, "http://up/reg2/x/index.json");
        assert_eq!(Nuget.linked_documents(&pkg, &d).unwrap(), ["http://up/p1.json"]);
        assert!(Nuget.parse_upstream(&pkg, &d).is_err(), "a page not inlined is not a full list");
        let page = serde_json::to_vec(&serde_json::json!({"items": [leaf("1.0")]})).unwrap();
        let merged = Nuget.merge_documents(&pkg, &d, &[("http://up/p1.json".into(), page.into())]).unwrap();
        let p = Nuget.parse_upstream(&pkg, &doc(&merged, "http://up/reg2/x/index.json")).unwrap();
        let vs: Vec<&str> = p.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(vs, ["1.0.0-beta", "1.0.0", "2.0.0"], "normalised, deduplicated, NuGet order");
        assert_eq!(p.versions[1].assets[0].name.as_str(), "depot.fixture.core.1.0.0.nupkg");
        assert_eq!(p.versions[1].assets[0].sha512.as_deref(), Some(&[0u8, 0, 0][..]));
    }

    #[test]
    fn versions() {
        assert_eq!(version::normalize("1.0").as_deref(), Some("1.0.0"));
        assert_eq!(version::normalize("1.0.0.0").as_deref(), Some("1.0.0"));
        assert_eq!(version::normalize("1.0.0.1").as_deref(), Some("1.0.0.1"));
        assert_eq!(version::normalize("01.0.0-Beta+sha.1").as_deref(), Some("1.0.0-beta"));
        assert_eq!(version::normalize("x"), None);
        assert_eq!(version::compare("1.0.0-beta.2", "1.0.0-beta.10"), std::cmp::Ordering::Less);
        assert_eq!(version::compare("1.0.0", "1.0.0-rc"), std::cmp::Ordering::Greater);
        assert_eq!(version::compare("1.10.0", "1.9.0"), std::cmp::Ordering::Greater);
    }
}
