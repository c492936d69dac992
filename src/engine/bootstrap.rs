//! Start-up bootstrap: the `[[bootstrap]]` domains and repositories of the configuration
//! that are missing are created (a repository whose external connection has no upstream URL
//! is skipped and left out of the others' upstream lists); existing ones only gain upstreams.

use std::collections::HashSet;

use super::error::EngineError;
use super::graph::MAX_UPSTREAMS;
use super::Engine;
use crate::model::{DomainName, RepositoryName};
use crate::store::catalog;

impl Engine {
    /// Creates the configured `[[bootstrap]]` domains and repositories that are missing.
    pub(super) fn bootstrap(&self) -> anyhow::Result<()> {
        for b in self.cfg.bootstrap.clone() {
            let d = DomainName::new(b.domain.clone())?;
            let exists = self.read(|tx| Ok::<_, EngineError>(catalog::domain(tx, &d)?.is_some()))?;
            if !exists {
                self.create_domain(&d, None)?;
            }
            let mut skipped = HashSet::new();
            for r in &b.repositories {
                let name = RepositoryName::new(r.name.clone())?;
                if let Some(c) = &r.external_connection {
                    if self.cfg.connection_url(c).is_none() {
                        tracing::info!(repo.name = %name, connection = %c, setting = %crate::config::upstream_env_var(c),
                            "not creating bootstrap repository: its external connection has no upstream URL");
                        skipped.insert(name);
                        continue;
                    }
                }
                let ups: Vec<RepositoryName> = r
                    .upstreams
                    .iter()
                    .filter_map(|u| RepositoryName::new(u.clone()).ok())
                    .filter(|u| !skipped.contains(u))
                    .collect();
                let existing = self.read(|tx| Ok::<_, EngineError>(catalog::repository(tx, &d, &name)?))?;
                let rec = match existing {
                    None => self.create_repository(&d, None, &name, r.description.clone(), ups)?,
                    Some(rec) => {
                        let mut merged = rec.upstreams.clone();
                        for u in ups {
                            if !merged.contains(&u) && merged.len() < MAX_UPSTREAMS {
                                merged.push(u);
                            }
                        }
                        if merged != rec.upstreams {
                            self.update_repository(&d, None, &name, None, Some(merged))?
                        } else {
                            rec
                        }
                    }
                };
                if let Some(c) = &r.external_connection {
                    if rec.external_connections.is_empty() {
                        self.associate_external_connection(&d, None, &name, c)?;
                    }
                }
            }
        }
        Ok(())
    }
}
