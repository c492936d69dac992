//! Engine errors as NuGet clients show them: a status and a short plain-text reason, and the
//! Basic challenge NuGet needs before it sends stored credentials.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::formats::http::{error_headers, error_status};

/// A NuGet error response.
pub(crate) struct NugetError(pub EngineError);

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

impl IntoResponse for NugetError {
    fn into_response(self) -> Response {
        let (status, message) = error_status(&self.0);
        let mut resp = text(status, message.as_deref().unwrap_or("internal error"));
        error_headers(&self.0, "Basic", &mut resp);
        resp
    }
}
