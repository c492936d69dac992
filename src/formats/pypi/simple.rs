//! The simple repository API's documents (PEP 503 HTML, PEP 691 JSON, with PEP 592 yanks,
//! PEP 700 sizes and times) rendered from a package view.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::names;
use crate::engine::{PackageView, ViewAsset, ViewVersion};

/// PEP 691 JSON.
pub(crate) const JSON: &str = "application/vnd.pypi.simple.v1+json";
/// PEP 691 HTML.
pub(crate) const HTML: &str = "application/vnd.pypi.simple.v1+html";
/// PEP 503's original media type.
pub(crate) const LEGACY_HTML: &str = "text/html";
/// What a page is offered as, in the order Depot prefers on equal quality: a client that
/// accepts anything (`*/*`) gets the HTML every client reads; pip and uv rank JSON first.
pub(crate) const OFFERS: [&str; 3] = [LEGACY_HTML, HTML, JSON];

const API_VERSION: &str = "1.1";

/// Escapes text for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Characters left as they are in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Where Depot serves a file: `<endpoint>simple/<project>/<version>/<file>`. The version in the
/// path tells the engine which release to fetch without guessing it from the file name.
pub(crate) fn file_url(endpoint: &str, project: &str, v: &ViewVersion, a: &ViewAsset) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string();
    format!("{endpoint}simple/{project}/{}/{}", enc(v.version.as_str()), enc(a.name.as_str()))
}

/// Versions in PEP 440 order, files by name within each.
fn ordered(view: &PackageView) -> Vec<(&ViewVersion, Vec<&ViewAsset>)> {
    let mut versions: Vec<&ViewVersion> = view.versions.iter().collect();
    versions.sort_by(|a, b| names::compare(&a.version, &b.version));
    versions
        .into_iter()
        .map(|v| {
            let mut files: Vec<&ViewAsset> =
                v.assets.iter().filter(|a| names::is_distribution(a.name.as_str())).collect();
            files.sort_by(|a, b| a.name.cmp(&b.name));
            (v, files)
        })
        .collect()
}

/// A project's page as PEP 691 JSON.
pub(crate) fn project_json(endpoint: &str, view: &PackageView) -> Vec<u8> {
    let project = view.package.name.as_str();
    let mut files = Vec::new();
    let mut versions = Vec::new();
    for (v, assets) in ordered(view) {
        versions.push(Value::String(v.version.to_string()));
        for a in assets {
            let mut f = Map::new();
            f.insert("filename".into(), a.name.as_str().into());
            f.insert("url".into(), file_url(endpoint, project, v, a).into());
            let hashes: Map<String, Value> =
                a.hashes.get("sha256").map(|h| ("sha256".to_string(), Value::String(h.clone()))).into_iter().collect();
            f.insert("hashes".into(), Value::Object(hashes));
            if let Some(r) = &a.attributes.requires_python {
                f.insert("requires-python".into(), r.as_str().into());
            }
            f.insert(
                "yanked".into(),
                match a.attributes.yanked.as_deref() {
                    None => Value::Bool(false),
                    Some("") => Value::Bool(true),
                    Some(reason) => reason.into(),
                },
            );
            if let Some(s) = a.size {
                f.insert("size".into(), s.into());
            }
            if let Some(t) = &a.attributes.upload_time {
                f.insert("upload-time".into(), t.as_str().into());
            }
            if let Some(m) = &a.attributes.core_metadata {
                // PEP 714's name, and PEP 658's older one that pip 23 still reads.
                f.insert("core-metadata".into(), json!({ "sha256": m.hex() }));
                f.insert("dist-info-metadata".into(), json!({ "sha256": m.hex() }));
            }
            files.push(Value::Object(f));
        }
    }
    let doc = json!({ "meta": { "api-version": API_VERSION }, "name": project, "versions": versions, "files": files });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// A project's page as PEP 503 HTML.
pub(crate) fn project_html(endpoint: &str, view: &PackageView) -> Vec<u8> {
    let project = view.package.name.as_str();
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <title>Links for {0}</title>\n  </head>\n  <body>\n    <h1>Links for {0}</h1>\n",
        escape(project)
    );
    for (v, assets) in ordered(view) {
        for a in assets {
            let mut href = file_url(endpoint, project, v, a);
            if let Some(h) = a.hashes.get("sha256") {
                let _ = write!(href, "#sha256={h}");
            }
            let _ = write!(out, "    <a href=\"{}\"", escape(&href));
            if let Some(r) = &a.attributes.requires_python {
                let _ = write!(out, " data-requires-python=\"{}\"", escape(r));
            }
            if let Some(y) = &a.attributes.yanked {
                let _ = write!(out, " data-yanked=\"{}\"", escape(y));
            }
            if let Some(m) = &a.attributes.core_metadata {
                let _ =
                    write!(out, " data-core-metadata=\"sha256={0}\" data-dist-info-metadata=\"sha256={0}\"", m.hex());
            }
            let _ = writeln!(out, ">{}</a><br/>", escape(a.name.as_str()));
        }
    }
    out.push_str("  </body>\n</html>\n");
    out.into_bytes()
}

/// The project list (`simple/`) as PEP 691 JSON.
pub(crate) fn index_json(projects: &[String]) -> Vec<u8> {
    let list: Vec<Value> = projects.iter().map(|p| json!({ "name": p })).collect();
    serde_json::to_vec(&json!({ "meta": { "api-version": API_VERSION }, "projects": list })).unwrap_or_default()
}

/// The project list (`simple/`) as PEP 503 HTML.
pub(crate) fn index_html(projects: &[String]) -> Vec<u8> {
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <title>Simple index</title>\n  </head>\n  <body>\n"
    );
    for p in projects {
        let _ = writeln!(out, "    <a href=\"{0}/\">{0}</a><br/>", escape(p));
    }
    out.push_str("  </body>\n</html>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{AssetAttributes, AssetName, PackageVersionStatus, Version};

    fn view() -> PackageView {
        let asset = |name: &str, yanked: Option<&str>, rp: Option<&str>| ViewAsset {
            name: AssetName::new(name).unwrap(),
            hashes: BTreeMap::from([("sha256".to_string(), "ab".repeat(32))]),
            size: Some(3),
            attributes: AssetAttributes {
                requires_python: rp.map(str::to_string),
                yanked: yanked.map(str::to_string),
                ..Default::default()
            },
        };
        let version = |v: &str, assets| ViewVersion {
            version: Version::new(v).unwrap(),
            metadata: Value::Null.into(),
            assets,
            status: PackageVersionStatus::Published,
            published_time: None,
        };
        PackageView {
            package: names::package_id("requests").unwrap(),
            versions: vec![
                version("2.34.2", vec![asset("requests-2.34.2-py3-none-any.whl", None, Some(">=3.10"))]),
                version("2.32.0", vec![asset("requests-2.32.0.tar.gz", Some("CVE \"x\""), None)]),
            ],
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn html_escapes_and_orders() {
        let html = String::from_utf8(project_html("http://d/e/pypi/r/", &view())).unwrap();
        let first = html.find("2.32.0").unwrap();
        assert!(first < html.find("2.34.2").unwrap(), "PEP 440 order");
        assert!(html.contains(
            "<a href=\"http://d/e/pypi/r/simple/requests/2.34.2/requests-2.34.2-py3-none-any.whl#sha256=abab"
        ));
        assert!(html.contains("data-requires-python=\"&gt;=3.10\""));
        assert!(html.contains("data-yanked=\"CVE &quot;x&quot;\""));
    }

    #[test]
    fn json_yanks_and_sizes() {
        let doc: Value = serde_json::from_slice(&project_json("http://d/e/pypi/r/", &view())).unwrap();
        assert_eq!(doc["meta"]["api-version"], "1.1");
        assert_eq!(doc["versions"], json!(["2.32.0", "2.34.2"]));
        assert_eq!(doc["files"][0]["yanked"], "CVE \"x\"");
        assert_eq!(doc["files"][1]["yanked"], false);
        assert_eq!(doc["files"][1]["requires-python"], ">=3.10");
        assert_eq!(doc["files"][1]["size"], 3);
    }
}
