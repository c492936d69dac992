//! The upstream metadata cache: what each external connection said about a package, parsed
//! into engine nouns, kept in memory (bounded) and in the store (so an outage that outlasts a
//! restart still serves it). Stale entries are served while one background refresh runs;
//! concurrent fetches of the same document coalesce into one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::error::{EngineError, Result};
use super::format::UpstreamPackage;
use super::upstream::Fetched;
use super::Engine;
use crate::model::{now_epoch, PackageId};
use crate::store::catalog::{self, UpstreamDoc};

/// One cached upstream answer.
pub(super) struct CachedUpstream {
    /// When it was fetched (seconds since the epoch).
    pub(super) fetched_at: f64,
    /// The parsed document; `None` when the upstream does not have the package.
    pub(super) package: Option<Arc<UpstreamPackage>>,
    /// Changes whenever the entry is replaced; part of every view's stamp.
    pub(super) stamp: u64,
}

type Key = (String, PackageId);
type Outcome = Option<std::result::Result<(), String>>;

pub(super) struct UpstreamCache {
    entries: moka::sync::Cache<Key, Arc<CachedUpstream>>,
    inflight: Mutex<HashMap<Key, watch::Receiver<Outcome>>>,
}

impl Default for UpstreamCache {
    fn default() -> Self {
        Self {
            // Bounded by entry count; evicted entries reload from the store.
            entries: moka::sync::Cache::builder().max_capacity(20_000).build(),
            inflight: Mutex::new(HashMap::new()),
        }
    }
}

/// How fresh the caller needs the upstream's answer to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Serve the cache, refreshing in the background when it is past its max age.
    Cached,
    /// Fetch now (publish checks); fall back to the cache if the upstream fails.
    Fresh,
}

impl Engine {
    fn unconfigured(&self, connection: &str) -> EngineError {
        EngineError::UpstreamUnavailable(format!(
            "external connection {connection} has no upstream URL configured; set connections.\"{connection}\".url in depot.toml or {}",
            crate::config::upstream_env_var(connection)
        ))
    }

    fn cached_upstream(&self, connection: &str, pkg: &PackageId) -> Result<Option<Arc<CachedUpstream>>> {
        let key = (connection.to_string(), pkg.clone());
        if let Some(e) = self.upstream_cache.entries.get(&key) {
            return Ok(Some(e));
        }
        let Some(doc) = self.read(|tx| Ok::<_, EngineError>(catalog::upstream_doc(tx, connection, pkg)?))? else {
            return Ok(None);
        };
        let package = match (&doc.body, self.format(pkg.format)) {
            (Some(body), Some(f)) => match f.parse_upstream(pkg, body) {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    tracing::warn!(upstream = connection, pkg.name = %pkg, error = %e, "stored upstream document does not parse");
                    return Ok(None);
                }
            },
            _ => None,
        };
        let entry = Arc::new(CachedUpstream { fetched_at: doc.fetched_at, package, stamp: self.next_stamp() });
        self.upstream_cache.entries.insert(key, entry.clone());
        Ok(Some(entry))
    }

    pub(super) fn next_stamp(&self) -> u64 {
        self.gens.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }

    /// What `connection` says about `pkg`, honouring the client wait. `Ok(None)` is never
    /// returned for a failed fetch: a failure with nothing cached is an error.
    pub(super) async fn upstream_package(
        self: &Arc<Self>,
        connection: &str,
        pkg: &PackageId,
        freshness: Freshness,
    ) -> Result<Arc<CachedUpstream>> {
        if !self.upstreams.contains_key(connection) {
            return Err(self.unconfigured(connection));
        }
        let cached = self.cached_upstream(connection, pkg)?;
        let max_age = self.cfg.cache.max_age(pkg.format).as_secs_f64();
        match (freshness, &cached) {
            (Freshness::Cached, Some(c)) => {
                if now_epoch() - c.fetched_at > max_age {
                    // Stale-while-revalidate: this caller gets the cached view.
                    let _ = self.fetch_upstream(connection, pkg);
                }
                return Ok(c.clone());
            }
            (Freshness::Fresh, Some(c)) if now_epoch() - c.fetched_at < 1.0 => return Ok(c.clone()),
            _ => {}
        }
        let mut rx = self.fetch_upstream(connection, pkg);
        let waited = tokio::time::timeout(self.ingestion_wait(), rx.wait_for(Option::is_some)).await;
        let outcome = match waited {
            Ok(Ok(v)) => v.clone().expect("waited for Some"),
            Ok(Err(_)) => Err("the metadata fetch was abandoned".to_string()),
            Err(_) => {
                return match cached {
                    Some(c) => Ok(c),
                    None => Err(EngineError::IngestionInProgress),
                }
            }
        };
        match (outcome, cached) {
            (Ok(()), _) => self
                .cached_upstream(connection, pkg)?
                .ok_or_else(|| EngineError::Internal("fetched upstream document vanished".into())),
            (Err(e), Some(c)) => {
                tracing::warn!(upstream = connection, pkg.name = %pkg, error = %e, "upstream failed; using cached metadata");
                Ok(c)
            }
            (Err(e), None) => Err(EngineError::UpstreamUnavailable(format!(
                "package {pkg} is not cached and external connection {connection} is unavailable: {e}"
            ))),
        }
    }

    /// Starts (or joins) the one fetch of this document; the receiver sees its outcome.
    fn fetch_upstream(self: &Arc<Self>, connection: &str, pkg: &PackageId) -> watch::Receiver<Outcome> {
        let key = (connection.to_string(), pkg.clone());
        let tx = {
            let mut inflight = self.upstream_cache.inflight.lock().expect("inflight lock");
            if let Some(rx) = inflight.get(&key) {
                return rx.clone();
            }
            let (tx, rx) = watch::channel(None);
            inflight.insert(key.clone(), rx);
            tx
        };
        let rx = tx.subscribe();
        let engine = self.clone();
        tokio::spawn(async move {
            let res = engine.do_fetch_upstream(&key.0, &key.1).await;
            engine.upstream_cache.inflight.lock().expect("inflight lock").remove(&key);
            let _ = tx.send(Some(res));
        });
        rx
    }

    async fn do_fetch_upstream(self: &Arc<Self>, connection: &str, pkg: &PackageId) -> std::result::Result<(), String> {
        let up = self.upstreams.get(connection).ok_or("no upstream URL")?;
        let format = self.format(pkg.format).ok_or("format not served")?.clone();
        let url = format.upstream_metadata_url(&up.base, pkg);
        let key = (connection.to_string(), pkg.clone());
        // A conditional refresh: an unchanged (possibly 20 MB) document is not sent again.
        let prev_etag = self
            .read(|tx| Ok::<_, EngineError>(catalog::upstream_doc_header(tx, connection, pkg)?))
            .ok()
            .flatten()
            .and_then(|h| h.etag);
        let fetched = up.get_metadata(&url, format.upstream_metadata_accept(), prev_etag.as_deref()).await?;
        let (doc, entry) = match fetched {
            Fetched::NotModified => {
                let mut doc = self
                    .read(|tx| Ok::<_, EngineError>(catalog::upstream_doc(tx, connection, pkg)?))
                    .map_err(|e| e.to_string())?
                    .ok_or("304 Not Modified without a cached document")?;
                doc.fetched_at = now_epoch();
                let old = self.cached_upstream(connection, pkg).map_err(|e| e.to_string())?;
                // Same content: keep the stamp, so no view is rebuilt.
                let (package, stamp) = match old {
                    Some(o) => (o.package.clone(), o.stamp),
                    None => (None, self.next_stamp()),
                };
                tracing::debug!(upstream = connection, pkg.name = %pkg, "upstream metadata not modified");
                (doc, CachedUpstream { fetched_at: now_epoch(), package, stamp })
            }
            fetched => {
                let (body, etag) = match fetched {
                    Fetched::Found { body, etag } => (Some(body), etag),
                    _ => (None, None),
                };
                let parsed = match &body {
                    Some(b) => {
                        let (b, f, p) = (b.clone(), format.clone(), pkg.clone());
                        let parsed = tokio::task::spawn_blocking(move || f.parse_upstream(&p, &b))
                            .await
                            .map_err(|e| e.to_string())?
                            .map_err(|e| format!("upstream metadata for {pkg} does not parse: {e}"))?;
                        Some(Arc::new(parsed))
                    }
                    None => None,
                };
                let doc = UpstreamDoc { fetched_at: now_epoch(), etag, found: body.is_some(), body };
                (doc, CachedUpstream { fetched_at: now_epoch(), package: parsed, stamp: self.next_stamp() })
            }
        };
        let engine = self.clone();
        let (c, p) = (connection.to_string(), pkg.clone());
        tokio::task::spawn_blocking(move || {
            crate::store::write(engine.meta.as_ref(), |tx| catalog::put_upstream_doc(tx, &c, &p, &doc))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        self.upstream_cache.entries.insert(key, Arc::new(entry));
        Ok(())
    }

    /// Waits for nothing; used by tests to let background refreshes settle.
    pub async fn settle(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        while tokio::time::Instant::now() < deadline {
            let busy = !self.upstream_cache.inflight.lock().expect("inflight lock").is_empty() || self.jobs.busy();
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
