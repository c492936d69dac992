//! The read-only package operations: DescribePackage, DescribePackageVersion,
//! ListPackageVersionAssets, GetPackageVersionAsset, ListPackageVersionDependencies and
//! GetPackageVersionReadme. They read the named repository only (upstreams are ignored), and
//! the per-format fields come from the format through `engine::Format`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::params::{self, Params};
use super::{ApiError, ApiResult, ApiState};
use crate::engine::error::ResourceType;
use crate::engine::{EngineError, Format, RepoCtx};
use crate::model::{Origin, PackageFormat, PackageId, PackageVersionRecord, Version};

/// The repository, package and (when the operation names one) version of a request, with
/// the format that serves them.
pub(super) struct Target {
    pub(super) ctx: RepoCtx,
    pub(super) pkg: PackageId,
    format: Arc<dyn Format>,
}

pub(super) fn target(st: &ApiState, p: &Params) -> Result<Target, EngineError> {
    let ctx = st.engine.repo_ctx(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    let f = p.req("format")?;
    let f = PackageFormat::parse(f).ok_or_else(|| EngineError::Validation(format!("format: unknown format {f}")))?;
    let pkg = st.engine.api_package(f, p.opt("namespace"), p.req("package")?)?;
    // A format Depot does not serve (yet) has no stored packages.
    let format = st.engine.format(f).cloned().ok_or_else(|| {
        EngineError::not_found(
            ResourceType::Package,
            pkg.to_string(),
            format!("package {pkg} not found in repository {}", ctx.repo.name),
        )
    })?;
    Ok(Target { ctx, pkg, format })
}

fn version(st: &ApiState, t: &Target, p: &Params) -> Result<Version, EngineError> {
    st.engine.api_version(t.pkg.format, p.req("version")?)
}

/// `format`, `namespace`, `package`, `version`, `versionRevision`: the head every version
/// operation's answer starts with.
fn version_head(pkg: &PackageId, rec: &PackageVersionRecord) -> Value {
    let mut out = json!({
        "format": pkg.format.as_str(), "package": pkg.name, "version": rec.version, "versionRevision": rec.revision,
    });
    if let Some(ns) = &pkg.namespace {
        out["namespace"] = json!(ns);
    }
    out
}

/// CodeArtifact's `origin`: where the version entered the domain.
pub(super) fn origin(o: &Origin) -> Value {
    let (entry, kind) = match o {
        Origin::Internal { repository } => (json!({ "repositoryName": repository }), "INTERNAL"),
        Origin::External { connection } => (json!({ "externalConnectionName": connection }), "EXTERNAL"),
    };
    json!({ "domainEntryPoint": entry, "originType": kind })
}

/// An RFC 3339 time as the epoch seconds the CLI expects of a `Timestamp`.
fn epoch_seconds(rfc3339: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

pub(crate) async fn describe_package(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let rec = st.engine.describe_package(&t.ctx, &t.pkg)?;
    let mut pkg = json!({
        "format": t.pkg.format.as_str(), "name": t.pkg.name,
        "originConfiguration": super::package_origin::origin_configuration(&rec.restrictions()),
    });
    if let Some(ns) = &t.pkg.namespace {
        pkg["namespace"] = json!(ns);
    }
    Ok(Json(json!({ "package": pkg })))
}

pub(crate) async fn describe_package_version(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let v = version(&st, &t, &p)?;
    let rec = st.engine.stored_version(&t.ctx, &t.pkg, &v)?;
    let d = t.format.version_details(&st.engine.effective_metadata(&t.ctx, &t.pkg, &rec)?);
    let licenses: Vec<Value> = d
        .licenses
        .iter()
        .map(|l| {
            let mut v = json!({ "name": l.name });
            if let Some(u) = &l.url {
                v["url"] = json!(u);
            }
            v
        })
        .collect();
    let mut out = json!({
        "format": t.pkg.format.as_str(), "packageName": t.pkg.name,
        "displayName": d.display_name.unwrap_or_else(|| t.pkg.name.to_string()),
        "version": rec.version, "licenses": licenses, "revision": rec.revision, "status": rec.status.as_str(),
        "origin": origin(&rec.origin),
    });
    for (k, val) in [("namespace", t.pkg.namespace.as_ref().map(|n| n.to_string())), ("summary", d.summary)]
        .into_iter()
        .chain([("homePage", d.home_page), ("sourceCodeRepository", d.source_code_repository)])
    {
        if let Some(val) = val {
            out[k] = json!(val);
        }
    }
    if let Some(s) = epoch_seconds(&rec.published_time) {
        out["publishedTime"] = json!(s);
    }
    Ok(Json(json!({ "packageVersion": out })))
}

pub(crate) async fn list_package_version_assets(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let v = version(&st, &t, &p)?;
    let limit = p.max_results(100, 1000)?;
    let rec = st.engine.stored_version(&t.ctx, &t.pkg, &v)?;
    // The token is the last stored asset name returned; names are unique within a version.
    let start = match params::decode_token(p.opt("next-token"))? {
        Some(last) => rec
            .assets
            .iter()
            .position(|a| a.name.as_str().as_bytes() == last.as_slice())
            .map(|i| i + 1)
            .ok_or_else(|| EngineError::Validation("nextToken: invalid pagination token".into()))?,
        None => 0,
    };
    let page: Vec<_> = rec.assets.iter().skip(start).take(limit).collect();
    let assets: Vec<Value> = page
        .iter()
        .map(|a| {
            let mut hashes = json!({ "SHA-256": a.sha256.hex() });
            for (ours, theirs) in [("md5", "MD5"), ("sha1", "SHA-1"), ("sha512", "SHA-512")] {
                if let Some(h) = a.hashes.get(ours) {
                    hashes[theirs] = json!(h);
                }
            }
            json!({ "name": t.format.api_asset_name(&a.name), "size": a.size, "hashes": hashes })
        })
        .collect();
    let mut out = version_head(&t.pkg, &rec);
    out["assets"] = json!(assets);
    if start + page.len() < rec.assets.len() {
        if let Some(last) = page.last() {
            out["nextToken"] = json!(params::encode_token(last.name.as_str().as_bytes()));
        }
    }
    Ok(Json(out))
}

/// Streams the bytes; the CLI writes them to its outfile and prints the three headers.
pub(crate) async fn get_package_version_asset(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let v = version(&st, &t, &p)?;
    let name = p.req("asset")?;
    let found = st.engine.open_stored_asset(&t.ctx, &t.pkg, &v, name, p.opt("revision")).await?;
    let api_name = t.format.api_asset_name(&found.asset.name);
    let mut resp = Response::new(Body::from_stream(found.body.bytes.into_stream()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(found.body.size));
    // Names, versions and revisions are validated identifiers; a value a header cannot carry
    // is left out rather than failing the download.
    for (k, val) in [
        ("X-AssetName", api_name.as_str()),
        ("X-PackageVersion", found.version.version.as_str()),
        ("X-PackageVersionRevision", found.version.revision.as_str()),
    ] {
        if let Ok(val) = HeaderValue::from_str(val) {
            h.insert(k, val);
        }
    }
    Ok(resp.into_response())
}

pub(crate) async fn list_package_version_dependencies(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let v = version(&st, &t, &p)?;
    // All dependencies fit one page (a manifest is bounded), so no token is ever issued.
    params::decode_token(p.opt("next-token"))?;
    let rec = st.engine.stored_version(&t.ctx, &t.pkg, &v)?;
    let deps: Vec<Value> = t
        .format
        .dependencies(&st.engine.effective_metadata(&t.ctx, &t.pkg, &rec)?)
        .into_iter()
        .map(|d| {
            let mut v = json!({ "package": d.package });
            for (k, val) in [
                ("namespace", d.namespace),
                ("dependencyType", d.dependency_type),
                ("versionRequirement", d.version_requirement),
            ] {
                if let Some(val) = val {
                    v[k] = json!(val);
                }
            }
            v
        })
        .collect();
    let mut out = version_head(&t.pkg, &rec);
    out["dependencies"] = json!(deps);
    Ok(Json(out))
}

pub(crate) async fn get_package_version_readme(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let v = version(&st, &t, &p)?;
    let rec = st.engine.stored_version(&t.ctx, &t.pkg, &v)?;
    let mut out = version_head(&t.pkg, &rec);
    // `readme` is optional in the result: a version without one still exists.
    if let Some(r) = t.format.readme(&rec.metadata) {
        out["readme"] = json!(r);
    }
    Ok(Json(out))
}
