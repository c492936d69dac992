//! The upstream metadata cache: what each external connection said about a package, parsed
//! into engine nouns, kept in memory (bounded) and in the store (so an outage that outlasts a
//! restart still serves it). Stale entries are served while one background refresh runs;
//! concurrent fetches of the same document coalesce into one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::error::{EngineError, Result, UpstreamError, UpstreamFailure};
use super::format::{UpstreamDocument, UpstreamPackage, UpstreamVersion};
use super::upstream::{Fetched, Priority, Urgency};
use super::Engine;
use crate::model::{now_epoch, PackageId};
use crate::store::catalog::{self, UpstreamDoc};

/// One cached upstream answer.
pub(super) struct CachedUpstream {
    /// When it was fetched (seconds since the epoch).
    pub(super) fetched_at: f64,
    /// When the fetch that produced it started, if in this process (publish checks need a
    /// fetch that started after the publish arrived).
    pub(super) fetch_started: Option<Instant>,
    /// The parsed document; `None` when the upstream does not have the package.
    pub(super) package: Option<Arc<UpstreamPackage>>,
    /// Changes whenever the entry is replaced; part of every view's stamp.
    pub(super) stamp: u64,
    /// The upstream's ETag for the stored document, for the next conditional refresh.
    pub(super) etag: Option<String>,
}

type Key = (String, PackageId);
type Outcome = Option<Result<()>>;

/// A fetch under way: joined by concurrent callers whose freshness it satisfies.
struct InFlight {
    rx: watch::Receiver<Outcome>,
    started: Instant,
    urgency: Urgency,
}

pub(super) struct UpstreamCache {
    entries: super::keyed::Keyed<Key, Arc<CachedUpstream>>,
    inflight: Mutex<HashMap<Key, InFlight>>,
}

impl UpstreamCache {
    /// A cache holding about `max_bytes` of metadata (`cache.upstream_max_bytes`); evicted
    /// entries reload from the store. Weighed by bytes, not entries: one 3,800-version
    /// document weighs as much as thousands of small ones.
    pub(super) fn new(max_bytes: u64) -> Self {
        Self {
            entries: super::keyed::Keyed::weighed(max_bytes, |v: &Arc<CachedUpstream>| v.weight()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, connection: &str, pkg: &PackageId) -> Option<Arc<CachedUpstream>> {
        self.entries.get(self.entries.slot(&(connection, pkg)), |k| k.0 == connection && &k.1 == pkg)
    }

    fn put(&self, connection: &str, pkg: &PackageId, entry: Arc<CachedUpstream>) {
        self.entries.insert(self.entries.slot(&(connection, pkg)), (connection.to_string(), pkg.clone()), entry);
    }
}

impl CachedUpstream {
    /// Approximate bytes held: the metadata text plus the fixed cost of each version and file.
    fn weight(&self) -> u32 {
        let Some(p) = &self.package else { return 256 };
        let files = |v: &UpstreamVersion| -> usize {
            v.assets.iter().map(|a| 160 + a.url.len() + a.name.as_str().len() + 64 + 64).sum()
        };
        let versions: usize =
            p.versions.iter().map(|v| 128 + v.version.as_str().len() + v.metadata.weight() + files(v) + 32).sum();
        let tags: usize = p.tags.iter().map(|(k, v)| 64 + k.len() + v.len()).sum();
        u32::try_from(256 + versions + tags).unwrap_or(u32::MAX)
    }
}

/// How fresh the caller needs the upstream's answer to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Serve the cache, refreshing in the background when it is past its max age.
    Cached,
    /// Fetched at most this long ago (a refetch for a version the cached document lacks);
    /// falls back to the cache if the upstream fails.
    Recent(Duration),
    /// From a fetch that started at or after this instant (publish checks: a version that
    /// appeared upstream just before the publish must be seen); falls back to the cache if
    /// the upstream fails.
    StartedAfter(Instant),
}

impl Engine {
    pub(super) fn unconfigured(&self, connection: &str, pkg: &PackageId) -> EngineError {
        EngineError::upstream(pkg, UpstreamError::new(connection, UpstreamFailure::Unconfigured))
    }

    fn cached_upstream(&self, connection: &str, pkg: &PackageId) -> Result<Option<Arc<CachedUpstream>>> {
        if let Some(e) = self.upstream_cache.get(connection, pkg) {
            return Ok(Some(e));
        }
        let Some(doc) = self.read(|tx| Ok::<_, EngineError>(catalog::upstream_doc(tx, connection, pkg)?))? else {
            return Ok(None);
        };
        let package = match (&doc.body, self.format(pkg.format)) {
            (Some(body), Some(f)) => match f.parse_upstream(
                pkg,
                &UpstreamDocument {
                    body,
                    content_type: doc.content_type.as_deref(),
                    url: &self.stored_document_url(connection, pkg, &doc),
                },
            ) {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    tracing::warn!(upstream = connection, pkg.name = %pkg, error = %e, "stored upstream document does not parse");
                    return Ok(None);
                }
            },
            _ => None,
        };
        let entry = Arc::new(CachedUpstream {
            fetched_at: doc.fetched_at,
            fetch_started: None,
            package,
            stamp: self.next_stamp(),
            etag: doc.etag,
        });
        self.upstream_cache.put(connection, pkg, entry.clone());
        Ok(Some(entry))
    }

    /// Where a stored document came from; records from before the URL was kept use the
    /// metadata URL it is fetched from.
    fn stored_document_url(&self, connection: &str, pkg: &PackageId, doc: &UpstreamDoc) -> String {
        match (&doc.url, self.upstreams.get(connection), self.format(pkg.format)) {
            (Some(u), _, _) => u.clone(),
            (None, Some(up), Some(f)) => f.upstream_metadata_url(&up.base, pkg),
            _ => String::new(),
        }
    }

    pub(super) fn next_stamp(&self) -> u64 {
        self.gens.next_stamp()
    }

    /// What `connection` says about `pkg`, honouring the client wait. `Ok(None)` is never
    /// returned for a failed fetch: a failure with nothing cached is an error.
    pub(super) async fn upstream_package(
        self: &Arc<Self>,
        connection: &str,
        pkg: &PackageId,
        freshness: Freshness,
        priority: Priority,
    ) -> Result<Arc<CachedUpstream>> {
        if !self.upstreams.contains_key(connection) {
            return Err(self.unconfigured(connection, pkg));
        }
        let cached = self.cached_upstream(connection, pkg)?;
        let max_age = self.cfg.cache.max_age(pkg.format).as_secs_f64();
        let not_before = match (freshness, &cached) {
            (Freshness::Cached, Some(c)) => {
                if now_epoch() - c.fetched_at > max_age {
                    // Stale-while-revalidate: this caller gets the cached view; nobody waits
                    // for the refresh, so it goes at background priority.
                    let _ = self.start_or_join(connection, pkg, Priority::Background, None);
                }
                return Ok(c.clone());
            }
            (Freshness::Recent(d), Some(c)) if now_epoch() - c.fetched_at < d.as_secs_f64() => return Ok(c.clone()),
            (Freshness::StartedAfter(t), Some(c)) if c.fetch_started.is_some_and(|s| s >= t) => return Ok(c.clone()),
            (Freshness::StartedAfter(t), _) => Some(t),
            _ => None,
        };
        let wait = self.ingestion_wait();
        let fetched = tokio::time::timeout(wait, async {
            let mut rx = self.fetch_upstream(connection, pkg, priority, not_before).await;
            let outcome = match rx.wait_for(Option::is_some).await {
                Ok(v) => v.clone().expect("waited for Some"),
                Err(_) => Err(EngineError::Internal("the metadata fetch was abandoned".into())),
            };
            outcome
        })
        .await;
        let outcome = match fetched {
            Ok(o) => o,
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
            (Err(e @ EngineError::Upstream { .. }), Some(c)) => {
                tracing::warn!(upstream = connection, pkg.name = %pkg, error = %e, "upstream failed; using cached metadata");
                Ok(c)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Joins the fetch of this document under way when it started at or after `not_before`,
    /// else starts one; `Err` carries an older fetch to wait out first.
    fn start_or_join(
        self: &Arc<Self>,
        connection: &str,
        pkg: &PackageId,
        priority: Priority,
        not_before: Option<Instant>,
    ) -> std::result::Result<watch::Receiver<Outcome>, watch::Receiver<Outcome>> {
        let key = (connection.to_string(), pkg.clone());
        let (tx, started, urgency) = {
            let mut inflight = self.upstream_cache.inflight.lock().expect("inflight lock");
            match inflight.get(&key) {
                Some(f) if not_before.is_none_or(|t| f.started >= t) => {
                    f.urgency.join(priority);
                    return Ok(f.rx.clone());
                }
                Some(f) => return Err(f.rx.clone()),
                None => {}
            }
            let (tx, rx) = watch::channel(None);
            let (started, urgency) = (Instant::now(), Urgency::new(priority));
            inflight.insert(key.clone(), InFlight { rx, started, urgency: urgency.clone() });
            (tx, started, urgency)
        };
        let rx = tx.subscribe();
        let engine = self.clone();
        tokio::spawn(async move {
            let res = engine.do_fetch_upstream(&key.0, &key.1, started, &urgency).await;
            engine.upstream_cache.inflight.lock().expect("inflight lock").remove(&key);
            let _ = tx.send(Some(res));
        });
        Ok(rx)
    }

    /// Starts (or joins) the one fetch of this document; the receiver sees its outcome.
    async fn fetch_upstream(
        self: &Arc<Self>,
        connection: &str,
        pkg: &PackageId,
        priority: Priority,
        not_before: Option<Instant>,
    ) -> watch::Receiver<Outcome> {
        loop {
            match self.start_or_join(connection, pkg, priority, not_before) {
                Ok(rx) => return rx,
                // That fetch may have read the upstream before the caller's instant.
                Err(mut older) => {
                    let _ = older.wait_for(Option::is_some).await;
                }
            }
        }
    }

    async fn do_fetch_upstream(
        self: &Arc<Self>,
        connection: &str,
        pkg: &PackageId,
        started: Instant,
        urgency: &Urgency,
    ) -> Result<()> {
        let up = self.upstreams.get(connection).ok_or_else(|| self.unconfigured(connection, pkg))?;
        let format =
            self.format(pkg.format).ok_or_else(|| EngineError::Validation("format not served".into()))?.clone();
        let url = self.metadata_url(connection, up, &format, pkg, urgency).await?;
        // A conditional refresh: an unchanged (possibly 20 MB) document is not sent again. The
        // ETag is the cached entry's (the stored document is read only when none is cached).
        let prev_etag = match self.upstream_cache.get(connection, pkg) {
            Some(c) => c.etag.clone(),
            None => self
                .read(|tx| Ok::<_, EngineError>(catalog::upstream_doc_header(tx, connection, pkg)?))
                .ok()
                .flatten()
                .and_then(|h| h.etag),
        };
        let fetched = up
            .get_metadata(&url, format.upstream_metadata_accept(), prev_etag.as_deref(), urgency)
            .await
            .map_err(|e| EngineError::upstream(pkg, e))?;
        let (doc, entry) = match fetched {
            Fetched::NotModified => {
                // Same content: keep the parse and the stamp (no view is rebuilt), and leave the
                // stored copy as it is. Rewriting a 20 MB document to move its fetch time made
                // every publish into a large package (which must ask the upstream afresh) cost
                // ~100 ms; the only effect of not doing so is that after a restart the first
                // use revalidates once more (answered 304, still stale-while-revalidate).
                let old = self
                    .cached_upstream(connection, pkg)?
                    .ok_or_else(|| EngineError::Internal("304 Not Modified without a cached document".into()))?;
                tracing::debug!(upstream = connection, pkg.name = %pkg, "upstream metadata not modified");
                let entry = CachedUpstream {
                    fetched_at: now_epoch(),
                    fetch_started: Some(started),
                    package: old.package.clone(),
                    stamp: old.stamp,
                    etag: old.etag.clone(),
                };
                self.upstream_cache.put(connection, pkg, Arc::new(entry));
                return Ok(());
            }
            fetched => {
                let (body, etag, content_type, from) = match fetched {
                    Fetched::Found { body, etag, content_type, url } => {
                        let body = self.with_linked(up, pkg, body, content_type.as_deref(), &url, urgency).await?;
                        (Some(body), etag, content_type, url)
                    }
                    _ => (None, None, None, url.clone()),
                };
                let parsed = match &body {
                    Some(b) => {
                        let (b, f, p) = (b.clone(), format.clone(), pkg.clone());
                        let (ct, u) = (content_type.clone(), from.clone());
                        let parsed = tokio::task::spawn_blocking(move || {
                            f.parse_upstream(&p, &UpstreamDocument { body: &b, content_type: ct.as_deref(), url: &u })
                        })
                        .await
                        .map_err(|e| EngineError::Internal(format!("parsing task failed: {e}")))?
                        .map_err(|e| {
                            let why = UpstreamFailure::Invalid(format!("its metadata does not parse ({e})"));
                            EngineError::upstream(pkg, up.error(why, Some(Arc::new(e))))
                        })?;
                        Some(Arc::new(parsed))
                    }
                    None => None,
                };
                let doc = UpstreamDoc {
                    fetched_at: now_epoch(),
                    etag: etag.clone(),
                    found: body.is_some(),
                    body,
                    content_type,
                    url: Some(from),
                };
                let entry = CachedUpstream {
                    fetched_at: now_epoch(),
                    fetch_started: Some(started),
                    package: parsed,
                    stamp: self.next_stamp(),
                    etag,
                };
                (doc, entry)
            }
        };
        let engine = self.clone();
        let (c, p) = (connection.to_string(), pkg.clone());
        tokio::task::spawn_blocking(move || {
            crate::store::write(engine.meta.as_ref(), |tx| catalog::put_upstream_doc(tx, &c, &p, &doc))
        })
        .await
        .map_err(|e| EngineError::Internal(format!("store task failed: {e}")))??;
        self.upstream_cache.put(connection, pkg, Arc::new(entry));
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

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
