//! Start-up with 100,000 stored package versions against start-up with none, in the same run,
//! then publishing into a package with 3,800 *stored* versions against one with 10.
//! The versions are written straight into a stopped Depot's metadata store in one transaction
//! (10,000 npm packages × 10 versions in `main`, as publishes would leave them, plus one package
//! of 3,800 versions with realistic ~5 KB manifests): publishing them one by one, one durable
//! transaction each, would take minutes. Their blobs are absent, which neither start-up nor a
//! publish of another version reads.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use depot::model::{
    Asset, AssetName, DomainName, Origin, PackageFormat, PackageId, PackageName, PackageRecord, PackageVersionRecord,
    PackageVersionStatus, RepositoryName, Sha256, Version,
};
use depot::store::{catalog, RedbStore, StoreError};
use sha2::Digest as _;

use crate::procs::{mb, proc_status_bytes, Depot};
use crate::report::Figure;

const PACKAGES: usize = 10_000;
/// The package with 3,800 stored versions.
const STORED_BIG: &str = "stored-big";
const VERSIONS_EACH: usize = 10;
/// Start-ups timed per data directory; the median is reported.
const STARTS: usize = 3;

/// Stops Depot with SIGTERM (a clean redb shutdown; SIGKILL would leave a repair to the next
/// start) and waits for it to exit.
async fn stop(mut depot: Depot) -> Result<()> {
    let pid = rustix::process::Pid::from_raw(depot.guard.pid() as i32).context("pid")?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while depot.guard.child.try_wait()?.is_none() {
        ensure!(Instant::now() < deadline, "depot did not stop within 30 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn fill(meta: &Path) -> Result<()> {
    let store = RedbStore::open(meta)?;
    let domain = DomainName::new("default")?;
    let repo = RepositoryName::new("main")?;
    let origin = Origin::Internal { repository: repo.clone() };
    depot::store::write(&store, |tx| -> Result<(), StoreError> {
        for p in 0..PACKAGES {
            let name = format!("startup-pkg-{p:05}");
            let pkg = PackageId {
                format: PackageFormat::Npm,
                namespace: None,
                name: PackageName::new(name.clone()).map_err(|e| StoreError::Backend(e.to_string()))?,
            };
            catalog::put_package(tx, &domain, &repo, &pkg, &PackageRecord::default())?;
            for v in 0..VERSIONS_EACH {
                let version = format!("1.0.{v}");
                let digest = hex::encode(sha2::Sha256::digest(format!("{name}@{version}")));
                let bad = |e: depot::model::InvalidName| StoreError::Backend(e.to_string());
                let asset = Asset {
                    name: AssetName::new(format!("{name}-{version}.tgz")).map_err(bad)?,
                    size: 1024,
                    sha256: Sha256::try_from(digest.clone()).map_err(bad)?,
                    hashes: Default::default(),
                    attributes: Default::default(),
                };
                let rec = PackageVersionRecord {
                    version: Version::new(version.clone()).map_err(bad)?,
                    status: PackageVersionStatus::Published,
                    revision: digest[..32].to_string(),
                    assets: vec![asset],
                    metadata: serde_json::json!({"name": name, "version": version, "dist": {}}),
                    published_time: "2026-01-01T00:00:00Z".into(),
                    origin: origin.clone(),
                };
                catalog::put_version(tx, &domain, &repo, &pkg, &rec)?;
            }
        }
        let bad = |e: depot::model::InvalidName| StoreError::Backend(e.to_string());
        let pkg =
            PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(STORED_BIG).map_err(bad)? };
        catalog::put_package(tx, &domain, &repo, &pkg, &PackageRecord::default())?;
        for i in 0..crate::big::VERSIONS {
            let version = format!("1.{}.{}", i / 100, i % 100);
            let digest = hex::encode(sha2::Sha256::digest(format!("{STORED_BIG}@{version}")));
            let rec = PackageVersionRecord {
                version: Version::new(version.clone()).map_err(bad)?,
                status: PackageVersionStatus::Published,
                revision: digest[..32].to_string(),
                assets: vec![Asset {
                    name: AssetName::new(format!("{STORED_BIG}-{version}.tgz")).map_err(bad)?,
                    size: 1024,
                    sha256: Sha256::try_from(digest.clone()).map_err(bad)?,
                    hashes: Default::default(),
                    attributes: Default::default(),
                }],
                metadata: crate::big::manifest(STORED_BIG, &version, i),
                published_time: "2026-01-01T00:00:00Z".into(),
                origin: origin.clone(),
            };
            catalog::put_version(tx, &domain, &repo, &pkg, &rec)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Publishing into the package with 3,800 stored versions, and into one with 10.
async fn publish_into_stored(binary: &Path, dir: &Path) -> Result<Vec<Figure>> {
    let depot = Depot::start(binary, dir, &[]).await?;
    let client = crate::procs::plain_client(Duration::from_secs(60))?;
    let token = crate::token::authorization_token(&client, &depot.base).await.context("token for the publishes")?;
    let endpoint = depot.endpoint("npm", "main");
    let (big_ms, big_first) = crate::big::publish_ms(&client, &endpoint, &token, STORED_BIG).await?;
    let (small_ms, _) = crate::big::publish_ms(&client, &endpoint, &token, "startup-pkg-00042").await?;
    stop(depot).await?;
    Ok(vec![
        Figure::new(
            "publish one version into a package with 3,800 stored versions (median)",
            big_ms,
            "ms",
            "<50 ms",
            Some(big_ms < 50.0),
        ),
        Figure::new("  the first of those publishes", big_first, "ms", "", None),
        Figure::new("publish one version into a 10-version package, same store (median)", small_ms, "ms", "", None),
    ])
}

/// Time from spawning `depot serve` to its first `/healthz` 200, and its RSS then.
async fn start_once(binary: &Path, dir: &Path) -> Result<(f64, u64)> {
    let started = Instant::now();
    let depot = Depot::start(binary, dir, &[]).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let rss = proc_status_bytes(depot.guard.pid(), "VmRSS")?;
    stop(depot).await?;
    Ok((ms, rss))
}

/// The written versions are Depot's: one of the packages lists all its versions over npm.
async fn visible(binary: &Path, dir: &Path) -> Result<()> {
    let depot = Depot::start(binary, dir, &[]).await?;
    let url = format!("{}startup-pkg-04242", depot.endpoint("npm", "main"));
    let client = crate::procs::plain_client(Duration::from_secs(30))?;
    let doc: serde_json::Value = client.get(&url).header("accept", "application/json").send().await?.json().await?;
    let n = doc["versions"].as_object().map_or(0, |v| v.len());
    stop(depot).await?;
    ensure!(n == VERSIONS_EACH, "{url} lists {n} versions, expected {VERSIONS_EACH}");
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(binary: &Path, scratch: &Path) -> Result<Vec<Figure>> {
    let (empty, full) = (scratch.join("startup-empty"), scratch.join("startup-full"));
    // A first start creates each data directory (store, bootstrap domain and repositories).
    for dir in [&empty, &full] {
        stop(Depot::start(binary, dir, &[]).await?).await?;
    }
    let filled = Instant::now();
    let meta = full.join("data/meta.redb");
    tokio::task::spawn_blocking(move || fill(&meta)).await?.context("writing 100,000 versions")?;
    println!("start-up: {} versions written in {:.1} s", PACKAGES * VERSIONS_EACH, filled.elapsed().as_secs_f64());
    visible(binary, &full).await?;
    let (mut e_ms, mut f_ms, mut e_rss, mut f_rss) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..STARTS {
        let (ms, rss) = start_once(binary, &empty).await?;
        e_ms.push(ms);
        e_rss = e_rss.max(rss);
        let (ms, rss) = start_once(binary, &full).await?;
        f_ms.push(ms);
        f_rss = f_rss.max(rss);
    }
    let (e, f) = (median(e_ms), median(f_ms));
    let publishes = publish_into_stored(binary, &full).await?;
    Ok([
        vec![
            Figure::new("start-up with 100,000 stored versions (median, ms)", f, "ms", "≤1000 ms", Some(f <= 1000.0)),
            Figure::new("start-up with none, same run (median, ms)", e, "ms", "", None),
            Figure::new("RSS after start-up with 100,000 versions", mb(f_rss), "MB", "", None),
            Figure::new("RSS after start-up with none", mb(e_rss), "MB", "", None),
        ],
        publishes,
    ]
    .concat())
}
