//! In-process fake NuGet V3 upstream: what `public:nuget-org` points at in the integration
//! tests (`<url>/v3/index.json`). It serves the packages of `../shared/fixtures/nuget` (their
//! `index.json` and `.nupkg` files) through a service index, the flat container, and
//! registrations (gzip-encoded when the client accepts it, as nuget.org's hives are), as the
//! fixtures README describes.
//!
//! Knobs: [`FakeNuget::set_latency`], [`FakeNuget::set_outage`] (502s), [`FakeNuget::stop`] /
//! [`FakeNuget::restart`], [`FakeNuget::add_version`] (a new version from a fixture's bytes),
//! [`FakeNuget::synthesize`] (a package of many versions), [`FakeNuget::set_paged`]
//! (registrations of more than 128 versions as nuget.org pages them: page documents, not
//! inlined), [`FakeNuget::set_corrupt`] (a `.nupkg` whose bytes do not match its `packageHash`). Every request is recorded by path ([`FakeNuget::hits`], [`FakeNuget::requests`]).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::Digest;

use super::fake_server::FakeServer;

/// One version as the fake serves it.
#[derive(Clone)]
struct Ver {
    id: String,
    /// As written (`1.0`, `1.0.0-Beta`, `2.0.0+build.5`).
    version: String,
    bytes: Bytes,
    listed: bool,
    dependency_groups: Value,
    description: String,
    /// The nuspec's license expression: nuget.org's catalogEntry carries it.
    license_expression: Option<String>,
}

#[derive(Default)]
struct Inner {
    latency: Duration,
    outage: bool,
    paged: bool,
    /// Paths answered 404 whatever they hold.
    missing: std::collections::HashSet<String>,
    /// `.nupkg` paths served with one byte changed (the registration keeps the true hash).
    corrupt: std::collections::HashSet<String>,
    /// Lower-case id → versions.
    packages: BTreeMap<String, Vec<Ver>>,
    requests: Vec<String>,
}

struct Shared {
    state: Mutex<Inner>,
    base: Mutex<String>,
}

/// A running fake NuGet V3 feed. See the module docs.
pub struct FakeNuget {
    shared: Arc<Shared>,
    server: FakeServer,
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// NuGet's normalised form, lower-cased (enough for the fixtures and the tests' versions).
pub fn normalize(v: &str) -> String {
    let v = v.split('+').next().unwrap_or(v);
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p.to_ascii_lowercase())),
        None => (v, None),
    };
    let mut nums: Vec<u64> = release.split('.').map(|n| n.parse().unwrap()).collect();
    nums.resize(nums.len().max(3), 0);
    if nums.len() == 4 && nums[3] == 0 {
        nums.truncate(3);
    }
    let mut s = nums.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
    if let Some(p) = pre {
        s = format!("{s}-{p}");
    }
    s
}

/// The fixture `.nupkg` bytes of `file` (`packages/…`).
pub fn fixture_bytes(file: &str) -> Bytes {
    Bytes::from(std::fs::read(super::fixtures().join("nuget").join(file)).unwrap())
}

/// Base64 SHA-512, NuGet's `packageHash`.
pub fn package_hash(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(b))
}

impl FakeNuget {
    /// Serves every package of `../shared/fixtures/nuget`.
    pub async fn start() -> FakeNuget {
        let index: Value =
            serde_json::from_slice(&std::fs::read(super::fixtures().join("nuget/index.json")).unwrap()).unwrap();
        let mut inner = Inner::default();
        for e in index.as_array().unwrap() {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            let groups: Vec<Value> = e["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    let deps: Vec<Value> = g["dependencies"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| json!({"@id": "http://elsewhere/dep", "id": d["id"], "range": d["range"], "registration": "http://elsewhere/reg"}))
                        .collect();
                    let mut g2 = json!({"dependencies": deps});
                    if let Some(t) = g["target_framework"].as_str() {
                        g2["targetFramework"] = json!(t);
                    }
                    g2
                })
                .collect();
            inner.packages.entry(s("id").to_ascii_lowercase()).or_default().push(Ver {
                id: s("id"),
                version: s("version"),
                bytes: fixture_bytes(&s("file")),
                listed: true,
                dependency_groups: Value::Array(groups),
                description: s("description"),
                license_expression: license_expression(&fixture_bytes(&s("file"))),
            });
        }
        let shared = Arc::new(Shared { state: Mutex::new(inner), base: Mutex::new(String::new()) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = FakeServer::start(app).await;
        *shared.base.lock().unwrap() = server.url();
        FakeNuget { shared, server }
    }

    /// The service index URL: what `public:nuget-org` is configured with.
    pub fn url(&self) -> String {
        format!("{}/v3/index.json", self.server.url())
    }

    /// Root URL without trailing slash.
    pub fn root(&self) -> String {
        self.server.url()
    }

    /// Delay every response by `d`.
    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.state).latency = d;
    }

    /// While on, every request answers `502 upstream outage`.
    pub fn set_outage(&self, on: bool) {
        lock(&self.shared.state).outage = on;
    }

    /// While on, registrations of more than 128 versions are served as page documents.
    pub fn set_paged(&self, on: bool) {
        lock(&self.shared.state).paged = on;
    }

    /// While on, `path` (no leading slash) answers 404.
    pub fn set_missing(&self, path: &str, on: bool) {
        let mut st = lock(&self.shared.state);
        if on {
            st.missing.insert(path.to_string());
        } else {
            st.missing.remove(path);
        }
    }

    /// Serves `path` (a `.nupkg`, no leading slash) with one byte changed, or as it is again.
    pub fn set_corrupt(&self, path: &str, on: bool) {
        let mut st = lock(&self.shared.state);
        if on {
            st.corrupt.insert(path.to_string());
        } else {
            st.corrupt.remove(path);
        }
    }

    /// Adds version `version` (as written) of `id`, its bytes those of fixture `file`.
    pub fn add_version(&self, id: &str, version: &str, file: &str) {
        let v = Ver {
            id: id.to_string(),
            version: version.to_string(),
            bytes: fixture_bytes(file),
            listed: true,
            dependency_groups: json!([]),
            description: format!("{id} {version} (test copy of {file})"),
            license_expression: None,
        };
        lock(&self.shared.state).packages.entry(id.to_ascii_lowercase()).or_default().push(v);
    }

    /// Adds `id` with versions `1.0.0` … `1.0.<n-1>`, each with the bytes of fixture `file`.
    pub fn synthesize(&self, id: &str, n: usize, file: &str) {
        for i in 0..n {
            self.add_version(id, &format!("1.0.{i}"), file);
        }
    }

    /// Requests for exactly this path (no leading slash).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.state).requests.iter().filter(|p| p.as_str() == path).count()
    }

    /// Every path requested, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.state).requests.clone()
    }

    /// Closes the port and every connection.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Serves again on the same port.
    pub async fn restart(&self) {
        self.server.restart().await;
    }
}

fn ordered(vs: &[Ver]) -> Vec<Ver> {
    let mut vs = vs.to_vec();
    let key = |v: &Ver| {
        let n = normalize(&v.version);
        let (r, p) = n.split_once('-').map_or((n.clone(), None), |(r, p)| (r.to_string(), Some(p.to_string())));
        let nums: Vec<u64> = r.split('.').map(|x| x.parse().unwrap()).collect();
        (nums, p.is_none(), p)
    };
    vs.sort_by_key(key);
    vs
}

fn leaf(base: &str, v: &Ver) -> Value {
    let (id, nv) = (v.id.to_ascii_lowercase(), normalize(&v.version));
    let content = format!("{base}/v3-flatcontainer/{id}/{nv}/{id}.{nv}.nupkg");
    json!({
        "@id": format!("{base}/v3/registration/{id}/{nv}.json"),
        "packageContent": content,
        "catalogEntry": {
            "@id": format!("{base}/catalog/{id}.{nv}.json"),
            "id": v.id,
            "version": v.version.split('+').next().unwrap_or(&v.version),
            "listed": v.listed,
            "packageContent": content,
            "packageHash": package_hash(&v.bytes),
            "packageHashAlgorithm": "SHA512",
            "packageSize": v.bytes.len(),
            "dependencyGroups": v.dependency_groups,
            "description": v.description,
            "authors": "Depot fixtures",
            "tags": ["depot"],
            "published": "2026-01-01T00:00:00+00:00",
            "licenseExpression": v.license_expression,
        }
    })
}

fn json_body(v: &Value, gzip: bool) -> Response {
    let body = serde_json::to_vec(v).unwrap();
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).unwrap();
        let gz = enc.finish().unwrap();
        return ([(header::CONTENT_TYPE, "application/json"), (header::CONTENT_ENCODING, "gzip")], gz).into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_string();
    let gzip =
        req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("gzip"));
    let base = shared.base.lock().unwrap().clone();
    let (latency, outage, paged, packages, missing, corrupt) = {
        let mut st = lock(&shared.state);
        st.requests.push(path.clone());
        (st.latency, st.outage, st.paged, st.packages.clone(), st.missing.contains(&path), st.corrupt.contains(&path))
    };
    if outage {
        return (StatusCode::BAD_GATEWAY, "upstream outage").into_response();
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if missing {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let segs: Vec<&str> = path.split('/').collect();
    let not_found = || (StatusCode::NOT_FOUND, "Not Found").into_response();
    let versions = |id: &str| packages.get(&id.to_ascii_lowercase()).map(|v| ordered(v));
    match segs.as_slice() {
        ["v3", "index.json"] => json_body(
            &json!({"version": "3.0.0", "resources": [
                {"@id": format!("{base}/v3-flatcontainer/"), "@type": "PackageBaseAddress/3.0.0"},
                {"@id": format!("{base}/v3/registration/"), "@type": "RegistrationsBaseUrl"},
                {"@id": format!("{base}/v3/registration/"), "@type": "RegistrationsBaseUrl/3.6.0"},
                {"@id": format!("{base}/v3/query"), "@type": "SearchQueryService"},
            ]}),
            false,
        ),
        ["v3-flatcontainer", id, "index.json"] => match versions(id) {
            Some(vs) => {
                json_body(&json!({"versions": vs.iter().map(|v| normalize(&v.version)).collect::<Vec<_>>()}), false)
            }
            None => not_found(),
        },
        ["v3-flatcontainer", id, ver, file] => {
            let found = versions(id).and_then(|vs| vs.into_iter().find(|v| normalize(&v.version) == *ver));
            match found {
                Some(v) if *file == format!("{id}.{ver}.nupkg") => {
                    let mut bytes = v.bytes.to_vec();
                    if corrupt {
                        if let Some(b) = bytes.last_mut() {
                            *b ^= 0xff;
                        }
                    }
                    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
                }
                _ => not_found(),
            }
        }
        ["v3", "registration", id, "index.json"] => {
            let Some(vs) = versions(id) else { return not_found() };
            let index = format!("{base}/v3/registration/{id}/index.json");
            let page = |chunk: &[Ver], inline: bool| {
                let (lo, up) = (normalize(&chunk[0].version), normalize(&chunk[chunk.len() - 1].version));
                let mut p = json!({"count": chunk.len(), "lower": lo, "upper": up, "parent": index});
                if inline {
                    p["@id"] = json!(format!("{index}#page/{lo}/{up}"));
                    p["items"] = chunk.iter().map(|v| leaf(&base, v)).collect();
                } else {
                    p["@id"] = json!(format!("{base}/v3/registration/{id}/page/{lo}/{up}.json"));
                }
                p
            };
            let pages: Vec<Value> = if paged && vs.len() > 128 {
                vs.chunks(64).map(|c| page(c, false)).collect()
            } else {
                vec![page(&vs, true)]
            };
            json_body(&json!({"@id": index, "count": pages.len(), "items": pages}), gzip)
        }
        ["v3", "registration", id, "page", lo, up] => {
            let Some(vs) = versions(id) else { return not_found() };
            let up = up.trim_end_matches(".json");
            let chunk =
                vs.chunks(64).find(|c| normalize(&c[0].version) == *lo && normalize(&c[c.len() - 1].version) == up);
            match chunk {
                Some(c) => json_body(
                    &json!({"count": c.len(), "items": c.iter().map(|v| leaf(&base, v)).collect::<Vec<_>>()}),
                    gzip,
                ),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// The `<license type="expression">` of a `.nupkg`'s nuspec (fixtures are trusted: a plain scan).
fn license_expression(nupkg: &[u8]) -> Option<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(nupkg)).ok()?;
    let name = zip.file_names().flatten().find(|n| n.ends_with(".nuspec") && !n.contains('/'))?.to_string();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(&name).ok()?, &mut text).ok()?;
    let start = text.find("<license type=\"expression\">")? + "<license type=\"expression\">".len();
    let len = text[start..].find("</license>")?;
    Some(text[start..start + len].to_string())
}
