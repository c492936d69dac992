//! Engine errors as npm clients expect them: `{"error": "…"}` with the status npm acts on.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::{EngineError, UpstreamFailure};

/// An npm error response.
pub(crate) struct NpmError(pub EngineError);

impl From<EngineError> for NpmError {
    fn from(e: EngineError) -> Self {
        Self(e)
    }
}

pub(crate) fn npm_json(status: StatusCode, msg: &str) -> Response {
    let body = serde_json::json!({ "error": msg }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl IntoResponse for NpmError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            EngineError::Validation(_) => StatusCode::BAD_REQUEST,
            EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
            EngineError::Conflict { .. } => StatusCode::CONFLICT,
            EngineError::Quota(_) => StatusCode::BAD_REQUEST,
            EngineError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
            // CodeArtifact answers a still-running ingestion with 404 and this message.
            EngineError::IngestionInProgress => StatusCode::NOT_FOUND,
            // An upstream that is down (or not configured) will not be back within npm's
            // retries: a 404 naming the outage lets npm fail (or skip an optional
            // dependency) at once instead of retrying 5xx answers for about a minute.
            EngineError::Upstream { source, .. } if source.is_outage() => StatusCode::NOT_FOUND,
            EngineError::Upstream { source, .. } => match source.failure {
                UpstreamFailure::Timeout => StatusCode::GATEWAY_TIMEOUT,
                UpstreamFailure::RateLimited { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            EngineError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                return npm_json(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            EngineError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                return npm_json(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        let mut resp = npm_json(status, &self.0.to_string());
        if let EngineError::Upstream { source, .. } = &self.0 {
            if let UpstreamFailure::RateLimited { retry_after: Some(d) } = source.failure {
                resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(d.as_secs().max(1)));
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"depot\""));
        }
        resp
    }
}
