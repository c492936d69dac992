//! Versions built one file at a time (Maven deploy): each file lands in an Unfinished version
//! under the publish rules of `publish.rs`, and a later call completes the version (Published),
//! so clients never resolve a version whose POM or jar has not arrived yet.

use std::sync::Arc;

use super::error::{EngineError, ResourceType, Result};
use super::events::{self, EventSource};
use super::publish::PublishRequest;
use super::{Engine, RepoCtx};
use crate::model::{now_rfc3339, Asset, AssetName, PackageId, PackageVersionStatus, Version};
use crate::store::catalog;

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

    /// Publishes every named version that is Unfinished in `ctx`'s repository, in one
    /// transaction; versions in any other status (or absent) are left alone, since a client's
    /// metadata lists every version it knows. Returns the versions completed.
    pub fn complete_versions(&self, ctx: &RepoCtx, pkg: &PackageId, versions: &[Version]) -> Result<Vec<Version>> {
        let now = now_rfc3339();
        let done = self.write(|tx| {
            let mut done = Vec::new();
            for v in versions {
                let Some(mut rec) = catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)? else { continue };
                if rec.status != PackageVersionStatus::Unfinished {
                    continue;
                }
                let before = rec.clone();
                rec.status = PackageVersionStatus::Published;
                rec.published_time = now.clone();
                catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
                events::record(tx, &EventSource::of(ctx), pkg, Some(&before), Some(&rec), &now)?;
                done.push(v.clone());
            }
            Ok::<_, EngineError>(done)
        })?;
        if !done.is_empty() {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, versions = done.len(), "completed versions");
        }
        Ok(done)
    }
}
