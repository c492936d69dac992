//! Engine errors as npm clients expect them: `{"error": "…"}` with the status npm acts on.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::formats::http::{error_headers, error_status};

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
        let (status, message) = error_status(&self.0);
        let mut resp = npm_json(status, message.as_deref().unwrap_or("internal error"));
        error_headers(&self.0, "Bearer", &mut resp);
        resp
    }
}
