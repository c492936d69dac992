//! Files added to a stored version on request. Formats whose versions are ingested as their
//! standard files (Maven: the POM and the main artifact) can still serve a file outside that
//! set (a classifier jar, a `.module`): the first request downloads it from the connection the
//! version came through, checks it like any ingested file, and adds it to every repository of
//! the search order that holds the version from that connection.
//!
//! The download follows the ingestion rules (`flight.rs`): one detached job per (domain,
//! connection, package, version, file) that every concurrent request joins and that goes on
//! when the clients stop waiting; a client waits at most the ingestion wait, then gets
//! "Ingestion is in progress" and a later request gets the file. Unlike a version's ingestion
//! the job is not persisted: a restart forgets it, and the next request starts it again.

use std::sync::Arc;

use sha2::Digest;

use super::error::{EngineError, Result};
use super::flight::Flight;
use super::format::UpstreamAsset;
use super::packages::{asset_from_digests, revision};
use super::upstream::{Priority, Urgency};
use super::{Engine, RepoCtx};
use crate::model::{Asset, AssetName, Origin, PackageId, RepositoryRecord, Version};
use crate::store::{catalog, WriteTxn};

/// One file of one version, fetched on request.
#[derive(Clone)]
struct FileJob {
    ctx: RepoCtx,
    order: Arc<Vec<RepositoryRecord>>,
    origin: Origin,
    pkg: PackageId,
    version: Version,
    asset: AssetName,
}

fn flight_id(ctx: &RepoCtx, connection: &str, pkg: &PackageId, v: &Version, asset: &AssetName) -> String {
    let mut h = sha2::Sha256::new();
    for s in ["file", ctx.domain.as_str(), connection, &pkg.to_string(), v.as_str(), asset.as_str()] {
        h.update(s.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

impl Engine {
    /// Adds `asset` of `pkg@v` from the version's connection. `Ok(None)`: the format adds no
    /// files later, the version is not from a connection, or the upstream lacks the file.
    /// `IngestionInProgress` when the download outlasts the client wait.
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
        let id = flight_id(ctx, connection, pkg, v, asset);
        let job = FileJob {
            ctx: ctx.clone(),
            order,
            origin: origin.clone(),
            pkg: pkg.clone(),
            version: v.clone(),
            asset: asset.clone(),
        };
        let rx = match self.board(&id, Priority::Client) {
            Flight::Joined(rx) => rx,
            Flight::Started { tx, rx, urgency } => {
                let (engine, job) = (self.clone(), job.clone());
                tokio::spawn(async move {
                    let permit = engine.jobs.workers.acquire(&urgency).await;
                    let res = engine.download_added_file(&job, &ua, &urgency).await;
                    drop(permit);
                    engine.land(&id, &tx, res);
                });
                rx
            }
        };
        // Every waiter (the starter too) attaches the file to its own search order, so a
        // request through another repository that joined the job gets it as well.
        let engine = self.clone();
        let follow_up = tokio::spawn(async move {
            Engine::landed(rx).await?;
            engine.attach_added_file(&job)
        });
        self.wait_for_client(follow_up, &format!("{asset} of {pkg}@{v}")).await
    }

    /// The job: download and verify the file, then add it to the versions of the search order.
    async fn download_added_file(self: &Arc<Self>, job: &FileJob, ua: &UpstreamAsset, urgency: &Urgency) -> Result<()> {
        let Origin::External { connection } = &job.origin else { return Ok(()) };
        let what = format!("{}@{}", job.pkg, job.version);
        let Some(pending) = self.download_file(connection, &job.pkg, &what, ua, true, urgency).await? else {
            return Ok(());
        };
        let added = asset_from_digests(job.asset.clone(), pending.digests());
        let now = crate::model::now_rfc3339();
        self.commit_referencing(vec![pending], |tx| attach_tx(tx, job, &added, &now))?;
        self.gens.bump_package(job.ctx.domain.as_str(), &job.pkg);
        tracing::info!(repo.name = %job.ctx.repo.name, pkg.name = %job.pkg, pkg.version = %job.version,
            asset = %job.asset, "file added from upstream");
        Ok(())
    }

    /// After the job: the file as a version of the search order holds it (`None` when the
    /// upstream lacked it), added to the order's other copies that lack it.
    fn attach_added_file(&self, job: &FileJob) -> Result<Option<Asset>> {
        let (found, missing) = self.read(|tx| {
            let (mut found, mut missing) = (None, false);
            for repo in job.order.iter() {
                let Some(rec) = catalog::version(tx, &job.ctx.domain, &repo.name, &job.pkg, &job.version)? else {
                    continue;
                };
                if rec.origin != job.origin {
                    continue;
                }
                match rec.assets.into_iter().find(|a| a.name == job.asset) {
                    Some(a) => found = found.or(Some(a)),
                    None => missing = true,
                }
            }
            Ok::<_, EngineError>((found, missing))
        })?;
        let Some(added) = found else { return Ok(None) };
        if missing {
            let now = crate::model::now_rfc3339();
            self.write(|tx| attach_tx(tx, job, &added, &now))?;
            self.gens.bump_package(job.ctx.domain.as_str(), &job.pkg);
        }
        Ok(Some(added))
    }
}

/// Adds `added` to every version of the search order that came from the job's connection and
/// lacks it (a new revision and an event each).
fn attach_tx(tx: &mut dyn WriteTxn, job: &FileJob, added: &Asset, now: &str) -> Result<()> {
    let ctx = &job.ctx;
    for repo in job.order.iter() {
        let Some(cur) = catalog::version(tx, &ctx.domain, &repo.name, &job.pkg, &job.version)? else { continue };
        // A concurrent request may have added it already; its blob is then unreferenced
        // and collected like any other.
        if cur.origin != job.origin || cur.assets.iter().any(|a| a.name == job.asset) {
            continue;
        }
        let mut next = cur.clone();
        next.assets.push(added.clone());
        next.revision = revision(&next.assets, &next.metadata);
        catalog::put_version(tx, &ctx.domain, &repo.name, &job.pkg, &next)?;
        let src = super::events::EventSource { domain: &ctx.domain, owner: &ctx.owner, repository: &repo.name };
        super::events::record(tx, &src, &job.pkg, Some(&cur), Some(&next), now)?;
    }
    Ok(())
}
