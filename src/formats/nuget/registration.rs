//! Registration documents (RegistrationsBaseUrl) built from a package view: the index with
//! its pages inlined up to `INLINE_MAX` versions (as nuget.org), page documents beyond, and
//! leaves. Catalog entries come from each version's metadata (an upstream's catalogEntry or
//! a pushed package's nuspec) with every URL pointing back at this repository.

use serde_json::{json, Map, Value};

use super::version;
use crate::engine::{PackageView, ViewVersion};

/// At most this many versions are inlined in the index; larger packages get page documents.
pub(super) const INLINE_MAX: usize = 128;
/// Versions per page document when paged (nuget.org's page size).
pub(super) const PAGE_SIZE: usize = 64;

/// Where documents of one registration hive live.
pub(super) struct Hive<'a> {
    /// `<endpoint>v3/registration…/` (with the trailing slash).
    pub reg: &'a str,
    /// `<endpoint>v3-flatcontainer/`.
    pub flat: &'a str,
}

/// The view's versions in NuGet precedence order.
pub(super) fn ordered(view: &PackageView) -> Vec<&ViewVersion> {
    let mut vs: Vec<&ViewVersion> = view.versions.iter().collect();
    vs.sort_by(|a, b| version::compare(a.version.as_str(), b.version.as_str()));
    vs
}

/// The id as its author spells it, when the metadata says.
pub(super) fn display_id(view: &PackageView) -> String {
    view.versions
        .iter()
        .rev()
        .find_map(|v| v.metadata.value().get("id").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| view.package.name.to_string())
}

fn strip_links(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["@id", "@type", "registration", "packageHash", "packageHashAlgorithm", "packageSize"] {
                m.remove(k);
            }
            m.values_mut().for_each(strip_links);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_links),
        _ => {}
    }
}

fn catalog_entry(hive: &Hive<'_>, id: &str, v: &ViewVersion) -> Value {
    let lower = &v.version;
    let name = id.to_ascii_lowercase();
    let mut entry = match &*v.metadata.value() {
        Value::Object(m) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    };
    strip_links(&mut entry);
    let shown = entry
        .get("version")
        .and_then(Value::as_str)
        .filter(|s| version::normalize(s).as_deref() == Some(lower.as_str()))
        .map(|s| s.split_once('+').map_or(s, |(a, _)| a).to_string())
        .unwrap_or_else(|| lower.to_string());
    let m = entry.as_object_mut().expect("an object");
    m.insert("@id".into(), json!(format!("{}{name}/{lower}.json", hive.reg)));
    m.insert("@type".into(), json!("PackageDetails"));
    m.insert("id".into(), json!(id));
    m.insert("version".into(), json!(shown));
    // Versions Unlisted here are left out of views; one the upstream unlisted keeps its flag.
    let listed = m.get("listed").and_then(Value::as_bool).unwrap_or(true);
    m.insert("listed".into(), json!(listed));
    m.insert("packageContent".into(), json!(content_url(hive, &name, lower.as_str())));
    if let Some(t) = &v.published_time {
        m.entry("published").or_insert_with(|| json!(t));
    }
    for k in ["dependencyGroups", "description", "authors", "tags"] {
        m.entry(k).or_insert_with(|| if k == "dependencyGroups" || k == "tags" { json!([]) } else { json!("") });
    }
    entry
}

pub(super) fn content_url(hive: &Hive<'_>, name: &str, v: &str) -> String {
    format!("{}{name}/{v}/{name}.{v}.nupkg", hive.flat)
}

fn leaf(hive: &Hive<'_>, id: &str, v: &ViewVersion) -> Value {
    let name = id.to_ascii_lowercase();
    json!({
        "@id": format!("{}{name}/{}.json", hive.reg, v.version),
        "@type": "Package",
        "commitId": "00000000-0000-0000-0000-000000000000",
        "commitTimeStamp": v.published_time.clone().unwrap_or_default(),
        "catalogEntry": catalog_entry(hive, id, v),
        "packageContent": content_url(hive, &name, v.version.as_str()),
        "registration": format!("{}{name}/index.json", hive.reg),
    })
}

fn page(hive: &Hive<'_>, id: &str, chunk: &[&ViewVersion], inline: bool) -> Value {
    let name = id.to_ascii_lowercase();
    let (lower, upper) = (chunk[0].version.as_str(), chunk[chunk.len() - 1].version.as_str());
    let index = format!("{}{name}/index.json", hive.reg);
    let mut p = json!({
        "@id": if inline { format!("{index}#page/{lower}/{upper}") } else { page_url(hive, &name, lower, upper) },
        "@type": "catalog:CatalogPage",
        "count": chunk.len(),
        "lower": lower,
        "upper": upper,
        "parent": index,
    });
    if inline {
        p["items"] = chunk.iter().map(|v| leaf(hive, id, v)).collect();
    }
    p
}

fn page_url(hive: &Hive<'_>, name: &str, lower: &str, upper: &str) -> String {
    format!("{}{name}/page/{lower}/{upper}.json", hive.reg)
}

/// The registration index.
pub(super) fn index(hive: &Hive<'_>, view: &PackageView) -> Vec<u8> {
    let id = display_id(view);
    let vs = ordered(view);
    let inline = vs.len() <= INLINE_MAX;
    let size = if inline { INLINE_MAX } else { PAGE_SIZE };
    let pages: Vec<Value> = vs.chunks(size).map(|c| page(hive, &id, c, inline)).collect();
    let doc = json!({
        "@id": format!("{}{}/index.json", hive.reg, id.to_ascii_lowercase()),
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "count": pages.len(),
        "items": pages,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// A page document, `None` when no page of the index has these bounds.
pub(super) fn page_document(hive: &Hive<'_>, view: &PackageView, lower: &str, upper: &str) -> Option<Vec<u8>> {
    let id = display_id(view);
    let vs = ordered(view);
    let chunk =
        vs.chunks(PAGE_SIZE).find(|c| c[0].version.as_str() == lower && c[c.len() - 1].version.as_str() == upper)?;
    let mut p = page(hive, &id, chunk, true);
    p["@id"] = json!(page_url(hive, &id.to_ascii_lowercase(), lower, upper));
    serde_json::to_vec(&p).ok()
}

/// A leaf document (`<version>.json`), `None` for a version the view lacks.
pub(super) fn leaf_document(hive: &Hive<'_>, view: &PackageView, v: &str) -> Option<Vec<u8>> {
    let id = display_id(view);
    let found = view.versions.iter().find(|x| x.version.as_str() == v)?;
    let l = leaf(hive, &id, found);
    let doc = json!({
        "@id": l["@id"],
        "@type": ["Package", "http://schema.nuget.org/catalog#Permalink"],
        "catalogEntry": l["catalogEntry"]["@id"],
        "listed": l["catalogEntry"]["listed"],
        "packageContent": l["packageContent"],
        "published": found.published_time.clone().unwrap_or_default(),
        "registration": l["registration"],
    });
    serde_json::to_vec(&doc).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PackageFormat, PackageId, PackageName, PackageVersionStatus, Version};

    fn view(n: usize) -> PackageView {
        let versions = (0..n)
            .map(|i| ViewVersion {
                version: Version::new(format!("1.0.{i}")).unwrap(),
                metadata: json!({"id": "Depot.X", "version": format!("1.0.{i}"), "listed": i != 1,
                    "packageContent": "http://upstream/x.nupkg", "packageHash": "AAAA"})
                .into(),
                assets: Vec::new(),
                status: PackageVersionStatus::Published,
                published_time: None,
            })
            .collect();
        let package =
            PackageId { format: PackageFormat::Nuget, namespace: None, name: PackageName::new("depot.x").unwrap() };
        PackageView { package, versions, tags: Default::default() }
    }

    #[test]
    fn inline_up_to_128_then_pages_of_64() {
        let hive = Hive { reg: "http://d/e/v3/registration/", flat: "http://d/e/v3-flatcontainer/" };
        let small: Value = serde_json::from_slice(&index(&hive, &view(128))).unwrap();
        assert_eq!(small["count"], 1);
        let leaves = small["items"][0]["items"].as_array().unwrap();
        assert_eq!(leaves.len(), 128);
        let entry = &leaves[1]["catalogEntry"];
        assert_eq!(entry["listed"], false, "an upstream's unlisted flag is kept");
        assert_eq!(entry["packageContent"], "http://d/e/v3-flatcontainer/depot.x/1.0.1/depot.x.1.0.1.nupkg");
        assert!(entry.get("packageHash").is_none());
        let big: Value = serde_json::from_slice(&index(&hive, &view(129))).unwrap();
        assert_eq!(big["count"], 3);
        assert!(big["items"][0].get("items").is_none());
        assert_eq!(big["items"][2]["lower"], "1.0.128");
        let page = page_document(&hive, &view(129), "1.0.64", "1.0.127").unwrap();
        let page: Value = serde_json::from_slice(&page).unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 64);
        assert!(page_document(&hive, &view(129), "1.0.0", "1.0.5").is_none());
    }
}
