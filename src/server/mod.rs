//! The listener, the middleware stack, router assembly and lifecycle. `server` uses every
//! other module; nothing uses it. Connection handling (timeouts, the connection cap) is in
//! `listener` and `conn`, request-body limits in `body`, the Host check in `host`.

mod body;
mod conn;
mod front;
mod host;
mod listener;
mod warm;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::{self, ApiState};
use crate::engine::{Engine, Format};
use crate::formats::{self, FormatState};

/// Every format Depot serves: one line per format.
pub fn formats() -> Vec<Arc<dyn Format>> {
    vec![
        Arc::new(formats::npm::Npm),
        Arc::new(formats::pypi::Pypi),
        Arc::new(formats::maven::Maven),
        Arc::new(formats::nuget::Nuget),
    ]
}

/// The whole HTTP application for `engine` on a listener bound to `bound`.
fn app(engine: Arc<Engine>, bound: std::net::SocketAddr) -> Arc<front::App> {
    let cfg = engine.config().clone();
    let fstate = FormatState { engine: engine.clone(), anonymous_reads: cfg.anonymous_reads(bound) };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api::routes(ApiState { engine: engine.clone() }))
        .merge(formats::npm::routes(fstate.clone()))
        .merge(formats::pypi::routes(fstate.clone()))
        .merge(formats::maven::routes(fstate.clone()))
        .merge(formats::nuget::routes(fstate))
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "error": "Not found" }))) });
    // Validated at load, so this cannot fail here; the defaults keep a hand-built config usable.
    let limits = cfg.transport_limits().unwrap_or(crate::config::TransportLimits {
        header_timeout: Duration::from_secs(10),
        keep_alive_timeout: Duration::from_secs(20),
        body_timeout: Duration::from_secs(10),
        min_body_rate: 0,
    });
    Arc::new(front::App {
        router,
        host: host::HostCheck { engine, bound },
        limits,
        slots: Arc::new(Semaphore::new(cfg.server.max_concurrent_requests)),
        max_body_bytes: cfg.server.max_body_bytes,
        // Half the rendered budget: the documents are the rendered cache's own, shared.
        warm: warm::WarmAnswers::new(cfg.cache.rendered_max_bytes / 2, cfg.anonymous_reads(bound)),
    })
}

/// Serves until `shutdown` completes, then lets in-flight requests finish (bounded).
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    let cfg = engine.config();
    let limits = cfg.transport_limits()?;
    let max_connections = listener::connection_cap(cfg.server.max_connections, cfg.ingestion.workers);
    if cfg.server.public_url.is_empty() && !bound.ip().is_loopback() {
        tracing::warn!(listen = %bound,
            "server.public_url is empty on a listener that is not loopback: URLs follow each request's Host header; set server.public_url (DEPOT_PUBLIC_URL)");
    }
    // The bound address is always answerable, whoever comes first.
    if let Err(e) = engine.admit_host(&bound.to_string()) {
        tracing::warn!(error = %e, "cannot register the listen address as a Host");
    }
    engine.start_background();
    let app = app(engine.clone(), bound);
    tracing::info!(listen = %bound, anonymous_reads = engine.config().anonymous_reads(bound), "depot serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        // Keep the sender: dropping it would read as a second stop to every receiver.
        std::future::pending::<()>().await;
    });
    listener::serve(listener, app, limits, max_connections, stop_rx, Duration::from_secs(10)).await;
    Ok(())
}
