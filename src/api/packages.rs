//! ListPackages and ListPackageVersions: parameters decoded and checked here, filtering,
//! order and pages in `engine/listing.rs`.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use super::params::{self, Params};
use super::{ApiResult, ApiState};
use crate::engine::{EngineError, OriginType, PackageListing, VersionListing, VersionOrder};
use crate::model::{
    Namespace, OriginRestriction, PackageFormat, PackageId, PackageName, PackageRecord, PackageVersionStatus,
};

fn format_param(p: &Params, required: bool) -> Result<Option<PackageFormat>, EngineError> {
    match p.opt("format") {
        None if required => Err(EngineError::Validation("format: required parameter is missing".into())),
        None => Ok(None),
        Some(f) => PackageFormat::parse(f)
            .map(Some)
            .ok_or_else(|| EngineError::Validation(format!("format: unknown format {f}"))),
    }
}

pub(crate) async fn list_packages(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let ctx = st.engine.repo_ctx(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    let format = format_param(&p, false)?;
    // Both are prefixes, but must still be text a name could start with (no NUL, '/', …).
    let namespace = p.opt("namespace").map(Namespace::new).transpose()?;
    if namespace.is_some() && format.is_none() {
        return Err(EngineError::Validation("namespace: a namespace filter needs a format".into()).into());
    }
    let prefix = p.opt("package-prefix").map(PackageName::new).transpose()?;
    let [publish, upstream] = ["publish", "upstream"].map(|k| {
        p.opt(k)
            .map(|v| {
                OriginRestriction::parse(v)
                    .ok_or_else(|| EngineError::Validation(format!("{k}: must be ALLOW or BLOCK")))
            })
            .transpose()
    });
    let (publish, upstream) = (publish?, upstream?);
    let q = PackageListing {
        format,
        namespace: namespace.map(String::from),
        name_prefix: prefix.map(String::from),
        limit: p.max_results(100, 1000)?,
        cursor: params::decode_token(p.opt("next-token"))?,
    };
    let keep = |_: &PackageId, rec: &PackageRecord| {
        let r = rec.restrictions();
        publish.is_none_or(|x| x == r.publish) && upstream.is_none_or(|x| x == r.upstream)
    };
    let page = st.engine.list_packages_page(&ctx, &q, &keep)?;
    let packages: Vec<Value> = page
        .packages
        .iter()
        .map(|(id, rec)| {
            let mut v = json!({
                "format": id.format.as_str(), "package": id.name,
                "originConfiguration": super::package_origin::origin_configuration(&rec.restrictions()),
            });
            if let Some(ns) = &id.namespace {
                v["namespace"] = json!(ns);
            }
            v
        })
        .collect();
    let mut out = json!({ "packages": packages });
    if let Some(n) = page.next {
        out["nextToken"] = json!(params::encode_token(&n));
    }
    Ok(Json(out))
}

pub(crate) async fn list_package_versions(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let ctx = st.engine.repo_ctx(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    let Some(format) = format_param(&p, true)? else {
        return Err(EngineError::Validation("format: required parameter is missing".into()).into());
    };
    // The format's name rules apply (PyPI: any spelling of a project name).
    let pkg = st.engine.api_package(format, p.opt("namespace"), p.req("package")?)?;
    let status = p
        .opt("status")
        .map(|s| {
            PackageVersionStatus::parse(s).ok_or_else(|| EngineError::Validation(format!("status: unknown status {s}")))
        })
        .transpose()?;
    let origin_type = match p.opt("originType") {
        None => None,
        Some("INTERNAL") => Some(OriginType::Internal),
        Some("EXTERNAL") => Some(OriginType::External),
        Some("UNKNOWN") => Some(OriginType::Unknown),
        Some(_) => {
            return Err(EngineError::Validation("originType: must be INTERNAL, EXTERNAL or UNKNOWN".into()).into())
        }
    };
    let order = match p.opt("sortBy") {
        None => VersionOrder::Version,
        Some("PUBLISHED_TIME") => VersionOrder::PublishedTime,
        Some(s) => return Err(EngineError::Validation(format!("sortBy: unknown sort {s}")).into()),
    };
    let q = VersionListing {
        status,
        origin_type,
        order,
        limit: p.max_results(50, 1000)?,
        cursor: params::decode_token(p.opt("next-token"))?,
    };
    let page = st.engine.list_package_versions_page(&ctx, &pkg, &q)?;
    let items: Vec<Value> = page
        .versions
        .iter()
        .map(|v| {
            json!({
                "version": v.version, "revision": v.revision, "status": v.status.as_str(),
                "origin": super::package_ops::origin(&v.origin),
            })
        })
        .collect();
    let mut out = json!({ "format": format.as_str(), "package": pkg.name, "versions": items });
    if let Some(ns) = &pkg.namespace {
        out["namespace"] = json!(ns);
    }
    if let Some(d) = page.default_display {
        out["defaultDisplayVersion"] = json!(d);
    }
    if let Some(n) = page.next {
        out["nextToken"] = json!(params::encode_token(&n));
    }
    Ok(Json(out))
}
