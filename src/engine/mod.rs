//! CodeArtifact semantics, written once for every format: domains and repositories, the
//! upstream graph and its search order, retention, asynchronous ingestion with the
//! client wait, the upstream metadata cache (stale-while-revalidate), publish rules,
//! package views and tokens.
//!
//! The engine never names a concrete format: it calls the [`Format`] trait. It never holds a
//! lock across an `.await`; shared maps are behind `std::sync::Mutex` with tiny critical
//! sections. Background work (ingestion, prefetch, refreshes) is owned by the engine and
//! tracked in the job table so it resumes after a restart.

mod asset_index;
pub mod auth;
mod bootstrap;
mod copy;
mod describe;
mod dispose;
mod domains;
mod download;
pub mod error;
pub mod events;
mod flight;
pub mod format;
mod gc;
mod generations;
mod graph;
mod hosts;
mod hot_blobs;
mod ingest;
mod inherit;
mod inspect;
mod keyed;
mod known;
mod linked;
mod listing;
mod metadata;
mod on_demand;
mod origin;
mod packages;
mod prefetch;
mod publish;
mod render;
mod status;
mod tee;
mod unfinished;
mod upload;
mod upstream;
mod version_metadata;
mod views;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::store::blobs::BlobBytes;
pub use crate::store::BlobDigests;
pub use auth::{Auth, Principal};
pub use copy::CopyOptions;
pub use describe::StoredAsset;
pub use domains::RepoCtx;
pub use error::{EngineError, ResourceType, Result, UpstreamError, UpstreamFailure};
pub use format::{
    Dependency, DependencyRequest, DocumentError, Format, Inspection, License, UpstreamAsset, UpstreamDocument,
    UpstreamPackage, UpstreamVersion, VersionDetails,
};
pub use hosts::{normalize_host, HostRefusal};
pub use listing::{OriginType, PackageListing, PackagePage, VersionListing, VersionOrder, VersionPage};
pub use packages::{AssetBody, Located};
pub use publish::{PublishAsset, PublishRequest};
pub use render::Rendered;
pub use status::{VersionFailure, VersionOutcome, VersionSelection, VersionsResult};
pub use upload::{StagedBlob, Upload};
pub use version_metadata::VersionMetadata;
pub use views::{PackageView, ViewAsset, ViewInputs, ViewVersion};

use crate::config::Config;
use crate::model::PackageFormat;
use crate::store::{BlobStore, DirBlobStore, MetaStore, RedbStore, StoreError};

/// The engine: shared by every request handler as `Arc<Engine>`.
pub struct Engine {
    cfg: Arc<Config>,
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    formats: HashMap<PackageFormat, Arc<dyn Format>>,
    auth: Auth,
    upstreams: HashMap<String, upstream::Upstream>,
    gens: generations::Generations,
    graph_cache: graph::GraphCache,
    upstream_cache: metadata::UpstreamCache,
    discovery_cache: linked::DiscoveryCache,
    jobs: ingest::Jobs,
    rendered: render::RenderCache,
    hosts: hosts::KnownHosts,
    events: events::EventHub,
    gc: gc::BlobGc,
    asset_index: asset_index::AssetIndex,
    reach_cache: origin::ReachCache,
    hot_blobs: hot_blobs::HotBlobs,
}

impl Engine {
    /// Opens the embedded stores under the configured data directory and builds the engine.
    pub fn open(cfg: Config, formats: Vec<Arc<dyn Format>>) -> anyhow::Result<Arc<Self>> {
        use anyhow::Context as _;
        let dir = cfg.storage.data_dir.clone();
        // Private packages live here: 0700 whatever the umask, and an older, looser one is tightened.
        crate::store::private::private_dir(&dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        for f in ["token-secret", "admin-credentials"] {
            crate::store::private::tighten(&dir.join(f), crate::store::private::FILE_MODE)
                .with_context(|| format!("securing {}", dir.join(f).display()))?;
        }
        let meta = RedbStore::open(&dir.join("meta.redb")).context("opening the metadata store")?;
        let blobs = DirBlobStore::open(&dir.join("blobs")).context("opening the blob store")?;
        let auth = Auth::open(&dir, cfg.auth.admin_keys.clone())?;
        Self::with_stores(cfg, Arc::new(meta), Arc::new(blobs), auth, formats)
    }

    /// Builds the engine on given stores (tests use the in-memory store).
    pub fn with_stores(
        cfg: Config,
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        auth: Auth,
        formats: Vec<Arc<dyn Format>>,
    ) -> anyhow::Result<Arc<Self>> {
        let mut upstreams = HashMap::new();
        for (name, c) in &cfg.connections {
            if !c.url.is_empty() {
                upstreams.insert(name.clone(), upstream::Upstream::new(name, c)?);
            }
        }
        let jobs = ingest::Jobs::new(cfg.ingestion.workers, cfg.ingestion.prefetch_concurrency);
        let cfg_max_hosts = cfg.server.max_hosts;
        let (upstream_bytes, rendered_bytes) = (cfg.cache.upstream_max_bytes, cfg.cache.rendered_max_bytes);
        let asset_bytes = cfg.cache.asset_max_bytes;
        let engine = Arc::new(Self {
            formats: formats.into_iter().map(|f| (f.format(), f)).collect(),
            cfg: Arc::new(cfg),
            meta,
            blobs,
            auth,
            upstreams,
            gens: generations::Generations::default(),
            graph_cache: Default::default(),
            upstream_cache: metadata::UpstreamCache::new(upstream_bytes),
            discovery_cache: Default::default(),
            jobs,
            rendered: render::RenderCache::new(rendered_bytes),
            hosts: hosts::KnownHosts::new(cfg_max_hosts),
            events: Default::default(),
            gc: Default::default(),
            asset_index: asset_index::AssetIndex::new(),
            reach_cache: Default::default(),
            hot_blobs: hot_blobs::HotBlobs::new(asset_bytes),
        });
        engine.bootstrap()?;
        Ok(engine)
    }

    /// Resumes ingestion jobs left unfinished by a previous run and starts the blob collector
    /// (whose first pass finishes collections a crash cut short). Call once, inside the runtime.
    pub fn start_background(self: &Arc<Self>) {
        ingest::resume(self);
        webhooks::start(self);
        self.start_gc();
    }

    /// A counter that moves with every change to what Depot serves (see `Generations::world`):
    /// an answer made while it read `n` is still right while it reads `n`, as long as the
    /// answer's upstream documents are fresh.
    pub fn world(&self) -> u64 {
        self.gens.world()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Token issue and verification.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The format implementation for `f`, if Depot serves it.
    pub fn format(&self, f: PackageFormat) -> Option<&Arc<dyn Format>> {
        self.formats.get(&f)
    }

    /// How long a client waits for an upstream fetch.
    pub fn ingestion_wait(&self) -> Duration {
        Duration::from_secs_f64(self.cfg.ingestion.wait_secs)
    }

    /// Runs a metadata write off the async worker threads: redb commits fsync.
    fn write<R, F>(&self, f: F) -> Result<R>
    where
        F: FnMut(&mut dyn crate::store::WriteTxn) -> Result<R>,
    {
        let out = blocking(|| crate::store::write(self.meta.as_ref(), f));
        // The commit may have recorded events: feed readers and webhook tasks look again.
        if out.is_ok() {
            self.events.wake();
        }
        out
    }

    fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: FnMut(&dyn crate::store::ReadTxn) -> Result<R>,
    {
        crate::store::read(self.meta.as_ref(), f)
    }
}

/// Runs blocking work in place on a multi-threaded runtime so other tasks move to other
/// workers; runs it directly elsewhere (unit tests on a current-thread runtime).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl From<StoreError> for Box<EngineError> {
    fn from(e: StoreError) -> Self {
        Box::new(e.into())
    }
}
