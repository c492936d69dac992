//! Files added to a stored version on request. Formats whose versions are ingested as their
//! standard files (Maven: the POM and the main artifact) can still serve a file outside that
//! set (a classifier jar, a `.module`): the first request downloads it from the connection the
//! version came through, checks it like any ingested file, and adds it to every repository of
//! the search order that holds the version from that connection.

use std::sync::Arc;

use super::error::{EngineError, Result};
use super::format::UpstreamAsset;
use super::packages::{asset_from_digests, revision};
use super::upstream::{Priority, Urgency};
use super::{Engine, RepoCtx};
use crate::model::{Asset, AssetName, Origin, PackageId, Version};
use crate::store::catalog;

impl Engine {
    /// Adds `asset` of `pkg@v` from the version's connection. `Ok(None)`: the format adds no
    /// files later, the version is not from a connection, or the upstream lacks the file.
    pub(super) async fn add_upstream_asset(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        asset: &AssetName,
    ) -> Result<Option<Asset>> {
        let Some(format) = self.format(pkg.format).cloned() else { return Ok(None) };
        let order = self.search_order(ctx)?;
        // The closest copy says where the version came from; a published one gets no files later.
        let mut origin = None;
        for repo in order.iter() {
            if let Some(rec) =
                self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &repo.name, pkg, v)?))?
            {
                origin = Some(rec.origin);
                break;
            }
        }
        let Some(origin) = origin else { return Ok(None) };
        let Origin::External { connection } = &origin else { return Ok(None) };
        let Some(up) = self.upstreams.get(connection) else { return Ok(None) };
        let Some(url) = format.upstream_asset_url(&up.base, pkg, v, asset) else { return Ok(None) };
        let ua = UpstreamAsset {
            name: asset.clone(),
            url,
            sha1: None,
            sha256: None,
            sha512: None,
            size: None,
            attributes: Default::default(),
        };
        let what = format!("{pkg}@{v}");
        let urgency = Urgency::new(Priority::Client);
        let Some(pending) = self.download_file(connection, pkg, &what, &ua, true, &urgency).await? else {
            return Ok(None);
        };
        let added = asset_from_digests(asset.clone(), pending.digests());
        let now = crate::model::now_rfc3339();
        let owner = ctx.owner.clone();
        self.commit_referencing(vec![pending], |tx| {
            for repo in order.iter() {
                let Some(cur) = catalog::version(tx, &ctx.domain, &repo.name, pkg, v)? else { continue };
                // A concurrent request may have added it already; its blob is then unreferenced
                // and collected like any other.
                if cur.origin != origin || cur.assets.iter().any(|a| &a.name == asset) {
                    continue;
                }
                let mut next = cur.clone();
                next.assets.push(added.clone());
                next.revision = revision(&next.assets, &next.metadata);
                catalog::put_version(tx, &ctx.domain, &repo.name, pkg, &next)?;
                let src = super::events::EventSource { domain: &ctx.domain, owner: &owner, repository: &repo.name };
                super::events::record(tx, &src, pkg, Some(&cur), Some(&next), &now)?;
            }
            Ok(())
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %v, asset = %asset, "file added from upstream");
        Ok(Some(added))
    }
}
