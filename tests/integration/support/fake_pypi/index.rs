//! The fake PyPI's data model (`index.json` of the fixture corpus, plus files published at
//! runtime) and its page rendering: PEP 503 HTML and PEP 691/700 JSON, as "## pypi" →
//! "Serving it as a fake upstream" in `shared/fixtures/README.md` describes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

/// One project of the corpus, keyed by its normalised name in [`load`]'s map.
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    /// Display name (`Name:` of the newest METADATA).
    pub name: String,
    pub files: Vec<FileEntry>,
}

/// One distribution file as `index.json` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub filename: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub requires_python: Option<String>,
    /// `false`, or the reason (an empty string: yanked without a reason).
    pub yanked: Value,
    pub packagetype: String,
}

/// Reads `root/index.json`: normalised name → project. Panics if the corpus is unreadable.
pub fn load(root: &Path) -> BTreeMap<String, Project> {
    let path = root.join("index.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fake pypi: cannot read {}: {e}", path.display()));
    let projects: BTreeMap<String, Project> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("fake pypi: bad {}: {e}", path.display()));
    assert!(!projects.is_empty(), "fake pypi: empty corpus at {}", root.display());
    projects
}

/// PEP 503 normalisation: runs of `-`, `_`, `.` become one `-`, lower-cased.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Escapes text for an HTML attribute value or element content.
pub fn escape(s: &str) -> String {
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

/// Where a page links a file: absolute (`<base>/files/<f>`) or relative to the page URL
/// `/simple/<project>/` (`../../files/<f>`), which a client must resolve against the page.
pub fn file_url(base: &str, relative: bool, filename: &str) -> String {
    if relative {
        format!("../../files/{filename}")
    } else {
        format!("{base}/files/{filename}")
    }
}

/// The yank reason to announce, if the file is yanked (an empty reason counts).
fn yank_reason(f: &FileEntry) -> Option<&str> {
    match &f.yanked {
        Value::String(s) => Some(s),
        Value::Bool(true) => Some(""),
        _ => None,
    }
}

/// PEP 503 project page.
pub fn project_html(normalized: &str, p: &Project, base: &str, relative: bool) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
         <title>Links for {n}</title>\n  </head>\n  <body>\n    <h1>Links for {n}</h1>\n",
        n = escape(normalized)
    );
    for f in &p.files {
        let href = format!("{}#sha256={}", file_url(base, relative, &f.filename), f.sha256);
        out.push_str(&format!("    <a href=\"{}\"", escape(&href)));
        if let Some(rp) = &f.requires_python {
            out.push_str(&format!(" data-requires-python=\"{}\"", escape(rp)));
        }
        if let Some(reason) = yank_reason(f) {
            out.push_str(&format!(" data-yanked=\"{}\"", escape(reason)));
        }
        out.push_str(&format!(">{}</a><br />\n", escape(&f.filename)));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

/// PEP 691 JSON project page, API version 1.1 (PEP 700: `versions` and `size`).
pub fn project_json(normalized: &str, p: &Project, base: &str, relative: bool) -> String {
    let mut versions: Vec<&str> = Vec::new();
    let files: Vec<Value> = p
        .files
        .iter()
        .map(|f| {
            if !versions.contains(&f.version.as_str()) {
                versions.push(&f.version);
            }
            let mut o = json!({
                "filename": f.filename,
                "url": file_url(base, relative, &f.filename),
                "hashes": {"sha256": f.sha256},
                "yanked": match yank_reason(f) {
                    None => json!(false),
                    Some("") => json!(true),
                    Some(r) => json!(r),
                },
                "size": f.size,
            });
            if let Some(rp) = &f.requires_python {
                o["requires-python"] = json!(rp);
            }
            o
        })
        .collect();
    json!({"meta": {"api-version": "1.1"}, "name": normalized, "files": files, "versions": versions}).to_string()
}

/// The root project list, HTML.
pub fn list_html(projects: &BTreeMap<String, Project>) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
         <title>Simple index</title>\n  </head>\n  <body>\n",
    );
    for (norm, p) in projects {
        out.push_str(&format!("    <a href=\"/simple/{}/\">{}</a>\n", escape(norm), escape(&p.name)));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

/// The root project list, PEP 691 JSON.
pub fn list_json(projects: &BTreeMap<String, Project>) -> String {
    let list: Vec<Value> = projects.values().map(|p| json!({"name": p.name})).collect();
    json!({"meta": {"api-version": "1.1"}, "projects": list}).to_string()
}

/// Which representation a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Json,
    V1Html,
    TextHtml,
}

impl Flavor {
    pub fn content_type(self) -> &'static str {
        match self {
            Flavor::Json => "application/vnd.pypi.simple.v1+json",
            Flavor::V1Html => "application/vnd.pypi.simple.v1+html",
            Flavor::TextHtml => "text/html; charset=utf-8",
        }
    }
}

/// PEP 691 negotiation, simplified to what a fake needs: the offer with the highest `q`
/// (ties: JSON, then v1+html, then text/html); `*/*`, no header or nothing known → text/html,
/// as the real index answers browsers.
pub fn negotiate(accept: &str) -> Flavor {
    let mut best: Option<(f32, u8, Flavor)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let ty = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        let (rank, flavor) = match ty.as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => (3, Flavor::Json),
            "application/vnd.pypi.simple.v1+html" | "application/vnd.pypi.simple.latest+html" => (2, Flavor::V1Html),
            "text/html" => (1, Flavor::TextHtml),
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        if best.is_none_or(|(bq, br, _)| q > bq || (q == bq && rank > br)) {
            best = Some((q, rank, flavor));
        }
    }
    best.map(|(_, _, f)| f).unwrap_or(Flavor::TextHtml)
}
