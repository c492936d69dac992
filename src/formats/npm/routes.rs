//! The npm registry protocol under `<endpoint>` = `/<domain>-<owner>/npm/<repo>/`.
//! Handlers decode, make one engine call, and encode.

use std::hash::{Hash, Hasher};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::body::{self as req_body, BodyError, PublishBody, TAG_BODY_LIMIT};
use super::errors::{npm_json, NpmError};
use super::names::{classify, NpmPath};
use super::tags::DistTag;
use super::wire::{self, PutBody};
use crate::engine::{EngineError, Rendered, RepoCtx};
use crate::formats::{authorize, public_base, Access, FormatState};
use crate::model::{AssetName, PackageFormat, PackageId, Version};

/// The npm routes.
pub fn routes(state: FormatState) -> Router {
    Router::new()
        .route("/{domain_owner}/npm/{repo}/", any(root))
        .route("/{domain_owner}/npm/{repo}/{*rest}", any(handle))
        .with_state(state)
}

async fn root() -> Response {
    npm_json(StatusCode::NOT_FOUND, "Not found")
}

type Result<T> = std::result::Result<T, NpmError>;

async fn handle(
    State(st): State<FormatState>,
    method: Method,
    Path((domain_owner, repo, rest)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut path = classify(&rest);
    // npm names its command in every request; some commands only read, so the path alone
    // cannot tell that CodeArtifact does not support them.
    if let Some((cmd, instead)) =
        headers.get("npm-command").and_then(|v| v.to_str().ok()).and_then(super::names::unsupported_command)
    {
        path = NpmPath::Unsupported(cmd, instead);
    }
    let access = if matches!(method, Method::GET | Method::HEAD) { Access::Read } else { Access::Write };
    if let NpmPath::Unsupported(cmd, instead) = path {
        return npm_json(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("npm {cmd} is not supported by this registry (CodeArtifact-compatible): {instead}"),
        );
    }
    // Judged from the headers alone, before authorization: nothing of such a body is read.
    if matches!(method, Method::GET | Method::HEAD | Method::DELETE) && req_body::announced(&headers) {
        return BodyError::Unexpected(method).into_response();
    }
    // Authorization needs only the headers; a body is read after it, by the route that takes one.
    let ctx = match authorize(&st.engine, &domain_owner, &repo, &headers, access, st.anonymous_reads) {
        Ok(c) => c,
        Err(e) => return NpmError(e).into_response(),
    };
    let head = method == Method::HEAD;
    let res = match (&method, path) {
        (&Method::GET | &Method::HEAD, NpmPath::Ping) => Ok(json_response(b"{}".to_vec())),
        (&Method::GET | &Method::HEAD, NpmPath::Package(p)) => packument(&st, &ctx, &p, &headers).await,
        (&Method::GET | &Method::HEAD, NpmPath::PackageVersion(p, v)) => version(&st, &ctx, &p, &v, &headers).await,
        (&Method::GET | &Method::HEAD, NpmPath::Tarball(p, file)) => tarball(&st, &ctx, &p, &file, &headers).await,
        (&Method::PUT, NpmPath::Package(p)) => {
            Ok(put_package(&st, &ctx, &p, &headers, body).await.unwrap_or_else(IntoResponse::into_response))
        }
        (&Method::GET | &Method::HEAD, NpmPath::DistTags(p)) => dist_tags(&st, &ctx, &p).await,
        (&Method::PUT | &Method::POST, NpmPath::DistTag(p, tag)) => {
            Ok(add_tag(&st, &ctx, &p, &tag, &headers, body).await.unwrap_or_else(IntoResponse::into_response))
        }
        (&Method::DELETE, NpmPath::DistTag(p, tag)) => remove_tag(&st, &ctx, &p, &tag).await,
        (_, NpmPath::Revision(_)) | (&Method::DELETE, NpmPath::Package(_) | NpmPath::Tarball(..)) => Ok(npm_json(
            StatusCode::METHOD_NOT_ALLOWED,
            "npm unpublish is not supported by this registry (CodeArtifact-compatible): use `aws codeartifact delete-package-versions`",
        )),
        _ => Ok(npm_json(StatusCode::NOT_FOUND, "Not found")),
    };
    let mut resp = res.unwrap_or_else(IntoResponse::into_response);
    if head {
        *resp.body_mut() = Body::empty();
    }
    resp
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("gzip"))
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"))
}

/// Sends a ready document: 304 on a matching ETag, gzip when accepted.
fn send_rendered(doc: &Rendered, content_type: &'static str, headers: &HeaderMap) -> Response {
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

fn endpoint(st: &FormatState, ctx: &RepoCtx, headers: &HeaderMap) -> String {
    st.engine.repository_endpoint(&public_base(&st.engine, headers), ctx, PackageFormat::Npm)
}

async fn packument(st: &FormatState, ctx: &RepoCtx, p: &PackageId, headers: &HeaderMap) -> Result<Response> {
    let abbreviated = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/vnd.npm.install-v1+json"));
    let inputs = st.engine.view_inputs(ctx, p).await?;
    let endpoint = endpoint(st, ctx, headers);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (inputs.stamp, &endpoint).hash(&mut h);
    let variant = if abbreviated { "npm-abbreviated" } else { "npm-full" };
    let engine = &st.engine;
    // Tarball URLs depend on the Host while public_url is empty: one cached copy per known Host.
    let slot = engine.host_slot(headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    let doc = engine.rendered_for_host(ctx, p, variant, slot, h.finish(), || {
        let view = engine.build_view(ctx, p, &inputs)?;
        Ok(wire::packument(&endpoint, &view, abbreviated))
    })?;
    let ct = if abbreviated { "application/vnd.npm.install-v1+json" } else { "application/json" };
    Ok(send_rendered(&doc, ct, headers))
}

async fn version(st: &FormatState, ctx: &RepoCtx, p: &PackageId, v: &str, headers: &HeaderMap) -> Result<Response> {
    let view = st.engine.package_view(ctx, p).await?;
    let wanted = view.tags.get(v).map(String::as_str).unwrap_or(v);
    let found = view.versions.iter().find(|x| x.version.as_str() == wanted).ok_or_else(|| {
        EngineError::not_found(
            crate::engine::ResourceType::PackageVersion,
            format!("{p}@{v}"),
            format!("version {v} of package {p} not found"),
        )
    })?;
    Ok(json_response(wire::version_document(&endpoint(st, ctx, headers), &view, found)))
}

async fn tarball(st: &FormatState, ctx: &RepoCtx, p: &PackageId, file: &str, headers: &HeaderMap) -> Result<Response> {
    let asset = AssetName::new(file).map_err(EngineError::from)?;
    let body = st.engine.fetch_asset(ctx, p, &asset).await?;
    let etag = format!("\"{}\"", body.sha256);
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let mut resp = Response::new(Body::from_stream(body.stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.size));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    Ok(resp)
}

async fn put_package(
    st: &FormatState,
    ctx: &RepoCtx,
    p: &PackageId,
    headers: &HeaderMap,
    body: Body,
) -> std::result::Result<Response, BodyError> {
    let max_package = st.engine.config().server.max_package_bytes;
    let PublishBody { skeleton, blob } = req_body::read_publish(&st.engine, headers, body, max_package).await?;
    match wire::parse_put(p, &skeleton, blob)? {
        PutBody::Publish(req) => {
            let v = req.version.clone();
            st.engine.publish(ctx, req).await?;
            Ok((
                StatusCode::CREATED,
                json_response(
                    serde_json::json!({"ok": true, "id": super::names::full_name(p), "version": v.as_str()})
                        .to_string()
                        .into_bytes(),
                ),
            )
                .into_response())
        }
        PutBody::Deprecate(changes) => {
            let n = st.engine.edit_versions(ctx, p, |v, m| {
                let Some(want) = changes.get(v) else { return false };
                let Some(obj) = m.as_object_mut() else { return false };
                let have = obj.get("deprecated").and_then(|d| d.as_str()).map(str::to_string);
                if &have == want {
                    return false;
                }
                match want {
                    Some(msg) => obj.insert("deprecated".into(), serde_json::Value::String(msg.clone())),
                    None => obj.remove("deprecated"),
                };
                true
            })?;
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %p, changed = n, "npm metadata update");
            Ok(json_response(br#"{"ok":true}"#.to_vec()))
        }
    }
}

async fn dist_tags(st: &FormatState, ctx: &RepoCtx, p: &PackageId) -> Result<Response> {
    let view = st.engine.package_view(ctx, p).await?;
    Ok(json_response(serde_json::to_vec(&view.tags).unwrap_or_default()))
}

async fn add_tag(
    st: &FormatState,
    ctx: &RepoCtx,
    p: &PackageId,
    tag: &str,
    headers: &HeaderMap,
    body: Body,
) -> std::result::Result<Response, BodyError> {
    let tag = DistTag::new(tag)?;
    let body = req_body::read_limited(headers, body, TAG_BODY_LIMIT, "dist-tag body").await?;
    let v: String = serde_json::from_slice(&body)
        .map_err(|_| EngineError::Validation("body must be a JSON string naming the version".into()))?;
    let v = Version::new(v).map_err(EngineError::from)?;
    st.engine.add_tag(ctx, p, tag.as_str(), &v).await?;
    dist_tags(st, ctx, p).await.or_else(|e| Ok(e.into_response()))
}

async fn remove_tag(st: &FormatState, ctx: &RepoCtx, p: &PackageId, tag: &str) -> Result<Response> {
    st.engine.remove_tag(ctx, p, tag)?;
    dist_tags(st, ctx, p).await
}
