//! npm documents: packuments (full and abbreviated) rendered from a package view, and
//! publish bodies parsed into a publish request.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::names::full_name;
use super::tags::DistTag;
use super::upstream::sha512_of_integrity;
use crate::engine::{EngineError, PackageView, PublishAsset, PublishRequest, StagedBlob, ViewVersion};
use crate::model::{AssetName, PackageId, Version};

/// Fields npm's abbreviated ("corgi") documents keep per version.
const ABBREVIATED: [&str; 19] = [
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "_hasShrinkwrap",
    "os",
    "cpu",
    "libc",
];

/// The `dist` object with Depot's tarball URL and the digests of the stored (or declared) bytes.
fn dist(endpoint: &str, pkg: &PackageId, v: &ViewVersion, original: Option<&Value>) -> Value {
    let mut d = original.and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(crate::engine::ViewAsset { name, hashes, .. }) = v.assets.first() {
        d.insert("tarball".into(), Value::String(tarball_url(endpoint, pkg, name)));
        if let Some(s) = hashes.get("sha1") {
            d.insert("shasum".into(), Value::String(s.clone()));
        }
        if let Some(s) = hashes.get("sha512").and_then(|h| hex::decode(h).ok()) {
            d.insert(
                "integrity".into(),
                Value::String(format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(s))),
            );
        }
    }
    Value::Object(d)
}

/// `<endpoint><name>/-/<file>`; scoped names keep their slash, as lockfiles expect.
pub(crate) fn tarball_url(endpoint: &str, pkg: &PackageId, file: &AssetName) -> String {
    format!("{endpoint}{}/-/{file}", full_name(pkg))
}

fn manifest(endpoint: &str, pkg: &PackageId, v: &ViewVersion, abbreviated: bool) -> Value {
    let src = match v.metadata.value().into_owned() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let d = dist(endpoint, pkg, v, src.get("dist"));
    let mut m = Map::new();
    if abbreviated {
        for k in ABBREVIATED {
            if let Some(val) = src.get(k) {
                m.insert(k.to_string(), val.clone());
            }
        }
        let scripts = src.get("scripts").and_then(Value::as_object);
        if scripts
            .is_some_and(|s| s.contains_key("install") || s.contains_key("preinstall") || s.contains_key("postinstall"))
        {
            m.insert("hasInstallScript".into(), Value::Bool(true));
        }
    } else {
        m = src;
        m.insert("_id".into(), Value::String(format!("{}@{}", full_name(pkg), v.version)));
    }
    m.insert("name".into(), Value::String(full_name(pkg)));
    m.insert("version".into(), Value::String(v.version.to_string()));
    m.insert("dist".into(), d);
    Value::Object(m)
}

/// A version's manifest, built when the serializer reaches it: one version's tree exists at a
/// time instead of the whole document's.
struct LazyManifest<'a> {
    endpoint: &'a str,
    pkg: &'a PackageId,
    v: &'a ViewVersion,
    abbreviated: bool,
}

impl Serialize for LazyManifest<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        manifest(self.endpoint, self.pkg, self.v, self.abbreviated).serialize(s)
    }
}

/// The `versions` object, streamed.
struct Versions<'a> {
    endpoint: &'a str,
    view: &'a PackageView,
    abbreviated: bool,
}

impl Serialize for Versions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Self { endpoint, view, abbreviated } = *self;
        s.collect_map(
            view.versions
                .iter()
                .map(|v| (v.version.as_str(), LazyManifest { endpoint, pkg: &view.package, v, abbreviated })),
        )
    }
}

/// Renders a packument; `abbreviated` for `application/vnd.npm.install-v1+json`. The bytes are
/// those of the document built as one tree (same keys, same order), written as they go.
pub(crate) fn packument(endpoint: &str, view: &PackageView, abbreviated: bool) -> Vec<u8> {
    let name = full_name(&view.package);
    let mut time = Map::new();
    let mut modified: Option<&str> = None;
    for v in &view.versions {
        if let Some(t) = &v.published_time {
            time.insert(v.version.to_string(), Value::String(t.clone()));
            if modified.is_none_or(|m| m < t.as_str()) {
                modified = Some(t);
            }
        }
    }
    // Sized from the manifests' text up front: doubling a 20 MB buffer would copy it several
    // times and leave a 32 MB block behind in the allocator.
    let text: usize = view.versions.iter().map(|v| v.metadata.weight() + 512).sum();
    let mut out = Vec::with_capacity(if abbreviated { text / 2 } else { text + text / 8 });
    let written = (|| {
        let mut ser = serde_json::Serializer::new(&mut out);
        let mut doc = ser.serialize_map(None)?;
        if !abbreviated {
            doc.serialize_entry("_id", &name)?;
        }
        doc.serialize_entry("name", &name)?;
        if let Some(m) = modified {
            doc.serialize_entry("modified", m)?;
        }
        doc.serialize_entry("dist-tags", &view.tags)?;
        doc.serialize_entry("versions", &Versions { endpoint, view, abbreviated })?;
        if !abbreviated {
            if let Some(m) = modified {
                time.insert("modified".into(), Value::String(m.to_string()));
            }
            doc.serialize_entry("time", &time)?;
        }
        SerializeMap::end(doc)
    })();
    // Writing into a Vec cannot fail; all string keys.
    if written.is_err() {
        out.clear();
    }
    out
}

/// One version's manifest (`GET <pkg>/<version>`).
pub(crate) fn version_document(endpoint: &str, view: &PackageView, v: &ViewVersion) -> Vec<u8> {
    serde_json::to_vec(&manifest(endpoint, &view.package, v, false)).unwrap_or_default()
}

/// What a `PUT <pkg>` body is.
pub(crate) enum PutBody {
    /// A new version with its tarball.
    Publish(PublishRequest),
    /// A metadata-only update: `deprecated` per version (`None` removes it).
    Deprecate(BTreeMap<Version, Option<String>>),
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Validation(msg.into())
}

/// Parses a `PUT <pkg>` body: `skeleton` is the document with its attachment's data emptied
/// (see `scan`), `blob` the staged bytes that data decoded to.
pub(crate) fn parse_put(pkg: &PackageId, skeleton: &[u8], blob: Option<StagedBlob>) -> Result<PutBody, EngineError> {
    let doc: Value = serde_json::from_slice(skeleton).map_err(|e| invalid(format!("request body is not JSON: {e}")))?;
    let obj = doc.as_object().ok_or_else(|| invalid("request body must be a JSON object"))?;
    let name = full_name(pkg);
    if let Some(n) = obj.get("name").and_then(Value::as_str) {
        if n != name {
            return Err(invalid(format!("package name in body ({n}) does not match the URL ({name})")));
        }
    }
    let versions = obj.get("versions").and_then(Value::as_object).ok_or_else(|| invalid("body has no versions"))?;
    let attachments = obj.get("_attachments").and_then(Value::as_object).filter(|a| !a.is_empty());
    let Some(attachments) = attachments else {
        let mut changes = BTreeMap::new();
        for (v, m) in versions {
            let version = Version::new(v.as_str())?;
            let dep = m.get("deprecated").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
            changes.insert(version, dep);
        }
        return Ok(PutBody::Deprecate(changes));
    };
    if versions.len() != 1 || attachments.len() != 1 {
        return Err(invalid("a publish must carry exactly one version and one attachment"));
    }
    let (v, manifest) = versions.iter().next().expect("one version");
    node_semver::Version::parse(v).map_err(|_| invalid(format!("version {v} is not valid semver")))?;
    let version = Version::new(v.as_str())?;
    if manifest.get("version").and_then(Value::as_str).is_some_and(|mv| mv != v) {
        return Err(invalid("the manifest's version does not match its key"));
    }
    let (file, att) = attachments.iter().next().expect("one attachment");
    // The scanner emptied the data it streamed; data left inline was not where npm puts it
    // (an escaped key, say) and was never decoded.
    let blob = match (att.get("data").and_then(Value::as_str), blob) {
        (Some(""), Some(blob)) => blob,
        _ => return Err(invalid(format!("attachment {file} has no data under _attachments.<file>.data"))),
    };
    let got = blob.digests();
    if let Some(len) = att.get("length").and_then(Value::as_u64) {
        if len != got.size {
            return Err(invalid(format!("attachment length {len} does not match its data ({} bytes)", got.size)));
        }
    }
    let dist = manifest.get("dist");
    if let Some(integrity) = dist.and_then(|d| d.get("integrity")).and_then(Value::as_str) {
        if let Some(want) = sha512_of_integrity(integrity) {
            if want != got.sha512 {
                return Err(invalid("tarball does not match dist.integrity"));
            }
        }
    }
    if let Some(shasum) = dist.and_then(|d| d.get("shasum")).and_then(Value::as_str) {
        if !shasum.eq_ignore_ascii_case(&got.sha1) {
            return Err(invalid("tarball does not match dist.shasum"));
        }
    }
    let expected_file = format!("{}-{v}.tgz", pkg.name);
    let file_name = file.rsplit('/').next().unwrap_or(file);
    if file_name != expected_file {
        return Err(invalid(format!("attachment {file} should be named {expected_file}")));
    }
    let mut metadata = manifest.clone();
    if let Some(d) = metadata.get_mut("dist").and_then(Value::as_object_mut) {
        d.remove("tarball");
    }
    let mut tags = BTreeMap::new();
    for (tag, target) in obj.get("dist-tags").and_then(Value::as_object).into_iter().flatten() {
        // Every tag in the body is checked, also those it does not apply: a bad one means a
        // client that would store it elsewhere, and npm never sends one.
        let tag = DistTag::new(tag)?;
        if target.as_str() == Some(v.as_str()) {
            tags.insert(tag.as_str().to_string(), v.clone());
        }
    }
    Ok(PutBody::Publish(PublishRequest {
        package: pkg.clone(),
        version,
        metadata,
        assets: vec![PublishAsset {
            name: AssetName::new(expected_file)?,
            blob,
            attributes: Default::default(),
            core_metadata: None,
        }],
        tags,
    }))
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
