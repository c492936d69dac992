//! Wire protocols, one folder each. Each implements [`crate::engine::Format`] (what the
//! engine calls back) and exposes `routes()` (what `server` mounts under the repository
//! endpoint). A new format is one folder here plus one line in `server::formats()`.

pub(crate) mod http;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod pypi;

use axum::http::HeaderMap;
use base64::Engine as _;

use crate::engine::{Engine, EngineError, RepoCtx};
use crate::model::{AccountId, DomainName, RepositoryName};

/// The token a client sent: `Authorization: Bearer <t>` or Basic `aws:<t>` (any user name).
pub(crate) fn request_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(raw).ok()?;
        return text.split_once(':').map(|(_, p)| p.to_string());
    }
    None
}

/// Whether a request is a read (install) or a write (publish, tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Splits the `<domain>-<owner>` endpoint segment (the owner is the last 12 digits).
pub(crate) fn split_domain_owner(seg: &str) -> Result<(DomainName, AccountId), EngineError> {
    let bad =
        || EngineError::not_found(crate::engine::ResourceType::Domain, seg, format!("no repository endpoint {seg}"));
    let (d, o) = seg.rsplit_once('-').ok_or_else(bad)?;
    Ok((DomainName::new(d).map_err(|_| bad())?, AccountId::new(o).map_err(|_| bad())?))
}

/// Resolves the repository of a format endpoint and checks the caller's token.
pub(crate) fn authorize(
    engine: &Engine,
    domain_owner: &str,
    repo: &str,
    headers: &HeaderMap,
    access: Access,
    anonymous_reads: bool,
) -> Result<RepoCtx, EngineError> {
    let (d, o) = split_domain_owner(domain_owner)?;
    let r = RepositoryName::new(repo).map_err(|_| {
        EngineError::not_found(
            crate::engine::ResourceType::Repository,
            repo,
            format!("Repository {repo} does not exist"),
        )
    })?;
    check_token(engine, &d, headers, access, anonymous_reads)?;
    engine.repo_ctx(&d, Some(&o), &r)
}

/// Whether the request's token (or, for a read, its lack of one) lets it into `domain`.
pub(crate) fn check_token(
    engine: &Engine,
    domain: &DomainName,
    headers: &HeaderMap,
    access: Access,
    anonymous_reads: bool,
) -> Result<(), EngineError> {
    match request_token(headers) {
        Some(t) => engine.auth().verify(&t, domain).map(|_| ()),
        None if access == Access::Read && anonymous_reads => Ok(()),
        None => Err(EngineError::Unauthorized(
            "this request needs an authorization token (aws codeartifact get-authorization-token)".into(),
        )),
    }
}

/// The public base URL for this request (see [`Engine::public_base`]).
pub(crate) fn public_base(engine: &Engine, headers: &HeaderMap) -> String {
    engine.public_base(headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()))
}

/// What format handlers share.
#[derive(Clone)]
pub struct FormatState {
    /// The engine.
    pub engine: std::sync::Arc<Engine>,
    /// Whether reads may go without a token on this listener.
    pub anonymous_reads: bool,
}
