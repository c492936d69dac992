//! CreateRepository, DescribeRepository, UpdateRepository, DeleteRepository,
//! ListRepositories, ListRepositoriesInDomain, Associate/DisassociateExternalConnection.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::params::{self, Params};
use super::shapes::{repository_description, repository_summary};
use super::{ApiResult, ApiState};
use crate::engine::EngineError;
use crate::model::{RepositoryName, RepositoryRecord};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Upstream {
    repository_name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RepositoryBody {
    description: Option<String>,
    upstreams: Option<Vec<Upstream>>,
    #[allow(dead_code)]
    tags: Option<serde_json::Value>,
}

fn upstream_names(ups: Option<Vec<Upstream>>) -> Result<Option<Vec<RepositoryName>>, EngineError> {
    ups.map(|v| {
        v.into_iter()
            .map(|u| {
                RepositoryName::new(u.repository_name)
                    .map_err(|e| EngineError::Validation(format!("upstreams.{}", e.0)))
            })
            .collect()
    })
    .transpose()
}

fn described(st: &ApiState, rec: &RepositoryRecord) -> ApiResult {
    Ok(Json(json!({ "repository": repository_description(&st.engine, rec) })))
}

pub(crate) async fn create_repository(State(st): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let (d, r) = (p.domain()?, p.repository()?);
    let b: RepositoryBody = params::body(&body)?;
    let ups = upstream_names(b.upstreams)?.unwrap_or_default();
    let rec = st.engine.create_repository(&d, p.owner()?.as_ref(), &r, b.description, ups)?;
    described(&st, &rec)
}

pub(crate) async fn describe_repository(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let rec = st.engine.describe_repository(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    described(&st, &rec)
}

pub(crate) async fn update_repository(State(st): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let b: RepositoryBody = params::body(&body)?;
    let ups = upstream_names(b.upstreams)?;
    let rec = st.engine.update_repository(&p.domain()?, p.owner()?.as_ref(), &p.repository()?, b.description, ups)?;
    described(&st, &rec)
}

pub(crate) async fn delete_repository(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let rec = st.engine.delete_repository(&p.domain()?, p.owner()?.as_ref(), &p.repository()?)?;
    described(&st, &rec)
}

pub(crate) async fn associate_external_connection(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let conn = p.req("external-connection")?.to_string();
    let rec = st.engine.associate_external_connection(&p.domain()?, p.owner()?.as_ref(), &p.repository()?, &conn)?;
    described(&st, &rec)
}

pub(crate) async fn disassociate_external_connection(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let conn = p.req("external-connection")?.to_string();
    let rec = st.engine.disassociate_external_connection(&p.domain()?, p.owner()?.as_ref(), &p.repository()?, &conn)?;
    described(&st, &rec)
}

/// Prefix filter and name-ordered pagination over an already ordered list.
fn page(st: &ApiState, all: Vec<RepositoryRecord>, p: &Params) -> ApiResult {
    let limit = p.max_results(100, 1000)?;
    let prefix = p.opt("repository-prefix").unwrap_or("");
    let after = params::decode_token(p.opt("next-token"))?;
    let key = |r: &RepositoryRecord| format!("{}\u{0}{}", r.domain, r.name).into_bytes();
    let mut items: Vec<RepositoryRecord> = all
        .into_iter()
        .filter(|r| r.name.as_str().starts_with(prefix))
        .filter(|r| after.as_ref().is_none_or(|a| key(r) > *a))
        .take(limit + 1)
        .collect();
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| params::encode_token(&key(r)))
    } else {
        None
    };
    let mut out =
        json!({ "repositories": items.iter().map(|r| repository_summary(&st.engine, r)).collect::<Vec<_>>() });
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(Json(out))
}

pub(crate) async fn list_repositories(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let all = st.engine.list_all_repositories()?;
    page(&st, all, &p)
}

pub(crate) async fn list_repositories_in_domain(State(st): State<ApiState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    if let Some(a) = p.opt("administrator-account") {
        crate::model::AccountId::new(a)?;
    }
    let all = st.engine.list_repositories(&p.domain()?, p.owner()?.as_ref(), None, usize::MAX)?;
    page(&st, all, &p)
}
