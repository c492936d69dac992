//! The npm registry protocol under `<endpoint>` = `/<domain>-<owner>/npm/<repo>/`.
//! Handlers decode, make one engine call, and encode.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::body::{self as req_body, BodyError, PublishBody, TAG_BODY_LIMIT};
use super::errors::{npm_json, NpmError};
use super::names::{classify, NpmPath};
use super::tags::DistTag;
use super::wire::{self, PutBody};
use crate::engine::{EngineError, RepoCtx};
use crate::formats::http::{json_response, negotiate, send_view, serve_asset, without_body};
use crate::formats::{authorize, public_base, Access, FormatState};
use crate::model::{AssetName, PackageFormat, PackageId, Version};

/// The full packument's media type.
const FULL: &str = "application/json";
/// The abbreviated ("corgi") packument's media type.
const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

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
    Path((domain_owner, repo, rest)): Path<(String, String, String)>,
    req: axum::extract::Request,
) -> Response {
    let (method, headers, body) = crate::formats::http::split(req);
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
    let resp = res.unwrap_or_else(IntoResponse::into_response);
    if head {
        without_body(resp)
    } else {
        resp
    }
}

fn endpoint(st: &FormatState, ctx: &RepoCtx, headers: &HeaderMap) -> String {
    st.engine.repository_endpoint(&public_base(&st.engine, headers), ctx, PackageFormat::Npm)
}

async fn packument(st: &FormatState, ctx: &RepoCtx, p: &PackageId, headers: &HeaderMap) -> Result<Response> {
    // The full document unless the client prefers the abbreviated one; an Accept naming
    // neither still gets the full document, as registries answer.
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let abbreviated = negotiate(accept, &[FULL, ABBREVIATED]) == Some(ABBREVIATED);
    let inputs = st.engine.view_inputs(ctx, p).await?;
    let variant = if abbreviated { "npm-abbreviated" } else { "npm-full" };
    let engine = &st.engine;
    // Tarball URLs depend on the Host while public_url is empty: one cached copy per known
    // Host (a slot stands for one base URL), so the URL is only built to render.
    let slot = engine.host_slot(headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    let doc = engine.rendered_for_host(ctx, p, variant, slot, inputs.stamp, || {
        let view = engine.build_view(ctx, p, &inputs)?;
        Ok(wire::packument(&endpoint(st, ctx, headers), &view, abbreviated))
    })?;
    let ct = if abbreviated { ABBREVIATED } else { FULL };
    Ok(send_view(doc, ct, headers, ctx, &inputs))
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
    Ok(serve_asset(&st.engine, ctx, p, None, &asset, "application/octet-stream", headers).await?)
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
