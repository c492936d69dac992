//! CodeArtifact's management API (REST JSON under `/v1/`), as the `aws codeartifact` CLI and
//! the SDKs call it. Every request is SigV4-verified against the configured admin keys
//! before it reaches a handler; handlers decode, make one engine call and encode.
//! Operation groups: `domains`, `repositories`, `tokens` (authorization tokens and
//! endpoints), `packages` (listings), `package_ops` (describe, assets, dependencies, readme),
//! `package_writes` (status changes, deletes and disposal). Wire shapes live in `shapes`; errors in `error`.

mod domains;
mod error;
mod events;
mod package_copy;
mod package_ops;
mod package_origin;
mod package_writes;
mod packages;
mod params;
mod repositories;
mod shapes;
mod sigv4;
mod tokens;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use sha2::Digest;

use crate::engine::Engine;
pub(crate) use error::ApiError;

/// Largest management request body.
const MAX_API_BODY: usize = 1024 * 1024;

/// What API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The engine.
    pub engine: Arc<Engine>,
}

/// The verified caller of a management request.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub access_key_id: String,
}

/// The management API routes.
pub fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/v1/domain", post(domains::create_domain).get(domains::describe_domain).delete(domains::delete_domain))
        .route("/v1/domains", post(domains::list_domains))
        .route(
            "/v1/repository",
            post(repositories::create_repository)
                .get(repositories::describe_repository)
                .put(repositories::update_repository)
                .delete(repositories::delete_repository),
        )
        .route("/v1/repositories", post(repositories::list_repositories))
        .route("/v1/domain/repositories", post(repositories::list_repositories_in_domain))
        .route(
            "/v1/repository/external-connection",
            post(repositories::associate_external_connection).delete(repositories::disassociate_external_connection),
        )
        .route("/v1/repository/endpoint", get(tokens::get_repository_endpoint))
        .route("/v1/authorization-token", post(tokens::get_authorization_token))
        .route("/v1/packages", post(packages::list_packages))
        .route("/v1/package/versions", post(packages::list_package_versions))
        .route(
            "/v1/package",
            get(package_ops::describe_package)
                .delete(package_writes::delete_package)
                .post(package_origin::put_package_origin_configuration),
        )
        .route("/v1/package/versions/update_status", post(package_writes::update_package_versions_status))
        .route("/v1/package/versions/delete", post(package_writes::delete_package_versions))
        .route("/v1/package/versions/copy", post(package_copy::copy_package_versions))
        .route("/v1/package/versions/dispose", post(package_writes::dispose_package_versions))
        .route("/v1/package/version", get(package_ops::describe_package_version))
        .route("/v1/package/version/assets", post(package_ops::list_package_version_assets))
        .route("/v1/package/version/asset", get(package_ops::get_package_version_asset))
        .route("/v1/package/version/dependencies", post(package_ops::list_package_version_dependencies))
        .route("/v1/package/version/readme", get(package_ops::get_package_version_readme))
        .route("/v1/depot/events", get(events::list_events))
        .route("/v1/{*rest}", any(|| async { ApiError::UnknownOperation }))
        .layer(middleware::from_fn_with_state(state.clone(), verify_signature))
        .with_state(state)
}

/// Refuses what the headers alone decide, then buffers the (small) body, verifies the SigV4
/// signature over it, and hands the request on with the caller attached.
async fn verify_signature(State(st): State<ApiState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    // An anonymous or unknown caller must not make Depot wait for (or hold) up to 1 MiB.
    let unread = sigv4::SignedRequest {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body_sha256: "",
    };
    let engine = st.engine.clone();
    if let Some(token) = feed_bearer(&parts) {
        return match feed_token_caller(&engine, &parts, token) {
            Ok(t) => {
                parts.extensions.insert(t);
                next.run(Request::from_parts(parts, body)).await
            }
            Err(e) => ApiError::Engine(e).into_response(),
        };
    }
    if let Err(e) = sigv4::precheck(&unread, &|id| engine.auth().secret_for(id), time::OffsetDateTime::now_utc()) {
        tracing::info!(method = %parts.method, path = %parts.uri.path(), error = %e, "management request refused");
        return ApiError::Auth(e).into_response();
    }
    let bytes = match axum::body::to_bytes(body, MAX_API_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::Engine(crate::engine::EngineError::Validation("request body too large".into()))
                .into_response()
        }
    };
    let body_sha = hex::encode(sha2::Sha256::digest(&bytes));
    let signed = sigv4::SignedRequest {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body_sha256: &body_sha,
    };
    let verified = sigv4::verify(&signed, &|id| engine.auth().secret_for(id), time::OffsetDateTime::now_utc());
    // AWS refuses a signature scoped to another region or service; so does Depot.
    let verified = verified.and_then(|v| {
        if v.region != engine.config().account.region {
            Err(sigv4::SigV4Error::Malformed(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                v.region
            )))
        } else if v.service != "codeartifact" {
            Err(sigv4::SigV4Error::Malformed(format!(
                "Credential should be scoped to correct service: 'codeartifact', not '{}'.",
                v.service
            )))
        } else {
            Ok(v)
        }
    });
    match verified {
        Ok(v) => {
            parts.extensions.insert(Caller { access_key_id: v.access_key_id });
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Err(e) => {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), error = %e, "management request refused");
            ApiError::Auth(e).into_response()
        }
    }
}

/// A handler's result.
pub(crate) type ApiResult = Result<axum::Json<serde_json::Value>, ApiError>;

/// The bearer token of an event-feed request, the one operation a domain's authorization
/// token may call (consumers of the feed need not hold admin keys).
fn feed_bearer(parts: &http::request::Parts) -> Option<&str> {
    if parts.uri.path() != "/v1/depot/events" || parts.method != http::Method::GET {
        return None;
    }
    let v = parts.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::trim)
}

fn feed_token_caller(
    engine: &Engine,
    parts: &http::request::Parts,
    token: &str,
) -> Result<events::TokenCaller, crate::engine::EngineError> {
    let p = params::Params::parse(parts.uri.query());
    let domain = p.domain()?;
    engine.auth().verify(token, &domain)?;
    Ok(events::TokenCaller { domain })
}
