//! The Host check, while `server.public_url` is empty: URLs Depot generates are built from
//! the Host header, so it must be a real `host[:port]` (else 400), one of at most
//! `server.max_hosts` distinct values (else 421), and a request without one (HTTP/1.0) gets
//! the bound listen address, port included.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::{Engine, HostRefusal};

/// What the Host check needs.
#[derive(Clone)]
pub(super) struct HostCheck {
    pub(super) engine: Arc<Engine>,
    pub(super) bound: SocketAddr,
}

fn refuse(status: StatusCode, msg: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": msg, "message": msg }))).into_response()
}

/// Admits the request's Host, and supplies one (the request target's authority, else the
/// bound address) when it has none. Returns the refusal to send, if refused.
pub(super) fn admit(st: &HostCheck, req: &mut Request) -> Option<Response> {
    if !st.engine.config().server.public_url.is_empty() {
        return None;
    }
    let mut values = req.headers().get_all(header::HOST).iter();
    let present = req.headers().contains_key(header::HOST);
    let raw = match (values.next(), values.next()) {
        (Some(_), Some(_)) => return Some(refuse(StatusCode::BAD_REQUEST, "more than one Host header".into())),
        (Some(v), None) => match v.to_str() {
            Ok(s) => match st.engine.admit_host(s) {
                // The common case, without copying the Host. It stays as sent: SigV4 signs it
                // byte for byte, and URL builders normalize it themselves (`normalize_host`).
                Ok(()) => return None,
                Err(_) => s.to_string(),
            },
            Err(_) => return Some(refuse(StatusCode::BAD_REQUEST, "Host header is not ASCII".into())),
        },
        // HTTP/2 carries the host in the request target; HTTP/1.0 may carry none at all.
        (None, _) => match req.uri().authority() {
            Some(a) => a.as_str().to_string(),
            None => st.bound.to_string(),
        },
    };
    match st.engine.admit_host(&raw) {
        Ok(()) => {
            if !present {
                if let Ok(v) = HeaderValue::from_str(&raw) {
                    req.headers_mut().insert(header::HOST, v);
                }
            }
            None
        }
        Err(e @ HostRefusal::Invalid(_)) => Some(refuse(StatusCode::BAD_REQUEST, e.to_string())),
        Err(e @ HostRefusal::TooMany(_)) => {
            tracing::warn!(host = %raw.chars().take(100).collect::<String>(), "Host refused: too many distinct Host values");
            Some(refuse(StatusCode::MISDIRECTED_REQUEST, e.to_string()))
        }
    }
}
