//! Versions built one file at a time (Maven deploy): each file lands in an Unfinished version
//! under the publish rules of `publish.rs`, and a later call completes the version (Published),
//! so clients never resolve a version whose POM or jar has not arrived yet. A format may name
//! an alias a completed version also becomes (Maven: a snapshot build → `1.0-SNAPSHOT`).

use std::sync::Arc;

use super::error::{EngineError, ResourceType, Result};
use super::events::{self, EventSource};
use super::publish::PublishRequest;
use super::{Engine, RepoCtx};
use std::collections::HashSet;

use super::packages::revision;
use crate::model::{
    now_rfc3339, Asset, AssetName, PackageId, PackageVersionRecord, PackageVersionStatus, Sha256, Version,
};
use crate::store::{catalog, WriteTxn};

impl Engine {
    /// Adds the request's files to an Unfinished version (created by the first file). Same
    /// rules as `publish`: BLOCK → 403, a version an upstream has → 409, other bytes under an
    /// existing name → 409. True when something was stored.
    pub async fn publish_file(self: &Arc<Self>, ctx: &RepoCtx, req: PublishRequest) -> Result<bool> {
        self.publish_as(ctx, req, PackageVersionStatus::Unfinished).await
    }

    /// A file of a version stored in `ctx`'s repository itself, whatever its status (an
    /// Unfinished version is not in the view but its uploads still need checking).
    pub fn own_asset(&self, ctx: &RepoCtx, pkg: &PackageId, v: &Version, asset: &AssetName) -> Result<Asset> {
        let rec = self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?))?;
        rec.and_then(|r| r.assets.into_iter().find(|a| &a.name == asset)).ok_or_else(|| {
            EngineError::not_found(
                ResourceType::Asset,
                asset.as_str(),
                format!("asset {asset} of {pkg}@{v} not found in repository {}", ctx.repo.name),
            )
        })
    }

    /// Completes every named version that is Unfinished in `ctx`'s repository, and every
    /// Unfinished version whose alias (`Format::completes_into`) is named, in one transaction;
    /// versions in any other status (or absent) are left alone, since a client's metadata
    /// lists every version it knows. Returns the versions completed.
    pub fn complete_versions(&self, ctx: &RepoCtx, pkg: &PackageId, versions: &[Version]) -> Result<Vec<Version>> {
        let now = now_rfc3339();
        let format = self.format(pkg.format).cloned();
        let (done, released) = self.write(|tx| {
            let mut todo: Vec<PackageVersionRecord> = catalog::versions(tx, &ctx.domain, &ctx.repo.name, pkg)?
                .into_iter()
                .filter(|r| r.status == PackageVersionStatus::Unfinished)
                .filter(|r| {
                    versions.contains(&r.version)
                        || format
                            .as_ref()
                            .and_then(|f| f.completes_into(&r.version))
                            .is_some_and(|a| versions.contains(&a))
                })
                .collect();
            // Oldest first: when several builds complete at once the newest ends as the alias.
            if let Some(f) = &format {
                todo.sort_by(|a, b| f.compare_versions(&a.version, &b.version));
            }
            let (mut done, mut released) = (Vec::new(), false);
            for rec in todo {
                done.push(rec.version.clone());
                released |= self.complete_record(tx, ctx, pkg, rec, &now)?;
            }
            Ok::<_, EngineError>((done, released))
        })?;
        if released {
            self.gc.wake();
        }
        if !done.is_empty() {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, versions = done.len(), "completed versions");
        }
        Ok(done)
    }

    /// Completes one Unfinished version inside `tx`: Published, or, when the format names an
    /// alias for it, Unlisted with the alias created or replaced (new revision) as Published
    /// holding the same files. An event for each record written. True when the alias's
    /// previous files were released (the caller wakes the collector; files still used by an
    /// earlier build are kept, the collector re-checks every reference).
    pub(super) fn complete_record(
        &self,
        tx: &mut dyn WriteTxn,
        ctx: &RepoCtx,
        pkg: &PackageId,
        mut rec: PackageVersionRecord,
        now: &str,
    ) -> Result<bool> {
        let src = EventSource::of(ctx);
        let before = rec.clone();
        let alias = self.format(pkg.format).and_then(|f| f.completes_into(&rec.version));
        rec.status = if alias.is_some() { PackageVersionStatus::Unlisted } else { PackageVersionStatus::Published };
        rec.published_time = now.to_string();
        catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
        events::record(tx, &src, pkg, Some(&before), Some(&rec), now)?;
        let Some(alias) = alias else { return Ok(false) };
        let old = catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, &alias)?;
        // An Archived or Disposed alias keeps its name and state until someone changes it.
        if old
            .as_ref()
            .is_some_and(|o| matches!(o.status, PackageVersionStatus::Archived | PackageVersionStatus::Disposed))
        {
            return Ok(false);
        }
        let next = PackageVersionRecord {
            version: alias,
            status: PackageVersionStatus::Published,
            revision: revision(&rec.assets, &rec.metadata),
            assets: rec.assets.clone(),
            metadata: rec.metadata.clone(),
            published_time: now.to_string(),
            origin: rec.origin.clone(),
        };
        let kept: HashSet<Sha256> = catalog::record_blobs(&next).collect();
        let dropped: Vec<Sha256> = old.iter().flat_map(catalog::record_blobs).filter(|s| !kept.contains(s)).collect();
        catalog::release_blobs(tx, dropped.iter().copied())?;
        catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &next)?;
        events::record(tx, &src, pkg, old.as_ref(), Some(&next), now)?;
        Ok(!dropped.is_empty())
    }
}

#[cfg(test)]
mod tests;
