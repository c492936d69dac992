//! Publishing (the 409 rules), tags, and metadata edits of stored versions.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::{EngineError, ResourceType, Result};
use super::events::{self, EventSource};
use super::metadata::Freshness;
use super::origin::Entry;
use super::packages::{asset_from_digests, package_missing, revision, version_missing};
use super::upload::StagedBlob;
use super::upstream::Priority;
use super::{Engine, RepoCtx};
use crate::model::{
    now_rfc3339, Asset, AssetAttributes, AssetName, Origin, PackageId, PackageRecord, PackageVersionRecord,
    PackageVersionStatus, Version,
};
use crate::store::{catalog, PendingBlob};

/// A file to publish.
pub struct PublishAsset {
    /// File name.
    pub name: AssetName,
    /// Its bytes, staged (durable, hashed, invisible) until the publish is decided.
    pub blob: StagedBlob,
    /// What the format's index says about it (PyPI: requires-python, upload time).
    pub attributes: AssetAttributes,
    /// Its core metadata (PEP 658), stored as a blob of its own if the publish is accepted.
    pub core_metadata: Option<Vec<u8>>,
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
        self.publish_as(ctx, req, PackageVersionStatus::Published).await
    }

    /// `publish` creating the version with `status`: Unfinished for formats that upload a
    /// version one file at a time and complete it afterwards (Maven).
    pub(super) async fn publish_as(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        req: PublishRequest,
        status: PackageVersionStatus,
    ) -> Result<bool> {
        // Upstream metadata read before this instant may predate a version that appeared
        // upstream since; the checks below use only fetches started after it.
        let since = std::time::Instant::now();
        let pkg = &req.package;
        let v = &req.version;
        // Decide before committing anything: the staged blobs are invisible, and every early
        // return drops them, which deletes their temp files.
        let existing = self.read(|tx| {
            self.check_publish_allowed(tx, ctx, pkg)?;
            Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?)
        })?;
        if let Some(rec) = existing {
            return self.publish_into_existing(ctx, req, rec, status).await;
        }
        self.check_not_upstream(ctx, pkg, v, since).await?;
        let (assets, blobs) = self.stage_assets(req.assets).await?;
        let rec = PackageVersionRecord {
            version: v.clone(),
            status,
            revision: revision(&assets, &req.metadata),
            assets,
            metadata: req.metadata,
            published_time: now_rfc3339(),
            origin: Origin::Internal { repository: ctx.repo.name.clone() },
        };
        self.commit_referencing(blobs, |tx| {
            if catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?.is_some() {
                return Err(EngineError::conflict(
                    ResourceType::PackageVersion,
                    format!("{pkg}@{v}"),
                    format!("version {v} of package {pkg} was published concurrently"),
                ));
            }
            // Checked again: the origin configuration may have changed while the files were staged.
            self.check_publish_allowed(tx, ctx, pkg)?;
            let mut p = self.package_for_entry(tx, &ctx.domain, &ctx.repo.name, pkg, Entry::Publish)?;
            catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
            events::record(tx, &EventSource::of(ctx), pkg, None, Some(&rec), &rec.published_time)?;
            p.tags.extend(req.tags.clone());
            catalog::put_package(tx, &ctx.domain, &ctx.repo.name, pkg, &p).map_err(EngineError::from)
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %v, "published");
        Ok(true)
    }

    /// A publish to a version the repository has: each file already there with the same bytes
    /// is a no-op, with other bytes a 409; new files are added only where the format has
    /// several files per version (PyPI) and the version was published here, never to a
    /// version that came from an upstream.
    async fn publish_into_existing(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        req: PublishRequest,
        rec: PackageVersionRecord,
        status: PackageVersionStatus,
    ) -> Result<bool> {
        let (pkg, v) = (&req.package, &req.version);
        let conflict = |what: String| {
            EngineError::conflict(
                ResourceType::PackageVersion,
                format!("{pkg}@{v}"),
                format!("version {v} of package {pkg} already exists in repository {} {what}", ctx.repo.name),
            )
        };
        // An archived (or disposed) version keeps its name: it must not come back by a
        // publish, even of the same bytes. Deleting it is what frees the name.
        // An Unfinished version takes files only from the upload that is building it.
        let building = status == PackageVersionStatus::Unfinished && rec.status == status;
        if !rec.status.is_downloadable() && !building {
            return Err(conflict(format!("with status {}", rec.status.as_str())));
        }
        let mut new = Vec::new();
        for a in req.assets {
            match rec.assets.iter().find(|x| x.name == a.name) {
                Some(x) if x.sha256 == a.blob.digests().sha256 => {}
                Some(x) => return Err(conflict(format!("with a different {}", x.name))),
                None => new.push(a),
            }
        }
        if new.is_empty() {
            self.set_tags(ctx, pkg, &req.tags)?;
            return Ok(false);
        }
        let multi = self.format(pkg.format).is_some_and(|f| f.multi_asset_versions());
        if !multi || !matches!(rec.origin, Origin::Internal { .. }) {
            return Err(conflict("with different content".into()));
        }
        let (added, blobs) = self.stage_assets(new).await?;
        let now = now_rfc3339();
        self.commit_referencing(blobs, |tx| {
            let mut cur = catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?
                .ok_or_else(|| conflict("no more: it was deleted concurrently".into()))?;
            let before = cur.clone();
            for a in &added {
                match cur.assets.iter().find(|x| x.name == a.name) {
                    Some(x) if x.sha256 == a.sha256 => {}
                    Some(_) => return Err(conflict(format!("with a different {}, published concurrently", a.name))),
                    None => cur.assets.push(a.clone()),
                }
            }
            if cur.metadata.is_null() {
                cur.metadata = req.metadata.clone();
            }
            cur.revision = revision(&cur.assets, &cur.metadata);
            catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &cur)?;
            events::record(tx, &EventSource::of(ctx), pkg, Some(&before), Some(&cur), &now)?;
            Ok(())
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %v, files = added.len(), "added files to a version");
        Ok(true)
    }

    /// The records of accepted files, with their core metadata staged beside them, and the
    /// blobs to commit with the metadata write (`commit_referencing`).
    async fn stage_assets(&self, assets: Vec<PublishAsset>) -> Result<(Vec<Asset>, Vec<Box<dyn PendingBlob>>)> {
        let mut out = Vec::with_capacity(assets.len());
        let mut blobs = Vec::with_capacity(assets.len());
        for a in assets {
            let mut attributes = a.attributes;
            if let Some(core) = &a.core_metadata {
                let companion = self.stage_companion(core).await?;
                attributes.core_metadata = Some(companion.digests().sha256);
                blobs.push(companion);
            }
            let mut asset = asset_from_digests(a.name, a.blob.digests());
            asset.attributes = attributes;
            blobs.push(a.blob.into_pending());
            out.push(asset);
        }
        Ok((out, blobs))
    }

    async fn check_not_upstream(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        since: std::time::Instant,
    ) -> Result<()> {
        let order = self.search_order(ctx)?;
        // Sources the package may not come from cannot conflict with a publish: decided with
        // the restrictions the package has once this version is in.
        let reach = self.read(|tx| {
            let own = self.package_for_entry(tx, &ctx.domain, &ctx.repo.name, pkg, Entry::Publish)?;
            super::origin::reach(tx, &ctx.domain, &order, pkg, Some(own.restrictions()))
        })?;
        let copied = self.format(pkg.format).is_none_or(|f| f.copied_from_upstreams(v));
        for (i, repo) in order.iter().enumerate() {
            if !reach[i].stored {
                continue;
            }
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
            let Some(conn) = self.connection_for(repo, pkg.format).filter(|_| reach[i].connection && copied) else {
                continue;
            };
            match self.upstream_package(conn, pkg, Freshness::StartedAfter(since), Priority::Client).await {
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
        let now = now_rfc3339();
        let n = self.write(|tx| {
            let mut n = 0;
            for mut rec in catalog::versions(tx, &ctx.domain, &ctx.repo.name, pkg)? {
                let before = rec.clone();
                if edit(&rec.version, &mut rec.metadata) {
                    rec.revision = revision(&rec.assets, &rec.metadata);
                    catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
                    events::record(tx, &EventSource::of(ctx), pkg, Some(&before), Some(&rec), &now)?;
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
