//! `Pypi`, the `Format` the engine calls back: where a project's page lives on a simple
//! index, and how a page (PEP 691 JSON or PEP 503 HTML) becomes versions and files.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{dist, names};
use crate::engine::{
    DocumentError, Format, Inspection, UpstreamAsset, UpstreamDocument, UpstreamPackage, UpstreamVersion,
};
use crate::model::{AssetAttributes, AssetName, PackageFormat, PackageId, Version};
use crate::store::ReadSeek;

/// The PyPI format.
pub struct Pypi;

/// PEP 691 JSON first, the HTML forms after (pip's order).
const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

impl Format for Pypi {
    fn format(&self) -> PackageFormat {
        PackageFormat::Pypi
    }

    /// The connection's URL may name the index root or its `simple/` page.
    fn upstream_metadata_url(&self, base: &str, pkg: &PackageId) -> String {
        let base = base.trim_end_matches('/');
        if base.ends_with("/simple") {
            format!("{base}/{}/", pkg.name)
        } else {
            format!("{base}/simple/{}/", pkg.name)
        }
    }

    fn upstream_metadata_accept(&self) -> &'static str {
        ACCEPT
    }

    fn parse_upstream(&self, pkg: &PackageId, doc: &UpstreamDocument<'_>) -> Result<UpstreamPackage, DocumentError> {
        let json = doc.content_type.is_some_and(|c| c.contains("json"))
            || doc.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let files = if json { files_from_json(doc.body)? } else { files_from_html(doc.body) };
        let base = url::Url::parse(doc.url).ok();
        let mut by_version: BTreeMap<Version, Vec<(UpstreamAsset, Option<String>)>> = BTreeMap::new();
        for f in files {
            if !names::is_distribution(&f.filename) {
                continue;
            }
            let (Some(version), Ok(name)) =
                (names::version_of_file(pkg.name.as_str(), &f.filename), AssetName::new(f.filename.as_str()))
            else {
                continue;
            };
            let (href, fragment) = match f.url.split_once('#') {
                Some((h, frag)) => (h, Some(frag)),
                None => (f.url.as_str(), None),
            };
            let Some(url) = absolute(base.as_ref(), href) else { continue };
            let sha256 =
                f.sha256.or_else(|| fragment.and_then(|fr| fr.strip_prefix("sha256=")).map(|h| h.to_ascii_lowercase()));
            let asset = UpstreamAsset {
                name,
                url,
                sha1: None,
                sha256: sha256.filter(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit())),
                sha512: None,
                size: f.size,
                attributes: AssetAttributes {
                    requires_python: f.requires_python.filter(|r| !r.is_empty()),
                    yanked: f.yanked,
                    core_metadata: None,
                    upload_time: f.upload_time.clone(),
                },
            };
            by_version.entry(version).or_default().push((asset, f.upload_time));
        }
        let mut versions: Vec<UpstreamVersion> = by_version
            .into_iter()
            .map(|(version, files)| UpstreamVersion {
                published_time: files.iter().filter_map(|(_, t)| t.clone()).min(),
                assets: files.into_iter().map(|(a, _)| a).collect(),
                metadata: Value::Null.into(),
                version,
            })
            .collect();
        versions.sort_by(|a, b| names::compare(&a.version, &b.version));
        Ok(UpstreamPackage { versions, tags: BTreeMap::new() })
    }

    fn compare_versions(&self, a: &Version, b: &Version) -> std::cmp::Ordering {
        names::compare(a, b)
    }

    /// Any spelling of a project name finds it (PEP 503); PyPI has no namespaces.
    fn api_package_id(&self, namespace: Option<&str>, name: &str) -> Option<PackageId> {
        namespace.is_none().then(|| names::package_id(name)).flatten()
    }

    /// Names are stored normalised, so a prefix is normalised the same way.
    fn api_name_prefix(&self, prefix: &str) -> String {
        names::normalize_prefix(prefix)
    }

    /// Versions are stored in PEP 440 normal form (`1.0-RC1` → `1.0rc1`).
    fn api_version(&self, version: &str) -> Option<Version> {
        names::version(version)
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

    /// A release holds an sdist and wheels, uploaded one file at a time.
    fn multi_asset_versions(&self) -> bool {
        true
    }

    /// Reads a distribution's core metadata: a wheel's is served on its own (PEP 658); an
    /// sdist's `PKG-INFO` only fills in the version's metadata (it may declare fields dynamic).
    fn inspect_asset(
        &self,
        _pkg: &PackageId,
        asset: &AssetName,
        file: &mut dyn ReadSeek,
    ) -> Result<Option<Inspection>, DocumentError> {
        let bytes = dist::core_metadata(asset.as_str(), file).map_err(|e| DocumentError::Syntax(Box::new(e)))?;
        Ok(Some(Inspection {
            metadata: dist::parse_metadata(&bytes),
            core_metadata: asset.as_str().ends_with(".whl").then_some(bytes),
        }))
    }
}

fn absolute(base: Option<&url::Url>, href: &str) -> Option<String> {
    let u = match base {
        Some(b) => b.join(href).ok()?,
        None => url::Url::parse(href).ok()?,
    };
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// One file as a page lists it.
struct ListedFile {
    filename: String,
    url: String,
    sha256: Option<String>,
    size: Option<u64>,
    requires_python: Option<String>,
    yanked: Option<String>,
    upload_time: Option<String>,
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Value,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, rename = "upload-time")]
    upload_time: Option<String>,
}

fn files_from_json(body: &[u8]) -> Result<Vec<ListedFile>, DocumentError> {
    let page: JsonPage = serde_json::from_slice(body).map_err(|e| DocumentError::Syntax(Box::new(e)))?;
    Ok(page
        .files
        .into_iter()
        .map(|f| ListedFile {
            sha256: f.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
            yanked: match f.yanked {
                Value::Bool(true) => Some(String::new()),
                Value::String(reason) => Some(reason),
                _ => None,
            },
            filename: f.filename,
            url: f.url,
            size: f.size,
            requires_python: f.requires_python,
            upload_time: f.upload_time,
        })
        .collect())
}

/// PEP 503: every anchor is a file; its text is the file name.
fn files_from_html(body: &[u8]) -> Vec<ListedFile> {
    use html5gum::{Token, Tokenizer};
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut open: Option<(BTreeMap<String, String>, String)> = None;
    let attr = |t: &html5gum::StartTag<()>, name: &str| {
        t.attributes.get(name.as_bytes()).map(|v| String::from_utf8_lossy(&v.value).into_owned())
    };
    for token in Tokenizer::new(text.as_ref()).flatten() {
        match token {
            Token::StartTag(t) if t.name.as_slice() == b"a" => {
                let mut attrs = BTreeMap::new();
                for key in ["href", "data-requires-python", "data-yanked"] {
                    if let Some(v) = attr(&t, key) {
                        attrs.insert(key.to_string(), v);
                    }
                }
                open = Some((attrs, String::new()));
            }
            Token::String(s) => {
                if let Some((_, text)) = open.as_mut() {
                    text.push_str(&String::from_utf8_lossy(&s.value));
                }
            }
            Token::EndTag(t) if t.name.as_slice() == b"a" => {
                let Some((mut attrs, text)) = open.take() else { continue };
                let Some(href) = attrs.remove("href") else { continue };
                let from_href = href.split('#').next().unwrap_or("").rsplit('/').next().unwrap_or("").to_string();
                let filename = match text.trim() {
                    "" => percent_encoding::percent_decode_str(&from_href).decode_utf8_lossy().into_owned(),
                    t => t.to_string(),
                };
                out.push(ListedFile {
                    filename,
                    url: href,
                    sha256: None,
                    size: None,
                    requires_python: attrs.remove("data-requires-python"),
                    yanked: attrs.remove("data-yanked"),
                    upload_time: None,
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(n: &str) -> PackageId {
        names::package_id(n).unwrap()
    }

    fn parse(body: &str, content_type: &str, url: &str) -> UpstreamPackage {
        Pypi.parse_upstream(
            &pkg("requests"),
            &UpstreamDocument { body: body.as_bytes(), content_type: Some(content_type), url },
        )
        .unwrap()
    }

    #[test]
    fn html_pages_with_relative_links_yanks_and_requires_python() {
        let html = r#"<!DOCTYPE html><html><body>
            <a href="../../files/requests-2.32.0.tar.gz#sha256=AB12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12" data-yanked="CVE &amp; friends">requests-2.32.0.tar.gz</a><br/>
            <a href="https://files.example/r/requests-2.34.2-py3-none-any.whl" data-requires-python="&gt;=3.10">requests-2.34.2-py3-none-any.whl</a>
            <a href="/x/urllib3-2.8.0.tar.gz">urllib3-2.8.0.tar.gz</a>
            </body></html>"#;
        let p = parse(html, "text/html", "http://127.0.0.1:9/simple/requests/");
        assert_eq!(p.versions.len(), 2);
        let old = &p.versions[0];
        assert_eq!(old.version.as_str(), "2.32.0");
        assert_eq!(old.assets[0].url, "http://127.0.0.1:9/files/requests-2.32.0.tar.gz");
        assert_eq!(
            old.assets[0].sha256.as_deref(),
            Some("ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")
        );
        assert_eq!(old.assets[0].attributes.yanked.as_deref(), Some("CVE & friends"));
        let new = &p.versions[1];
        assert_eq!(new.assets[0].attributes.requires_python.as_deref(), Some(">=3.10"));
        assert_eq!(new.assets[0].sha256, None);
    }

    #[test]
    fn json_pages() {
        let json = r#"{"meta":{"api-version":"1.1"},"name":"requests","files":[
            {"filename":"requests-2.32.0-py3-none-any.whl","url":"/files/requests-2.32.0-py3-none-any.whl","hashes":{"sha256":"aa"},"yanked":true,"size":5},
            {"filename":"requests-2.10.0.tar.gz","url":"https://h/requests-2.10.0.tar.gz","hashes":{},"yanked":"bad","requires-python":">=3.7","upload-time":"2024-01-01T00:00:00.000000Z"},
            {"filename":"requests-2.9.0.tar.gz","url":"https://h/requests-2.9.0.tar.gz","hashes":{},"yanked":false}
        ],"versions":["2.9.0","2.10.0","2.32.0"]}"#;
        let p = parse(json, "application/vnd.pypi.simple.v1+json", "http://127.0.0.1:9/simple/requests/");
        let vs: Vec<&str> = p.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(vs, ["2.9.0", "2.10.0", "2.32.0"], "PEP 440 order");
        let a = &p.versions[2].assets[0];
        assert_eq!(a.url, "http://127.0.0.1:9/files/requests-2.32.0-py3-none-any.whl");
        assert_eq!(a.attributes.yanked.as_deref(), Some(""));
        assert_eq!(a.size, Some(5));
        assert_eq!(a.sha256, None, "not a SHA-256");
        assert_eq!(p.versions[1].assets[0].attributes.yanked.as_deref(), Some("bad"));
        assert_eq!(p.versions[1].published_time.as_deref(), Some("2024-01-01T00:00:00.000000Z"));
        assert!(Pypi
            .parse_upstream(
                &pkg("requests"),
                &UpstreamDocument { body: b"{", content_type: Some("application/json"), url: "" }
            )
            .is_err());
    }

    #[test]
    fn root_or_simple_urls() {
        assert_eq!(Pypi.upstream_metadata_url("http://h:1/", &pkg("Requests")), "http://h:1/simple/requests/");
        assert_eq!(Pypi.upstream_metadata_url("http://h:1/simple/", &pkg("requests")), "http://h:1/simple/requests/");
    }
}
