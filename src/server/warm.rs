//! Warm answers: a document made from a package view (packument, simple page, registration,
//! `maven-metadata.xml`) is answered again, to the same request, without the router, the
//! handler or the view's inputs being looked at, for as long as nothing in Depot has changed
//! (the engine's world counter, read before the answer was made, still reads the same) and
//! the view's upstream documents are fresh. A repeated warm request then costs what a static
//! file costs: one lookup, the token check, and the ready bytes (`send_rendered` negotiates
//! gzip and answers `If-None-Match` as the handler would).
//!
//! What keys an answer is everything a format handler reads from such a request: the method
//! (GET only), the target (path and query), and the Host, Accept and `npm-command` headers. A
//! request with a body is never answered here (the handler refuses it). The token is checked
//! again on every answer, against the domain the answer came from: a token that expired, or
//! none where anonymous reads are off, falls through to the handler and gets its error.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use foldhash::fast::RandomState;

use crate::engine::Engine;
use crate::formats::http::{send_rendered, WarmHint};
use crate::formats::{check_token, Access};

/// The request headers an answer depends on (besides the token).
const VARY: [HeaderName; 3] = [header::HOST, header::ACCEPT, HeaderName::from_static("npm-command")];

/// What identifies a request to the warm answers.
pub(super) struct WarmKey {
    slot: u64,
    uri: Uri,
    vary: [Option<HeaderValue>; 3],
}

struct Entry {
    key: WarmKey,
    world: u64,
    hint: WarmHint,
}

pub(super) struct WarmAnswers {
    entries: moka::sync::Cache<u64, Arc<Entry>, RandomState>,
    hasher: RandomState,
    anonymous_reads: bool,
}

impl WarmAnswers {
    /// Holds at most `max_bytes` of documents (shared with the engine's rendered cache while
    /// both hold one).
    pub(super) fn new(max_bytes: u64, anonymous_reads: bool) -> Self {
        let entries = moka::sync::Cache::builder()
            .weigher(|_: &u64, e: &Arc<Entry>| e.hint.doc.weight())
            .max_capacity(max_bytes)
            .build_with_hasher(RandomState::default());
        Self { entries, hasher: RandomState::default(), anonymous_reads }
    }

    /// The request's key, when it is one a warm answer may serve.
    pub(super) fn key(&self, req: &Request) -> Option<WarmKey> {
        if req.method() != Method::GET || announces_body(req.headers()) {
            return None;
        }
        let uri = req.uri().clone();
        let vary = VARY.each_ref().map(|h| req.headers().get(h).cloned());
        let slot = self.hasher.hash_one((uri.path_and_query().map(|p| p.as_str()), &vary));
        Some(WarmKey { slot, uri, vary })
    }

    /// The answer to `req`, if a warm one stands.
    pub(super) fn answer(&self, engine: &Engine, key: &WarmKey, headers: &HeaderMap) -> Option<Response> {
        let e = self.entries.get(&key.slot)?;
        if e.key.uri != key.uri || e.key.vary != key.vary {
            return None;
        }
        if e.world != engine.world() || e.hint.fresh_until.is_some_and(|t| t <= Instant::now()) {
            self.entries.invalidate(&key.slot);
            return None;
        }
        check_token(engine, &e.hint.domain, headers, Access::Read, self.anonymous_reads).ok()?;
        Some(send_rendered(&e.hint.doc, e.hint.content_type, headers))
    }

    /// Keeps the answer the handler marked, made while the world counter read `world`.
    pub(super) fn remember(&self, key: WarmKey, world: u64, hint: WarmHint) {
        if hint.fresh_until.is_some_and(|t| t <= Instant::now()) {
            return;
        }
        self.entries.insert(key.slot, Arc::new(Entry { key, world, hint }));
    }
}

/// Whether the request says a body follows.
fn announces_body(h: &HeaderMap) -> bool {
    h.contains_key(header::TRANSFER_ENCODING) || h.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn only_bodiless_gets_are_keyed_and_every_varying_header_tells_keys_apart() {
        let w = WarmAnswers::new(1 << 20, true);
        assert!(w.key(&req(Method::HEAD, "/a", &[])).is_none());
        assert!(w.key(&req(Method::GET, "/a", &[("content-length", "3")])).is_none());
        assert!(w.key(&req(Method::GET, "/a", &[("transfer-encoding", "chunked")])).is_none());
        let base = w.key(&req(Method::GET, "/a?x=1", &[("host", "h"), ("accept", "json")])).unwrap();
        let same =
            w.key(&req(Method::GET, "/a?x=1", &[("host", "h"), ("accept", "json"), ("user-agent", "u")])).unwrap();
        assert_eq!((base.slot, &base.vary), (same.slot, &same.vary));
        for other in [
            req(Method::GET, "/a?x=2", &[("host", "h"), ("accept", "json")]),
            req(Method::GET, "/a?x=1", &[("host", "g"), ("accept", "json")]),
            req(Method::GET, "/a?x=1", &[("host", "h"), ("accept", "html")]),
            req(Method::GET, "/a?x=1", &[("host", "h"), ("accept", "json"), ("npm-command", "owner")]),
        ] {
            let k = w.key(&other).unwrap();
            assert!(k.slot != base.slot && (k.uri != base.uri || k.vary != base.vary));
        }
    }
}
