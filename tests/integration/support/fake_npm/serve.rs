//! The fake npm registry's HTTP side: its routes and answers (see the parent's module docs).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::super::killable::killable_listener;
use super::{lock, Server, Shared};

pub(super) fn spawn_server(listener: TcpListener, shared: Arc<Shared>) -> Server {
    let (kill, kill_rx) = watch::channel(false);
    let app = Router::new().fallback(handle).with_state(shared);
    let listener = killable_listener(listener, kill_rx);
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
pub(super) fn with_etag(body: Bytes) -> (Bytes, String) {
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
