//! CodeArtifact's error shape: `{"message": …}` with the exception name in
//! `x-amzn-ErrorType` and the status from the service model.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::sigv4::SigV4Error;
use crate::engine::EngineError;

/// A management API error.
pub(crate) enum ApiError {
    Engine(EngineError),
    Auth(SigV4Error),
    UnknownOperation,
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

impl From<crate::model::InvalidName> for ApiError {
    fn from(e: crate::model::InvalidName) -> Self {
        Self::Engine(e.into())
    }
}

fn render(status: StatusCode, name: &str, body: serde_json::Value) -> Response {
    let mut resp = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(name) {
        resp.headers_mut().insert("x-amzn-ErrorType", v);
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use serde_json::json;
        match self {
            ApiError::Auth(e) => {
                let name = match e {
                    SigV4Error::Missing => "MissingAuthenticationTokenException",
                    SigV4Error::UnknownKey => "UnrecognizedClientException",
                    SigV4Error::BadSignature | SigV4Error::Expired(_) | SigV4Error::Malformed(_) => {
                        "InvalidSignatureException"
                    }
                };
                render(StatusCode::FORBIDDEN, name, json!({ "message": e.to_string() }))
            }
            ApiError::UnknownOperation => {
                render(StatusCode::NOT_FOUND, "UnknownOperationException", json!({ "message": "no such operation" }))
            }
            ApiError::Engine(e) => {
                let msg = e.to_string();
                match e {
                    EngineError::Validation(_) => render(
                        StatusCode::BAD_REQUEST,
                        "ValidationException",
                        json!({ "message": msg, "reason": "FIELD_VALIDATION_FAILED" }),
                    ),
                    EngineError::NotFound { resource, id, .. } => render(
                        StatusCode::NOT_FOUND,
                        "ResourceNotFoundException",
                        json!({ "message": msg, "resourceId": id, "resourceType": resource.as_str() }),
                    ),
                    EngineError::Conflict { resource, id, .. } => render(
                        StatusCode::CONFLICT,
                        "ConflictException",
                        json!({ "message": msg, "resourceId": id, "resourceType": resource.as_str() }),
                    ),
                    EngineError::Quota(_) => {
                        render(StatusCode::PAYMENT_REQUIRED, "ServiceQuotaExceededException", json!({ "message": msg }))
                    }
                    EngineError::Unauthorized(_) | EngineError::Forbidden(_) => {
                        render(StatusCode::FORBIDDEN, "AccessDeniedException", json!({ "message": msg }))
                    }
                    EngineError::IngestionInProgress | EngineError::Upstream { .. } => {
                        render(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException", json!({ "message": msg }))
                    }
                    EngineError::Store(e) => {
                        tracing::error!(error = %e, "storage failure");
                        render(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalServerException",
                            json!({ "message": "internal error" }),
                        )
                    }
                    EngineError::Internal(detail) => {
                        tracing::error!(error = %detail, "internal error");
                        render(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalServerException",
                            json!({ "message": "internal error" }),
                        )
                    }
                }
            }
        }
    }
}
