//! Upstream metadata spanning several documents, through `Format` hooks (design:
//! docs/design/nuget.md §1). A connection may have a discovery document (NuGet: its service
//! index) from which package URLs are computed; it is cached per connection with the format's
//! metadata max age and persisted like package documents, so an outage after a restart still
//! finds it. A package document may link further documents (NuGet: registration pages); they
//! are fetched all or none and merged by the format into the one document the engine stores
//! and parses, so a restart reparses one stored document.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::error::{EngineError, Result, UpstreamFailure};
use super::format::{DocumentError, Format, UpstreamDocument};
use super::upstream::{Fetched, Upstream, Urgency};
use super::Engine;
use crate::model::{now_epoch, PackageId};
use crate::store::catalog::{self, UpstreamDoc};

/// At most this many linked documents per package (NuGet: 64 pages of 128 versions).
pub const MAX_LINKED_DOCUMENTS: usize = 64;

/// A connection's discovery document.
struct Discovery {
    fetched_at: f64,
    body: Bytes,
    content_type: Option<String>,
    url: String,
}

/// Discovery documents in memory, and one fetch gate per connection so concurrent package
/// fetches share one discovery fetch.
#[derive(Default)]
pub(super) struct DiscoveryCache {
    entries: Mutex<HashMap<String, Arc<Discovery>>>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn invalid(up: &Upstream, pkg: &PackageId, what: &str, e: Option<DocumentError>) -> EngineError {
    let why = UpstreamFailure::Invalid(match &e {
        Some(e) => format!("{what} ({e})"),
        None => what.to_string(),
    });
    let cause = e.map(|e| Arc::new(e) as Arc<dyn std::error::Error + Send + Sync>);
    EngineError::upstream(pkg, up.error(why, cause))
}

impl Engine {
    /// The URL of `pkg`'s metadata document on this connection.
    pub(super) async fn metadata_url(
        &self,
        connection: &str,
        up: &Upstream,
        format: &Arc<dyn Format>,
        pkg: &PackageId,
        urgency: &Urgency,
    ) -> Result<String> {
        let Some(durl) = format.discovery_url(&up.base) else {
            return Ok(format.upstream_metadata_url(&up.base, pkg));
        };
        let d = self.discovery(connection, up, format, &durl, pkg, urgency).await?;
        let doc = UpstreamDocument { body: &d.body, content_type: d.content_type.as_deref(), url: &d.url };
        format
            .upstream_metadata_url_from(&up.base, pkg, &doc)
            .map_err(|e| invalid(up, pkg, "its discovery document does not parse", Some(e)))
    }

    /// The connection's discovery document: from memory or the store while younger than the
    /// format's max age, else fetched; a failed fetch falls back to any stored copy.
    async fn discovery(
        &self,
        connection: &str,
        up: &Upstream,
        format: &Arc<dyn Format>,
        durl: &str,
        pkg: &PackageId,
        urgency: &Urgency,
    ) -> Result<Arc<Discovery>> {
        let max_age = self.cfg.cache.max_age(format.format()).as_secs_f64();
        let fresh = |d: &Discovery| now_epoch() - d.fetched_at <= max_age;
        let cached = || self.discovery_cache.entries.lock().expect("discovery lock").get(connection).cloned();
        if let Some(d) = cached().filter(|d| fresh(d)) {
            return Ok(d);
        }
        let gate = self
            .discovery_cache
            .gates
            .lock()
            .expect("discovery lock")
            .entry(connection.to_string())
            .or_default()
            .clone();
        // An async gate: whoever waited here finds the document the holder fetched.
        let _held = gate.lock().await;
        let mut known = cached();
        if known.is_none() {
            let stored = self.read(|tx| Ok::<_, EngineError>(catalog::discovery_doc(tx, connection)?))?;
            known = stored.and_then(|d| {
                Some(Arc::new(Discovery {
                    fetched_at: d.fetched_at,
                    body: d.body?,
                    content_type: d.content_type,
                    url: d.url.unwrap_or_else(|| durl.to_string()),
                }))
            });
        }
        if let Some(d) = known.clone().filter(|d| fresh(d)) {
            self.discovery_cache.entries.lock().expect("discovery lock").insert(connection.to_string(), d.clone());
            return Ok(d);
        }
        let fetched = up.get_metadata(durl, format.upstream_metadata_accept(), None, urgency).await;
        let fresh_doc = match fetched {
            Ok(Fetched::Found { body, content_type, url, .. }) => {
                Arc::new(Discovery { fetched_at: now_epoch(), body, content_type, url })
            }
            Ok(_) => match known {
                Some(d) => return Ok(d),
                None => return Err(invalid(up, pkg, "it has no discovery document", None)),
            },
            Err(e) => match known {
                Some(d) => {
                    tracing::warn!(upstream = connection, error = %e, "upstream failed; using its cached discovery document");
                    return Ok(d);
                }
                None => return Err(EngineError::upstream(pkg, e)),
            },
        };
        let doc = UpstreamDoc {
            fetched_at: fresh_doc.fetched_at,
            etag: None,
            body: Some(fresh_doc.body.clone()),
            found: true,
            content_type: fresh_doc.content_type.clone(),
            url: Some(fresh_doc.url.clone()),
        };
        let meta = self.meta.clone();
        let c = connection.to_string();
        tokio::task::spawn_blocking(move || {
            crate::store::write(meta.as_ref(), |tx| catalog::put_discovery_doc(tx, &c, &doc))
        })
        .await
        .map_err(|e| EngineError::Internal(format!("store task failed: {e}")))??;
        self.discovery_cache.entries.lock().expect("discovery lock").insert(connection.to_string(), fresh_doc.clone());
        Ok(fresh_doc)
    }

    /// `body` with the documents it links merged in (unchanged when it links none). Any
    /// linked document failing fails the whole fetch: a partial version list would look like
    /// versions removed upstream.
    pub(super) async fn with_linked(
        &self,
        up: &Upstream,
        pkg: &PackageId,
        body: Bytes,
        content_type: Option<&str>,
        url: &str,
        urgency: &Urgency,
    ) -> Result<Bytes> {
        let format = self.format(pkg.format).ok_or_else(|| EngineError::Validation("format not served".into()))?;
        let doc = UpstreamDocument { body: &body, content_type, url };
        let links =
            format.linked_documents(pkg, &doc).map_err(|e| invalid(up, pkg, "its metadata does not parse", Some(e)))?;
        if links.is_empty() {
            return Ok(body);
        }
        if links.len() > MAX_LINKED_DOCUMENTS {
            return Err(invalid(up, pkg, "its metadata links more documents than Depot reads", None));
        }
        let mut linked = Vec::with_capacity(links.len());
        for link in links {
            match up.get_metadata(&link, format.upstream_metadata_accept(), None, urgency).await {
                Ok(Fetched::Found { body, .. }) => linked.push((link, body)),
                Ok(_) => return Err(invalid(up, pkg, "a document its metadata links is missing", None)),
                Err(e) => return Err(EngineError::upstream(pkg, e)),
            }
        }
        let (f, p, b, ct, u) =
            (format.clone(), pkg.clone(), body.clone(), content_type.map(str::to_string), url.to_string());
        let merged = tokio::task::spawn_blocking(move || {
            f.merge_documents(&p, &UpstreamDocument { body: &b, content_type: ct.as_deref(), url: &u }, &linked)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("merging task failed: {e}")))?
        .map_err(|e| invalid(up, pkg, "its linked metadata does not merge", Some(e)))?;
        Ok(Bytes::from(merged))
    }
}
