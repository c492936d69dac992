//! ListPackages and ListPackageVersions (the rest of package operations comes later).

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use super::params::{self, Params};
use super::{ApiResult, ApiState};
use crate::engine::EngineError;
use crate::model::{
    Namespace, Origin, OriginRestriction, PackageFormat, PackageId, PackageRecord, PackageVersionStatus,
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
    let namespace = p.opt("namespace").map(Namespace::new).transpose()?;
    if namespace.is_some() && format.is_none() {
        return Err(EngineError::Validation("namespace: a namespace filter needs a format".into()).into());
    }
    let prefix = p.opt("package-prefix").map(str::to_string);
    let [publish, upstream] = ["publish", "upstream"].map(|k| {
        p.opt(k)
            .map(|v| {
                OriginRestriction::parse(v)
                    .ok_or_else(|| EngineError::Validation(format!("{k}: must be ALLOW or BLOCK")))
            })
            .transpose()
    });
    let (publish, upstream) = (publish?, upstream?);
    let limit = p.max_results(100, 1000)?;
    let after = params::decode_token(p.opt("next-token"))?;
    let filter = |id: &PackageId, rec: &PackageRecord| {
        let r = rec.restrictions();
        format.is_none_or(|f| f == id.format)
            && namespace.as_ref().is_none_or(|n| id.namespace.as_ref() == Some(n))
            && prefix.as_deref().is_none_or(|pre| id.name.as_str().starts_with(pre))
            && publish.is_none_or(|x| x == r.publish)
            && upstream.is_none_or(|x| x == r.upstream)
    };
    let (rows, next) = st.engine.list_package_records(&ctx, &filter, after.as_deref(), limit)?;
    let packages: Vec<Value> = rows
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
    if let Some(n) = next {
        out["nextToken"] = json!(params::encode_token(&n));
    }
    Ok(Json(out))
}

pub(crate) async fn list_package_versions(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let ctx = st.engine.repo_ctx(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    let format = format_param(&p, true)?.expect("required");
    // The format's name rules apply (PyPI: any spelling of a project name).
    let pkg = st.engine.api_package(format, p.opt("namespace"), p.req("package")?)?;
    let status = p
        .opt("status")
        .map(|s| {
            PackageVersionStatus::parse(s).ok_or_else(|| EngineError::Validation(format!("status: unknown status {s}")))
        })
        .transpose()?;
    let origin_type = p.opt("originType");
    if let Some(o) = origin_type {
        if !matches!(o, "INTERNAL" | "EXTERNAL" | "UNKNOWN") {
            return Err(EngineError::Validation("originType: must be INTERNAL, EXTERNAL or UNKNOWN".into()).into());
        }
    }
    let by_time = match p.opt("sortBy") {
        None => false,
        Some("PUBLISHED_TIME") => true,
        Some(s) => return Err(EngineError::Validation(format!("sortBy: unknown sort {s}")).into()),
    };
    let limit = p.max_results(50, 1000)?;
    let (mut versions, pkg_rec) = st.engine.list_package_versions(&ctx, &pkg)?;
    let f = st.engine.format(format).cloned();
    // Default output leaves out versions the guide says it does (Unfinished, Unlisted, Archived, Disposed).
    versions.retain(|v| match status {
        Some(s) => v.status == s,
        None => v.status == PackageVersionStatus::Published,
    });
    versions.retain(|v| {
        matches!(
            (origin_type, &v.origin),
            (Some("INTERNAL"), Origin::Internal { .. }) | (Some("EXTERNAL"), Origin::External { .. }) | (None, _)
        )
    });
    if by_time {
        versions.sort_by(|a, b| b.published_time.cmp(&a.published_time));
    } else if let Some(f) = &f {
        versions.sort_by(|a, b| f.compare_versions(&b.version, &a.version));
    }
    let default = pkg_rec
        .tags
        .get("latest")
        .filter(|l| versions.iter().any(|v| v.version.as_str() == l.as_str()))
        .cloned()
        .or_else(|| {
            versions.iter().max_by(|a, b| a.published_time.cmp(&b.published_time)).map(|v| v.version.to_string())
        });
    let start = match params::decode_token(p.opt("next-token"))? {
        Some(t) => {
            let last = String::from_utf8_lossy(&t).into_owned();
            versions.iter().position(|v| v.version.as_str() == last).map_or(versions.len(), |i| i + 1)
        }
        None => 0,
    };
    let page: Vec<_> = versions.iter().skip(start).take(limit).collect();
    let next = (start + page.len() < versions.len())
        .then(|| page.last().map(|v| params::encode_token(v.version.as_str().as_bytes())))
        .flatten();
    let items: Vec<Value> = page
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
    if let Some(d) = default {
        out["defaultDisplayVersion"] = json!(d);
    }
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(Json(out))
}
