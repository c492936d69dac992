//! The NuGet routes under `<endpoint>` = `/<domain>-<owner>/nuget/<repo>/`: `v3/index.json`
//! (the service index), `v3-flatcontainer/` (version lists, `.nupkg`, `.nuspec`),
//! `v3/registration[-gz[-semver2]]/` (index, pages, leaves), `v3/query` (search). Handlers
//! decode, make one engine call, and encode; generated documents are ready bytes with an ETag.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::json;

use super::errors::{text, NugetError};
use super::registration::{self, Hive};
use super::upstream::{nupkg_name, package_id, stored_version};
use crate::engine::{EngineError, Rendered, RepoCtx};
use crate::formats::http::{send_blob, send_rendered, send_view, serve_asset, without_body};
use crate::formats::{authorize, public_base, Access, FormatState};
use crate::model::{PackageFormat, PackageId};

type Result<T> = std::result::Result<T, EngineError>;

/// The NuGet routes.
pub fn routes(state: FormatState) -> Router {
    Router::new().route("/{domain_owner}/nuget/{repo}/{*rest}", any(handle)).with_state(state)
}

/// The registration hives: path segment and the document variant rendered for it.
const HIVES: [(&str, &str); 3] = [
    ("registration", "nuget-reg"),
    ("registration-gz", "nuget-reg-gz"),
    ("registration-gz-semver2", "nuget-reg-gz-semver2"),
];

async fn handle(
    State(st): State<FormatState>,
    Path((domain_owner, repo, rest)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: axum::extract::Request,
) -> Response {
    let (method, headers, body) = crate::formats::http::split(req);
    if super::push::is_publish_path(&rest) && !matches!(method, Method::GET | Method::HEAD) {
        return super::push::handle(&st, &method, &domain_owner, &repo, &rest, &headers, body).await;
    }
    if !matches!(method, Method::GET | Method::HEAD) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD are supported here");
    }
    let ctx = match authorize(&st.engine, &domain_owner, &repo, &headers, Access::Read, st.anonymous_reads) {
        Ok(c) => c,
        Err(e) => return NugetError(e).into_response(),
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let res = match segs.as_slice() {
        ["v3", "index.json"] => Ok(service_index(&st, &ctx, &headers)),
        ["v3", "query"] => super::search::query(&st, &ctx, query.as_deref(), &endpoint(&st, &ctx, &headers)).await,
        ["v3-flatcontainer", id, "index.json"] => flat_index(&st, &ctx, id, &headers).await,
        ["v3-flatcontainer", id, ver, file] => download(&st, &ctx, id, ver, file, &headers).await,
        ["v3", hive, id, rest @ ..] => match HIVES.iter().find(|(h, _)| h == hive) {
            Some((h, variant)) => registration(&st, &ctx, h, variant, id, rest, &headers).await,
            None => Ok(not_found(&rest.join("/"))),
        },
        _ => Ok(not_found(&rest)),
    };
    let resp = res.map_err(NugetError).unwrap_or_else(IntoResponse::into_response);
    if method == Method::HEAD {
        without_body(resp)
    } else {
        resp
    }
}

fn not_found(what: &str) -> Response {
    text(StatusCode::NOT_FOUND, &format!("no NuGet resource at {what}"))
}

pub(super) fn endpoint(st: &FormatState, ctx: &RepoCtx, headers: &HeaderMap) -> String {
    st.engine.repository_endpoint(&public_base(&st.engine, headers), ctx, PackageFormat::Nuget)
}

fn package(id: &str) -> Result<PackageId> {
    package_id(id).ok_or_else(|| EngineError::Validation(format!("{id:?} is not a NuGet package id")))
}

/// The service index: every resource under this repository's endpoint.
fn service_index(st: &FormatState, ctx: &RepoCtx, headers: &HeaderMap) -> Response {
    let e = endpoint(st, ctx, headers);
    let r = |id: String, t: &str| json!({ "@id": id, "@type": t });
    let mut resources = vec![r(format!("{e}v3-flatcontainer/"), "PackageBaseAddress/3.0.0")];
    for t in ["RegistrationsBaseUrl", "RegistrationsBaseUrl/3.0.0-rc", "RegistrationsBaseUrl/3.0.0-beta"] {
        resources.push(r(format!("{e}v3/registration/"), t));
    }
    resources.push(r(format!("{e}v3/registration-gz/"), "RegistrationsBaseUrl/3.4.0"));
    resources.push(r(format!("{e}v3/registration-gz-semver2/"), "RegistrationsBaseUrl/3.6.0"));
    for t in [
        "SearchQueryService",
        "SearchQueryService/3.0.0-rc",
        "SearchQueryService/3.0.0-beta",
        "SearchQueryService/3.5.0",
    ] {
        resources.push(r(format!("{e}v3/query"), t));
    }
    resources.push(r(format!("{e}v2/package"), "PackagePublish/2.0.0"));
    let doc = json!({ "version": "3.0.0", "resources": resources });
    let rendered = Rendered::new(serde_json::to_vec(&doc).unwrap_or_default());
    send_rendered(&rendered, "application/json", headers)
}

/// `<id>/index.json`: the listed versions, lower-case normal form, in NuGet order.
async fn flat_index(st: &FormatState, ctx: &RepoCtx, id: &str, headers: &HeaderMap) -> Result<Response> {
    let pkg = package(id)?;
    let engine = &st.engine;
    let inputs = engine.view_inputs(ctx, &pkg).await?;
    let doc = engine.rendered(ctx, &pkg, "nuget-flat", inputs.stamp, || {
        let view = engine.build_view(ctx, &pkg, &inputs)?;
        let versions: Vec<&str> = registration::ordered(&view).iter().map(|v| v.version.as_str()).collect();
        Ok(serde_json::to_vec(&json!({ "versions": versions })).unwrap_or_default())
    })?;
    Ok(send_view(doc, "application/json", headers, ctx, &inputs))
}

/// `<id>/<ver>/<id>.<ver>.nupkg` (ingested on first request) and `<id>/<ver>/<id>.nuspec`.
async fn download(
    st: &FormatState,
    ctx: &RepoCtx,
    id: &str,
    ver: &str,
    file: &str,
    headers: &HeaderMap,
) -> Result<Response> {
    let pkg = package(id)?;
    let v = stored_version(ver).ok_or_else(|| EngineError::Validation(format!("{ver:?} is not a NuGet version")))?;
    let asset = nupkg_name(&pkg, &v).ok_or_else(|| EngineError::Validation("bad file name".into()))?;
    let lower = file.to_ascii_lowercase();
    if lower == format!("{}.nuspec", pkg.name) {
        let body = st.engine.fetch_core_metadata(ctx, &pkg, &v, &asset).await?;
        return Ok(send_blob(body, "application/xml", headers));
    }
    if lower != format!("{}.{}.nupkg", pkg.name, ver.to_ascii_lowercase()) && lower != asset.as_str() {
        return Ok(not_found(file));
    }
    serve_asset(&st.engine, ctx, &pkg, Some(&v), &asset, "application/octet-stream", headers).await
}

/// Registration index, page and leaf documents of one hive.
async fn registration(
    st: &FormatState,
    ctx: &RepoCtx,
    hive_seg: &str,
    variant: &'static str,
    id: &str,
    rest: &[&str],
    headers: &HeaderMap,
) -> Result<Response> {
    let pkg = package(id)?;
    let engine = &st.engine;
    let e = || endpoint(st, ctx, headers);
    let urls = |e: &str| (format!("{e}v3/{hive_seg}/"), format!("{e}v3-flatcontainer/"));
    let inputs = engine.view_inputs(ctx, &pkg).await?;
    match rest {
        ["index.json"] => {
            // URLs depend on the Host while public_url is empty: one copy per known Host (a
            // slot stands for one base URL), so they are only built to render.
            let slot = engine.host_slot(headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()));
            let doc = engine.rendered_for_host(ctx, &pkg, variant, slot, inputs.stamp, || {
                let (reg, flat) = urls(&e());
                Ok(registration::index(&Hive { reg: &reg, flat: &flat }, &engine.build_view(ctx, &pkg, &inputs)?))
            })?;
            Ok(send_view(doc, "application/json", headers, ctx, &inputs))
        }
        ["page", lower, upper] => {
            let (reg, flat) = urls(&e());
            let hive = Hive { reg: &reg, flat: &flat };
            let view = engine.build_view(ctx, &pkg, &inputs)?;
            let upper = upper.strip_suffix(".json").unwrap_or(upper);
            Ok(match registration::page_document(&hive, &view, lower, upper) {
                Some(b) => send_rendered(&Rendered::new(b), "application/json", headers),
                None => not_found("that registration page"),
            })
        }
        [leaf] => {
            let (reg, flat) = urls(&e());
            let hive = Hive { reg: &reg, flat: &flat };
            let view = engine.build_view(ctx, &pkg, &inputs)?;
            let v = leaf.strip_suffix(".json").and_then(stored_version);
            Ok(match v.and_then(|v| registration::leaf_document(&hive, &view, v.as_str())) {
                Some(b) => send_rendered(&Rendered::new(b), "application/json", headers),
                None => not_found("that registration leaf"),
            })
        }
        _ => Ok(not_found("that registration document")),
    }
}
