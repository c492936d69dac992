//! Completion into an alias (`Format::completes_into`) with a stand-in format: the build ends
//! Unlisted and the alias Published with its files; replacing the alias's files releases the
//! old ones, which the collector keeps while an earlier build still names them.

use std::sync::Arc;

use super::*;
use crate::config::{Config, MapEnv};
use crate::engine::format::{DocumentError, Format, UpstreamDocument, UpstreamPackage};
use crate::engine::{Auth, PublishAsset};
use crate::model::{AssetName, DomainName, Namespace, PackageFormat, PackageName, RepositoryName};
use crate::store::{DirBlobStore, MemoryStore};

/// Builds `1.0-bN` complete into `1.0-alias`.
struct Builds;

impl Format for Builds {
    fn format(&self) -> PackageFormat {
        PackageFormat::Maven
    }
    fn upstream_metadata_url(&self, _base: &str, _pkg: &PackageId) -> String {
        String::new()
    }
    fn parse_upstream(&self, _pkg: &PackageId, _doc: &UpstreamDocument<'_>) -> Result<UpstreamPackage, DocumentError> {
        Ok(UpstreamPackage::default())
    }
    fn multi_asset_versions(&self) -> bool {
        true
    }
    fn completes_into(&self, v: &Version) -> Option<Version> {
        v.as_str().strip_prefix("1.0-b").map(|_| Version::new("1.0-alias").unwrap())
    }
}

fn setup(dir: &std::path::Path) -> (Arc<Engine>, RepoCtx, PackageId) {
    let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
    let auth = Auth::open(dir, vec![]).unwrap();
    let blobs = DirBlobStore::open(&dir.join("blobs")).unwrap();
    let formats: Vec<Arc<dyn Format>> = vec![Arc::new(Builds)];
    let e = Engine::with_stores(cfg, Arc::new(MemoryStore::new()), Arc::new(blobs), auth, formats).unwrap();
    let (d, r) = (DomainName::new("dom").unwrap(), RepositoryName::new("repo").unwrap());
    e.create_domain(&d, None).unwrap();
    e.create_repository(&d, None, &r, None, vec![]).unwrap();
    let ctx = e.repo_ctx(&d, None, &r).unwrap();
    let pkg = PackageId {
        format: PackageFormat::Maven,
        namespace: Some(Namespace::new("g").unwrap()),
        name: PackageName::new("lib").unwrap(),
    };
    (e, ctx, pkg)
}

/// Puts one file `lib-<v>.jar` holding `bytes` into the Unfinished version `v`.
async fn put(e: &Arc<Engine>, ctx: &RepoCtx, pkg: &PackageId, v: &str, bytes: &[u8]) -> Sha256 {
    let mut up = e.begin_upload().await.unwrap();
    up.write(bytes).await.unwrap();
    let blob = up.finish().await.unwrap();
    let sha = blob.digests().sha256;
    let asset = PublishAsset {
        name: AssetName::new(format!("lib-{v}.jar")).unwrap(),
        blob,
        attributes: Default::default(),
        core_metadata: None,
    };
    let req = PublishRequest {
        package: pkg.clone(),
        version: Version::new(v).unwrap(),
        metadata: serde_json::Value::Null,
        assets: vec![asset],
        tags: Default::default(),
    };
    assert!(e.publish_file(ctx, req).await.unwrap());
    sha
}

fn status(e: &Engine, ctx: &RepoCtx, pkg: &PackageId, v: &str) -> Option<PackageVersionRecord> {
    let v = Version::new(v).unwrap();
    e.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, &v)?)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_complete_into_the_alias_and_old_files_stay_while_a_build_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let (e, ctx, pkg) = setup(dir.path());
    let one = put(&e, &ctx, &pkg, "1.0-b1", b"one").await;
    // Naming the alias completes its Unfinished builds.
    let done = e.complete_versions(&ctx, &pkg, &[Version::new("1.0-alias").unwrap()]).unwrap();
    assert_eq!(done, [Version::new("1.0-b1").unwrap()]);
    assert_eq!(status(&e, &ctx, &pkg, "1.0-b1").unwrap().status, PackageVersionStatus::Unlisted);
    let alias = status(&e, &ctx, &pkg, "1.0-alias").unwrap();
    assert_eq!(alias.status, PackageVersionStatus::Published);
    assert_eq!(alias.assets[0].sha256, one);
    assert_eq!(alias.assets[0].name.as_str(), "lib-1.0-b1.jar");

    let two = put(&e, &ctx, &pkg, "1.0-b2", b"two").await;
    e.complete_versions(&ctx, &pkg, &[Version::new("1.0-b2").unwrap()]).unwrap();
    let alias2 = status(&e, &ctx, &pkg, "1.0-alias").unwrap();
    assert_eq!(alias2.assets.iter().map(|a| a.sha256).collect::<Vec<_>>(), [two]);
    assert_ne!(alias2.revision, alias.revision);
    // b1's file left the alias but b1 still names it.
    assert_eq!(e.collect_blobs().unwrap(), 0);
    assert!(e.blobs.contains(&one).await.unwrap());

    let sel: crate::engine::VersionSelection = vec![(Version::new("1.0-b1").unwrap(), None)];
    e.delete_versions(&ctx, &pkg, &sel, Some(PackageVersionStatus::Unlisted)).unwrap();
    assert_eq!(e.collect_blobs().unwrap(), 1);
    assert!(!e.blobs.contains(&one).await.unwrap());
    assert!(e.blobs.contains(&two).await.unwrap(), "the alias still holds build 2's file");
    assert_eq!(status(&e, &ctx, &pkg, "1.0-alias").unwrap().status, PackageVersionStatus::Published);
}
