//! Request bodies of the npm routes. A body is read only after the request was authorized
//! and its route is known, each route has its own limit, and methods that take no body refuse
//! one without reading it: an anonymous client can make Depot read nothing but headers.
//!
//! A publish body is streamed: its attachment is decoded straight into a staged blob (see
//! `scan`), so memory stays at one read buffer plus the small skeleton whatever the package
//! size.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::errors::{npm_json, NpmError};
use super::scan::{PublishScanner, ScanError};
use crate::engine::{Engine, EngineError, StagedBlob, Upload};

/// Decoded attachment bytes gathered before each write to the staged blob.
const WRITE_BATCH: usize = 1024 * 1024;

/// A dist-tag body is one JSON string naming a version.
pub(crate) const TAG_BODY_LIMIT: u64 = 64 * 1024;

/// Everything in a publish body but the attachment's data: the manifest, readme, tags.
pub(crate) const PUBLISH_METADATA_LIMIT: u64 = 8 * 1024 * 1024;

/// The largest publish body for packages up to `max_package` bytes: base64 takes 4 characters
/// per 3 bytes, plus the metadata.
pub(crate) fn publish_body_limit(max_package: u64) -> u64 {
    max_package.div_ceil(3).saturating_mul(4).saturating_add(PUBLISH_METADATA_LIMIT)
}

/// Why a body was refused or could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// A body on a method that takes none.
    #[error("{0} requests take no body")]
    Unexpected(axum::http::Method),
    /// Over the route's limit (announced or counted while reading).
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The client's body stream failed (it went away, or sent a malformed chunk).
    #[error("reading the request body failed: {0}")]
    Read(axum::Error),
    /// A publish body the scanner refused.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// Everything the engine decides (validation, 409s, storage).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Engine(e) => return NpmError(e).into_response(),
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unexpected(_) | Self::Read(_) | Self::Scan(_) => StatusCode::BAD_REQUEST,
        };
        npm_json(status, &self.to_string())
    }
}

/// Whether the request announces a body (a positive length, or a chunked one of unknown length).
pub(crate) fn announced(headers: &HeaderMap) -> bool {
    declared_len(headers).is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Refuses at once when `Content-Length` already says the body is too large.
fn check_declared(headers: &HeaderMap, limit: u64, what: &'static str) -> Result<(), BodyError> {
    match declared_len(headers) {
        Some(n) if n > limit => Err(BodyError::TooLarge { what, limit }),
        _ => Ok(()),
    }
}

/// Reads a small body whole, refusing it past `limit` bytes.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    what: &'static str,
) -> Result<Bytes, BodyError> {
    check_declared(headers, limit, what)?;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Read)?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge { what, limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.into())
}

/// A publish body, read: the skeleton document and the staged attachment, if it had one.
pub(crate) struct PublishBody {
    /// The document with the attachment's data emptied.
    pub skeleton: Vec<u8>,
    /// The decoded attachment; dropping it deletes it.
    pub blob: Option<StagedBlob>,
}

/// Streams a `PUT <pkg>` body: metadata into the skeleton, the attachment into a staged blob.
pub(crate) async fn read_publish(
    engine: &Engine,
    headers: &HeaderMap,
    body: Body,
    max_package: u64,
) -> Result<PublishBody, BodyError> {
    let limit = publish_body_limit(max_package);
    check_declared(headers, limit, "publish body")?;
    let mut stream = body.into_data_stream();
    let mut scanner = PublishScanner::new();
    let mut upload: Option<Upload> = None;
    let mut decoded = Vec::new();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Read)?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(BodyError::TooLarge { what: "publish body", limit });
        }
        scanner.feed(&chunk, &mut decoded)?;
        if scanner.skeleton_len() as u64 > PUBLISH_METADATA_LIMIT {
            return Err(BodyError::TooLarge {
                what: "publish metadata (the body without its attachment)",
                limit: PUBLISH_METADATA_LIMIT,
            });
        }
        if scanner.data_started() && upload.is_none() {
            upload = Some(engine.begin_upload().await?);
        }
        if let Some(up) = upload.as_mut() {
            if up.written() + decoded.len() as u64 > max_package {
                return Err(BodyError::TooLarge { what: "package file", limit: max_package });
            }
            // Each write is a trip to the blocking pool: batch the small chunks the body
            // arrives in.
            if decoded.len() >= WRITE_BATCH {
                up.write(&decoded).await?;
                decoded.clear();
            }
        }
    }
    let skeleton = scanner.finish()?;
    let blob = match upload {
        Some(mut up) => {
            up.write(&decoded).await?;
            Some(up.finish().await?)
        }
        None => None,
    };
    Ok(PublishBody { skeleton, blob })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(publish_body_limit(3), 4 + PUBLISH_METADATA_LIMIT);
        assert_eq!(publish_body_limit(4), 8 + PUBLISH_METADATA_LIMIT);
        assert_eq!(publish_body_limit(u64::MAX), u64::MAX);
        let mut h = HeaderMap::new();
        assert!(!announced(&h));
        h.insert(header::CONTENT_LENGTH, "0".parse().unwrap());
        assert!(!announced(&h));
        h.insert(header::CONTENT_LENGTH, "10".parse().unwrap());
        assert!(announced(&h));
        assert!(matches!(check_declared(&h, 9, "x"), Err(BodyError::TooLarge { limit: 9, .. })));
        let mut h = HeaderMap::new();
        h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        assert!(announced(&h));
    }
}
