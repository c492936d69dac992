//! Where a warm download's bytes are: (domain, repository, package, version, asset) → the
//! asset's digest and size, so a cached download neither reads nor decodes the stored version
//! record (whose format metadata is a `serde_json::Value`) and a matching `If-None-Match`
//! answers without touching the store.
//!
//! An entry is stamped with the graph generation and the package's generation when its
//! resolution started: every write to the package (publish, ingestion, status change,
//! dispose, delete, origin restrictions) and every repository change moves one of them, so a
//! stale entry is never served. Only downloadable versions are entered.

use super::error::Result;
use super::{Engine, RepoCtx};
use crate::model::{Asset, AssetName, PackageId, Version};

/// (domain, repository the request names, package, version, asset)
type Key = (String, String, PackageId, String, String);

/// The stamp an entry was resolved under: (graph generation, package generation).
type Stamp = (u64, u64);

/// Most entries kept: each is a few hundred bytes, so this bounds the index to a few MiB.
const MAX_ENTRIES: u64 = 20_000;

pub(super) struct AssetIndex {
    entries: super::keyed::Keyed<Key, (Stamp, Asset)>,
}

impl AssetIndex {
    pub(super) fn new() -> Self {
        Self { entries: super::keyed::Keyed::with_capacity(MAX_ENTRIES) }
    }
}

impl Engine {
    fn asset_stamp(&self, ctx: &RepoCtx, pkg: &PackageId) -> Stamp {
        (self.gens.graph(), self.gens.package(ctx.domain.as_str(), pkg))
    }

    /// The stored record of one file of `pkg@v` as [`Engine::version_asset`] finds it, from the
    /// index when nothing changed since it was last resolved.
    pub async fn locate_asset(
        self: &std::sync::Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        asset: &AssetName,
    ) -> Result<Asset> {
        let (d, r) = (ctx.domain.as_str(), ctx.repo.name.as_str());
        let slot = self.asset_index.entries.slot(&(d, r, pkg, v.as_str(), asset.as_str()));
        // Read before resolving: a write that lands during the resolution moves the generation
        // past this stamp, so the entry entered below is already stale rather than wrong.
        let stamp = self.asset_stamp(ctx, pkg);
        let is_key = |k: &Key| k.0 == d && k.1 == r && &k.2 == pkg && k.3 == v.as_str() && k.4 == asset.as_str();
        if let Some((s, a)) = self.asset_index.entries.get(slot, is_key) {
            if s == stamp {
                return Ok(a);
            }
        }
        let a = self.version_asset(ctx, pkg, v, asset).await?;
        let key = (d.to_string(), r.to_string(), pkg.clone(), v.to_string(), asset.to_string());
        self.asset_index.entries.insert(slot, key, (stamp, a.clone()));
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Config, MapEnv};
    use crate::engine::packages::asset_from_digests;
    use crate::engine::{Auth, EngineError};
    use crate::model::{
        DomainName, Origin, PackageFormat, PackageName, PackageVersionRecord, PackageVersionStatus, RepositoryName,
    };
    use crate::store::{catalog, DirBlobStore, MemoryStore};

    fn engine(dir: &std::path::Path) -> Arc<Engine> {
        let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
        let auth = Auth::open(dir, vec![]).unwrap();
        let blobs = DirBlobStore::open(&dir.join("blobs")).unwrap();
        Engine::with_stores(cfg, Arc::new(MemoryStore::new()), Arc::new(blobs), auth, vec![]).unwrap()
    }

    fn pkg() -> PackageId {
        PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("pkg").unwrap() }
    }

    fn file(v: &str) -> AssetName {
        AssetName::new(format!("pkg-{v}.tgz")).unwrap()
    }

    /// Stores `v` the way a publish does (blob, then the version under the gate), without
    /// bumping the package generation: the index has not seen the package yet.
    async fn store(e: &Arc<Engine>, ctx: &RepoCtx, v: &str) {
        let mut w = e.blobs.begin().await.unwrap();
        w.write(format!("bytes of {v}").as_bytes()).await.unwrap();
        let blob = w.finish().await.unwrap();
        let rec = PackageVersionRecord {
            version: Version::new(v).unwrap(),
            status: PackageVersionStatus::Published,
            revision: format!("rev-{v}"),
            assets: vec![asset_from_digests(file(v), blob.digests())],
            metadata: serde_json::Value::Null,
            published_time: "2026-01-01T00:00:00Z".into(),
            origin: Origin::Internal { repository: ctx.repo.name.clone() },
        };
        e.commit_referencing(vec![blob], |tx| {
            e.ensure_package(tx, &ctx.domain, &ctx.repo.name, &pkg(), crate::engine::origin::Entry::Publish)?;
            Ok(catalog::put_version(tx, &ctx.domain, &ctx.repo.name, &pkg(), &rec)?)
        })
        .unwrap();
    }

    async fn locate(e: &Arc<Engine>, ctx: &RepoCtx, v: &str) -> Result<Asset> {
        e.locate_asset(ctx, &pkg(), &Version::new(v).unwrap(), &file(v)).await
    }

    fn sel(v: &str) -> Vec<(Version, Option<String>)> {
        vec![(Version::new(v).unwrap(), None)]
    }

    fn is_not_found<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(EngineError::NotFound { .. }))
    }

    /// A warm entry answers without the store; any status change, dispose or delete is seen at
    /// once: an Archived, Disposed or deleted version is never served from the index.
    #[tokio::test]
    async fn writes_to_the_package_invalidate_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let d = DomainName::new("dom").unwrap();
        let r = RepositoryName::new("repo").unwrap();
        e.create_domain(&d, None).unwrap();
        e.create_repository(&d, None, &r, None, vec![]).unwrap();
        let ctx = e.repo_ctx(&d, None, &r).unwrap();
        for v in ["1.0.0", "2.0.0", "3.0.0"] {
            store(&e, &ctx, v).await;
        }
        let first = locate(&e, &ctx, "1.0.0").await.unwrap();
        assert_eq!(first.name, file("1.0.0"));

        // Served from the index: the record is gone from the store behind the engine's back
        // (no generation moved), yet the entry still answers.
        e.write(|tx| Ok(catalog::delete_version(tx, &d, &r, &pkg(), &Version::new("1.0.0").unwrap())?)).unwrap();
        assert_eq!(locate(&e, &ctx, "1.0.0").await.unwrap().sha256, first.sha256, "the index was not used");

        // Archived, then Published again.
        locate(&e, &ctx, "2.0.0").await.unwrap();
        e.update_versions_status(&ctx, &pkg(), &sel("2.0.0"), None, PackageVersionStatus::Archived).unwrap();
        assert!(is_not_found(locate(&e, &ctx, "2.0.0").await), "an Archived version was served from the index");
        e.update_versions_status(&ctx, &pkg(), &sel("2.0.0"), None, PackageVersionStatus::Published).unwrap();
        locate(&e, &ctx, "2.0.0").await.unwrap();

        // Disposed.
        e.dispose_versions(&ctx, &pkg(), &sel("2.0.0"), None).unwrap();
        assert!(is_not_found(locate(&e, &ctx, "2.0.0").await), "a Disposed version was served from the index");

        // Deleted.
        locate(&e, &ctx, "3.0.0").await.unwrap();
        e.delete_versions(&ctx, &pkg(), &sel("3.0.0"), None).unwrap();
        assert!(is_not_found(locate(&e, &ctx, "3.0.0").await), "a deleted version was served from the index");
    }
}
