//! HTTP helpers every format shares: ready documents (strong ETag, 304, gzip), immutable blob
//! responses, and content negotiation by `Accept` with quality values.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use crate::engine::{
    AssetBody, BlobBytes, Engine, EngineError, Located, Rendered, RepoCtx, UpstreamFailure, ViewInputs,
};
use crate::model::{AssetName, DomainName, PackageId, Sha256, Version};

/// A handler's request as method, headers and body: taken from the request itself, where
/// axum's `HeaderMap` extractor would copy every header.
pub(crate) fn split(req: axum::extract::Request) -> (axum::http::Method, HeaderMap, Body) {
    let (parts, body) = req.into_parts();
    (parts.method, parts.headers, body)
}

/// A JSON body.
pub(crate) fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Whether the client takes a gzip-encoded body.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            name.eq_ignore_ascii_case("gzip") && quality(parts) > 0.0
        })
    })
}

/// Whether `If-None-Match` names `etag` (a `W/` prefix and `*` match too).
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"))
}

/// Sends a ready document: 304 on a matching ETag, gzip when accepted. Nothing is encoded or
/// hashed here: the bytes, their gzip form and the ETag were made once, when rendered.
pub(crate) fn send_rendered(doc: &Rendered, content_type: &'static str, headers: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&doc.etag).unwrap_or(HeaderValue::from_static("\"\""));
    if not_modified(headers, &doc.etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut resp = if accepts_gzip(headers) && !doc.gzip.is_empty() {
        let mut r = Response::new(Body::from(doc.gzip.clone()));
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::from(doc.body.clone()))
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ETAG, etag);
    h.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// What a response made from a package view tells the server's warm answers (`server::warm`):
/// the same request may be answered from `doc` until anything changes or `fresh_until`.
#[derive(Clone)]
pub(crate) struct WarmHint {
    pub(crate) doc: Arc<Rendered>,
    pub(crate) content_type: &'static str,
    pub(crate) fresh_until: Option<std::time::Instant>,
    /// Whose tokens the request needs (checked again on every answer).
    pub(crate) domain: DomainName,
}

/// [`send_rendered`] for a document made from a package view, marked as a warm answer.
pub(crate) fn send_view(
    doc: Arc<Rendered>,
    content_type: &'static str,
    headers: &HeaderMap,
    ctx: &RepoCtx,
    inputs: &ViewInputs,
) -> Response {
    let mut resp = send_rendered(&doc, content_type, headers);
    let hint = WarmHint { doc, content_type, fresh_until: inputs.fresh_until, domain: ctx.domain.clone() };
    resp.extensions_mut().insert(hint);
    resp
}

/// `"<hex digest>"`, built on the stack: a download formats nothing.
fn digest_etag(sha: &Sha256) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'"'; 66];
    for (i, b) in sha.bytes().iter().enumerate() {
        buf[1 + 2 * i] = HEX[usize::from(b >> 4)];
        buf[2 + 2 * i] = HEX[usize::from(b & 15)];
    }
    // Quotes and hex digits are always a valid header value.
    HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether `If-None-Match` names this ETag.
fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    etag.to_str().is_ok_and(|e| not_modified(headers, e))
}

/// Streams a stored asset: the bytes under a digest never change, so its SHA-256 is a strong
/// ETag and clients may cache it for good.
pub(crate) fn send_blob(body: AssetBody, content_type: &'static str, headers: &HeaderMap) -> Response {
    // A file still arriving from the upstream (engine's tee) may have no SHA-256 yet: no ETag.
    let etag = body.sha256.as_ref().map(digest_etag);
    if let Some(e) = etag.as_ref().filter(|e| etag_matches(headers, e)) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, e.clone())]).into_response();
    }
    blob_response(body, etag, content_type)
}

/// The 200 for a file whose `If-None-Match` was already answered.
fn blob_response(body: AssetBody, etag: Option<HeaderValue>, content_type: &'static str) -> Response {
    // A whole small file goes out as one buffer (headers and body in one write); a stream as
    // it is read.
    let mut resp = Response::new(match body.bytes {
        BlobBytes::Whole(b) => Body::from(b),
        BlobBytes::Stream(s) => Body::from_stream(s),
    });
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.size));
    if let Some(e) = etag {
        h.insert(header::ETAG, e);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    resp
}

/// Answers a download of one stored file: a client that already holds it (`If-None-Match`
/// naming its digest) gets a 304 without the blob being opened, and from the engine's asset
/// index without a store read when the file was resolved before.
pub(crate) async fn serve_asset(
    engine: &Arc<Engine>,
    ctx: &RepoCtx,
    pkg: &PackageId,
    version: Option<&Version>,
    asset: &AssetName,
    content_type: &'static str,
    headers: &HeaderMap,
) -> crate::engine::Result<Response> {
    let (v, a) = match engine.asset_digest(ctx, pkg, version, asset).await? {
        Located::Stored(v, a) => (v, a),
        Located::Teed(body) => return Ok(send_blob(body, content_type, headers)),
    };
    let etag = digest_etag(&a.sha256);
    if etag_matches(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let body = engine.open_asset(ctx, pkg, &v, &a).await?;
    Ok(blob_response(body, Some(etag), content_type))
}

/// A HEAD answer: the GET's status and headers without its body.
pub(crate) fn without_body(mut resp: Response) -> Response {
    // The length the GET would send: the empty body would otherwise announce `0`, and clients
    // (Gradle's resource metadata) take a HEAD's length for the resource's.
    if !resp.headers().contains_key(header::CONTENT_LENGTH) {
        if let Some(n) = http_body::Body::size_hint(resp.body()).exact() {
            resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    *resp.body_mut() = Body::empty();
    resp
}

/// How every format answers an engine error: the status, and the message a client may see
/// (`None`: an internal failure, logged here and answered "internal error").
pub(crate) fn error_status(e: &EngineError) -> (StatusCode, Option<String>) {
    let status = match e {
        EngineError::Validation(_) | EngineError::Quota(_) => StatusCode::BAD_REQUEST,
        EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
        EngineError::Conflict { .. } => StatusCode::CONFLICT,
        EngineError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
        // CodeArtifact answers a still-running ingestion with 404 and this message.
        EngineError::IngestionInProgress => StatusCode::NOT_FOUND,
        // An upstream that is down (or not configured) will not be back within a client's
        // retries: a 404 naming the outage lets it fail (or skip an optional dependency) at
        // once instead of retrying 5xx answers for about a minute.
        EngineError::Upstream { source, .. } if source.is_outage() => StatusCode::NOT_FOUND,
        EngineError::Upstream { source, .. } => match source.failure {
            UpstreamFailure::Timeout => StatusCode::GATEWAY_TIMEOUT,
            UpstreamFailure::RateLimited { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        },
        EngineError::Store(err) => {
            tracing::error!(error = %err, "storage failure");
            return (StatusCode::INTERNAL_SERVER_ERROR, None);
        }
        EngineError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            return (StatusCode::INTERNAL_SERVER_ERROR, None);
        }
    };
    (status, Some(e.to_string()))
}

/// The headers that go with an engine error: `Retry-After` for a rate limit, the challenge
/// (`scheme`: npm sends Bearer tokens; pip, twine, Maven and NuGet answer a Basic challenge)
/// for a missing token.
pub(crate) fn error_headers(e: &EngineError, scheme: &'static str, resp: &mut Response) {
    if let EngineError::Upstream { source, .. } = e {
        if let UpstreamFailure::RateLimited { retry_after: Some(d) } = source.failure {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(d.as_secs().max(1)));
        }
    }
    if resp.status() == StatusCode::UNAUTHORIZED {
        let challenge = if scheme == "Basic" { "Basic realm=\"depot\"" } else { "Bearer realm=\"depot\"" };
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
}

fn quality<'a>(params: impl Iterator<Item = &'a str>) -> f32 {
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
        .and_then(|(_, v)| v.trim().parse::<f32>().ok())
        .map_or(1.0, |q| q.clamp(0.0, 1.0))
}

/// Picks which of `offers` (media types in the server's order of preference) to send for an
/// `Accept` header, by quality value; on equal quality the server's order decides. `None`
/// without a header means "anything" (the first offer); `None` returned means nothing offered
/// is acceptable (406).
pub(crate) fn negotiate(accept: Option<&str>, offers: &[&'static str]) -> Option<&'static str> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return offers.first().copied() };
    // Every request carries an Accept: read it in place, without copying or lower-casing it.
    let q_of = |offer: &str| -> f32 {
        let major = offer.split('/').next().unwrap_or("");
        let mut best: Option<(u8, f32)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            // More specific ranges win over wildcards for the same offer.
            let specificity = if range == "*/*" {
                0
            } else if let Some(m) = range.strip_suffix("/*") {
                if !m.eq_ignore_ascii_case(major) {
                    continue;
                }
                1
            } else if range.eq_ignore_ascii_case(offer) {
                2
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity >= s) {
                best = Some((specificity, quality(parts)));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let mut best: Option<(&'static str, f32)> = None;
    for &offer in offers {
        let q = q_of(offer);
        if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((offer, q));
        }
    }
    best.map(|(o, _)| o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/vnd.pypi.simple.v1+json";
    const HTML: &str = "application/vnd.pypi.simple.v1+html";
    const LEGACY: &str = "text/html";

    #[test]
    fn negotiation_by_quality_then_server_order() {
        let offers = [JSON, HTML, LEGACY];
        // pip's header.
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(negotiate(Some(pip), &offers), Some(JSON));
        assert_eq!(negotiate(Some("text/html"), &offers), Some(LEGACY));
        assert_eq!(negotiate(Some("text/*"), &offers), Some(LEGACY));
        assert_eq!(negotiate(Some("*/*"), &offers), Some(JSON));
        assert_eq!(negotiate(None, &offers), Some(JSON));
        assert_eq!(negotiate(Some("application/json"), &offers), None);
        assert_eq!(negotiate(Some("application/vnd.pypi.simple.v1+json;q=0, */*;q=0.5"), &offers), Some(HTML));
        assert_eq!(negotiate(Some("text/html;q=0.9, application/vnd.pypi.simple.v1+html"), &offers), Some(HTML));
    }

    #[test]
    fn gzip_with_quality() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, "gzip, deflate, br".parse().unwrap());
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "br, gzip;q=0".parse().unwrap());
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "identity".parse().unwrap());
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn head_keeps_the_get_length() {
        let doc = Rendered::new(b"<metadata>twenty-one</metadata>".to_vec());
        let head = without_body(send_rendered(&doc, "text/xml", &HeaderMap::new()));
        assert_eq!(head.headers()[header::CONTENT_LENGTH], doc.body.len().to_string());
        assert_eq!(http_body::Body::size_hint(head.body()).exact(), Some(0));
    }
}
