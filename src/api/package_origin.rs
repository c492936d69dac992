//! PutPackageOriginConfiguration, and the `originConfiguration` shape DescribePackage and
//! ListPackages share.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::package_ops::target;
use super::params::{self, Params};
use super::{ApiResult, ApiState};
use crate::engine::EngineError;
use crate::model::{OriginRestriction, OriginRestrictions};

#[derive(Deserialize, Default)]
struct OriginBody {
    restrictions: Option<RestrictionsBody>,
}

#[derive(Deserialize)]
struct RestrictionsBody {
    publish: Option<String>,
    upstream: Option<String>,
}

fn restriction(field: &str, v: Option<&str>) -> Result<OriginRestriction, EngineError> {
    let v = v.ok_or_else(|| EngineError::Validation(format!("restrictions.{field}: required")))?;
    OriginRestriction::parse(v)
        .ok_or_else(|| EngineError::Validation(format!("restrictions.{field}: must be ALLOW or BLOCK, not {v}")))
}

/// CodeArtifact's `PackageOriginConfiguration`.
pub(super) fn origin_configuration(r: &OriginRestrictions) -> Value {
    json!({ "restrictions": { "publish": r.publish.as_str(), "upstream": r.upstream.as_str() } })
}

pub(crate) async fn put_package_origin_configuration(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let t = target(&st, &p)?;
    let b: OriginBody = params::body(&body)?;
    let r = b.restrictions.ok_or_else(|| EngineError::Validation("restrictions: required".into()))?;
    let restrictions = OriginRestrictions {
        publish: restriction("publish", r.publish.as_deref())?,
        upstream: restriction("upstream", r.upstream.as_deref())?,
    };
    let set = st.engine.put_origin_configuration(&t.ctx, &t.pkg, restrictions)?;
    Ok(Json(json!({ "originConfiguration": origin_configuration(&set) })))
}
