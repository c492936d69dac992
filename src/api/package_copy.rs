//! CopyPackageVersions (`POST /v1/package/versions/copy`): the engine's `copy_versions`
//! between two repositories of one domain.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Deserialize;

use super::package_writes::result_json;
use super::params::{self, Params};
use super::{ApiResult, ApiState};
use crate::engine::{CopyOptions, EngineError, VersionSelection};
use crate::model::{PackageFormat, RepositoryName};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CopyBody {
    versions: Option<Vec<String>>,
    version_revisions: Option<BTreeMap<String, String>>,
    #[serde(default)]
    allow_overwrite: bool,
    #[serde(default)]
    include_from_upstream: bool,
}

fn repo(p: &Params, key: &str) -> Result<RepositoryName, EngineError> {
    Ok(RepositoryName::new(p.req(key)?)?)
}

pub(crate) async fn copy_package_versions(State(st): State<ApiState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let (d, owner) = (p.domain()?, p.owner()?);
    let src = st.engine.repo_ctx(&d, owner.as_ref(), &repo(&p, "source-repository")?)?;
    let dst = st.engine.repo_ctx(&d, owner.as_ref(), &repo(&p, "destination-repository")?)?;
    let f = p.req("format")?;
    let f = PackageFormat::parse(f).ok_or_else(|| EngineError::Validation(format!("format: unknown format {f}")))?;
    let pkg = st.engine.api_package(f, p.opt("namespace"), p.req("package")?)?;
    let b: CopyBody = params::body(&body)?;
    // The spec takes exactly one of the two ways of naming versions.
    let sel: VersionSelection = match (b.versions, b.version_revisions) {
        (Some(vs), None) => {
            vs.iter().map(|v| Ok((st.engine.api_version(f, v)?, None))).collect::<Result<_, EngineError>>()?
        }
        (None, Some(vr)) => vr
            .into_iter()
            .map(|(v, r)| Ok((st.engine.api_version(f, &v)?, Some(r))))
            .collect::<Result<_, EngineError>>()?,
        _ => {
            return Err(
                EngineError::Validation("exactly one of versions and versionRevisions is required".into()).into()
            )
        }
    };
    let opts = CopyOptions { allow_overwrite: b.allow_overwrite, include_from_upstream: b.include_from_upstream };
    let r = st.engine.copy_versions(&src, &dst, &pkg, &sel, opts)?;
    Ok(Json(result_json(r)))
}
