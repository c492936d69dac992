//! The listener, the middleware stack, router assembly and lifecycle. `server` uses every
//! other module; nothing uses it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{BoxError, Router};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use crate::api::{self, ApiState};
use crate::engine::{Engine, Format};
use crate::formats::{self, FormatState};

/// Every format Depot serves: one line per format.
pub fn formats() -> Vec<Arc<dyn Format>> {
    vec![Arc::new(formats::npm::Npm)]
}

/// The whole HTTP application for `engine` on a listener bound to `bound`.
pub fn app(engine: Arc<Engine>, bound: std::net::SocketAddr) -> Router {
    let cfg = engine.config().clone();
    let fstate = FormatState { engine: engine.clone(), anonymous_reads: cfg.anonymous_reads(bound) };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api::routes(ApiState { engine: engine.clone() }))
        .merge(formats::npm::routes(fstate))
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "error": "Not found" }))) });
    // Outermost first: trace every request; shed load beyond the concurrency limit with a
    // clear 503 instead of queueing without bound; cap request bodies.
    router.layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // One id per request, so every line a request logs can be found together.
                let id = format!("{:016x}", rand::random::<u64>());
                tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
            }))
            .layer(HandleErrorLayer::new(|e: BoxError| async move {
                tracing::warn!(error = %e, "request shed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(
                        serde_json::json!({ "error": "server busy, try again", "message": "server busy, try again" }),
                    ),
                )
                    .into_response()
            }))
            .load_shed()
            .concurrency_limit(cfg.server.max_concurrent_requests)
            .layer(DefaultBodyLimit::max(cfg.server.max_body_bytes)),
    )
}

/// Serves until `shutdown` completes, then lets in-flight requests finish (bounded).
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    engine.start_background();
    let app = app(engine.clone(), bound);
    tracing::info!(listen = %bound, anonymous_reads = engine.config().anonymous_reads(bound), "depot serving");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Streamed bodies go out as several writes; without TCP_NODELAY, Nagle's algorithm and the
    // client's delayed ACK stall each response by ~40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    let grace = async {
        let _ = stop_rx.await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    };
    tokio::select! {
        r = server => r?,
        _ = grace => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
    Ok(())
}
