//! Engine errors as pip, uv and twine show them: a status they act on and a plain-text
//! message (pip prints the reason phrase and body of a failed request).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::formats::http::{error_headers, error_status};

/// A PyPI error response.
pub(crate) struct PypiError(pub EngineError);

impl From<EngineError> for PypiError {
    fn from(e: EngineError) -> Self {
        Self(e)
    }
}

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

impl IntoResponse for PypiError {
    fn into_response(self) -> Response {
        let (status, message) = error_status(&self.0);
        let mut resp = text(status, message.as_deref().unwrap_or("internal error"));
        // pip and twine send stored credentials only after a Basic challenge.
        error_headers(&self.0, "Basic", &mut resp);
        resp
    }
}
