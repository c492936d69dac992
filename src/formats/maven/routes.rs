//! The Maven routes under `<endpoint>` = `/<domain>-<owner>/maven/<repo>/`: files and their
//! checksum side files, and the artifact-level `maven-metadata.xml` merged across the
//! repository's search order. Handlers decode, make one engine call, and encode.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use sha2::Digest;
use time::format_description::well_known::Rfc3339;

use super::coords::{self, MavenPath};
use super::errors::{text, MavenError};
use super::{snapshot_serve, version, xml};
use crate::formats::http::{send_view, serve_asset, without_body};
use crate::formats::{authorize, Access, FormatState};
use crate::model::{Asset, PackageId};

/// The Maven routes.
pub fn routes(state: FormatState) -> Router {
    Router::new().route("/{domain_owner}/maven/{repo}/{*rest}", any(handle)).with_state(state)
}

/// `<lastUpdated>`'s form, `yyyyMMddHHmmss` in UTC.
pub(super) const LAST_UPDATED: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day][hour][minute][second]");

async fn handle(
    State(st): State<FormatState>,
    Path((domain_owner, repo, rest)): Path<(String, String, String)>,
    req: axum::extract::Request,
) -> Response {
    let (method, headers, body) = crate::formats::http::split(req);
    if !matches!(method, Method::GET | Method::HEAD | Method::PUT) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET, HEAD and PUT are supported on this repository");
    }
    let access = if method == Method::PUT { Access::Write } else { Access::Read };
    // Authorized from the headers alone: a refused deploy never reads its body.
    let ctx = match authorize(&st.engine, &domain_owner, &repo, &headers, access, st.anonymous_reads) {
        Ok(c) => c,
        Err(e) => return MavenError(e).into_response(),
    };
    let path = match coords::parse(&rest) {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("bad Maven path {rest:?}: {e}")),
    };
    if method == Method::PUT {
        return super::deploy::put(&st.engine, &ctx, path, body).await;
    }
    let res = match path {
        MavenPath::File { pkg, version, asset, checksum } if snapshot_serve::is_snapshot_file(&version) => {
            snapshot_serve::file(&st.engine, &ctx, &pkg, &version, &asset, checksum, &headers).await
        }
        MavenPath::SnapshotMetadata { pkg, version, checksum } => {
            snapshot_serve::metadata(&st.engine, &ctx, &pkg, &version, checksum, &headers).await
        }
        MavenPath::File { pkg, version, asset, checksum: None } => {
            serve_asset(&st.engine, &ctx, &pkg, Some(&version), &asset, content_type(asset.as_str()), &headers).await
        }
        MavenPath::File { pkg, version, asset, checksum: Some(kind) } => {
            st.engine.locate_asset(&ctx, &pkg, &version, &asset).await.map(|a| checksum_of_asset(&a, kind))
        }
        MavenPath::Metadata { pkg, checksum } => metadata(&st, &ctx, &pkg, checksum, &headers).await,
    };
    let resp = res.map_err(MavenError).unwrap_or_else(IntoResponse::into_response);
    if method == Method::HEAD {
        without_body(resp)
    } else {
        resp
    }
}

pub(super) fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("pom" | "xml") => "text/xml",
        Some("jar" | "war" | "ear" | "aar") => "application/java-archive",
        Some("module" | "json") => "application/json",
        _ => "application/octet-stream",
    }
}

pub(super) fn checksum_response(hex: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], hex.to_string()).into_response()
}

/// A side file from the stored digests: never fetched upstream once the file is stored.
pub(super) fn checksum_of_asset(a: &Asset, kind: &str) -> Response {
    let hex = if kind == "sha256" { Some(a.sha256.hex()) } else { a.hashes.get(kind).cloned() };
    match hex {
        Some(h) => checksum_response(&h),
        None => text(StatusCode::NOT_FOUND, &format!("no {kind} recorded for {}", a.name)),
    }
}

pub(super) fn digest_hex(kind: &str, body: &[u8]) -> String {
    match kind {
        "md5" => hex::encode(md5::Md5::digest(body)),
        "sha1" => hex::encode(sha1::Sha1::digest(body)),
        "sha256" => hex::encode(sha2::Sha256::digest(body)),
        _ => hex::encode(sha2::Sha512::digest(body)),
    }
}

/// `maven-metadata.xml` for the package as this repository sees it: listed versions from
/// every repository of the search order and the external connection's cached metadata, with
/// `<latest>`, `<release>` and `<lastUpdated>` recomputed. Rendered once per view stamp.
async fn metadata(
    st: &FormatState,
    ctx: &crate::engine::RepoCtx,
    pkg: &PackageId,
    checksum: Option<&'static str>,
    headers: &HeaderMap,
) -> std::result::Result<Response, crate::engine::EngineError> {
    let engine = &st.engine;
    let inputs = engine.view_inputs(ctx, pkg).await?;
    let doc = engine.rendered(ctx, pkg, "maven-metadata", inputs.stamp, || {
        let view = engine.build_view(ctx, pkg, &inputs);
        // Group-level plugin-prefix metadata (`<group>/maven-metadata.xml` with `<plugins>`)
        // is passed through as the connection serves it, unless some repository or connection
        // has versions under the same path read as an artifact (maven.md §7).
        if !view.as_ref().is_ok_and(|v| !v.versions.is_empty()) {
            let docs = engine.upstream_documents(pkg, &inputs)?;
            if let Some(group) = docs.iter().find(|d| xml::is_group_metadata(d)) {
                return Ok(group.to_vec());
            }
        }
        let view = view?;
        let mut versions: Vec<String> = view.versions.iter().map(|v| v.version.as_str().to_string()).collect();
        versions.sort_by(|a, b| version::compare(a, b));
        versions.dedup();
        let latest = versions.last().map(String::as_str);
        let release = versions.iter().rev().find(|v| version::is_release(v)).map(String::as_str);
        let last_updated = view
            .versions
            .iter()
            .filter_map(|v| v.published_time.as_deref())
            .filter_map(|t| time::OffsetDateTime::parse(t, &Rfc3339).ok())
            .max()
            .unwrap_or_else(time::OffsetDateTime::now_utc)
            .to_offset(time::UtcOffset::UTC);
        let last_updated = last_updated.format(LAST_UPDATED).unwrap_or_default();
        let group = pkg.namespace.as_ref().map(|n| n.as_str()).unwrap_or("");
        Ok(xml::render_metadata(group, pkg.name.as_str(), &versions, latest, release, &last_updated))
    })?;
    Ok(match checksum {
        Some(kind) => checksum_response(&digest_hex(kind, &doc.body)),
        None => send_view(doc, "text/xml", headers, ctx, &inputs),
    })
}
