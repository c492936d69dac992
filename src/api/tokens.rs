//! GetAuthorizationToken and GetRepositoryEndpoint.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::json;

use super::params::Params;
use super::{ApiResult, ApiState, Caller};
use crate::engine::auth::DEFAULT_TOKEN_SECS;
use crate::engine::EngineError;
use crate::model::PackageFormat;

pub(crate) async fn get_authorization_token(
    State(st): State<ApiState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let d = p.domain()?;
    let owner = p.owner()?;
    let secs = match p.opt("duration") {
        None => DEFAULT_TOKEN_SECS,
        Some(s) => match s.parse::<u64>() {
            // 0 means "the caller's session"; Depot's callers have none, so the default.
            Ok(0) => DEFAULT_TOKEN_SECS,
            Ok(n) if (900..=43200).contains(&n) => n,
            _ => {
                return Err(EngineError::Validation("durationSeconds: must be 0 or between 900 and 43200".into()).into())
            }
        },
    };
    st.engine.describe_domain(&d, owner.as_ref())?;
    let (token, exp) = st.engine.auth().issue(&caller.access_key_id, &d, &st.engine.account(), secs);
    Ok(Json(json!({ "authorizationToken": token, "expiration": exp })))
}

pub(crate) async fn get_repository_endpoint(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let format = p.req("format")?;
    let format = PackageFormat::parse(format).ok_or_else(|| {
        EngineError::Validation(format!(
            "format: {format} is not a format this appliance serves (npm, pypi, maven, nuget)"
        ))
    })?;
    if let Some(t) = p.opt("endpointType") {
        if !matches!(t, "ipv4" | "dualstack") {
            return Err(EngineError::Validation("endpointType: must be ipv4 or dualstack".into()).into());
        }
    }
    let ctx = st.engine.repo_ctx(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    let url = st.engine.repository_endpoint(&st.engine.public_base(host), &ctx, format);
    Ok(Json(json!({ "repositoryEndpoint": url })))
}
