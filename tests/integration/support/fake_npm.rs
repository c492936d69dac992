//! In-process fake npm registry: the "upstream" that Depot's external connection
//! `public:npmjs` points at in the integration tests.
//!
//! [`FakeNpm::start`] binds `127.0.0.1:0` and serves the corpus in
//! `../shared/fixtures/npm` (relative to the crate root; see "## npm" in
//! `shared/fixtures/README.md`), [`FakeNpm::start_with_root`] serves another copy of it:
//!
//! - `GET /<name>`, `GET /@scope%2fname` (also `%2F`) and `GET /@scope/name` answer the
//!   full packument `packuments/<name>.json` with every `{{UPSTREAM}}` replaced by
//!   [`FakeNpm::url`]. `Accept: application/vnd.npm.install-v1+json` gets the same full
//!   document (npm accepts it). `Content-Type: application/json`.
//! - Any path containing `/-/` and ending in `.tgz` answers `tarballs/<path>` (or a tarball
//!   added with [`FakeNpm::publish_version`]) as `application/octet-stream`.
//! - `GET /-/package/<name>/dist-tags` answers the packument's `dist-tags`; `GET /-/ping`
//!   answers `{}`.
//! - Everything else: `404 {"error":"Not found"}`; methods other than `GET`/`HEAD`:
//!   `405 {"error":"Method not allowed"}`. `HEAD` is answered like `GET` without a body.
//!
//! Knobs, all callable at any time from the test (state lives behind a `Mutex` that is
//! never held across an `.await`):
//!
//! - [`FakeNpm::set_latency`]: every response (including injected failures, but not the
//!   outage 502) waits this long before being sent.
//! - [`FakeNpm::fail_next`]: the next `n` requests answer `503 {"error":"injected failure"}`.
//! - [`FakeNpm::set_outage`]: while on, every request answers
//!   `502 {"error":"upstream outage"}` at once (the listener stays bound; `fail_next`
//!   credits are not consumed).
//! - [`FakeNpm::stop`]: a true outage — the server task is aborted, the port closed and
//!   every open (keep-alive) connection is torn down. [`FakeNpm::restart`] binds the same
//!   port again. Dropping the `FakeNpm` stops it too.
//! - [`FakeNpm::publish_version`] / [`FakeNpm::set_dist_tag`]: change packuments at runtime.
//!
//! Observation: every request (whatever its answer, outage and injected failures included)
//! is recorded by its path with percent-escapes decoded and the query string dropped, so
//! `/@babel%2fcode-frame` and `/@babel/code-frame` both count as `/@babel/code-frame`; see
//! [`FakeNpm::hits`], [`FakeNpm::total_hits`], [`FakeNpm::requests`]. Each request is also
//! logged with `tracing::debug!`.
//!
//! [`make_tarball`] builds a valid npm `.tgz` (`package/package.json` plus extra files) to
//! publish.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha1::Digest as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod serve;
mod tarball;

use serve::{spawn_server, with_etag};
// Not every crate that loads the fakes builds tarballs (the cold-install bench does not).
#[allow(unused_imports)]
pub use tarball::make_tarball;
use tarball::rfc3339_now;

/// Placeholder for the server's base URL inside the fixture packuments.
const PLACEHOLDER: &str = "{{UPSTREAM}}";

/// A running fake npm registry. See the module docs.
pub struct FakeNpm {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    server: Mutex<Option<Server>>,
}

struct Server {
    task: JoinHandle<()>,
    /// Sending `true` (or dropping it) tears down every connection accepted by this server.
    kill: watch::Sender<bool>,
}

impl Server {
    fn shutdown(self) {
        self.task.abort();
        let _ = self.kill.send(true);
    }
}

struct Shared {
    root: PathBuf,
    url: String,
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Packument documents by package name, with `{{UPSTREAM}}` placeholders.
    docs: HashMap<String, Value>,
    /// Rendered bodies (placeholder substituted) and their ETags by package name: the ETag is
    /// computed once per change, as a registry keeps it (hashing a 20 MB document on every
    /// conditional request would time the fake, not Depot).
    bodies: HashMap<String, (Bytes, String)>,
    /// Tarballs added at runtime, by registry path without the leading slash.
    tarballs: HashMap<String, Bytes>,
    latency: Duration,
    fail_next: usize,
    outage: bool,
    hits: HashMap<String, usize>,
    requests: Vec<String>,
    /// Packument requests answered 304 (conditional refreshes).
    not_modified: usize,
    /// The `Authorization` header of each request, in order.
    authorizations: Vec<Option<String>>,
    /// When each request arrived, in order.
    times: Vec<std::time::Instant>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeNpm {
    /// Starts serving the corpus at `<CARGO_MANIFEST_DIR>/../shared/fixtures/npm` on
    /// `127.0.0.1:<ephemeral>`.
    pub async fn start() -> FakeNpm {
        Self::start_with_root(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/npm")).await
    }

    /// Starts serving the npm corpus found at `root` (the directory holding `packuments/`
    /// and `tarballs/`). Panics if the corpus cannot be read.
    pub async fn start_with_root(root: impl Into<PathBuf>) -> FakeNpm {
        let root: PathBuf = root.into();
        let load_root = root.clone();
        let docs = tokio::task::spawn_blocking(move || load_packuments(&load_root))
            .await
            .expect("loading npm corpus panicked");

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake npm");
        let addr = listener.local_addr().expect("fake npm local_addr");
        let url = format!("http://{addr}");

        let mut inner = Inner::default();
        for (name, (text, doc)) in docs {
            inner.bodies.insert(name.clone(), with_etag(Bytes::from(text.replace(PLACEHOLDER, &url))));
            inner.docs.insert(name, doc);
        }
        let shared = Arc::new(Shared { root, url, state: Mutex::new(inner) });
        let server = spawn_server(listener, shared.clone());
        tracing::debug!(url = %shared.url, "fake npm started");
        FakeNpm { shared, addr, server: Mutex::new(Some(server)) }
    }

    /// Base URL without trailing slash, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// Delay every response by `d` before answering (outage 502s excepted).
    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.state).latency = d;
    }

    /// The next `n` requests answer `503 {"error":"injected failure"}`.
    pub fn fail_next(&self, n: usize) {
        lock(&self.shared.state).fail_next = n;
    }

    /// While on, every request answers `502 {"error":"upstream outage"}` immediately.
    pub fn set_outage(&self, on: bool) {
        lock(&self.shared.state).outage = on;
    }

    /// Really stop serving: abort the server task, close the port and drop every open
    /// connection. Idempotent.
    pub fn stop(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            server.shutdown();
            tracing::debug!(url = %self.shared.url, "fake npm stopped");
        }
    }

    /// Serve again on the same port after [`FakeNpm::stop`] (no-op if running). Panics if
    /// the port cannot be bound again.
    pub async fn restart(&self) {
        if self.server.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        let listener = TcpListener::bind(self.addr).await.expect("re-bind fake npm port");
        let server = spawn_server(listener, self.shared.clone());
        let old = self.server.lock().unwrap_or_else(|e| e.into_inner()).replace(server);
        if let Some(old) = old {
            old.shutdown();
        }
        tracing::debug!(url = %self.shared.url, "fake npm restarted");
    }

    /// Requests received for exactly this path (decoded: `/@babel/code-frame` counts both
    /// `/@babel%2fcode-frame` and `/@babel/code-frame`; no query string).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.state).hits.get(path).copied().unwrap_or(0)
    }

    /// Serves other bytes at a tarball path (e.g. "/ms/-/ms-2.1.3.tgz") while the packument still
    /// declares the original digests: a corrupted or tampered upstream.
    pub fn replace_tarball(&self, path: &str, bytes: Vec<u8>) {
        lock(&self.shared.state).tarballs.insert(path.trim_start_matches('/').to_string(), Bytes::from(bytes));
    }

    /// How many packument requests were answered 304 Not Modified.
    pub fn not_modified(&self) -> usize {
        lock(&self.shared.state).not_modified
    }

    /// Total requests received.
    pub fn total_hits(&self) -> usize {
        lock(&self.shared.state).requests.len()
    }

    /// Every request path received so far, in order (decoded form, as for [`FakeNpm::hits`]).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.state).requests.clone()
    }

    /// The `Authorization` header of every request so far, in order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        lock(&self.shared.state).authorizations.clone()
    }

    /// When every request so far arrived, in order.
    pub fn request_times(&self) -> Vec<std::time::Instant> {
        lock(&self.shared.state).times.clone()
    }

    /// Adds or replaces `version` of `name` (creating the package if absent) with `tarball`
    /// served at `<url>/<name>/-/<basename>-<version>.tgz`. The version manifest is
    /// `manifest_extra` (if an object) with `name`, `version`, `_id` and `dist.{shasum,
    /// integrity, tarball}` set. If `tag` is given it is moved to this version; a newly
    /// created package also gets `latest` pointing at it.
    pub fn publish_version(
        &self,
        name: &str,
        version: &str,
        manifest_extra: Value,
        tarball: Vec<u8>,
        tag: Option<&str>,
    ) {
        let basename = name.rsplit('/').next().unwrap_or(name);
        let path = format!("{name}/-/{basename}-{version}.tgz");
        let shasum = hex::encode(sha1::Sha1::digest(&tarball));
        let integrity =
            format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball)));

        let mut manifest = match manifest_extra {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        manifest.insert("name".into(), json!(name));
        manifest.insert("version".into(), json!(version));
        manifest.insert("_id".into(), json!(format!("{name}@{version}")));
        let mut dist = match manifest.remove("dist") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        dist.insert("shasum".into(), json!(shasum));
        dist.insert("integrity".into(), json!(integrity));
        dist.insert("tarball".into(), json!(format!("{PLACEHOLDER}/{path}")));
        manifest.insert("dist".into(), Value::Object(dist));
        let now = rfc3339_now();

        let url = &self.shared.url;
        let mut st = lock(&self.shared.state);
        st.tarballs.insert(path, Bytes::from(tarball));
        let created = !st.docs.contains_key(name);
        let doc = st
            .docs
            .entry(name.to_string())
            .or_insert_with(|| json!({"_id": name, "name": name, "dist-tags": {}, "versions": {}, "time": {}}));
        obj_field(doc, "versions").insert(version.to_string(), Value::Object(manifest));
        obj_field(doc, "time").insert(version.to_string(), json!(now));
        let tags = obj_field(doc, "dist-tags");
        if let Some(tag) = tag {
            tags.insert(tag.to_string(), json!(version));
        }
        if created && !tags.contains_key("latest") {
            tags.insert("latest".into(), json!(version));
        }
        let body = render(doc, url);
        st.bodies.insert(name.to_string(), with_etag(body));
    }

    /// Sets dist-tag `tag` of the existing package `name` to `version`. Panics if the
    /// package does not exist.
    pub fn set_dist_tag(&self, name: &str, tag: &str, version: &str) {
        let url = &self.shared.url;
        let mut st = lock(&self.shared.state);
        let Some(doc) = st.docs.get_mut(name) else {
            drop(st);
            panic!("FakeNpm::set_dist_tag: no package {name:?}");
        };
        obj_field(doc, "dist-tags").insert(tag.to_string(), json!(version));
        let body = render(doc, url);
        st.bodies.insert(name.to_string(), with_etag(body));
    }
}

impl Drop for FakeNpm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `doc[key]` as a mutable object, replacing a missing or non-object value by `{}`.
fn obj_field<'a>(doc: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    let obj = doc.as_object_mut().expect("packument is a JSON object");
    let v = obj.entry(key.to_string()).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().unwrap()
}

fn render(doc: &Value, url: &str) -> Bytes {
    let text = serde_json::to_string_pretty(doc).expect("serialize packument");
    Bytes::from(text.replace(PLACEHOLDER, url))
}

/// Reads `root/packuments/**.json`: package name → (raw text, parsed document).
fn load_packuments(root: &Path) -> HashMap<String, (String, Value)> {
    fn walk(dir: &Path, prefix: &str, out: &mut HashMap<String, (String, Value)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("fake npm: cannot read {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("read_dir entry");
            let path = entry.path();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{file_name}/"), out);
            } else if let Some(stem) = file_name.strip_suffix(".json") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("fake npm: cannot read {}: {e}", path.display()));
                let doc: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("fake npm: bad JSON in {}: {e}", path.display()));
                out.insert(format!("{prefix}{stem}"), (text, doc));
            }
        }
    }
    let mut out = HashMap::new();
    walk(&root.join("packuments"), "", &mut out);
    assert!(!out.is_empty(), "fake npm: no packuments under {}", root.display());
    out
}
