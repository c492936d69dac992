//! The dependency prefetch walk (npm's transitive prefetch): after a client-requested version
//! is stored, the format's dependencies are fetched in the background, recursively,
//! deduplicated, with bounded concurrency (`ingestion.prefetch`), never delaying the client.
//! Each version goes through an ordinary ingestion job (`ingest.rs`), so it is persisted and
//! resumed like any other; the walk's own state (visited set, pending levels) is memory only.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;

use super::error::EngineError;
use super::ingest::Target;
use super::upstream::Priority;
use super::Engine;
use crate::model::{DomainName, PackageId, RepositoryName, Version};
use crate::store::catalog;

impl Engine {
    pub(super) fn prefetch(
        self: Arc<Self>,
        domain: DomainName,
        repo: RepositoryName,
        conn: String,
        metadata: serde_json::Value,
        visited: Arc<Mutex<HashSet<(PackageId, Version)>>>,
    ) -> BoxFuture<'static, ()> {
        async move {
            let Some(format) = crate::config::connection_format(&conn).and_then(|f| self.format(f)).cloned() else {
                return;
            };
            let deps = format.dependencies_to_prefetch(&metadata);
            let mut set = tokio::task::JoinSet::new();
            for dep in deps {
                let (engine, domain, repo, conn, visited, format) =
                    (self.clone(), domain.clone(), repo.clone(), conn.clone(), visited.clone(), format.clone());
                set.spawn(async move {
                    // The permit bounds concurrent lookups and downloads; it is released before
                    // recursing so a deep tree cannot starve itself.
                    let permit = engine.jobs.prefetch.clone().acquire_owned().await;
                    let entry = match engine.upstream_package_patient(&conn, &dep.package, Priority::Background).await {
                        Ok(e) => e,
                        Err(e) => {
                            tracing::debug!(pkg.name = %dep.package, error = %e, "prefetch: no metadata");
                            return;
                        }
                    };
                    let Some(up) = entry.package.clone() else { return };
                    let mut next = Vec::new();
                    for v in format.versions_to_prefetch(&up, &dep.range) {
                        if !visited.lock().expect("visited lock").insert((dep.package.clone(), v.clone())) {
                            continue;
                        }
                        let stored = engine
                            .read(|tx| {
                                Ok::<_, EngineError>(catalog::version(tx, &domain, &repo, &dep.package, &v)?.is_some())
                            })
                            .unwrap_or(true);
                        if stored {
                            continue;
                        }
                        let Ok((mut rx, _)) = engine.start_job(
                            &Target { domain: &domain, repo: &repo, conn: &conn, pkg: &dep.package, version: &v },
                            None,
                            false,
                            Priority::Background,
                        ) else {
                            continue;
                        };
                        let ok = matches!(rx.wait_for(Option::is_some).await.as_deref(), Ok(Some(Ok(()))));
                        if ok {
                            if let Some(uv) = up.version(&v) {
                                next.push(uv.metadata.clone().into_value());
                            }
                        }
                    }
                    drop(permit);
                    for m in next {
                        engine.clone().prefetch(domain.clone(), repo.clone(), conn.clone(), m, visited.clone()).await;
                    }
                });
            }
            while set.join_next().await.is_some() {}
        }
        .boxed()
    }
}
