//! The PyPI routes under `<endpoint>` = `/<domain>-<owner>/pypi/<repo>/`. Handlers decode,
//! make one engine call, and encode.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::errors::{text, PypiError};
use super::{names, simple};
use crate::engine::{EngineError, RepoCtx};
use crate::formats::http::{negotiate, send_blob, send_view, serve_asset, without_body};
use crate::formats::{authorize, public_base, Access, FormatState};
use crate::model::{AssetName, PackageFormat, PackageId};

/// The PyPI routes.
pub fn routes(state: FormatState) -> Router {
    Router::new()
        .route("/{domain_owner}/pypi/{repo}/", any(root))
        .route("/{domain_owner}/pypi/{repo}", any(root))
        .route("/{domain_owner}/pypi/{repo}/{*rest}", any(handle))
        .with_state(state)
}

type Result<T> = std::result::Result<T, PypiError>;

/// What a path under the endpoint asks for.
enum PypiPath<'a> {
    /// `simple` or `simple/<project>` without the trailing slash, or a project name that is
    /// not normalised: answered with a redirect to this path (relative to the endpoint).
    Redirect(String),
    /// `simple/`
    Index,
    /// `simple/<project>/`
    Project(PackageId),
    /// `simple/<project>/<version>/<file>`
    File(PackageId, &'a str, &'a str),
    /// `pypi/<project>/json` and the like.
    JsonApi,
    /// Anything else.
    Unknown,
}

fn classify(rest: &str) -> PypiPath<'_> {
    let segs: Vec<&str> = rest.split('/').collect();
    match segs.as_slice() {
        ["simple"] => PypiPath::Redirect("simple/".into()),
        ["simple", ""] => PypiPath::Index,
        ["simple", name] | ["simple", name, ""] => match names::package_id(name) {
            Some(p) if rest.ends_with('/') && p.name.as_str() == *name => PypiPath::Project(p),
            Some(p) => PypiPath::Redirect(format!("simple/{}/", p.name)),
            None => PypiPath::Unknown,
        },
        ["simple", name, version, file] if !file.is_empty() => match names::package_id(name) {
            Some(p) => PypiPath::File(p, version, file),
            None => PypiPath::Unknown,
        },
        ["pypi", .., "json"] => PypiPath::JsonApi,
        _ => PypiPath::Unknown,
    }
}

/// `POST <endpoint>`: twine's uploads, and pip search's XML-RPC.
async fn root(
    State(st): State<FormatState>,
    Path((domain_owner, repo)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Response {
    let (method, headers, body) = crate::formats::http::split(req);
    let xml = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("xml"));
    if method == Method::POST && xml {
        return xmlrpc_fault();
    }
    if method != Method::POST {
        return text(StatusCode::NOT_FOUND, "Not found: the package index is at simple/");
    }
    // Authorized from the headers alone: nothing of the body is read for a caller without a token.
    let ctx = match authorize(&st.engine, &domain_owner, &repo, &headers, Access::Write, st.anonymous_reads) {
        Ok(c) => c,
        Err(e) => return PypiError(e).into_response(),
    };
    match super::upload::upload(&st.engine, &ctx, &headers, body).await {
        Ok(r) => r,
        Err(e) => PypiError(e).into_response(),
    }
}

/// `pip search` speaks XML-RPC; CodeArtifact has no search, and pip prints a fault's text.
fn xmlrpc_fault() -> Response {
    let msg = "search is not supported by this repository (CodeArtifact-compatible): use `aws codeartifact list-packages --format pypi`";
    let body = format!(
        "<?xml version='1.0'?>\n<methodResponse><fault><value><struct>\
         <member><name>faultCode</name><value><int>-32500</int></value></member>\
         <member><name>faultString</name><value><string>{msg}</string></value></member>\
         </struct></value></fault></methodResponse>\n"
    );
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

async fn handle(
    State(st): State<FormatState>,
    Path((domain_owner, repo, rest)): Path<(String, String, String)>,
    req: axum::extract::Request,
) -> Response {
    let (method, headers, _body) = crate::formats::http::split(req);
    if !matches!(method, Method::GET | Method::HEAD) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let path = classify(&rest);
    let ctx = match authorize(&st.engine, &domain_owner, &repo, &headers, Access::Read, st.anonymous_reads) {
        Ok(c) => c,
        Err(e) => return PypiError(e).into_response(),
    };
    let res = match path {
        PypiPath::Redirect(to) => Ok(redirect(&format!("{}{to}", endpoint(&st, &ctx, &headers)))),
        PypiPath::Index => index(&st, &ctx, &headers),
        PypiPath::Project(p) => project(&st, &ctx, &p, &headers).await,
        PypiPath::File(p, v, f) => file(&st, &ctx, &p, v, f, &headers).await,
        PypiPath::JsonApi => Ok(text(
            StatusCode::NOT_FOUND,
            "the JSON API is not supported by this repository (CodeArtifact-compatible): use the simple API at simple/",
        )),
        PypiPath::Unknown => Ok(text(StatusCode::NOT_FOUND, "Not found")),
    };
    let resp = res.unwrap_or_else(IntoResponse::into_response);
    if method == Method::HEAD {
        without_body(resp)
    } else {
        resp
    }
}

fn redirect(location: &str) -> Response {
    let mut resp = text(StatusCode::MOVED_PERMANENTLY, &format!("see {location}"));
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn endpoint(st: &FormatState, ctx: &RepoCtx, headers: &HeaderMap) -> String {
    st.engine.repository_endpoint(&public_base(&st.engine, headers), ctx, PackageFormat::Pypi)
}

/// The media type to answer with: PEP 691 by `Accept`; a client that states no preference
/// gets PEP 503 HTML, which every client understands.
fn media_type(headers: &HeaderMap) -> Option<&'static str> {
    match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        None => Some(simple::LEGACY_HTML),
        accept => negotiate(accept, &simple::OFFERS),
    }
}

fn not_acceptable() -> Response {
    text(
        StatusCode::NOT_ACCEPTABLE,
        "this index serves application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html and text/html",
    )
}

fn index(st: &FormatState, ctx: &RepoCtx, headers: &HeaderMap) -> Result<Response> {
    let Some(ct) = media_type(headers) else { return Ok(not_acceptable()) };
    let (pkgs, _) = st.engine.list_packages(ctx, Some(PackageFormat::Pypi), None, 100_000)?;
    let names: Vec<String> = pkgs.into_iter().map(|p| p.name.to_string()).collect();
    let body = if ct == simple::JSON { simple::index_json(&names) } else { simple::index_html(&names) };
    Ok(([(header::CONTENT_TYPE, ct)], body).into_response())
}

async fn project(st: &FormatState, ctx: &RepoCtx, p: &PackageId, headers: &HeaderMap) -> Result<Response> {
    let Some(ct) = media_type(headers) else { return Ok(not_acceptable()) };
    let json = ct == simple::JSON;
    let inputs = st.engine.view_inputs(ctx, p).await?;
    let engine = &st.engine;
    // File URLs depend on the Host while public_url is empty: one cached copy per known Host
    // (a slot stands for one base URL), so the URL is only built to render.
    let slot = engine.host_slot(headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    let variant = if json { "pypi-json" } else { "pypi-html" };
    let doc = engine.rendered_for_host(ctx, p, variant, slot, inputs.stamp, || {
        let view = engine.build_view(ctx, p, &inputs)?;
        let endpoint = endpoint(st, ctx, headers);
        Ok(if json { simple::project_json(&endpoint, &view) } else { simple::project_html(&endpoint, &view) })
    })?;
    Ok(send_view(doc, ct, headers, ctx, &inputs))
}

async fn file(
    st: &FormatState,
    ctx: &RepoCtx,
    p: &PackageId,
    version: &str,
    filename: &str,
    headers: &HeaderMap,
) -> Result<Response> {
    let bad =
        || EngineError::not_found(crate::engine::ResourceType::Asset, filename, format!("file {filename} not found"));
    let v = names::version(version).ok_or_else(bad)?;
    // PEP 658: `<file>.metadata` is the file's core metadata.
    let (dist_name, metadata) = match filename.strip_suffix(".metadata") {
        Some(d) => (d, true),
        None => (filename, false),
    };
    let asset = AssetName::new(dist_name).map_err(|_| bad())?;
    if !names::is_distribution(dist_name) || names::version_of_file(p.name.as_str(), dist_name).is_none() {
        return Err(bad().into());
    }
    if metadata {
        let body = st.engine.fetch_core_metadata(ctx, p, &v, &asset).await?;
        return Ok(send_blob(body, "text/plain; charset=utf-8", headers));
    }
    Ok(serve_asset(&st.engine, ctx, p, Some(&v), &asset, "application/octet-stream", headers).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(matches!(classify("simple"), PypiPath::Redirect(t) if t == "simple/"));
        assert!(matches!(classify("simple/"), PypiPath::Index));
        assert!(matches!(classify("simple/requests"), PypiPath::Redirect(t) if t == "simple/requests/"));
        assert!(
            matches!(classify("simple/Charset_Normalizer/"), PypiPath::Redirect(t) if t == "simple/charset-normalizer/")
        );
        assert!(matches!(classify("simple/requests/"), PypiPath::Project(p) if p.name.as_str() == "requests"));
        assert!(matches!(classify("simple/requests/2.34.2/requests-2.34.2.tar.gz"), PypiPath::File(_, "2.34.2", _)));
        assert!(matches!(classify("pypi/requests/json"), PypiPath::JsonApi));
        assert!(matches!(classify("simple/../etc/"), PypiPath::Unknown));
        assert!(matches!(classify("other"), PypiPath::Unknown));
    }
}
