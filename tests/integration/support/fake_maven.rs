//! In-process fake Maven repository: the "upstream" that `public:maven-central` (or
//! `public:maven-gradleplugins`) points at in the integration tests. It serves a directory in
//! the Maven layout statically (`../shared/fixtures/maven/repo` by default: files, their
//! `.md5/.sha1/.sha256/.sha512` side files, and artifact-level `maven-metadata.xml`).
//!
//! Knobs: [`FakeMaven::set_latency`], [`FakeMaven::set_outage`] (502s),
//! [`FakeMaven::corrupt`] (serve other bytes for one path, its side files unchanged),
//! [`FakeMaven::stop`] / [`FakeMaven::restart`]. Every request is recorded by path
//! ([`FakeMaven::hits`], [`FakeMaven::requests`]).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;

use super::fake_server::FakeServer;

#[derive(Default)]
struct Inner {
    latency: Duration,
    outage: bool,
    corrupt: HashMap<String, Bytes>,
    requests: Vec<String>,
}

struct Shared {
    root: PathBuf,
    state: Mutex<Inner>,
}

/// A running fake Maven repository. See the module docs.
pub struct FakeMaven {
    shared: Arc<Shared>,
    server: FakeServer,
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeMaven {
    /// Serves `../shared/fixtures/maven/repo`.
    pub async fn start() -> FakeMaven {
        Self::start_with_root(super::fixtures().join("maven/repo")).await
    }

    /// Serves `../shared/fixtures/gradle-plugins/repo`: the Gradle plugin portal's plugin
    /// markers, the plugin jars they point at, and those jars' dependencies.
    pub async fn start_gradle_plugins() -> FakeMaven {
        Self::start_with_root(super::fixtures().join("gradle-plugins/repo")).await
    }

    /// Serves a Maven-layout directory.
    pub async fn start_with_root(root: impl Into<PathBuf>) -> FakeMaven {
        let shared = Arc::new(Shared { root: root.into(), state: Mutex::new(Inner::default()) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        FakeMaven { shared, server: FakeServer::start(app).await }
    }

    /// Root URL without trailing slash.
    pub fn url(&self) -> String {
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

    /// Serves `bytes` for `path` (e.g. `junit/junit/4.13.2/junit-4.13.2.jar`) while its side
    /// files still describe the real file.
    pub fn corrupt(&self, path: &str, bytes: &[u8]) {
        lock(&self.shared.state)
            .corrupt
            .insert(path.trim_start_matches('/').to_string(), Bytes::copy_from_slice(bytes));
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

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_string();
    let (latency, outage, corrupt) = {
        let mut st = lock(&shared.state);
        st.requests.push(path.clone());
        (st.latency, st.outage, st.corrupt.get(&path).cloned())
    };
    if outage {
        return (StatusCode::BAD_GATEWAY, "upstream outage").into_response();
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let bytes = match corrupt {
        Some(b) => b,
        None => match tokio::fs::read(shared.root.join(&path)).await {
            Ok(b) => Bytes::from(b),
            Err(_) => return (StatusCode::NOT_FOUND, "Not Found").into_response(),
        },
    };
    let ct = if path.ends_with(".xml") || path.ends_with(".pom") { "text/xml" } else { "application/octet-stream" };
    ([(header::CONTENT_TYPE, ct)], bytes).into_response()
}
