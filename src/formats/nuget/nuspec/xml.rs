//! The `.nuspec` document itself. Elements are matched by local name: nuspecs use several
//! schema namespaces (2010/07, 2011/08, 2012/06, 2013/01, 2013/05, none) for the same shape.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{Dependency, DependencyGroup, Nuspec, NuspecError};
use crate::formats::nuget::version;

/// Deeper nesting than any real nuspec; stops pathological documents early.
const MAX_DEPTH: usize = 32;

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, NuspecError> {
    for a in e.attributes() {
        let a = a.map_err(|e| NuspecError::BadXml(e.to_string()))?;
        if a.key.local_name().as_ref() == name.as_bytes() {
            let v = a.unescape_value().map_err(|e| NuspecError::BadXml(e.to_string()))?;
            return Ok(Some(v.trim().to_string()));
        }
    }
    Ok(None)
}

/// Trimmed, with XML's end-of-line handling (`\r\n` and a lone `\r` read as `\n`), which
/// quick-xml leaves to its caller.
fn non_empty(s: String) -> Option<String> {
    let s = if s.contains('\r') { s.replace("\r\n", "\n").replace('\r', "\n") } else { s };
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Parses the nuspec's `<package><metadata>`; validates id and version.
pub(super) fn parse(bytes: &[u8]) -> Result<Nuspec, NuspecError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut spec = Nuspec::default();
    let (mut id, mut ver) = (None, None);
    let mut license_type: Option<String> = None;
    let mut license = None;
    let mut buf = Vec::new();
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| NuspecError::BadXml(e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(NuspecError::BadXml("elements nested too deeply".into()));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() && name != "package" {
                    return Err(NuspecError::BadXml(format!("root element is <{name}>, expected <package>")));
                }
                stack.push(name);
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                match path.as_slice() {
                    ["package", "metadata", "license"] => license_type = attr(e, "type")?,
                    ["package", "metadata", "repository"] => spec.repository_url = attr(e, "url")?.and_then(non_empty),
                    ["package", "metadata", "dependencies", "group"] => {
                        spec.dependency_groups.push(DependencyGroup {
                            target_framework: attr(e, "targetFramework")?.and_then(non_empty),
                            dependencies: Vec::new(),
                        });
                    }
                    ["package", "metadata", "dependencies", rest @ ..] if rest.last() == Some(&"dependency") => {
                        let grouped = rest.len() == 2 && rest[0] == "group";
                        if rest.len() == 1 || grouped {
                            let dep = dependency(e)?;
                            if !grouped && spec.dependency_groups.first().is_none_or(|g| g.target_framework.is_some()) {
                                // Ungrouped dependencies form one framework-less group, first.
                                spec.dependency_groups
                                    .insert(0, DependencyGroup { target_framework: None, dependencies: Vec::new() });
                            }
                            let group = if grouped {
                                spec.dependency_groups.last_mut()
                            } else {
                                spec.dependency_groups.first_mut()
                            };
                            if let Some(g) = group {
                                g.dependencies.push(dep);
                            }
                        }
                    }
                    _ => {}
                }
                text.clear();
                if matches!(ev, Event::Empty(_)) {
                    stack.pop();
                }
            }
            Event::Text(t) => text.push_str(&t.unescape().map_err(|e| NuspecError::BadXml(e.to_string()))?),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::End(_) => {
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                if let ["package", "metadata", field] = path.as_slice() {
                    let value = non_empty(std::mem::take(&mut text));
                    match *field {
                        "id" => id = value,
                        "version" => ver = value,
                        "title" => spec.title = value,
                        "description" => spec.description = value,
                        "authors" => spec.authors = value,
                        "licenseUrl" => spec.license_url = value,
                        "projectUrl" => spec.project_url = value,
                        "tags" => spec.tags = value,
                        "readme" => spec.readme_file = value,
                        "license" => license = value,
                        _ => {}
                    }
                }
                text.clear();
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(NuspecError::BadXml("the document ends inside an element".into()));
    }
    if license_type.as_deref() == Some("expression") {
        spec.license_expression = license;
    }
    let id = id.ok_or(NuspecError::Missing("<id> in <metadata>"))?;
    let ver = ver.ok_or(NuspecError::Missing("<version> in <metadata>"))?;
    if !super::valid_id(&id) {
        return Err(NuspecError::InvalidId(id));
    }
    spec.normalized_version = version::normalize(&ver).ok_or_else(|| NuspecError::InvalidVersion(ver.clone()))?;
    spec.id = id;
    spec.version = ver;
    Ok(spec)
}

fn dependency(e: &BytesStart<'_>) -> Result<Dependency, NuspecError> {
    let id = attr(e, "id")?.and_then(non_empty).ok_or(NuspecError::Missing("a <dependency> id"))?;
    let raw = attr(e, "version")?;
    let range = version::normalize_range(raw.as_deref()).unwrap_or_else(|| raw.unwrap_or_default());
    Ok(Dependency { id, range })
}
