//! Package views (a repository's versions ∪ its upstreams' ∪ the external connection's),
//! version resolution with retention, asset streaming, publishing and tags.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::error::{EngineError, ResourceType, Result};
use super::metadata::{CachedUpstream, Freshness};
use super::{Engine, RepoCtx};
use crate::model::{
    now_rfc3339, Asset, AssetName, Origin, PackageId, PackageRecord, PackageVersionRecord, PackageVersionStatus,
    RepositoryName, RepositoryRecord, Version,
};
use crate::store::blobs::ByteStream;
use crate::store::catalog;

/// One version as a repository shows it.
#[derive(Debug, Clone)]
pub struct ViewVersion {
    /// The version.
    pub version: Version,
    /// The format's per-version metadata.
    pub metadata: serde_json::Value,
    /// Asset names with the digests clients check (`sha1`, `sha512` hex, `sha256`).
    pub assets: Vec<(AssetName, BTreeMap<String, String>)>,
    /// Status (always listed here).
    pub status: PackageVersionStatus,
    /// Publication time, when known.
    pub published_time: Option<String>,
}

/// What a repository shows of a package.
#[derive(Debug, Clone)]
pub struct PackageView {
    /// The package.
    pub package: PackageId,
    /// Listed versions, highest priority source first.
    pub versions: Vec<ViewVersion>,
    /// Merged tags (an upstream's value wins a conflict).
    pub tags: BTreeMap<String, String>,
}

/// An open asset.
pub struct AssetBody {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (used as a strong ETag: the bytes never change).
    pub sha256: String,
    /// The bytes.
    pub stream: ByteStream,
}

/// A file to publish.
pub struct PublishAsset {
    /// File name.
    pub name: AssetName,
    /// Its bytes (already bounded by the server's body limit).
    pub bytes: Bytes,
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

/// A stored version as ListPackageVersions shows it.
#[derive(Debug, Clone)]
pub struct VersionListing {
    /// The stored record.
    pub record: PackageVersionRecord,
}

/// Inputs of a view, gathered asynchronously; building from them is synchronous.
pub struct ViewInputs {
    order: Arc<Vec<RepositoryRecord>>,
    upstream: HashMap<RepositoryName, Arc<CachedUpstream>>,
    /// Identifies these inputs: equal stamps mean an equal view.
    pub stamp: u64,
}

/// Hash over asset digests and metadata: a version's revision.
pub(super) fn revision(assets: &[Asset], metadata: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    for a in assets {
        h.update(a.name.as_str());
        h.update([0]);
        h.update(a.sha256.bytes());
    }
    h.update(serde_json::to_vec(metadata).unwrap_or_default());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

fn version_missing(ctx: &RepoCtx, pkg: &PackageId, v: &Version) -> EngineError {
    EngineError::not_found(
        ResourceType::PackageVersion,
        format!("{pkg}@{v}"),
        format!("version {v} of package {pkg} not found in repository {}", ctx.repo.name),
    )
}

fn package_missing(ctx: &RepoCtx, pkg: &PackageId) -> EngineError {
    EngineError::not_found(
        ResourceType::Package,
        pkg.to_string(),
        format!("package {pkg} not found in repository {}", ctx.repo.name),
    )
}

impl Engine {
    /// Gathers what a view of `pkg` in `ctx` depends on, fetching upstream metadata as needed
    /// (bounded by the client wait). Cheap when everything is cached.
    pub async fn view_inputs(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId) -> Result<ViewInputs> {
        let order = self.search_order(ctx)?;
        let mut upstream = HashMap::new();
        let mut first_err = None;
        for repo in order.iter() {
            if let Some(conn) = self.connection_for(repo, pkg.format) {
                match self.upstream_package(&conn, pkg, Freshness::Cached).await {
                    Ok(c) => {
                        upstream.insert(repo.name.clone(), c);
                    }
                    Err(e) => {
                        tracing::debug!(repo.name = %repo.name, pkg.name = %pkg, error = %e, "upstream metadata unavailable");
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.gens.graph().hash(&mut h);
        self.gens.package(ctx.domain.as_str(), pkg).hash(&mut h);
        for repo in order.iter() {
            repo.name.hash(&mut h);
            upstream.get(&repo.name).map(|c| c.stamp).hash(&mut h);
        }
        let inputs = ViewInputs { order, upstream, stamp: h.finish() };
        if let Some(e) = first_err {
            // Serve what Depot has; fail only when it has nothing for this package.
            let has_any = inputs.upstream.values().any(|c| c.package.is_some())
                || self.read(|tx| {
                    for r in inputs.order.iter() {
                        if catalog::package(tx, &ctx.domain, &r.name, pkg)?.is_some() {
                            return Ok(true);
                        }
                    }
                    Ok::<_, EngineError>(false)
                })?;
            if !has_any {
                return Err(e);
            }
        }
        Ok(inputs)
    }

    /// Builds the view from gathered inputs. `NotFound` when no source knows the package.
    pub fn build_view(&self, ctx: &RepoCtx, pkg: &PackageId, inputs: &ViewInputs) -> Result<PackageView> {
        let mut versions: Vec<ViewVersion> = Vec::new();
        let mut seen: HashSet<Version> = HashSet::new();
        let mut known = false;
        let mut own_tags: HashMap<RepositoryName, BTreeMap<String, String>> = HashMap::new();
        self.read(|tx| {
            for repo in inputs.order.iter() {
                if let Some(p) = catalog::package(tx, &ctx.domain, &repo.name, pkg)? {
                    known = true;
                    own_tags.insert(repo.name.clone(), p.tags);
                }
                for rec in catalog::versions(tx, &ctx.domain, &repo.name, pkg)? {
                    // A version present in a closer repository shadows upstream copies even
                    // when its status hides it.
                    if !seen.insert(rec.version.clone()) || !rec.status.is_listed() {
                        continue;
                    }
                    versions.push(ViewVersion {
                        assets: rec.assets.iter().map(|a| (a.name.clone(), asset_hashes(a))).collect(),
                        version: rec.version,
                        metadata: rec.metadata,
                        status: rec.status,
                        published_time: Some(rec.published_time),
                    });
                }
                if let Some(up) = inputs.upstream.get(&repo.name).and_then(|c| c.package.as_ref()) {
                    known = true;
                    for uv in &up.versions {
                        if !seen.insert(uv.version.clone()) {
                            continue;
                        }
                        versions.push(ViewVersion {
                            version: uv.version.clone(),
                            metadata: uv.metadata.clone(),
                            assets: uv
                                .assets
                                .iter()
                                .map(|a| {
                                    let mut h = BTreeMap::new();
                                    if let Some(s) = &a.sha1 {
                                        h.insert("sha1".into(), s.clone());
                                    }
                                    if let Some(s) = &a.sha512 {
                                        h.insert("sha512".into(), hex::encode(s));
                                    }
                                    if let Some(s) = &a.sha256 {
                                        h.insert("sha256".into(), s.clone());
                                    }
                                    (a.name.clone(), h)
                                })
                                .collect(),
                            status: PackageVersionStatus::Published,
                            published_time: uv.published_time.clone(),
                        });
                    }
                }
            }
            Ok::<_, EngineError>(())
        })?;
        if !known {
            return Err(self.with_hint(package_missing(ctx, pkg), &inputs.order, pkg));
        }
        let by_name: HashMap<&RepositoryName, &RepositoryRecord> = inputs.order.iter().map(|r| (&r.name, r)).collect();
        let mut tags = merged_tags(&inputs.order[0], &by_name, &own_tags, &inputs.upstream, &mut HashSet::new());
        tags.retain(|_, v| versions.iter().any(|x| x.version.as_str() == v));
        Ok(PackageView { package: pkg.clone(), versions, tags })
    }

    /// The view of `pkg` in `ctx` (gather, then build).
    pub async fn package_view(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId) -> Result<PackageView> {
        let inputs = self.view_inputs(ctx, pkg).await?;
        self.build_view(ctx, pkg, &inputs)
    }

    /// Finds `version` through the search order, retaining it in `ctx`'s repository and
    /// ingesting it from an external connection when needed.
    pub async fn resolve_version(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
    ) -> Result<PackageVersionRecord> {
        let order = self.search_order(ctx)?;
        let mut first_err = None;
        for (i, repo) in order.iter().enumerate() {
            let stored =
                self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &repo.name, pkg, v)?))?;
            if let Some(rec) = stored {
                if !rec.status.is_downloadable() {
                    return Err(version_missing(ctx, pkg, v));
                }
                if i > 0 {
                    self.retain(ctx, pkg, &rec)?;
                }
                return Ok(rec);
            }
            let Some(conn) = self.connection_for(repo, pkg.format) else { continue };
            let found = match self.upstream_has(&conn, pkg, v).await {
                Ok(found) => found,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            if found {
                let retain = (i > 0).then(|| ctx.repo.name.clone());
                let target =
                    super::ingest::Target { domain: &ctx.domain, repo: &repo.name, conn: &conn, pkg, version: v };
                return self.ingest(&target, retain, true).await.and_then(|r| {
                    r.ok_or_else(|| EngineError::Internal("ingestion finished without a record".into()))
                });
            }
        }
        Err(first_err.unwrap_or_else(|| self.with_hint(version_missing(ctx, pkg, v), &order, pkg)))
    }

    /// A not-found in a graph with no external connection for the format, while such a
    /// connection exists unconfigured, says which setting would bring the package in.
    fn with_hint(&self, e: EngineError, order: &[RepositoryRecord], pkg: &PackageId) -> EngineError {
        let EngineError::NotFound { message, resource, id } = e else { return e };
        if order.iter().any(|r| self.connection_for(r, pkg.format).is_some()) {
            return EngineError::NotFound { message, resource, id };
        }
        let unconfigured = crate::config::CONNECTIONS
            .iter()
            .find(|(name, f)| *f == pkg.format && self.cfg.connection_url(name).is_none())
            .map(|(name, _)| *name);
        let message = match unconfigured {
            Some(c) => format!(
                "{message} (no repository it searches has an external connection for {}; {c} has no upstream URL: set {})",
                pkg.format,
                crate::config::upstream_env_var(c)
            ),
            None => message,
        };
        EngineError::NotFound { message, resource, id }
    }

    /// Whether the connection lists `v`; refetches once when a cached document lacks it.
    async fn upstream_has(self: &Arc<Self>, conn: &str, pkg: &PackageId, v: &Version) -> Result<bool> {
        let c = self.upstream_package(conn, pkg, Freshness::Cached).await?;
        if c.package.as_ref().is_some_and(|p| p.version(v).is_some()) {
            return Ok(true);
        }
        let fresh = self.upstream_package(conn, pkg, Freshness::Fresh).await?;
        Ok(fresh.package.as_ref().is_some_and(|p| p.version(v).is_some()))
    }

    /// Keeps a reference to an upstream's version in `ctx`'s repository.
    pub(super) fn retain(&self, ctx: &RepoCtx, pkg: &PackageId, rec: &PackageVersionRecord) -> Result<()> {
        let added = self.write(|tx| {
            if catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec.version)?.is_some() {
                return Ok(false);
            }
            catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, rec)?;
            Ok(true)
        })?;
        if added {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %rec.version, "retained from upstream");
        }
        Ok(())
    }

    /// Opens an asset of `pkg` for download, resolving (and ingesting) its version.
    pub async fn fetch_asset(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId, asset: &AssetName) -> Result<AssetBody> {
        let format = self.format(pkg.format).ok_or_else(|| EngineError::Validation("format not served".into()))?;
        let v = format.version_of_asset(pkg, asset).ok_or_else(|| {
            EngineError::not_found(
                ResourceType::Asset,
                asset.as_str(),
                format!("asset {asset} of package {pkg} not found"),
            )
        })?;
        let rec = self.resolve_version(ctx, pkg, &v).await?;
        let a = rec.assets.iter().find(|a| &a.name == asset).ok_or_else(|| {
            EngineError::not_found(ResourceType::Asset, asset.as_str(), format!("asset {asset} of {pkg}@{v} not found"))
        })?;
        let body = self
            .blobs
            .open(&a.sha256)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("blob {} of {pkg}@{v} is missing", a.sha256)))?;
        Ok(AssetBody { size: body.size, sha256: a.sha256.hex(), stream: body.stream })
    }

    /// Publishes a version to `ctx`'s repository, enforcing the rules: same content again →
    /// success; different content → 409; a version any upstream (repository or external
    /// connection) has → 409.
    pub async fn publish(self: &Arc<Self>, ctx: &RepoCtx, req: PublishRequest) -> Result<bool> {
        let pkg = &req.package;
        let v = &req.version;
        // Decide before storing anything, so a refused publish leaves no blob behind.
        let digests: Vec<crate::model::Sha256> =
            req.assets.iter().map(|a| crate::model::Sha256::from_bytes(Sha256::digest(&a.bytes).into())).collect();
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
        self.check_not_upstream(ctx, pkg, v).await?;
        let mut assets = Vec::with_capacity(req.assets.len());
        for a in &req.assets {
            assets.push(self.store_bytes(&a.name, &a.bytes).await?);
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

    async fn check_not_upstream(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId, v: &Version) -> Result<()> {
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
            match self.upstream_package(&conn, pkg, Freshness::Fresh).await {
                Ok(c) if c.package.as_ref().is_some_and(|p| p.version(v).is_some()) => {
                    return Err(EngineError::conflict(
                        ResourceType::PackageVersion,
                        format!("{pkg}@{v}"),
                        format!("version {v} of package {pkg} already exists in external connection {conn}"),
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %v, upstream = %conn, error = %e,
                        "publishing without checking the external connection: it is unreachable and nothing is cached");
                }
            }
        }
        Ok(())
    }

    async fn store_bytes(&self, name: &AssetName, bytes: &[u8]) -> Result<Asset> {
        let mut w = self.blobs.begin().await?;
        w.write(bytes).await?;
        let digests = w.finish().await?.commit().await?;
        Ok(asset_from_digests(name.clone(), &digests))
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

    /// Packages stored in a repository, in (format, namespace, name) order (ListPackages).
    pub fn list_packages(
        &self,
        ctx: &RepoCtx,
        filter: &dyn Fn(&PackageId) -> bool,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<PackageId>, Option<Vec<u8>>)> {
        self.read(|tx| {
            let mut out = Vec::new();
            let mut cursor = after.map(<[u8]>::to_vec);
            loop {
                let batch = catalog::packages(tx, &ctx.domain, &ctx.repo.name, cursor.as_deref(), 512)?;
                let Some((_, last)) = batch.last() else { return Ok((out, None)) };
                let last = last.clone();
                for (id, key) in batch {
                    // Only packages with at least one version are listed.
                    if filter(&id) && !catalog::versions(tx, &ctx.domain, &ctx.repo.name, &id)?.is_empty() {
                        out.push(id);
                        if out.len() == limit {
                            return Ok((out, Some(key)));
                        }
                    }
                }
                cursor = Some(last);
            }
        })
    }

    /// Bytes of distinct assets stored in a domain (DescribeDomain's `assetSizeBytes`).
    pub fn domain_asset_size(&self, d: &crate::model::DomainName) -> Result<u64> {
        self.read(|tx| {
            let mut seen = HashSet::new();
            let mut total = 0;
            for rec in catalog::domain_versions(tx, d)? {
                for a in rec.assets {
                    if seen.insert(a.sha256) {
                        total += a.size;
                    }
                }
            }
            Ok(total)
        })
    }

    /// Versions stored in a repository (ListPackageVersions); upstreams are ignored.
    pub fn list_package_versions(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
    ) -> Result<(Vec<PackageVersionRecord>, PackageRecord)> {
        self.read(|tx| {
            let p = catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.ok_or_else(|| package_missing(ctx, pkg))?;
            Ok((catalog::versions(tx, &ctx.domain, &ctx.repo.name, pkg)?, p))
        })
    }
}

pub(super) fn asset_from_digests(name: AssetName, d: &crate::store::BlobDigests) -> Asset {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha1".to_string(), d.sha1.clone());
    hashes.insert("md5".to_string(), d.md5.clone());
    hashes.insert("sha512".to_string(), hex::encode(&d.sha512));
    Asset { name, size: d.size, sha256: d.sha256, hashes }
}

fn asset_hashes(a: &Asset) -> BTreeMap<String, String> {
    let mut h = a.hashes.clone();
    h.insert("sha256".into(), a.sha256.hex());
    h
}

/// Tags as the guide merges them: a repository's own, overridden by its external connection's
/// and by its upstreams' merged tags (a higher-priority upstream wins among siblings).
fn merged_tags(
    repo: &RepositoryRecord,
    by_name: &HashMap<&RepositoryName, &RepositoryRecord>,
    own: &HashMap<RepositoryName, BTreeMap<String, String>>,
    upstream: &HashMap<RepositoryName, Arc<CachedUpstream>>,
    visited: &mut HashSet<RepositoryName>,
) -> BTreeMap<String, String> {
    visited.insert(repo.name.clone());
    let mut tags = own.get(&repo.name).cloned().unwrap_or_default();
    if let Some(p) = upstream.get(&repo.name).and_then(|c| c.package.as_ref()) {
        tags.extend(p.tags.clone());
    }
    let mut from_ups = BTreeMap::new();
    for u in &repo.upstreams {
        if visited.contains(u) {
            continue;
        }
        if let Some(up) = by_name.get(u) {
            for (k, v) in merged_tags(up, by_name, own, upstream, visited) {
                from_ups.entry(k).or_insert(v);
            }
        }
    }
    tags.extend(from_ups);
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DomainName;

    fn repo(name: &str, ups: &[&str]) -> RepositoryRecord {
        RepositoryRecord {
            domain: DomainName::new("d1").unwrap(),
            name: RepositoryName::new(name).unwrap(),
            description: None,
            upstreams: ups.iter().map(|u| RepositoryName::new(*u).unwrap()).collect(),
            external_connections: vec![],
            created: 0.0,
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn merge(repos: &[RepositoryRecord], own: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, String> {
        let by_name = repos.iter().map(|r| (&r.name, r)).collect();
        let own = own.iter().map(|(r, t)| (RepositoryName::new(*r).unwrap(), tags(t))).collect();
        merged_tags(&repos[0], &by_name, &own, &HashMap::new(), &mut HashSet::new())
    }

    #[test]
    fn tags_merge_as_the_guide_says() {
        let repos = [repo("r1", &["u1"]), repo("u1", &[])];
        // Different tags: both are visible.
        let t = merge(&repos, &[("r1", &[("latest", "1.0.0")]), ("u1", &[("alpha", "1.0.1")])]);
        assert_eq!(t, tags(&[("latest", "1.0.0"), ("alpha", "1.0.1")]));
        // The same tag: the upstream's value wins.
        let t = merge(&repos, &[("r1", &[("latest", "1.0.2")]), ("u1", &[("latest", "1.0.1")])]);
        assert_eq!(t, tags(&[("latest", "1.0.1")]));
    }

    #[test]
    fn higher_priority_upstream_wins_among_siblings() {
        let repos = [repo("r1", &["a1", "b1"]), repo("a1", &[]), repo("b1", &[])];
        let t = merge(&repos, &[("a1", &[("next", "2.0.0")]), ("b1", &[("next", "3.0.0"), ("beta", "3.0.0")])]);
        assert_eq!(t, tags(&[("next", "2.0.0"), ("beta", "3.0.0")]));
    }

    #[test]
    fn revision_changes_with_assets_and_metadata() {
        let a = Asset {
            name: AssetName::new("x-1.0.0.tgz").unwrap(),
            size: 1,
            sha256: crate::model::Sha256::from_bytes([1; 32]),
            hashes: BTreeMap::new(),
        };
        let r1 = revision(std::slice::from_ref(&a), &serde_json::json!({"a": 1}));
        assert_eq!(r1, revision(std::slice::from_ref(&a), &serde_json::json!({"a": 1})));
        assert_ne!(r1, revision(std::slice::from_ref(&a), &serde_json::json!({"a": 2})));
        let mut b = a;
        b.sha256 = crate::model::Sha256::from_bytes([2; 32]);
        assert_ne!(r1, revision(&[b], &serde_json::json!({"a": 1})));
    }
}
