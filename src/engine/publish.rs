//! Publishing (the 409 rules), tags, and metadata edits of stored versions.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::{EngineError, ResourceType, Result};
use super::metadata::Freshness;
use super::packages::{asset_from_digests, package_missing, revision, version_missing};
use super::upload::StagedBlob;
use super::upstream::Priority;
use super::{Engine, RepoCtx};
use crate::model::{
    now_rfc3339, AssetName, Origin, PackageId, PackageRecord, PackageVersionRecord, PackageVersionStatus, Version,
};
use crate::store::catalog;

/// A file to publish.
pub struct PublishAsset {
    /// File name.
    pub name: AssetName,
    /// Its bytes, staged (durable, hashed, invisible) until the publish is decided.
    pub blob: StagedBlob,
}

/// A publish of one version.
pub struct PublishRequest {
    /// The package.
    pub package: PackageId,
    /// The version.
    pub version: Version,
    /// The format's per-version metadata.
    pub metadata: serde_json::Value,
    /// Its files.
    pub assets: Vec<PublishAsset>,
    /// Tags to point at it on success.
    pub tags: BTreeMap<String, String>,
}

impl Engine {
    /// Publishes a version to `ctx`'s repository, enforcing the rules: same content again →
    /// success; different content → 409; a version any upstream (repository or external
    /// connection) has → 409.
    pub async fn publish(self: &Arc<Self>, ctx: &RepoCtx, req: PublishRequest) -> Result<bool> {
        // Upstream metadata read before this instant may predate a version that appeared
        // upstream since; the checks below use only fetches started after it.
        let since = std::time::Instant::now();
        let pkg = &req.package;
        let v = &req.version;
        // Decide before committing anything: the staged blobs are invisible, and every early
        // return drops them, which deletes their temp files.
        let digests: Vec<crate::model::Sha256> = req.assets.iter().map(|a| a.blob.digests().sha256).collect();
        let existing =
            self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?))?;
        if let Some(rec) = existing {
            let same = rec.assets.len() == req.assets.len()
                && rec
                    .assets
                    .iter()
                    .zip(req.assets.iter().zip(&digests))
                    .all(|(a, (b, d))| a.name == b.name && &a.sha256 == d);
            if same {
                self.set_tags(ctx, pkg, &req.tags)?;
                return Ok(false);
            }
            return Err(EngineError::conflict(
                ResourceType::PackageVersion,
                format!("{pkg}@{v}"),
                format!(
                    "version {v} of package {pkg} already exists in repository {} with different content",
                    ctx.repo.name
                ),
            ));
        }
        self.check_not_upstream(ctx, pkg, v, since).await?;
        let mut assets = Vec::with_capacity(req.assets.len());
        for a in req.assets {
            let digests = a.blob.commit().await?;
            assets.push(asset_from_digests(a.name, &digests));
        }
        let rec = PackageVersionRecord {
            version: v.clone(),
            status: PackageVersionStatus::Published,
            revision: revision(&assets, &req.metadata),
            assets,
            metadata: req.metadata,
            published_time: now_rfc3339(),
            origin: Origin::Internal { repository: ctx.repo.name.clone() },
        };
        self.write(|tx| {
            if catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?.is_some() {
                return Err(EngineError::conflict(
                    ResourceType::PackageVersion,
                    format!("{pkg}@{v}"),
                    format!("version {v} of package {pkg} was published concurrently"),
                ));
            }
            catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
            let mut p = catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.unwrap_or_default();
            p.tags.extend(req.tags.clone());
            catalog::put_package(tx, &ctx.domain, &ctx.repo.name, pkg, &p).map_err(EngineError::from)
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %v, "published");
        Ok(true)
    }

    async fn check_not_upstream(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        since: std::time::Instant,
    ) -> Result<()> {
        let order = self.search_order(ctx)?;
        for (i, repo) in order.iter().enumerate() {
            if i > 0 {
                let there =
                    self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &repo.name, pkg, v)?))?;
                if there.is_some() {
                    return Err(EngineError::conflict(
                        ResourceType::PackageVersion,
                        format!("{pkg}@{v}"),
                        format!("version {v} of package {pkg} already exists in upstream repository {}", repo.name),
                    ));
                }
            }
            let Some(conn) = self.connection_for(repo, pkg.format) else { continue };
            match self.upstream_package(&conn, pkg, Freshness::StartedAfter(since), Priority::Client).await {
                Ok(c) if c.package.as_ref().is_some_and(|p| p.version(v).is_some()) => {
                    return Err(EngineError::conflict(
                        ResourceType::PackageVersion,
                        format!("{pkg}@{v}"),
                        format!("version {v} of package {pkg} already exists in external connection {conn}"),
                    ));
                }
                Ok(_) => {}
                // Only an upstream that cannot answer lets a publish through unchecked; a
                // failure of Depot's own store stops it.
                Err(e @ (EngineError::Upstream { .. } | EngineError::IngestionInProgress)) => {
                    tracing::warn!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %v, upstream = %conn, error = %e,
                        "publishing without checking the external connection: it is unreachable and nothing is cached");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Points tags at versions in `ctx`'s repository's own tag set.
    pub fn set_tags(&self, ctx: &RepoCtx, pkg: &PackageId, tags: &BTreeMap<String, String>) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut p = catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.unwrap_or_default();
            p.tags.extend(tags.clone());
            catalog::put_package(tx, &ctx.domain, &ctx.repo.name, pkg, &p).map_err(EngineError::from)
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        Ok(())
    }

    /// Adds or moves a tag; the version must be visible in the repository's view.
    pub async fn add_tag(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId, tag: &str, v: &Version) -> Result<()> {
        let view = self.package_view(ctx, pkg).await?;
        if !view.versions.iter().any(|x| &x.version == v) {
            return Err(version_missing(ctx, pkg, v));
        }
        self.set_tags(ctx, pkg, &BTreeMap::from([(tag.to_string(), v.to_string())]))
    }

    /// Removes a tag from the repository's own tag set.
    pub fn remove_tag(&self, ctx: &RepoCtx, pkg: &PackageId, tag: &str) -> Result<()> {
        self.write(|tx| {
            let mut p: PackageRecord =
                catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.ok_or_else(|| package_missing(ctx, pkg))?;
            if p.tags.remove(tag).is_none() {
                return Err(EngineError::not_found(
                    ResourceType::Package,
                    pkg.to_string(),
                    format!("tag {tag} of package {pkg} not found in repository {}", ctx.repo.name),
                ));
            }
            catalog::put_package(tx, &ctx.domain, &ctx.repo.name, pkg, &p).map_err(EngineError::from)
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        Ok(())
    }

    /// Changes the format metadata of versions stored in `ctx`'s repository (npm deprecate);
    /// `edit` returns whether it changed anything. Revisions are recomputed.
    pub fn edit_versions(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        mut edit: impl FnMut(&Version, &mut serde_json::Value) -> bool,
    ) -> Result<usize> {
        let n = self.write(|tx| {
            let mut n = 0;
            for mut rec in catalog::versions(tx, &ctx.domain, &ctx.repo.name, pkg)? {
                if edit(&rec.version, &mut rec.metadata) {
                    rec.revision = revision(&rec.assets, &rec.metadata);
                    catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        if n > 0 {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
        }
        Ok(n)
    }
}
