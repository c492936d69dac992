//! SearchQueryService (`v3/query?q=&skip=&take=&prerelease=`): a simple search over the
//! packages this repository knows without asking an upstream (stored in its search order, or
//! cached from its connections). Terms match ids case-insensitively, by substring.

use axum::response::Response;
use serde_json::{json, Value};

use super::registration::{self, Hive};
use crate::engine::{EngineError, RepoCtx};
use crate::formats::http::json_response;
use crate::formats::FormatState;
use crate::model::PackageFormat;

/// At most this many packages are considered per source.
const MAX_CANDIDATES: usize = 10_000;
/// The largest `take` honoured (nuget.org's limit).
const MAX_TAKE: usize = 1000;

struct Params {
    q: String,
    skip: usize,
    take: usize,
    prerelease: bool,
}

fn params(query: Option<&str>) -> Params {
    let mut p = Params { q: String::new(), skip: 0, take: 20, prerelease: false };
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "q" => p.q = v.to_lowercase(),
            "skip" => p.skip = v.parse().unwrap_or(0),
            "take" => p.take = v.parse::<usize>().unwrap_or(20).min(MAX_TAKE),
            "prerelease" => p.prerelease = v.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    p
}

pub(super) async fn query(
    st: &FormatState,
    ctx: &RepoCtx,
    raw: Option<&str>,
    endpoint: &str,
) -> Result<Response, EngineError> {
    let p = params(raw);
    let terms: Vec<&str> = p.q.split_whitespace().map(|t| t.trim_start_matches("id:")).collect();
    let known = st.engine.known_packages(ctx, PackageFormat::Nuget, MAX_CANDIDATES)?;
    let hits: Vec<_> = known.into_iter().filter(|k| terms.iter().all(|t| k.name.as_str().contains(t))).collect();
    let (reg, flat) = (format!("{endpoint}v3/registration/"), format!("{endpoint}v3-flatcontainer/"));
    let hive = Hive { reg: &reg, flat: &flat };
    let mut data = Vec::new();
    for pkg in hits.iter().skip(p.skip).take(p.take) {
        // A package whose view fails (an unreachable connection, nothing stored) is left out.
        let Ok(view) = st.engine.package_view(ctx, pkg).await else { continue };
        let versions: Vec<_> = registration::ordered(&view)
            .into_iter()
            .filter(|v| p.prerelease || !v.version.as_str().contains('-'))
            .collect();
        let Some(latest) = versions.last() else { continue };
        let id = registration::display_id(&view);
        let text = |k: &str| latest.metadata.value().get(k).cloned().unwrap_or(Value::Null);
        data.push(json!({
            "@id": format!("{reg}{}/index.json", pkg.name),
            "@type": "Package",
            "registration": format!("{reg}{}/index.json", pkg.name),
            "id": id,
            "version": latest.version.as_str(),
            "description": text("description"),
            "authors": text("authors"),
            "projectUrl": text("projectUrl"),
            "totalDownloads": 0,
            "verified": false,
            "versions": versions.iter().map(|v| json!({
                "version": v.version.as_str(),
                "downloads": 0,
                "@id": format!("{reg}{}/{}.json", pkg.name, v.version),
            })).collect::<Vec<_>>(),
            "packageContent": registration::content_url(&hive, pkg.name.as_str(), latest.version.as_str()),
        }));
    }
    let doc = json!({ "totalHits": hits.len(), "data": data });
    Ok(json_response(serde_json::to_vec(&doc).unwrap_or_default()))
}
