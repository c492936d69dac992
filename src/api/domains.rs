//! CreateDomain, DescribeDomain, ListDomains, DeleteDomain.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::params::{self, Params};
use super::shapes::{domain_description, domain_summary};
use super::{ApiResult, ApiState};
use crate::model::DomainName;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CreateDomainBody {
    encryption_key: Option<String>,
    #[allow(dead_code)]
    tags: Option<serde_json::Value>,
}

pub(crate) async fn create_domain(State(st): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let d = p.domain()?;
    let b: CreateDomainBody = params::body(&body)?;
    let rec = st.engine.create_domain(&d, b.encryption_key)?;
    Ok(Json(json!({ "domain": domain_description(&st.engine, &rec, 0, 0) })))
}

pub(crate) async fn describe_domain(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let d = p.domain()?;
    let (rec, count) = st.engine.describe_domain(&d, p.owner()?.as_ref())?;
    let size = st.engine.domain_asset_size(&d)?;
    Ok(Json(json!({ "domain": domain_description(&st.engine, &rec, count, size) })))
}

pub(crate) async fn delete_domain(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let d = p.domain()?;
    let rec = st.engine.delete_domain(&d, p.owner()?.as_ref())?;
    Ok(Json(json!({ "domain": domain_description(&st.engine, &rec, 0, 0) })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListDomainsBody {
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub(crate) async fn list_domains(State(st): State<ApiState>, body: Bytes) -> ApiResult {
    let b: ListDomainsBody = params::body(&body)?;
    let limit = params::max_results(b.max_results.map(Ok), 1000, 1000)?;
    let after = params::decode_token(b.next_token.as_deref())?
        .map(|t| DomainName::new(String::from_utf8_lossy(&t).into_owned()))
        .transpose()?;
    let mut domains = st.engine.list_domains(after.as_ref(), limit + 1)?;
    let next = if domains.len() > limit {
        domains.truncate(limit);
        domains.last().map(|d| params::encode_token(d.name.as_str().as_bytes()))
    } else {
        None
    };
    let mut out = json!({ "domains": domains.iter().map(|d| domain_summary(&st.engine, d)).collect::<Vec<_>>() });
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(Json(out))
}
