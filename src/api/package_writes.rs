//! The package write operations: UpdatePackageVersionsStatus, DeletePackageVersions,
//! DisposePackageVersions and DeletePackage. Like the read-only ones they act on the named
//! repository only.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::package_ops::target;
use super::params::{self, Params};
use super::{ApiResult, ApiState};
use crate::engine::{EngineError, VersionSelection, VersionsResult};
use crate::model::PackageVersionStatus;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VersionsBody {
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    version_revisions: BTreeMap<String, String>,
    expected_status: Option<String>,
    target_status: Option<String>,
}

fn status(field: &str, s: &str) -> Result<PackageVersionStatus, EngineError> {
    PackageVersionStatus::parse(s).ok_or_else(|| EngineError::Validation(format!("{field}: unknown status {s}")))
}

/// The named versions (from `versions` and the keys of `versionRevisions`), each with the
/// revision it must still have, if one was given.
fn selection(st: &ApiState, f: crate::model::PackageFormat, b: &VersionsBody) -> Result<VersionSelection, EngineError> {
    let mut names: Vec<&String> = b.versions.iter().collect();
    names.extend(b.version_revisions.keys().filter(|k| !b.versions.contains(k)));
    names.into_iter().map(|n| Ok((st.engine.api_version(f, n)?, b.version_revisions.get(n).cloned()))).collect()
}

pub(super) fn result_json(r: VersionsResult) -> Value {
    let ok: serde_json::Map<String, Value> = r
        .successful
        .into_iter()
        .map(|(v, o)| {
            let s = o.status.map_or("Deleted", PackageVersionStatus::as_str);
            (v, json!({ "revision": o.revision, "status": s }))
        })
        .collect();
    let failed: serde_json::Map<String, Value> = r
        .failed
        .into_iter()
        .map(|(v, (code, msg))| (v, json!({ "errorCode": code.code(), "errorMessage": msg })))
        .collect();
    json!({ "successfulVersions": ok, "failedVersions": failed })
}

pub(crate) async fn update_package_versions_status(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let b: VersionsBody = params::body(&body)?;
    let target_status = status(
        "targetStatus",
        b.target_status.as_deref().ok_or_else(|| EngineError::Validation("targetStatus: required".into()))?,
    )?;
    let expected = b.expected_status.as_deref().map(|s| status("expectedStatus", s)).transpose()?;
    let sel = selection(&st, t.pkg.format, &b)?;
    let r = st.engine.update_versions_status(&t.ctx, &t.pkg, &sel, expected, target_status)?;
    Ok(Json(result_json(r)))
}

pub(crate) async fn delete_package_versions(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let mut b: VersionsBody = params::body(&body)?;
    // DeletePackageVersions has no `versionRevisions` in the spec.
    b.version_revisions.clear();
    let expected = b.expected_status.as_deref().map(|s| status("expectedStatus", s)).transpose()?;
    let sel = selection(&st, t.pkg.format, &b)?;
    let r = st.engine.delete_versions(&t.ctx, &t.pkg, &sel, expected)?;
    Ok(Json(result_json(r)))
}

pub(crate) async fn dispose_package_versions(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let b: VersionsBody = params::body(&body)?;
    if b.versions.is_empty() {
        return Err(EngineError::Validation("versions: required".into()).into());
    }
    let expected = b.expected_status.as_deref().map(|s| status("expectedStatus", s)).transpose()?;
    let sel = selection(&st, t.pkg.format, &b)?;
    let r = st.engine.dispose_versions(&t.ctx, &t.pkg, &sel, expected)?;
    Ok(Json(result_json(r)))
}

pub(crate) async fn delete_package(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    st.engine.delete_package(&t.ctx, &t.pkg)?;
    let mut pkg = json!({ "format": t.pkg.format.as_str(), "package": t.pkg.name });
    if let Some(ns) = &t.pkg.namespace {
        pkg["namespace"] = json!(ns);
    }
    Ok(Json(json!({ "deletedPackage": pkg })))
}
