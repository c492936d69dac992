//! What every request passes first: its span, the Host check (`host`), one warning line for a
//! failed answer (5xx) naming the request, and the access log line at debug.
//!
//! The span is at `debug`: under Depot's default filter (`info`) a request costs no span at all
//! (formatting and registering one per request took a quarter of a warm request's time).
//! `RUST_LOG=info,depot::server=debug` gives every line a request logs its
//! `request{id method path}` context.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::host::{self, HostCheck};

/// Middleware: span, Host check, failure line.
pub(super) async fn front(State(st): State<HostCheck>, mut req: Request, next: Next) -> Response {
    // One id per request, so every line a request logs can be found together. The fields are
    // evaluated only when the span is enabled.
    let span = tracing::debug_span!(
        "request",
        id = %format!("{:016x}", rand::random::<u64>()),
        method = %req.method(),
        path = %req.uri().path()
    );
    if let Some(refusal) = host::admit(&st, &mut req) {
        return refusal;
    }
    let started = Instant::now();
    // Shared bytes, not copies: kept for the failure line.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let resp = next.run(req).instrument(span.clone()).await;
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
