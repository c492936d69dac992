//! The event feed: `GET /v1/depot/events?after=<cursor>&max-results=N&wait-seconds=S[&domain=D]`
//! returns `{"events": [...], "nextCursor": "..."}`, events oldest first in CodeArtifact's
//! EventBridge form. `nextCursor` is opaque; passing it back as `after` resumes right after the
//! last event returned (with no events, it is the cursor given). No `after` starts at the
//! beginning of the log. `wait-seconds` (at most 20) holds an empty answer until an event
//! arrives. Callers sign with SigV4 like every operation, or send a domain's authorization
//! token as `Authorization: Bearer`; a token reads only its own domain's events (`domain`
//! must name it).

use axum::extract::{RawQuery, State};
use axum::{Extension, Json};
use base64::Engine as _;
use serde_json::json;

use super::params::Params;
use super::{ApiResult, ApiState};
use crate::engine::EngineError;
use crate::model::DomainName;

/// Longest long-poll wait.
const MAX_WAIT_SECS: u64 = 20;

/// A feed request authorized by a domain's authorization token instead of SigV4.
#[derive(Clone, Debug)]
pub(crate) struct TokenCaller {
    pub domain: DomainName,
}

fn encode_cursor(position: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("e{position}"))
}

fn decode_cursor(c: Option<&str>) -> Result<u64, EngineError> {
    let bad = || EngineError::Validation("after: invalid event cursor".into());
    let Some(c) = c.filter(|c| !c.is_empty()) else { return Ok(0) };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
    text.strip_prefix('e').and_then(|n| n.parse().ok()).ok_or_else(bad)
}

pub(crate) async fn list_events(
    State(st): State<ApiState>,
    token: Option<Extension<TokenCaller>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let after = decode_cursor(p.opt("after"))?;
    let limit = p.max_results(100, 1000)?;
    let wait =
        match p.opt("wait-seconds") {
            None => 0,
            Some(w) => w.parse::<u64>().ok().filter(|w| *w <= MAX_WAIT_SECS).ok_or_else(|| {
                EngineError::Validation(format!("waitSeconds: must be between 0 and {MAX_WAIT_SECS}"))
            })?,
        };
    let domain = p.opt("domain").map(DomainName::new).transpose()?;
    if let Some(Extension(t)) = &token {
        if domain.as_ref() != Some(&t.domain) {
            return Err(
                EngineError::Forbidden("an authorization token reads only its own domain's events".into()).into()
            );
        }
    }
    let page = st.engine.event_page(after, limit, std::time::Duration::from_secs(wait)).await?;
    let events: Vec<_> = match &domain {
        Some(d) => page.events.into_iter().filter(|e| e["detail"]["domainName"] == d.as_str()).collect(),
        None => page.events,
    };
    Ok(Json(json!({ "events": events, "nextCursor": encode_cursor(page.next) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        assert_eq!(decode_cursor(None).unwrap(), 0);
        assert_eq!(decode_cursor(Some(&encode_cursor(42))).unwrap(), 42);
        assert!(decode_cursor(Some("!!")).is_err());
        assert!(decode_cursor(Some(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x1"))).is_err());
    }
}
