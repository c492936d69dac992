//! Version resolution through the search order with retention, asset streaming,
//! and the helpers the other package modules share (revisions, not-found errors).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::{EngineError, ResourceType, Result};
use super::metadata::Freshness;
use super::origin::Entry;
use super::upstream::Priority;

/// A version missing from cached metadata makes Depot refetch the document, but not more
/// often than this per package: clients asking for versions that do not exist must not turn
/// into a request upstream each.
const RECHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
use super::{Engine, RepoCtx};
use crate::model::{Asset, AssetName, PackageId, PackageVersionRecord, RepositoryName, RepositoryRecord, Version};
use crate::store::blobs::BlobBytes;
use crate::store::catalog;

/// Where a download's bytes come from (see [`Engine::asset_digest`]).
pub enum Located {
    /// A stored file of this version.
    Stored(Version, Asset),
    /// A file a running ingestion is still receiving, teed to this client.
    Teed(AssetBody),
}

/// An open asset: a file's bytes on their way to a client.
pub struct AssetBody {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (a strong ETag: the bytes never change); `None` for a file still arriving
    /// from the upstream without a declared one.
    pub sha256: Option<crate::model::Sha256>,
    /// The bytes.
    pub bytes: BlobBytes,
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

pub(super) fn version_missing(ctx: &RepoCtx, pkg: &PackageId, v: &Version) -> EngineError {
    EngineError::not_found(
        ResourceType::PackageVersion,
        format!("{pkg}@{v}"),
        format!("version {v} of package {pkg} not found in repository {}", ctx.repo.name),
    )
}

pub(super) fn package_missing(ctx: &RepoCtx, pkg: &PackageId) -> EngineError {
    EngineError::not_found(
        ResourceType::Package,
        pkg.to_string(),
        format!("package {pkg} not found in repository {}", ctx.repo.name),
    )
}

impl Engine {
    /// Finds `version` through the search order, retaining it in `ctx`'s repository and
    /// ingesting it from an external connection when needed.
    pub async fn resolve_version(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
    ) -> Result<PackageVersionRecord> {
        let order = self.search_order(ctx)?;
        let reach = self.reach_of(ctx, &order, pkg)?;
        let copied = self.format(pkg.format).is_none_or(|f| f.copied_from_upstreams(v));
        let mut first_err = None;
        for (i, repo) in order.iter().enumerate() {
            if !reach[i].stored {
                continue;
            }
            let stored =
                self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &repo.name, pkg, v)?))?;
            if let Some(rec) = stored {
                if !rec.status.is_downloadable() {
                    return Err(version_missing(ctx, pkg, v));
                }
                if i > 0 && copied {
                    self.retain(ctx, pkg, &repo.name, &rec)?;
                }
                return Ok(rec);
            }
            let Some(conn) = self.connection_for(repo, pkg.format).filter(|_| reach[i].connection && copied) else {
                continue;
            };
            let found = match self.upstream_has(conn, pkg, v).await {
                Ok(found) => found,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            if found {
                let retain = (i > 0).then(|| ctx.repo.name.clone());
                let target = super::ingest::Target { domain: &ctx.domain, repo: &repo.name, conn, pkg, version: v };
                return self.ingest(&target, retain, true).await.and_then(|r| {
                    r.ok_or_else(|| EngineError::Internal("ingestion finished without a record".into()))
                });
            }
        }
        Err(first_err.unwrap_or_else(|| self.with_hint(version_missing(ctx, pkg, v), &order, pkg)))
    }

    /// A not-found in a graph with no external connection for the format, while such a
    /// connection exists unconfigured, says which setting would bring the package in.
    pub(super) fn with_hint(&self, e: EngineError, order: &[RepositoryRecord], pkg: &PackageId) -> EngineError {
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
        let c = self.upstream_package(conn, pkg, Freshness::Cached, Priority::Client).await?;
        if c.package.as_ref().is_some_and(|p| p.version(v).is_some()) {
            return Ok(true);
        }
        let fresh = self.upstream_package(conn, pkg, Freshness::Recent(RECHECK_AFTER), Priority::Client).await?;
        Ok(fresh.package.as_ref().is_some_and(|p| p.version(v).is_some()))
    }

    /// Keeps a reference to an upstream's version (`rec`, read from repository `from`) in
    /// `ctx`'s repository. The source is read again in the writing transaction and copied only
    /// while it is downloadable: a version disposed since `rec` was read is never copied, as
    /// its blobs may be collected (`engine/gc.rs`).
    pub(super) fn retain(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        from: &RepositoryName,
        rec: &PackageVersionRecord,
    ) -> Result<()> {
        let now = crate::model::now_rfc3339();
        let added = self.write(|tx| {
            if catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec.version)?.is_some()
                || !super::origin::restrictions(tx, &ctx.domain, &ctx.repo.name, pkg)?.allows_upstream()
            {
                return Ok(false);
            }
            let Some(cur) = catalog::version(tx, &ctx.domain, from, pkg, &rec.version)? else { return Ok(false) };
            if !cur.status.is_downloadable() {
                return Ok(false);
            }
            self.ensure_package(tx, &ctx.domain, &ctx.repo.name, pkg, Entry::Upstream)?;
            catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &cur)?;
            super::events::record(tx, &super::events::EventSource::of(ctx), pkg, None, Some(&cur), &now)?;
            Ok(true)
        })?;
        if added {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, pkg.version = %rec.version, "retained from upstream");
        }
        Ok(())
    }

    /// Opens an asset of `pkg` for download, resolving (and ingesting) its version: the one
    /// the request names (PyPI and Maven routes carry it), else the one the format reads
    /// from the file name (npm).
    pub async fn fetch_asset(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        version: Option<&Version>,
        asset: &AssetName,
    ) -> Result<AssetBody> {
        match self.asset_digest(ctx, pkg, version, asset).await? {
            Located::Stored(v, a) => self.open_asset(ctx, pkg, &v, &a).await,
            Located::Teed(body) => Ok(body),
        }
    }

    /// The digest and size of one file, without opening it: a client whose `If-None-Match`
    /// names the digest (a strong ETag) is answered from this alone. A file still being
    /// ingested may come back teed (`tee.rs`) instead: its bytes as they arrive.
    pub async fn asset_digest(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        version: Option<&Version>,
        asset: &AssetName,
    ) -> Result<Located> {
        let format = self.format(pkg.format).ok_or_else(|| EngineError::Validation("format not served".into()))?;
        let v = version.cloned().or_else(|| format.version_of_asset(pkg, asset)).ok_or_else(|| {
            EngineError::not_found(
                ResourceType::Asset,
                asset.as_str(),
                format!("asset {asset} of package {pkg} not found"),
            )
        })?;
        let (a, teed) = super::tee::Wanted::scope(asset, self.locate_asset(ctx, pkg, &v, asset)).await;
        if let Some(body) = teed {
            return Ok(Located::Teed(body));
        }
        Ok(Located::Stored(v, a?))
    }

    /// Opens a file found by [`Engine::asset_digest`].
    pub async fn open_asset(&self, ctx: &RepoCtx, pkg: &PackageId, v: &Version, a: &Asset) -> Result<AssetBody> {
        if let Some(b) = self.hot_blobs.get(&a.sha256) {
            return Ok(AssetBody { size: b.len() as u64, sha256: Some(a.sha256), bytes: BlobBytes::Whole(b) });
        }
        let Some(body) = self.blobs.open(&a.sha256).await? else {
            return Err(self.missing_blob(&ctx.domain, pkg, v, a));
        };
        if let BlobBytes::Whole(b) = &body.bytes {
            self.hot_blobs.offer(&a.sha256, b);
        }
        Ok(AssetBody { size: body.size, sha256: Some(a.sha256), bytes: body.bytes })
    }

    /// The stored record of one file of `pkg@v`, resolving (and ingesting) the version, and
    /// adding the file from the version's connection when the format serves files outside a
    /// version's standard set (`on_demand`). Maven answers checksum side files from it.
    pub async fn version_asset(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        asset: &AssetName,
    ) -> Result<Asset> {
        let rec = self.resolve_version(ctx, pkg, v).await?;
        if let Some(a) = rec.assets.iter().find(|a| &a.name == asset) {
            return Ok(a.clone());
        }
        match self.add_upstream_asset(ctx, pkg, v, asset).await? {
            Some(a) => Ok(a),
            None => Err(EngineError::not_found(
                ResourceType::Asset,
                asset.as_str(),
                format!("asset {asset} of {pkg}@{v} not found"),
            )),
        }
    }

    /// The error for a stored version whose blob is gone. A disposal or delete that committed
    /// after the version was read frees the bytes once nothing references them: that is a plain
    /// 404. A blob missing while a version still names it is a damaged store (500).
    pub(super) fn missing_blob(
        &self,
        d: &crate::model::DomainName,
        pkg: &PackageId,
        v: &Version,
        a: &Asset,
    ) -> EngineError {
        let referenced = self.read(|tx| {
            Ok::<_, EngineError>(
                catalog::domain_versions(tx, d)?.iter().any(|r| r.assets.iter().any(|x| x.sha256 == a.sha256)),
            )
        });
        match referenced {
            Ok(false) => EngineError::not_found(
                ResourceType::Asset,
                a.name.as_str(),
                format!("asset {} of {pkg}@{v} was disposed or deleted", a.name),
            ),
            Ok(true) => EngineError::Internal(format!("blob {} of {pkg}@{v} is missing", a.sha256)),
            Err(e) => e,
        }
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
}

/// Whether a package record stands for a package the management API shows: one with a
/// version, or one whose origin configuration was set (PutPackageOriginConfiguration creates
/// packages with no versions; a tag change alone does not).
pub(super) fn package_exists(
    tx: &dyn crate::store::ReadTxn,
    ctx: &RepoCtx,
    id: &PackageId,
    rec: &crate::model::PackageRecord,
) -> std::result::Result<bool, crate::store::StoreError> {
    Ok(rec.origin.is_some() || catalog::has_versions(tx, &ctx.domain, &ctx.repo.name, id)?)
}

pub(super) fn asset_from_digests(name: AssetName, d: &crate::store::BlobDigests) -> Asset {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha1".to_string(), d.sha1.clone());
    hashes.insert("md5".to_string(), d.md5.clone());
    hashes.insert("sha512".to_string(), hex::encode(&d.sha512));
    Asset { name, size: d.size, sha256: d.sha256, hashes, attributes: Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_changes_with_assets_and_metadata() {
        let a = Asset {
            name: AssetName::new("x-1.0.0.tgz").unwrap(),
            size: 1,
            sha256: crate::model::Sha256::from_bytes([1; 32]),
            hashes: BTreeMap::new(),
            attributes: Default::default(),
        };
        let r1 = revision(std::slice::from_ref(&a), &serde_json::json!({"a": 1}));
        assert_eq!(r1, revision(std::slice::from_ref(&a), &serde_json::json!({"a": 1})));
        assert_ne!(r1, revision(std::slice::from_ref(&a), &serde_json::json!({"a": 2})));
        let mut b = a;
        b.sha256 = crate::model::Sha256::from_bytes([2; 32]);
        assert_ne!(r1, revision(&[b], &serde_json::json!({"a": 1})));
    }
}
