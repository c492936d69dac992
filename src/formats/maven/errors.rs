//! Engine errors as Maven and Gradle show them: a status and a plain-text reason, and the
//! Basic challenge a missing token needs (both send credentials only after one).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::formats::http::{error_headers, error_status};

/// A Maven error response.
pub(crate) struct MavenError(pub EngineError);

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

impl IntoResponse for MavenError {
    fn into_response(self) -> Response {
        let (status, message) = error_status(&self.0);
        let mut resp = text(status, message.as_deref().unwrap_or("internal error"));
        error_headers(&self.0, "Basic", &mut resp);
        resp
    }
}
