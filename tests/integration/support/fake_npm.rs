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
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha1::Digest as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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

fn spawn_server(listener: TcpListener, shared: Arc<Shared>) -> Server {
    let (kill, kill_rx) = watch::channel(false);
    let app = Router::new().fallback(handle).with_state(shared);
    let listener = KillableListener { inner: listener, kill: kill_rx };
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::debug!(error = %e, "fake npm server ended");
        }
    });
    Server { task, kill }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_string();
    let path = percent_encoding::percent_decode_str(&raw_path).decode_utf8_lossy().into_owned();
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    tracing::debug!(%method, %path, raw = %raw_path, %accept, "fake npm request");

    let (outage, latency, fail) = {
        let mut st = lock(&shared.state);
        *st.hits.entry(path.clone()).or_insert(0) += 1;
        st.requests.push(path.clone());
        st.authorizations
            .push(req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string));
        st.times.push(std::time::Instant::now());
        let fail = !st.outage && st.fail_next > 0;
        if fail {
            st.fail_next -= 1;
        }
        (st.outage, st.latency, fail)
    };
    if outage {
        return json_error(StatusCode::BAD_GATEWAY, "upstream outage");
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fail {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "injected failure");
    }
    if method != Method::GET && method != Method::HEAD {
        return json_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }

    let rest = path.strip_prefix('/').unwrap_or(&path);
    if rest == "-/ping" {
        return respond(StatusCode::OK, "application/json", Bytes::from_static(b"{}"));
    }
    if let Some(name) = rest.strip_prefix("-/package/").and_then(|r| r.strip_suffix("/dist-tags")) {
        let tags = lock(&shared.state).docs.get(name).and_then(|d| d.get("dist-tags").cloned());
        return match tags {
            Some(tags) => respond(StatusCode::OK, "application/json", Bytes::from(tags.to_string())),
            None => not_found(),
        };
    }
    if rest.contains("/-/") && rest.ends_with(".tgz") {
        return serve_tarball(&shared, rest).await;
    }
    if is_package_name(rest) {
        let body = lock(&shared.state).bodies.get(rest).cloned();
        if let Some((body, etag)) = body {
            // A strong ETag over the document, and 304 to a matching If-None-Match, as
            // registries answer conditional refreshes.
            let inm = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
            if inm == Some(etag.as_str()) {
                lock(&shared.state).not_modified += 1;
                return Response::builder()
                    .status(StatusCode::NOT_MODIFIED)
                    .header(header::ETAG, etag)
                    .body(Body::empty())
                    .expect("build response");
            }
            let mut resp = respond(StatusCode::OK, "application/json", body);
            resp.headers_mut().insert(header::ETAG, etag.parse().expect("etag header"));
            return resp;
        }
    }
    not_found()
}

/// A document with its strong ETag.
fn with_etag(body: Bytes) -> (Bytes, String) {
    use sha1::Digest as _;
    let etag = format!("\"{}\"", hex::encode(sha1::Sha1::digest(&body)));
    (body, etag)
}

async fn serve_tarball(shared: &Shared, rest: &str) -> Response {
    let published = lock(&shared.state).tarballs.get(rest).cloned();
    if let Some(bytes) = published {
        return respond(StatusCode::OK, "application/octet-stream", bytes);
    }
    let safe = rest.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\'));
    if !safe {
        return not_found();
    }
    match tokio::fs::read(shared.root.join("tarballs").join(rest)).await {
        Ok(bytes) => respond(StatusCode::OK, "application/octet-stream", Bytes::from(bytes)),
        Err(_) => not_found(),
    }
}

/// `name` or `@scope/name`, without empty or dot segments.
fn is_package_name(s: &str) -> bool {
    let ok = |seg: &str| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\');
    match s.split_once('/') {
        None => ok(s),
        Some((scope, name)) => {
            scope.starts_with('@') && scope.len() > 1 && ok(scope) && ok(name) && !name.contains('/')
        }
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .expect("build response")
}

fn json_error(status: StatusCode, msg: &str) -> Response {
    respond(status, "application/json", Bytes::from(json!({ "error": msg }).to_string()))
}

fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "Not found")
}

// ---------------------------------------------------------------------------------------
// Listener whose connections can all be torn down at once (for `stop()`): axum spawns a
// task per connection that outlives the accept loop, so aborting the server task alone
// would leave keep-alive connections answering.

pub(super) struct KillableListener {
    inner: TcpListener,
    kill: watch::Receiver<bool>,
}

/// The same listener for the other fakes (`fake_pypi`): every connection it accepted dies when
/// `kill` turns true.
pub(super) fn killable_listener(inner: TcpListener, kill: watch::Receiver<bool>) -> KillableListener {
    KillableListener { inner, kill }
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let mut rx = self.kill.clone();
                    let killed = Box::pin(async move {
                        let _ = rx.wait_for(|k| *k).await;
                    });
                    return (KillableIo { inner: stream, killed, dead: false }, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "fake npm accept error");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

pub(super) struct KillableIo {
    inner: TcpStream,
    killed: Pin<Box<dyn Future<Output = ()> + Send>>,
    dead: bool,
}

impl KillableIo {
    fn check(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        if !self.dead && self.killed.as_mut().poll(cx).is_ready() {
            self.dead = true;
        }
        if self.dead {
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "fake npm stopped"))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------
// Tarballs and timestamps.

/// A valid npm tarball: gzip of a ustar archive holding `package/package.json`
/// (`{"name","version"}`, unless `extra_files` has its own `package.json`) and every
/// `(path, bytes)` of `extra_files` under `package/`. Deterministic (fixed mtime, as
/// `npm pack` does).
pub fn make_tarball(name: &str, version: &str, extra_files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = Vec::new();
    if !extra_files.iter().any(|(p, _)| p.trim_start_matches("./") == "package.json") {
        let manifest =
            serde_json::to_vec_pretty(&json!({ "name": name, "version": version })).expect("serialize package.json");
        ustar_append(&mut tar, "package/package.json", &manifest);
    }
    for (path, data) in extra_files {
        let path = path.trim_start_matches("./");
        ustar_append(&mut tar, &format!("package/{path}"), data);
    }
    tar.extend_from_slice(&[0u8; 1024]);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip tarball");
    gz.finish().expect("gzip tarball")
}

/// Appends one regular file (header + data padded to 512 bytes) to a ustar archive.
fn ustar_append(out: &mut Vec<u8>, path: &str, data: &[u8]) {
    // Paths over 100 bytes go into `prefix` (155) + `name` (100), split at a '/'.
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        let split = path[..path.len().min(156)]
            .rfind('/')
            .filter(|&i| path.len() - i - 1 <= 100 && i > 0)
            .unwrap_or_else(|| panic!("make_tarball: path too long for ustar: {path}"));
        (&path[..split], &path[split + 1..])
    };
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], off: usize, bytes: &[u8]| h[off..off + bytes.len()].copy_from_slice(bytes);
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, b"0000644\0"); // mode
    put(&mut h, 108, b"0000000\0"); // uid
    put(&mut h, 116, b"0000000\0"); // gid
    put(&mut h, 124, format!("{:011o}\0", data.len()).as_bytes()); // size
    put(&mut h, 136, format!("{:011o}\0", 499_162_500u64).as_bytes()); // mtime 1985-10-26T08:15:00Z
    put(&mut h, 148, b"        "); // checksum placeholder
    h[156] = b'0'; // regular file
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    put(&mut h, 345, prefix.as_bytes());
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.resize(out.len() + pad, 0);
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", sod / 3600, sod % 3600 / 60, sod % 60, now.subsec_millis())
}
