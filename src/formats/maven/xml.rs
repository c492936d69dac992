//! Reading Maven's XML documents (artifact-level `maven-metadata.xml`, POMs) with `quick-xml`,
//! bounded in size, into what Depot keeps: the versions a metadata document lists, and the
//! POM fields the package operations report (name, description, URL, licenses, SCM,
//! dependencies, packaging).

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{json, Value};

/// The largest metadata document or POM read.
pub(crate) const MAX_XML: usize = 4 * 1024 * 1024;

/// Why a document is not usable XML.
#[derive(Debug, thiserror::Error)]
pub(crate) enum XmlError {
    #[error("document is larger than {MAX_XML} bytes")]
    TooLarge,
    #[error("not well-formed XML: {0}")]
    Syntax(String),
    #[error("root element is <{0}>, expected <{1}>")]
    Root(String, &'static str),
}

/// One step of a walk: an element opened (`None`) or its text (`Some`), by its path of local
/// names from the root (`project/licenses/license/name`).
type Step = (String, Option<String>);

pub(super) fn walk(bytes: &[u8], root: &'static str) -> Result<Vec<Step>, XmlError> {
    if bytes.len() > MAX_XML {
        return Err(XmlError::TooLarge);
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut seen_root = false;
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| XmlError::Syntax(e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) if stack.len() < 64 => {
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if name != root {
                        return Err(XmlError::Root(name, root));
                    }
                    seen_root = true;
                }
                stack.push(name);
                out.push((stack.join("/"), None));
                if empty {
                    stack.pop();
                }
            }
            Event::Start(_) | Event::Empty(_) => return Err(XmlError::Syntax("nested too deeply".into())),
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| XmlError::Syntax(e.to_string()))?.into_owned();
                if stack.is_empty() {
                    return Err(XmlError::Syntax("text outside the root element".into()));
                }
                out.push((stack.join("/"), Some(text)));
            }
            Event::CData(t) => out.push((stack.join("/"), Some(String::from_utf8_lossy(&t).into_owned()))),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root || !stack.is_empty() {
        return Err(XmlError::Syntax("no complete root element".into()));
    }
    Ok(out)
}

/// What an artifact-level `maven-metadata.xml` says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ArtifactMetadata {
    pub(crate) versions: Vec<String>,
    /// `yyyyMMddHHmmss`.
    pub(crate) last_updated: Option<String>,
}

/// Parses an artifact-level `maven-metadata.xml`.
pub(crate) fn artifact_metadata(bytes: &[u8]) -> Result<ArtifactMetadata, XmlError> {
    let mut m = ArtifactMetadata::default();
    for (path, text) in walk(bytes, "metadata")? {
        match (path.as_str(), text) {
            ("metadata/versioning/versions/version", Some(v)) => m.versions.push(v),
            ("metadata/versioning/lastUpdated", Some(t)) => m.last_updated = Some(t),
            _ => {}
        }
    }
    Ok(m)
}

/// A POM as Depot stores it per version (the package operations read it back).
pub(crate) fn pom(bytes: &[u8]) -> Result<Value, XmlError> {
    let (mut licenses, mut deps, mut managed) = (Vec::<Value>::new(), Vec::<Value>::new(), Vec::<Value>::new());
    let (mut fields, mut properties) = (serde_json::Map::new(), serde_json::Map::new());
    for (path, text) in walk(bytes, "project")? {
        let Some(rest) = path.strip_prefix("project/") else { continue };
        match (rest, text) {
            ("licenses/license", None) => licenses.push(json!({})),
            ("dependencies/dependency", None) => deps.push(json!({})),
            (f, Some(t)) if f.starts_with("licenses/license/") => {
                if let Some(l) = licenses.last_mut() {
                    l[f.trim_start_matches("licenses/license/")] = json!(t);
                }
            }
            (f, Some(t)) if f.starts_with("dependencies/dependency/") && !f.contains("exclusions") => {
                if let Some(d) = deps.last_mut() {
                    d[f.trim_start_matches("dependencies/dependency/")] = json!(t);
                }
            }
            // What a child inherits to resolve its dependencies' versions: `${…}` properties
            // and the managed versions.
            ("dependencyManagement/dependencies/dependency", None) => managed.push(json!({})),
            (f, Some(t))
                if f.starts_with("dependencyManagement/dependencies/dependency/") && !f.contains("exclusions") =>
            {
                if let Some(d) = managed.last_mut() {
                    d[f.trim_start_matches("dependencyManagement/dependencies/dependency/")] = json!(t.trim());
                }
            }
            (f, Some(t)) if f.starts_with("properties/") && !f["properties/".len()..].contains('/') => {
                properties.insert(f["properties/".len()..].to_string(), json!(t.trim()));
            }
            (
                f @ ("groupId" | "artifactId" | "version" | "packaging" | "name" | "description" | "url" | "scm/url"
                | "scm/connection" | "parent/groupId" | "parent/artifactId" | "parent/version"),
                Some(t),
            ) => {
                fields.insert(f.replace('/', "_"), json!(t.trim()));
            }
            _ => {}
        }
    }
    fields.insert("licenses".into(), Value::Array(licenses));
    fields.insert("dependencies".into(), Value::Array(deps));
    fields.insert("dependencyManagement".into(), Value::Array(managed));
    fields.insert("properties".into(), Value::Object(properties));
    Ok(Value::Object(fields))
}

pub(super) fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Renders an artifact-level `maven-metadata.xml`.
pub(crate) fn render_metadata(
    group: &str,
    artifact: &str,
    versions: &[String],
    latest: Option<&str>,
    release: Option<&str>,
    last_updated: &str,
) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    s.push_str(&format!(
        "  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <versioning>\n",
        esc(group),
        esc(artifact)
    ));
    if let Some(l) = latest {
        s.push_str(&format!("    <latest>{}</latest>\n", esc(l)));
    }
    if let Some(r) = release {
        s.push_str(&format!("    <release>{}</release>\n", esc(r)));
    }
    s.push_str("    <versions>\n");
    for v in versions {
        s.push_str(&format!("      <version>{}</version>\n", esc(v)));
    }
    s.push_str(&format!(
        "    </versions>\n    <lastUpdated>{last_updated}</lastUpdated>\n  </versioning>\n</metadata>\n"
    ));
    s.into_bytes()
}

/// Whether a `maven-metadata.xml` is group-level (plugin prefixes): it lists `<plugins>` and
/// has no `<versioning>`. Its path alone cannot tell (`org/apache/maven/plugins/` is both group
/// `org.apache.maven.plugins` and, to the path grammar, artifact `org.apache.maven:plugins`), so
/// the content decides.
pub(crate) fn is_group_metadata(bytes: &[u8]) -> bool {
    let Ok(steps) = walk(bytes, "metadata") else { return false };
    steps.iter().any(|(p, _)| p == "metadata/plugins")
        && !steps.iter().any(|(p, _)| p.starts_with("metadata/versioning"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_pom() {
        let m = artifact_metadata(
            b"<?xml version='1.0'?><metadata><groupId>g</groupId><versioning><versions><version>1.0</version><version>2.0</version></versions><lastUpdated>20240101000000</lastUpdated></versioning></metadata>",
        )
        .unwrap();
        assert_eq!(m.versions, ["1.0", "2.0"]);
        assert_eq!(m.last_updated.as_deref(), Some("20240101000000"));
        assert!(artifact_metadata(b"{\"json\": true}").is_err());
        assert!(matches!(artifact_metadata(b"<project/>"), Err(XmlError::Root(..))));
        assert!(matches!(artifact_metadata(b"<metadata><versioning>"), Err(XmlError::Syntax(_))));
        assert!(matches!(artifact_metadata(&vec![b' '; MAX_XML + 1]), Err(XmlError::TooLarge)));
        let p = pom(b"<project xmlns='http://maven.apache.org/POM/4.0.0'><name>JUnit</name><url>http://junit.org</url><licenses><license><name>EPL</name><url>http://e</url></license></licenses><scm><url>http://s</url></scm><dependencies><dependency><groupId>org.hamcrest</groupId><artifactId>hamcrest</artifactId><version>2.2</version><scope>compile</scope></dependency></dependencies></project>").unwrap();
        assert_eq!(p["name"], "JUnit");
        assert_eq!(p["licenses"][0]["name"], "EPL");
        assert_eq!(p["scm_url"], "http://s");
        assert_eq!(p["dependencies"][0]["artifactId"], "hamcrest");
        let p = pom(b"<project><properties><x.version>1.2</x.version></properties><dependencyManagement><dependencies><dependency><groupId>g</groupId><artifactId>x</artifactId><version>${x.version}</version></dependency></dependencies></dependencyManagement></project>").unwrap();
        assert_eq!(p["properties"]["x.version"], "1.2");
        assert_eq!(p["dependencyManagement"][0]["version"], "${x.version}");
        let xml = render_metadata("g", "a&b", &["1".into()], Some("1"), Some("1"), "20240101000000");
        assert_eq!(artifact_metadata(&xml).unwrap().versions, ["1"]);
    }

    #[test]
    fn group_level_metadata_is_told_by_content() {
        let group = b"<metadata><plugins><plugin><name>D</name><prefix>dependency</prefix><artifactId>maven-dependency-plugin</artifactId></plugin></plugins></metadata>";
        assert!(is_group_metadata(group));
        let xml = render_metadata("g", "a", &["1".into()], Some("1"), Some("1"), "20240101000000");
        assert!(!is_group_metadata(&xml));
        // Both: artifact-level (Depot renders versions; see maven.md).
        assert!(!is_group_metadata(b"<metadata><plugins/><versioning><versions/></versioning></metadata>"));
        assert!(!is_group_metadata(b"<metadata></metadata>"));
        assert!(!is_group_metadata(b"<project><plugins/></project>"));
        assert!(!is_group_metadata(b"<metadata><plugins>"));
    }
}
