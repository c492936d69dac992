//! `Maven`, the `Format` the engine calls back. A Maven repository's metadata lists versions,
//! not files, so a version's candidate files are the standard names: the POM (required) and
//! the main artifact `<artifact>-<version>.jar` (optional: a `pom`-packaged artifact has none).
//! Any other file of the version (sources, classifiers, `.module`, a `war`) is added to the
//! stored version when first requested (`upstream_asset_url`). Checksums come from side files.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use super::{coords, snapshot, version, xml};
use crate::engine::{
    Dependency, DocumentError, Format, Inspection, UpstreamAsset, UpstreamDocument, UpstreamPackage, UpstreamVersion,
    VersionDetails,
};
use crate::model::{AssetName, PackageFormat, PackageId, Version};
use crate::store::ReadSeek;

/// The Maven format.
pub struct Maven;

fn file_url(base: &str, pkg: &PackageId, v: &Version, file: &str) -> String {
    format!("{}/{}/{v}/{file}", base.trim_end_matches('/'), coords::package_dir(pkg))
}

impl Format for Maven {
    fn format(&self) -> PackageFormat {
        PackageFormat::Maven
    }

    fn upstream_metadata_url(&self, base: &str, pkg: &PackageId) -> String {
        format!("{}/{}/maven-metadata.xml", base.trim_end_matches('/'), coords::package_dir(pkg))
    }

    fn upstream_metadata_accept(&self) -> &'static str {
        "application/xml, text/xml;q=0.9, */*;q=0.1"
    }

    /// A deploy PUTs the jar, the POM and any classified files one at a time.
    fn multi_asset_versions(&self) -> bool {
        true
    }

    fn parse_upstream(&self, pkg: &PackageId, doc: &UpstreamDocument<'_>) -> Result<UpstreamPackage, DocumentError> {
        let meta = xml::artifact_metadata(doc.body).map_err(|e| DocumentError::Syntax(Box::new(e)))?;
        let base = doc.url.rsplit_once('/').map_or(doc.url, |(b, _)| b);
        let mut versions: Vec<UpstreamVersion> = meta
            .versions
            .iter()
            .filter_map(|v| Version::new(v.as_str()).ok())
            .filter(|v| self.copied_from_upstreams(v))
            .map(|v| {
                let asset = |ext: &str| -> Option<UpstreamAsset> {
                    let name = format!("{}-{v}.{ext}", pkg.name);
                    Some(UpstreamAsset {
                        url: format!("{base}/{v}/{name}"),
                        name: AssetName::new(name).ok()?,
                        sha1: None,
                        sha256: None,
                        sha512: None,
                        size: None,
                        attributes: Default::default(),
                    })
                };
                UpstreamVersion {
                    assets: [asset("pom"), asset("jar")].into_iter().flatten().collect(),
                    metadata: Value::Null.into(),
                    published_time: None,
                    version: v,
                }
            })
            .collect();
        versions.sort_by(|a, b| version::compare(a.version.as_str(), b.version.as_str()));
        Ok(UpstreamPackage { versions, tags: BTreeMap::new() })
    }

    fn checksum_sidecars(&self) -> bool {
        true
    }

    fn asset_optional(&self, asset: &AssetName) -> bool {
        !asset.as_str().ends_with(".pom")
    }

    /// The main artifact follows the POM's `<packaging>` (Maven's artifact handlers): none
    /// for `pom`, `.war`/`.ear`/`.aar`/`.rar` for those, `.jar` for `jar`, `bundle`,
    /// `maven-plugin` and `ejb`; any other packaging keeps the `.jar` candidate (optional).
    fn revise_assets(&self, metadata: &Value, candidates: Vec<UpstreamAsset>) -> Vec<UpstreamAsset> {
        let packaging = metadata.get("packaging").and_then(Value::as_str).map_or("jar", str::trim);
        let ext = match packaging {
            "pom" => None,
            "war" | "ear" | "aar" | "rar" => Some(packaging),
            _ => Some("jar"),
        };
        candidates
            .into_iter()
            .filter_map(|mut a| {
                let Some(stem) = a.name.as_str().strip_suffix(".jar").map(str::to_string) else { return Some(a) };
                let ext = ext?;
                a.name = AssetName::new(format!("{stem}.{ext}")).ok()?;
                a.url = format!("{}.{ext}", a.url.strip_suffix(".jar").unwrap_or(&a.url));
                Some(a)
            })
            .collect()
    }

    fn upstream_asset_url(&self, base: &str, pkg: &PackageId, v: &Version, asset: &AssetName) -> Option<String> {
        Some(file_url(base, pkg, v, asset.as_str()))
    }

    /// The POM becomes the version's metadata (what DescribePackageVersion reports).
    fn inspect_asset(
        &self,
        _pkg: &PackageId,
        asset: &AssetName,
        file: &mut dyn ReadSeek,
    ) -> Result<Option<Inspection>, DocumentError> {
        if !asset.as_str().ends_with(".pom") {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        file.take(xml::MAX_XML as u64 + 1).read_to_end(&mut bytes).map_err(|e| DocumentError::Syntax(Box::new(e)))?;
        let pom = xml::pom(&bytes).map_err(|e| DocumentError::Syntax(Box::new(e)))?;
        Ok(Some(Inspection { metadata: Some(pom), core_metadata: None }))
    }

    fn compare_versions(&self, a: &Version, b: &Version) -> std::cmp::Ordering {
        version::compare(a.as_str(), b.as_str())
    }

    /// A snapshot build completes into its `-SNAPSHOT` alias (the newest build served).
    fn completes_into(&self, v: &Version) -> Option<Version> {
        snapshot::alias_of(v)
    }

    /// Only releases are imported from a connection, as the guide says; a snapshot read
    /// through a downstream repository is not retained there (it would go stale).
    fn copied_from_upstreams(&self, v: &Version) -> bool {
        !snapshot::is_alias(v.as_str()) && snapshot::alias_of(v).is_none()
    }

    fn version_details(&self, metadata: &Value) -> VersionDetails {
        super::details::version_details(metadata)
    }

    fn dependencies(&self, metadata: &Value) -> Vec<Dependency> {
        super::details::dependencies(metadata)
    }

    fn parent(&self, metadata: &Value) -> Option<(PackageId, Version)> {
        super::inherit::parent(metadata)
    }

    fn inherit(&self, metadata: &Value, parent: &Value) -> Value {
        super::inherit::inherit(metadata, parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_from_metadata() {
        let pkg = coords::package_id(&["com", "thoughtworks", "qdox"], "qdox").unwrap();
        let body = b"<metadata><versioning><versions><version>2.0.3</version><version>1.12.1</version></versions></versioning></metadata>";
        let url = "http://up/com/thoughtworks/qdox/qdox/maven-metadata.xml";
        let p = Maven.parse_upstream(&pkg, &UpstreamDocument { body, content_type: None, url }).unwrap();
        assert_eq!(p.versions[0].version.as_str(), "1.12.1");
        assert_eq!(p.versions[1].assets[1].url, "http://up/com/thoughtworks/qdox/qdox/2.0.3/qdox-2.0.3.jar");
        assert!(Maven.parse_upstream(&pkg, &UpstreamDocument { body: b"{}", content_type: None, url }).is_err());
        assert_eq!(Maven.upstream_metadata_url("http://up/", &pkg), url);
        let revised = |packaging: &str| {
            let candidates = p.versions[1].assets[1..].to_vec();
            let names: Vec<String> = Maven
                .revise_assets(&serde_json::json!({ "packaging": packaging }), candidates)
                .iter()
                .map(|a| a.url.rsplit('/').next().unwrap_or("").to_string())
                .collect();
            names
        };
        assert_eq!(revised("war"), ["qdox-2.0.3.war"]);
        assert_eq!(revised("bundle"), ["qdox-2.0.3.jar"]);
        assert!(revised("pom").is_empty());
    }
}
