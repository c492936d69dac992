//! Asynchronous ingestion from external connections.
//!
//! One job per (domain, repository, package, version): concurrent requests join it. A job is
//! recorded in the job table before it starts and removed in the same transaction that stores
//! the version, so a restart resumes whatever was cut short. Clients wait at most the
//! ingestion wait (a timeout around *waiting*, never around the job); then they get
//! "Ingestion is in progress" while the job goes on. A bounded pool runs the jobs.
//!
//! After a client-requested version is stored, the format's dependencies are prefetched in
//! the background (npm: the highest version satisfying each range, and the `latest` tag),
//! recursively, deduplicated, with bounded concurrency, never delaying the client.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::{watch, Semaphore};

use super::error::{EngineError, Result};
use super::metadata::Freshness;
use super::packages::revision;
use super::upstream::{Priority, Urgency};
use super::Engine;
use crate::model::{
    now_rfc3339, DomainName, Origin, PackageId, PackageVersionRecord, PackageVersionStatus, RepositoryName, Version,
};
use crate::store::{catalog, PendingBlob};

use super::flight::{Flight, Outcome};

/// A persisted ingestion job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct JobRecord {
    id: String,
    domain: DomainName,
    /// The repository that has the external connection.
    repo: RepositoryName,
    connection: String,
    package: PackageId,
    version: Version,
    /// Downstream repositories that asked, to retain the version in.
    retain: Vec<RepositoryName>,
    /// Prefetch dependencies once stored.
    prefetch: bool,
}

/// What an ingestion job fetches and where it stores it.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub(super) domain: &'a DomainName,
    /// The repository that has the external connection.
    pub(super) repo: &'a RepositoryName,
    pub(super) conn: &'a str,
    pub(super) pkg: &'a PackageId,
    pub(super) version: &'a Version,
}

/// Work under way (`flight.rs`): its outcome and how urgently its requests go upstream.
pub(super) struct Running {
    pub(super) rx: watch::Receiver<Outcome>,
    pub(super) urgency: Urgency,
}

pub(super) struct Jobs {
    pub(super) running: Mutex<HashMap<String, Running>>,
    /// `ingestion.workers`, clients first (`flight.rs`).
    pub(super) workers: super::flight::Workers,
    pub(super) prefetch: Arc<Semaphore>,
    active: AtomicUsize,
    /// Files being downloaded, for the clients waiting on them (`tee.rs`).
    pub(super) tees: super::tee::Tees,
}

impl Jobs {
    pub(super) fn new(workers: usize, prefetch: usize) -> Self {
        Self {
            running: Mutex::new(HashMap::new()),
            workers: super::flight::Workers::new(workers),
            prefetch: Arc::new(Semaphore::new(prefetch)),
            active: AtomicUsize::new(0),
            tees: super::tee::Tees::default(),
        }
    }
    /// Whether any job or prefetch is under way.
    pub(super) fn busy(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0 || !self.running.lock().expect("jobs lock").is_empty()
    }
}

fn job_id(d: &DomainName, r: &RepositoryName, p: &PackageId, v: &Version) -> String {
    let mut h = sha2::Sha256::new();
    for s in [
        d.as_str(),
        r.as_str(),
        p.format.as_str(),
        p.namespace.as_ref().map_or("", |n| n.as_str()),
        p.name.as_str(),
        v.as_str(),
    ] {
        h.update(s.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Restarts jobs left in the job table by a previous run.
pub(super) fn resume(engine: &Arc<Engine>) {
    let jobs: Vec<JobRecord> = match engine.read(|tx| Ok::<_, EngineError>(catalog::jobs(tx)?)) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "cannot read unfinished ingestion jobs");
            return;
        }
    };
    for job in jobs {
        tracing::info!(pkg.name = %job.package, pkg.version = %job.version, repo.name = %job.repo, "resuming ingestion job");
        let (tx, rx) = watch::channel(None);
        // Nobody waits for a resumed job until a client asks again (and raises it).
        let urgency = Urgency::new(Priority::Background);
        engine.jobs.running.lock().expect("jobs lock").insert(job.id.clone(), Running { rx, urgency: urgency.clone() });
        tokio::spawn(engine.clone().run_job(job, tx, urgency));
    }
}

impl Engine {
    /// Starts or joins the job; returns its outcome channel and whether this call created it.
    pub(super) fn start_job(
        self: &Arc<Self>,
        t: &Target<'_>,
        retain: Option<RepositoryName>,
        prefetch: bool,
        priority: Priority,
    ) -> Result<(watch::Receiver<Outcome>, bool)> {
        let Target { domain, repo, conn, pkg, version: v } = *t;
        let id = job_id(domain, repo, pkg, v);
        let job = JobRecord {
            id: id.clone(),
            domain: domain.clone(),
            repo: repo.clone(),
            connection: conn.to_string(),
            package: pkg.clone(),
            version: v.clone(),
            retain: retain.into_iter().collect(),
            prefetch,
        };
        let (tx, rx, urgency) = match self.board(&id, priority) {
            Flight::Joined(rx) => return Ok((rx, false)),
            Flight::Started { tx, rx, urgency } => (tx, rx, urgency),
        };
        if let Err(e) = self.write(|t| Ok::<_, EngineError>(catalog::put_job(t, &id, &job)?)) {
            self.forget_flight(&id);
            return Err(e);
        }
        tokio::spawn(self.clone().run_job(job, tx, urgency));
        Ok((rx, true))
    }

    /// Ingests `v` of `pkg` from `conn` into `repo` (retaining it in `retain`), waiting at
    /// most the ingestion wait when `wait` is set. Returns the stored record when it is
    /// ready within the wait.
    pub(super) async fn ingest(
        self: &Arc<Self>,
        t: &Target<'_>,
        retain: Option<RepositoryName>,
        wait: bool,
    ) -> Result<Option<PackageVersionRecord>> {
        let (rx, created) = self.start_job(t, retain.clone(), true, Priority::Client)?;
        let Target { domain, repo, pkg, version: v, .. } = *t;
        let engine = self.clone();
        let (d, r, p, ver) = (domain.clone(), repo.clone(), pkg.clone(), v.clone());
        // The follow-up runs as its own task so it completes even after the client gave up.
        let follow_up = tokio::spawn(async move {
            Engine::landed(rx).await?;
            let target = retain.unwrap_or_else(|| r.clone());
            let rec = engine
                .read(|tx| Ok::<_, EngineError>(catalog::version(tx, &d, &r, &p, &ver)?))?
                .ok_or_else(|| EngineError::Internal("ingested version is missing".into()))?;
            if !created && target != r {
                let ctx = engine.repo_ctx(&d, None, &target)?;
                engine.retain(&ctx, &p, &r, &rec)?;
            }
            Ok(rec)
        });
        if !wait {
            return Ok(None);
        }
        let what = format!("ingestion of {pkg}@{v}");
        let Some(asset) = super::tee::Wanted::asset() else {
            return self.wait_for_client(follow_up, &what).await.map(Some);
        };
        // A download request takes the file's bytes as the job receives them (`tee.rs`) when
        // that comes before the stored version; the job and the follow-up (retention) go on.
        let id = job_id(domain, repo, pkg, v);
        tokio::select! {
            biased;
            done = self.wait_for_client(follow_up, &what) => done.map(Some),
            body = self.jobs.tees.body(&id, &asset) => {
                super::tee::Wanted::hand_over(body);
                Err(EngineError::IngestionInProgress)
            }
        }
    }

    async fn run_job(self: Arc<Self>, job: JobRecord, tx: watch::Sender<Outcome>, urgency: Urgency) {
        self.jobs.active.fetch_add(1, Ordering::Relaxed);
        let permit = self.jobs.workers.acquire(&urgency).await;
        let started = std::time::Instant::now();
        let res = self.do_ingest(&job, &urgency).await;
        drop(permit);
        self.jobs.tees.end_job(&job.id, res.is_ok());
        match &res {
            Ok(rec) => tracing::info!(repo.name = %job.repo, pkg.name = %job.package, pkg.version = %job.version,
                upstream = %job.connection, duration_ms = started.elapsed().as_millis() as u64,
                size_bytes = rec.assets.iter().map(|a| a.size).sum::<u64>(), "ingested"),
            Err(e) => {
                tracing::warn!(repo.name = %job.repo, pkg.name = %job.package, pkg.version = %job.version,
                    upstream = %job.connection, error = %e, "ingestion failed");
                // A failed job is not retried at start-up: the next request starts a new one.
                let _ = self.write(|t| Ok::<_, EngineError>(catalog::delete_job(t, &job.id)?));
            }
        }
        self.forget_flight(&job.id);
        if let (Ok(rec), true) = (&res, job.prefetch) {
            let visited = Arc::new(Mutex::new(HashSet::from([(job.package.clone(), job.version.clone())])));
            let walk = self.clone().prefetch(
                job.domain.clone(),
                job.repo.clone(),
                job.connection.clone(),
                rec.metadata.clone(),
                visited,
            );
            self.jobs.active.fetch_add(1, Ordering::Relaxed);
            let engine = self.clone();
            tokio::spawn(async move {
                walk.await;
                engine.jobs.active.fetch_sub(1, Ordering::Relaxed);
            });
        }
        let _ = tx.send(Some(res.map(|_| ()).map_err(Arc::new)));
        self.jobs.active.fetch_sub(1, Ordering::Relaxed);
    }

    async fn do_ingest(self: &Arc<Self>, job: &JobRecord, urgency: &Urgency) -> Result<PackageVersionRecord> {
        let pkg = &job.package;
        // Already stored (a resumed job whose commit landed, or a concurrent path).
        if let Some(rec) =
            self.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &job.domain, &job.repo, pkg, &job.version)?))?
        {
            self.finish_job(job, &rec, vec![])?;
            return Ok(rec);
        }
        // A package whose origin configuration blocks upstream versions in the connection's
        // repository is not ingested there (nor, through it, anywhere downstream).
        if !self.read(|tx| super::origin::restrictions(tx, &job.domain, &job.repo, pkg))?.allows_upstream() {
            return Err(EngineError::not_found(
                super::ResourceType::PackageVersion,
                format!("{pkg}@{}", job.version),
                format!(
                    "version {} of package {pkg} is not ingested into repository {}: its origin configuration blocks upstream versions",
                    job.version, job.repo
                ),
            ));
        }
        let entry = self.upstream_package_patient(&job.connection, pkg, urgency.priority()).await?;
        let uv = entry
            .package
            .as_ref()
            .and_then(|p| p.version(&job.version))
            .ok_or_else(|| {
                EngineError::not_found(
                    super::ResourceType::PackageVersion,
                    format!("{pkg}@{}", job.version),
                    format!(
                        "version {} of package {pkg} not found in external connection {}",
                        job.version, job.connection
                    ),
                )
            })?
            .clone();
        let staged = self.download_version(&job.connection, pkg, &uv, urgency, Some(&job.id)).await?;
        let rec = PackageVersionRecord {
            version: job.version.clone(),
            status: PackageVersionStatus::Published,
            revision: revision(&staged.assets, &staged.metadata),
            assets: staged.assets,
            metadata: staged.metadata,
            published_time: uv.published_time.clone().unwrap_or_else(now_rfc3339),
            origin: Origin::External { connection: job.connection.clone() },
        };
        self.finish_job(job, &rec, staged.blobs)?;
        Ok(rec)
    }

    /// Commits the version's blobs, then stores it in the connection's repository and every
    /// retaining repository and removes the job, in one transaction (`finish_job_tx`).
    fn finish_job(&self, job: &JobRecord, rec: &PackageVersionRecord, blobs: Vec<Box<dyn PendingBlob>>) -> Result<()> {
        self.commit_referencing(blobs, |tx| finish_job_tx(self, tx, job, rec))?;
        self.gens.bump_package(job.domain.as_str(), &job.package);
        Ok(())
    }

    /// Like `upstream_package`, but keeps waiting past the client wait (background work).
    pub(super) async fn upstream_package_patient(
        self: &Arc<Self>,
        conn: &str,
        pkg: &PackageId,
        priority: Priority,
    ) -> Result<Arc<super::metadata::CachedUpstream>> {
        loop {
            match self.upstream_package(conn, pkg, Freshness::Cached, priority).await {
                Err(EngineError::IngestionInProgress) => continue,
                other => return other,
            }
        }
    }
}

/// `finish_job`'s transaction. The retaining repositories get the record the connection's
/// repository holds now, read in this transaction, and only while it is downloadable: a
/// version disposed meanwhile is never copied (its blobs may be collected).
fn finish_job_tx(
    engine: &Engine,
    tx: &mut dyn crate::store::WriteTxn,
    job: &JobRecord,
    rec: &PackageVersionRecord,
) -> Result<()> {
    let pkg = &job.package;
    let now = now_rfc3339();
    // A repository exists only inside its domain, so the owner is known whenever a version is written.
    let owner = catalog::domain(tx, &job.domain)?.map(|d| d.owner);
    let put = |tx: &mut dyn crate::store::WriteTxn, r: &RepositoryName, v: &PackageVersionRecord| -> Result<()> {
        // A repository whose origin configuration came to block upstream versions meanwhile
        // is left out.
        if !super::origin::restrictions(tx, &job.domain, r, pkg)?.allows_upstream() {
            return Ok(());
        }
        engine.ensure_package(tx, &job.domain, r, pkg, super::origin::Entry::Upstream)?;
        catalog::put_version(tx, &job.domain, r, pkg, v)?;
        if let Some(owner) = &owner {
            let src = super::events::EventSource { domain: &job.domain, owner, repository: r };
            super::events::record(tx, &src, pkg, None, Some(v), &now)?;
        }
        Ok(())
    };
    let mut src = rec.clone();
    if catalog::repository(tx, &job.domain, &job.repo)?.is_some() {
        match catalog::version(tx, &job.domain, &job.repo, pkg, &rec.version)? {
            Some(cur) => src = cur,
            None => put(tx, &job.repo, rec)?,
        }
    }
    if src.status.is_downloadable() {
        for r in &job.retain {
            if catalog::repository(tx, &job.domain, r)?.is_some()
                && catalog::version(tx, &job.domain, r, pkg, &rec.version)?.is_none()
            {
                put(tx, r, &src)?;
            }
        }
    }
    catalog::delete_job(tx, &job.id)?;
    Ok(())
}
