//! In-process fake PyPI simple index: the "upstream" that Depot's external connection
//! `public:pypi` points at in the integration tests.
//!
//! [`FakePypi::start`] binds `127.0.0.1:0` and serves the corpus in `../shared/fixtures/pypi`
//! (see "## pypi" in `shared/fixtures/README.md`):
//!
//! - `GET /simple` → 301 `/simple/`; `GET /simple/` → the project list.
//! - `GET /simple/<p>` and a non-normalised `GET /simple/<P>/` → 301 to `/simple/<normalised>/`.
//! - `GET /simple/<p>/` → the project page: PEP 691 JSON (API 1.1, `versions`, `size`,
//!   `yanked` false / reason / `true`, `requires-python` when known, no `upload-time`) when
//!   `Accept` prefers `application/vnd.pypi.simple.v1+json`, else PEP 503 HTML (`#sha256=`
//!   fragments, escaped `data-requires-python`, `data-yanked`); `Content-Type` is the type
//!   chosen. Pages carry a strong `ETag` and answer a matching `If-None-Match` with 304.
//! - `GET /files/<filename>` → the file (`application/octet-stream`).
//! - Anything else → 404 `Not Found` (text); methods other than `GET`/`HEAD` → 405.
//!
//! Knobs (callable at any time; state behind a `Mutex` never held across an `.await`), as
//! [`super::fake_npm::FakeNpm`]'s: [`FakePypi::set_latency`], [`FakePypi::fail_next`] (503s),
//! [`FakePypi::set_outage`] (502s), [`FakePypi::stop`] / [`FakePypi::restart`] (same port),
//! and PyPI's own: [`FakePypi::html_only`], [`FakePypi::relative_urls`],
//! [`FakePypi::replace_file`], [`FakePypi::publish_file`], [`FakePypi::set_yanked`].
//!
//! Observation: every request is recorded by its path (percent-decoded, no query) whatever
//! its answer: [`FakePypi::hits`], [`FakePypi::total_hits`], [`FakePypi::requests`],
//! [`FakePypi::accepts`], [`FakePypi::authorizations`], [`FakePypi::not_modified`].
#![allow(dead_code)]

mod index;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use sha2::Digest as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use index::{normalize, FileEntry, Project};

use super::killable::killable_listener;

/// A running fake PyPI. See the module docs.
pub struct FakePypi {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    server: Mutex<Option<Server>>,
}

struct Server {
    task: JoinHandle<()>,
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
    /// By normalised name.
    projects: BTreeMap<String, Project>,
    /// Bytes that replace (or add to) `files/<filename>`, by file name.
    files: HashMap<String, Bytes>,
    latency: Duration,
    fail_next: usize,
    outage: bool,
    html_only: bool,
    relative_urls: bool,
    hits: HashMap<String, usize>,
    requests: Vec<String>,
    accepts: Vec<Option<String>>,
    authorizations: Vec<Option<String>>,
    not_modified: usize,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakePypi {
    /// Serves `<CARGO_MANIFEST_DIR>/../shared/fixtures/pypi` on `127.0.0.1:<ephemeral>`.
    pub async fn start() -> FakePypi {
        Self::start_with_root(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pypi")).await
    }

    /// Serves the PyPI corpus at `root` (holding `index.json` and `files/`).
    pub async fn start_with_root(root: impl Into<PathBuf>) -> FakePypi {
        let root: PathBuf = root.into();
        let load_root = root.clone();
        let projects =
            tokio::task::spawn_blocking(move || index::load(&load_root)).await.expect("loading pypi corpus panicked");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake pypi");
        let addr = listener.local_addr().expect("fake pypi local_addr");
        let url = format!("http://{addr}");
        let inner = Inner { projects, ..Inner::default() };
        let shared = Arc::new(Shared { root, url, state: Mutex::new(inner) });
        let server = spawn_server(listener, shared.clone());
        tracing::debug!(url = %shared.url, "fake pypi started");
        FakePypi { shared, addr, server: Mutex::new(Some(server)) }
    }

    /// Root URL without trailing slash, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// The index URL a client is given: `<root>/simple/`.
    pub fn simple_url(&self) -> String {
        format!("{}/simple/", self.shared.url)
    }

    /// Delay every response by `d` (outage 502s excepted).
    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.state).latency = d;
    }

    /// The next `n` requests answer `503 injected failure`.
    pub fn fail_next(&self, n: usize) {
        lock(&self.shared.state).fail_next = n;
    }

    /// While on, every request answers `502 upstream outage` at once.
    pub fn set_outage(&self, on: bool) {
        lock(&self.shared.state).outage = on;
    }

    /// While on, pages are HTML (`text/html`) whatever the `Accept` header asks for, as an
    /// index that predates PEP 691 answers.
    pub fn html_only(&self, on: bool) {
        lock(&self.shared.state).html_only = on;
    }

    /// While on, pages link files relative to the page (`../../files/<f>`); by default the
    /// links are absolute (`<root>/files/<f>`).
    pub fn relative_urls(&self, on: bool) {
        lock(&self.shared.state).relative_urls = on;
    }

    /// Really stop serving: abort the server, close the port, drop open connections.
    pub fn stop(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            server.shutdown();
            tracing::debug!(url = %self.shared.url, "fake pypi stopped");
        }
    }

    /// Serve again on the same port after [`FakePypi::stop`] (no-op if running).
    pub async fn restart(&self) {
        if self.server.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        // The aborted server task drops its listener on its next poll, not at once.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("re-bind fake pypi port {}: {e}", self.addr),
            }
        };
        let server = spawn_server(listener, self.shared.clone());
        let old = self.server.lock().unwrap_or_else(|e| e.into_inner()).replace(server);
        if let Some(old) = old {
            old.shutdown();
        }
        tracing::debug!(url = %self.shared.url, "fake pypi restarted");
    }

    /// Serves `bytes` as `/files/<filename>` while pages keep declaring the original
    /// SHA-256 and size: a corrupted or tampered upstream.
    pub fn replace_file(&self, filename: &str, bytes: Vec<u8>) {
        lock(&self.shared.state).files.insert(filename.to_string(), Bytes::from(bytes));
    }

    /// A new file appears upstream: `filename` (served from memory) in `version` of
    /// `project` (created if absent), with its real SHA-256 and size, not yanked.
    pub fn publish_file(
        &self,
        project: &str,
        version: &str,
        filename: &str,
        bytes: Vec<u8>,
        requires_python: Option<&str>,
    ) {
        let entry = FileEntry {
            filename: filename.to_string(),
            version: version.to_string(),
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            requires_python: requires_python.map(str::to_string),
            yanked: serde_json::Value::Bool(false),
            packagetype: if filename.ends_with(".whl") { "bdist_wheel" } else { "sdist" }.to_string(),
        };
        let mut st = lock(&self.shared.state);
        st.files.insert(filename.to_string(), Bytes::from(bytes));
        let p = st
            .projects
            .entry(normalize(project))
            .or_insert_with(|| Project { name: project.to_string(), files: Vec::new() });
        p.files.retain(|f| f.filename != filename);
        p.files.push(entry);
    }

    /// Yanks (`Some(reason)`, `""` for no reason) or un-yanks (`None`) a listed file.
    /// Panics if no project lists it.
    pub fn set_yanked(&self, filename: &str, reason: Option<&str>) {
        let mut st = lock(&self.shared.state);
        let f = st.projects.values_mut().flat_map(|p| p.files.iter_mut()).find(|f| f.filename == filename);
        let Some(f) = f else {
            drop(st);
            panic!("FakePypi::set_yanked: no file {filename:?}");
        };
        f.yanked = reason.map_or(serde_json::Value::Bool(false), |r| serde_json::Value::String(r.to_string()));
    }

    /// What `index.json` (plus [`FakePypi::publish_file`]) lists for a project.
    pub fn project(&self, name: &str) -> Option<Project> {
        lock(&self.shared.state).projects.get(&normalize(name)).cloned()
    }

    /// Requests received for exactly this path (decoded, no query string).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.state).hits.get(path).copied().unwrap_or(0)
    }

    /// Total requests received.
    pub fn total_hits(&self) -> usize {
        lock(&self.shared.state).requests.len()
    }

    /// Every request path so far, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.state).requests.clone()
    }

    /// The `Accept` header of every request so far, in order.
    pub fn accepts(&self) -> Vec<Option<String>> {
        lock(&self.shared.state).accepts.clone()
    }

    /// The `Authorization` header of every request so far, in order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        lock(&self.shared.state).authorizations.clone()
    }

    /// How many page requests were answered 304 Not Modified.
    pub fn not_modified(&self) -> usize {
        lock(&self.shared.state).not_modified
    }
}

impl Drop for FakePypi {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_server(listener: TcpListener, shared: Arc<Shared>) -> Server {
    let (kill, kill_rx) = watch::channel(false);
    let app = Router::new().fallback(handle).with_state(shared);
    let listener = killable_listener(listener, kill_rx);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::debug!(error = %e, "fake pypi server ended");
        }
    });
    Server { task, kill }
}

fn header_text(req: &Request, name: header::HeaderName) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy().into_owned();
    let accept = header_text(&req, header::ACCEPT);
    tracing::debug!(%method, %path, ?accept, "fake pypi request");

    let (outage, latency, fail, html_only, relative) = {
        let mut st = lock(&shared.state);
        *st.hits.entry(path.clone()).or_insert(0) += 1;
        st.requests.push(path.clone());
        st.accepts.push(accept.clone());
        st.authorizations.push(header_text(&req, header::AUTHORIZATION));
        let fail = !st.outage && st.fail_next > 0;
        if fail {
            st.fail_next -= 1;
        }
        (st.outage, st.latency, fail, st.html_only, st.relative_urls)
    };
    if outage {
        return text(StatusCode::BAD_GATEWAY, "upstream outage");
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fail {
        return text(StatusCode::SERVICE_UNAVAILABLE, "injected failure");
    }
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }

    if let Some(filename) = path.strip_prefix("/files/") {
        return serve_file(&shared, filename).await;
    }
    if path == "/simple" {
        return redirect("/simple/");
    }
    let Some(rest) = path.strip_prefix("/simple/") else {
        return not_found();
    };
    let flavor = if html_only { index::Flavor::TextHtml } else { index::negotiate(accept.as_deref().unwrap_or("")) };
    let inm = header_text(&req, header::IF_NONE_MATCH);
    if rest.is_empty() {
        let st = lock(&shared.state);
        let body = match flavor {
            index::Flavor::Json => index::list_json(&st.projects),
            _ => index::list_html(&st.projects),
        };
        drop(st);
        return page(&shared, flavor, body, inm.as_deref());
    }
    let (name, slash) = match rest.strip_suffix('/') {
        Some(n) => (n, true),
        None => (rest, false),
    };
    if name.is_empty() || name.contains('/') {
        return not_found();
    }
    let norm = normalize(name);
    if !slash || norm != name {
        return redirect(&format!("/simple/{norm}/"));
    }
    let body = {
        let st = lock(&shared.state);
        let Some(p) = st.projects.get(&norm) else {
            return not_found();
        };
        match flavor {
            index::Flavor::Json => index::project_json(&norm, p, &shared.url, relative),
            _ => index::project_html(&norm, p, &shared.url, relative),
        }
    };
    page(&shared, flavor, body, inm.as_deref())
}

/// A page with a strong ETag over its bytes, or 304 when the client already has them.
fn page(shared: &Shared, flavor: index::Flavor, body: String, if_none_match: Option<&str>) -> Response {
    let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(body.as_bytes())));
    let matches = if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        lock(&shared.state).not_modified += 1;
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .header(header::VARY, "Accept")
            .body(Body::empty())
            .expect("build response");
    }
    let mut resp = respond(StatusCode::OK, flavor.content_type(), Bytes::from(body));
    resp.headers_mut().insert(header::ETAG, etag.parse().expect("etag header"));
    resp.headers_mut().insert(header::VARY, "Accept".parse().expect("vary header"));
    resp
}

async fn serve_file(shared: &Shared, filename: &str) -> Response {
    let replaced = lock(&shared.state).files.get(filename).cloned();
    if let Some(bytes) = replaced {
        return respond(StatusCode::OK, "application/octet-stream", bytes);
    }
    if filename.is_empty() || filename.contains(['/', '\\']) || filename.starts_with('.') {
        return not_found();
    }
    match tokio::fs::read(shared.root.join("files").join(filename)).await {
        Ok(bytes) => respond(StatusCode::OK, "application/octet-stream", Bytes::from(bytes)),
        Err(_) => not_found(),
    }
}

fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, location)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("build response")
}

fn respond(status: StatusCode, content_type: &str, body: Bytes) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .expect("build response")
}

fn text(status: StatusCode, msg: &'static str) -> Response {
    respond(status, "text/plain; charset=utf-8", Bytes::from_static(msg.as_bytes()))
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "Not Found")
}
