//! Blob garbage collection, crash-safe.
//!
//! Blobs are content-addressed and shared by every repository and domain, so bytes may leave
//! the blob store only once no version record anywhere references them (an asset's SHA-256 or
//! its companion `core_metadata`). The protocol:
//!
//! 1. A change that stops referencing bytes (DisposePackageVersions, DeletePackageVersions,
//!    DeletePackage, DeleteRepository, a copy overwriting a version) records their digests in
//!    `Table::BlobGc` **in the same transaction** (`catalog::release_blobs`), each row with a
//!    fresh random token, then wakes the collector.
//! 2. A collection pass (woken after such a commit, and once at start-up for rows left by a
//!    crash) reads a batch of candidates, takes the gate **exclusively**, re-checks in a fresh
//!    read that no version record in any domain references them, removes the unreferenced
//!    files (`BlobStore::remove`; a missing file is fine), releases the gate, and deletes each
//!    row only if its token is unchanged (a change that released the blob again meanwhile
//!    keeps its row for the next pass).
//! 3. Every path that makes a blob referenced by committing new bytes (publish, ingestion and
//!    its companion blobs, PyPI upload) holds the gate **shared** from the blob commit until
//!    the metadata transaction naming it has committed ([`Engine::commit_referencing`]). Paths
//!    that copy an existing reference (retention, copy, an ingestion's retaining repositories)
//!    read and write the source record in one metadata transaction and never copy a Disposed
//!    record.
//!
//! Why nothing referenced is ever removed: a reference to blob X is created either (a) by a
//! gated writer, which cannot be between its commit and its metadata commit while the
//! collector holds the gate, so the collector's re-check (read after it took the gate) sees
//! that writer's reference, or the writer commits X again after the removal (a fresh rename);
//! or (b) by copying a record that references X inside one transaction, which needs a
//! reference to X to exist at that instant, and the re-check found none at an instant after
//! which only gated writers can create one. Why nothing is lost at a crash: the candidate row
//! and the change are one transaction; the row goes away only after the file did (or the blob
//! was found in use), so a crash leaves a row to redo or nothing. A redo of a removal finds
//! the file missing, which is fine.
//!
//! The gate is a plain `std::sync::RwLock`, never held across an `.await`: the holders run
//! synchronously inside `blocking()` (writers) or `spawn_blocking` (the collector). The
//! re-check is a full scan of the version table per batch of candidates, made under the gate:
//! publishes and ingestions wait for it, only when something was released.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Notify;

use super::error::{EngineError, Result};
use super::{blocking, Engine};
use crate::model::Sha256;
use crate::store::{catalog, PendingBlob, WriteTxn};

/// Candidates handled per pass step (one scan of the version table each).
const BATCH: usize = 512;

/// The collector's state, one per engine.
#[derive(Default)]
pub(super) struct BlobGc {
    /// Shared by writers from a blob commit to the metadata commit naming it; exclusive
    /// while the collector re-checks and removes.
    gate: RwLock<()>,
    /// Wakes the collector task; a wake while it runs makes it run once more.
    wake: Arc<Notify>,
}

impl BlobGc {
    /// Asks for a collection pass after a commit that released blobs.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Engine {
    /// Commits `blobs`, then runs the metadata write `f` that references them, off the async
    /// workers and with the gate held shared throughout, so the collector cannot remove a blob
    /// between its commit and the commit of its first reference. When `f` fails, the blobs
    /// just committed are recorded as candidates (nothing may reference them).
    pub(super) fn commit_referencing<R>(
        &self,
        blobs: Vec<Box<dyn PendingBlob>>,
        mut f: impl FnMut(&mut dyn WriteTxn) -> Result<R>,
    ) -> Result<R> {
        let mut committed = Vec::with_capacity(blobs.len());
        let res = blocking(|| {
            let _shared = self.gc.gate.read().unwrap_or_else(PoisonError::into_inner);
            for b in blobs {
                committed.push(b.commit()?.sha256);
            }
            crate::store::write(self.meta.as_ref(), &mut f)
        });
        // Like `Engine::write`: the commit may have recorded events.
        if res.is_ok() {
            self.events.wake();
        }
        if res.is_err() && !committed.is_empty() {
            let orphans = || committed.iter().copied();
            if self.write(|tx| Ok::<_, EngineError>(catalog::release_blobs(tx, orphans())?)).is_ok() {
                self.gc.wake();
            }
        }
        res
    }

    /// Starts the collector task and queues the start-up pass (rows left by a crash).
    pub(super) fn start_gc(self: &Arc<Self>) {
        // The task holds the engine weakly: it ends with the engine.
        let engine = Arc::downgrade(self);
        let wake = self.gc.wake.clone();
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                let Some(e) = engine.upgrade() else { return };
                match tokio::task::spawn_blocking(move || e.collect_blobs()).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(blobs = n, "unreferenced blobs removed"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "blob collection failed; retried at the next release"),
                    Err(e) => tracing::warn!(error = %e, "blob collection task failed"),
                }
            }
        });
        self.gc.wake();
    }

    /// One collection pass over every candidate; returns how many blobs it removed.
    pub(super) fn collect_blobs(&self) -> Result<usize> {
        let mut removed = 0;
        let mut after: Option<Sha256> = None;
        loop {
            let batch = self.read(|tx| Ok::<_, EngineError>(catalog::gc_candidates(tx, after.as_ref(), BATCH)?))?;
            let Some((last, _)) = batch.last() else { return Ok(removed) };
            after = Some(*last);
            let wanted: HashSet<Sha256> = batch.iter().map(|(s, _)| *s).collect();
            {
                let _exclusive = self.gc.gate.write().unwrap_or_else(PoisonError::into_inner);
                // A fresh read, taken after the gate: no gated writer is mid-way.
                let used = self.read(|tx| Ok::<_, EngineError>(catalog::referenced_blobs(tx, &wanted)?))?;
                for sha in wanted.difference(&used) {
                    self.blobs.remove(sha)?;
                    removed += 1;
                }
            }
            self.write(|tx| {
                for (sha, token) in &batch {
                    catalog::drop_gc_candidate(tx, sha, *token)?;
                }
                Ok::<_, EngineError>(())
            })?;
        }
    }
}

#[cfg(test)]
mod tests;
