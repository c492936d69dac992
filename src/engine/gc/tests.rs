//! The collector's guarantees: a blob committed under the gate while a pass runs survives it;
//! a candidate left by a crash is collected by the start-up pass; a blob another version still
//! uses (a copy in another repository, another domain, a companion blob) is kept.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::*;
use crate::config::{Config, MapEnv};
use crate::engine::packages::asset_from_digests;
use crate::engine::{Auth, CopyOptions, RepoCtx, VersionFailure};
use crate::model::{
    AssetName, DomainName, Origin, PackageFormat, PackageId, PackageName, PackageVersionRecord, PackageVersionStatus,
    RepositoryName, Version,
};
use crate::store::{DirBlobStore, MemoryStore, MetaStore, RedbStore};

fn engine(dir: &Path, meta: Arc<dyn MetaStore>) -> Arc<Engine> {
    let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
    let auth = Auth::open(dir, vec![]).unwrap();
    let blobs = DirBlobStore::open(&dir.join("blobs")).unwrap();
    Engine::with_stores(cfg, meta, Arc::new(blobs), auth, vec![]).unwrap()
}

fn repo(e: &Engine, d: &str, r: &str) -> RepoCtx {
    let (d, r) = (DomainName::new(d).unwrap(), RepositoryName::new(r).unwrap());
    if e.read(|tx| Ok::<_, EngineError>(catalog::domain(tx, &d)?)).unwrap().is_none() {
        e.create_domain(&d, None).unwrap();
    }
    e.create_repository(&d, None, &r, None, vec![]).unwrap();
    e.repo_ctx(&d, None, &r).unwrap()
}

fn pkg() -> PackageId {
    PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("pkg").unwrap() }
}

fn sel(v: &str) -> Vec<(Version, Option<String>)> {
    vec![(Version::new(v).unwrap(), None)]
}

async fn stage(e: &Engine, bytes: &[u8]) -> Box<dyn PendingBlob> {
    let mut w = e.blobs.begin().await.unwrap();
    w.write(bytes).await.unwrap();
    w.finish().await.unwrap()
}

/// A version record naming one file (and, when given, its companion blob).
fn record(v: &str, file: &crate::store::BlobDigests, companion: Option<Sha256>) -> PackageVersionRecord {
    let mut asset = asset_from_digests(AssetName::new(format!("pkg-{v}.tgz")).unwrap(), file);
    asset.attributes.core_metadata = companion;
    PackageVersionRecord {
        version: Version::new(v).unwrap(),
        status: PackageVersionStatus::Published,
        revision: format!("rev-{v}"),
        assets: vec![asset],
        metadata: serde_json::Value::Null,
        published_time: "2026-01-01T00:00:00Z".into(),
        origin: Origin::Internal { repository: RepositoryName::new("rx").unwrap() },
    }
}

/// Publishes `bytes` as version `v` in `ctx` through the gated path (blob commit, then the
/// version write); returns the file's digest.
async fn publish(e: &Engine, ctx: &RepoCtx, v: &str, bytes: &[u8], companion: Option<&[u8]>) -> Sha256 {
    let file = stage(e, bytes).await;
    let digests = file.digests().clone();
    let mut blobs = vec![file];
    let mut core = None;
    if let Some(c) = companion {
        let c = stage(e, c).await;
        core = Some(c.digests().sha256);
        blobs.push(c);
    }
    let rec = record(v, &digests, core);
    e.commit_referencing(blobs, |tx| {
        e.ensure_package(tx, &ctx.domain, &ctx.repo.name, &pkg(), crate::engine::origin::Entry::Publish)?;
        Ok(catalog::put_version(tx, &ctx.domain, &ctx.repo.name, &pkg(), &rec)?)
    })
    .unwrap();
    digests.sha256
}

fn exists(e: &Engine, sha: &Sha256) -> bool {
    futures::executor::block_on(e.blobs.contains(sha)).unwrap()
}

fn candidates(e: &Engine) -> usize {
    e.read(|tx| Ok::<_, EngineError>(catalog::gc_candidates(tx, None, 100)?)).unwrap().len()
}

#[tokio::test]
async fn a_blob_committed_under_the_gate_survives_a_concurrent_pass() {
    let dir = tempfile::tempdir().unwrap();
    // redb: reads do not wait for a write transaction (the memory store's would).
    let e = engine(dir.path(), Arc::new(RedbStore::open(&dir.path().join("meta.redb")).unwrap()));
    let ctx = repo(&e, "dom", "ra");
    let sha = publish(&e, &ctx, "1.0.0", b"shared bytes", None).await;
    e.dispose_versions(&ctx, &pkg(), &sel("1.0.0"), None).unwrap();
    assert_eq!(candidates(&e), 1, "the dispose transaction recorded the blob");
    // The same bytes are published again as 2.0.0 while a pass runs: the blob is committed
    // (the file is back or still there) and the pass starts before the version write.
    let again = stage(&e, b"shared bytes").await;
    let rec = record("2.0.0", again.digests(), None);
    let (inside_tx, inside_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let (eng, c) = (&e, &ctx);
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            let (e, ctx) = (eng, c);
            let mut again = Some(again);
            e.commit_referencing(vec![again.take().unwrap()], |tx| {
                inside_tx.send(()).unwrap();
                // The pass must not finish while this writer holds the gate.
                let finished = done_rx.recv_timeout(Duration::from_millis(300));
                assert!(finished.is_err(), "the pass ran while a committed blob awaited its reference");
                Ok(catalog::put_version(tx, &ctx.domain, &ctx.repo.name, &pkg(), &rec)?)
            })
        });
        inside_rx.recv().unwrap();
        let pass = s.spawn(move || {
            let n = eng.collect_blobs().unwrap();
            let _ = done_tx.send(());
            n
        });
        writer.join().unwrap().unwrap();
        assert_eq!(pass.join().unwrap(), 0, "the re-check saw 2.0.0's reference");
    });
    assert!(exists(&e, &sha), "a referenced blob was removed");
    assert_eq!(candidates(&e), 0, "a candidate found in use is dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_left_by_a_crash_is_collected_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let meta = || Arc::new(RedbStore::open(&dir.path().join("meta.redb")).unwrap());
    let (sha, core) = {
        let e = engine(dir.path(), meta());
        let ctx = repo(&e, "dom", "ra");
        let sha = publish(&e, &ctx, "1.0.0", b"doomed bytes", Some(b"Metadata-Version: 2.1")).await;
        let core = e
            .read(|tx| {
                Ok::<_, EngineError>(catalog::version(
                    tx,
                    &ctx.domain,
                    &ctx.repo.name,
                    &pkg(),
                    &Version::new("1.0.0").unwrap(),
                )?)
            })
            .unwrap()
            .unwrap()
            .assets[0]
            .attributes
            .core_metadata
            .unwrap();
        // "Crash": the dispose committed its candidate rows, no pass ran (no collector task).
        e.dispose_versions(&ctx, &pkg(), &sel("1.0.0"), None).unwrap();
        assert!(exists(&e, &sha) && exists(&e, &core));
        assert_eq!(candidates(&e), 2);
        (sha, core)
    };
    let e = engine(dir.path(), meta());
    e.start_background();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (exists(&e, &sha) || exists(&e, &core) || candidates(&e) > 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!exists(&e, &sha), "the file was collected");
    assert!(!exists(&e, &core), "its companion blob too");
    assert_eq!(candidates(&e), 0, "nothing left to redo");
    // A redo after the file is gone (a crash before the row was deleted) is fine.
    e.write(|tx| Ok::<_, EngineError>(catalog::release_blobs(tx, [sha])?)).unwrap();
    assert_eq!(e.collect_blobs().unwrap(), 1);
    assert_eq!(candidates(&e), 0);
}

#[tokio::test]
async fn a_blob_another_version_uses_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), Arc::new(MemoryStore::new()));
    let (a, b, other) = (repo(&e, "dom", "ra"), repo(&e, "dom", "rb"), repo(&e, "dom2", "rc"));
    let core: &[u8] = b"Metadata-Version: 2.1\nName: pkg";
    let sha = publish(&e, &a, "1.0.0", b"copied bytes", Some(core)).await;
    let companion = stage(&e, core).await.digests().sha256;
    e.copy_versions(&a, &b, &pkg(), &sel("1.0.0"), CopyOptions::default()).unwrap();
    // Another domain holds the same companion bytes under another file.
    publish(&e, &other, "9.0.0", b"other bytes", Some(core)).await;
    let size = |ctx: &RepoCtx| e.domain_asset_size(&ctx.domain).unwrap();
    assert_eq!(size(&a), 12);

    let v1 = Version::new("1.0.0").unwrap();
    let stale = e.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &a.domain, &a.repo.name, &pkg(), &v1)?)).unwrap();
    e.dispose_versions(&a, &pkg(), &sel("1.0.0"), None).unwrap();
    assert_eq!(e.collect_blobs().unwrap(), 0);
    assert!(exists(&e, &sha) && exists(&e, &companion), "the copy in b still uses both");
    assert_eq!(size(&a), 12, "b's copy still counts");
    // A disposed version is copied nowhere: copy refuses it, retention skips it.
    let d = repo(&e, "dom", "rd");
    let r = e.copy_versions(&a, &d, &pkg(), &sel("1.0.0"), CopyOptions::default()).unwrap();
    assert_eq!(r.failed["1.0.0"].0, VersionFailure::NotAllowed);
    let back =
        e.copy_versions(&b, &a, &pkg(), &sel("1.0.0"), CopyOptions { allow_overwrite: true, ..Default::default() });
    assert_eq!(back.unwrap().failed["1.0.0"].0, VersionFailure::NotAllowed, "nor is it copied over");
    e.retain(&d, &pkg(), &a.repo.name, &stale.unwrap()).unwrap();
    let kept = e.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &d.domain, &d.repo.name, &pkg(), &v1)?)).unwrap();
    assert!(kept.is_none(), "retention re-read its source and saw it disposed");

    let r = e.delete_versions(&b, &pkg(), &sel("1.0.0"), None).unwrap();
    assert!(r.successful.contains_key("1.0.0"));
    assert_eq!(e.collect_blobs().unwrap(), 1, "the file goes; the companion is in use in dom2");
    assert!(!exists(&e, &sha));
    assert!(exists(&e, &companion));
    assert_eq!(size(&a), 0);

    e.delete_package(&other, &pkg()).unwrap();
    assert_eq!(e.collect_blobs().unwrap(), 2);
    assert!(!exists(&e, &companion));
    assert_eq!(candidates(&e), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_lost_the_race_with_a_disposal_is_a_404() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), Arc::new(MemoryStore::new()));
    let ctx = repo(&e, "dom", "ra");
    publish(&e, &ctx, "1.0.0", b"raced bytes", None).await;
    // What a download read before the disposal committed: the record with its asset.
    let stale = e.stored_version(&ctx, &pkg(), &Version::new("1.0.0").unwrap()).unwrap();
    let asset = stale.assets[0].clone();
    let v = Version::new("1.0.0").unwrap();
    let blob_gone = |e: &Engine| e.missing_blob(&ctx.domain, &pkg(), &v, &asset);
    assert!(matches!(blob_gone(&e), EngineError::Internal(_)), "still referenced: a damaged store");
    e.dispose_versions(&ctx, &pkg(), &sel("1.0.0"), None).unwrap();
    e.collect_blobs().unwrap();
    assert!(!exists(&e, &asset.sha256));
    assert!(matches!(blob_gone(&e), EngineError::NotFound { .. }), "disposed meanwhile: not found");
}
