//! What every request passes before the router, in one place and one future: its span, the
//! Host check (`host`), a request slot (or 503), the request-body clock (`body`, 408 when cut)
//! and size limit, one warning line for a failed answer (5xx), and the access line at debug. A
//! repeated request for a document made from a package view is answered by `warm` when
//! nothing has changed since.
//!
//! One hand-written step instead of a tower stack: the stack (two `from_fn` middlewares,
//! `HandleError`, `LoadShed`, a global concurrency limit, a body-limit layer, each applied to
//! every route) cost a fifth of a warm 304's time in boxed futures and service clones.
//!
//! The span is at `debug`: under Depot's default filter (`info`) a request costs no span at all
//! (formatting and registering one per request took a quarter of a warm request's time).
//! `RUST_LOG=info,depot::server=debug` gives every line a request logs its
//! `request{id method path}` context.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;
use tower::Service;
use tracing::Instrument;

use super::body;
use super::host::{self, HostCheck};
use super::warm::WarmAnswers;
use crate::config::TransportLimits;
use crate::formats::http::WarmHint;

/// The application as a connection calls it.
pub(crate) struct App {
    pub(super) router: Router,
    pub(super) host: HostCheck,
    pub(super) limits: TransportLimits,
    /// Requests in progress beyond this are shed with a 503 instead of queueing without bound.
    pub(super) slots: Arc<Semaphore>,
    pub(super) max_body_bytes: usize,
    pub(super) warm: WarmAnswers,
}

impl App {
    /// Answers one request.
    pub(crate) async fn handle(&self, mut req: Request) -> Response {
        // One id per request, so every line a request logs can be found together. The fields
        // are evaluated only when the span is enabled.
        let span = tracing::debug_span!(
            "request",
            id = %format!("{:016x}", rand::random::<u64>()),
            method = %req.method(),
            path = %req.uri().path()
        );
        if let Some(refusal) = host::admit(&self.host, &mut req) {
            return refusal;
        }
        let started = Instant::now();
        // Shared bytes, not copies: kept for the failure line.
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let resp = self.answer(req).instrument(span.clone()).await;
        let (status, ms) = (resp.status().as_u16(), started.elapsed().as_millis() as u64);
        if resp.status().is_server_error() {
            tracing::warn!(%method, path = uri.path(), status, ms, "request failed");
        }
        if !span.is_disabled() {
            // The access log, at debug.
            span.in_scope(|| tracing::debug!(status, ms, "finished processing request"));
        }
        resp
    }

    /// A warm answer, else the router's (remembered when it is one to keep).
    async fn answer(&self, req: Request) -> Response {
        let Some(key) = self.warm.key(&req) else { return self.admitted(req).await };
        let engine = &self.host.engine;
        if let Some(resp) = self.warm.answer(engine, &key, req.headers()) {
            return resp;
        }
        // Read before anything the answer is made from.
        let world = engine.world();
        let mut resp = self.admitted(req).await;
        if let Some(hint) = resp.extensions_mut().remove::<WarmHint>() {
            self.warm.remember(key, world, hint);
        }
        resp
    }

    /// A request past the Host check: a slot, the body's clock and limit, the router.
    async fn admitted(&self, mut req: Request) -> Response {
        let Ok(_slot) = self.slots.try_acquire() else {
            tracing::warn!("request shed: server.max_concurrent_requests in progress");
            return busy();
        };
        DefaultBodyLimit::max(self.max_body_bytes).apply(&mut req);
        // Most requests (every GET) have no body: nothing to time, nothing to allocate.
        if http_body::Body::is_end_stream(req.body()) {
            return self.route(req).await;
        }
        let (req, cut) = body::timed(req, self.limits);
        let resp = self.route(req).await;
        if cut.is_cut() {
            body::cut_response()
        } else {
            resp
        }
    }

    async fn route(&self, req: Request) -> Response {
        // `Router` is a shared pointer; its future never fails.
        match self.router.clone().call(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }
}

fn busy() -> Response {
    let msg = "server busy, try again";
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": msg, "message": msg }))).into_response()
}
