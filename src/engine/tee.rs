//! The streaming tee: a client asking for a file that an ingestion job is downloading gets the
//! bytes as they arrive from the upstream, not after the whole version is stored, while the
//! job stays the only upstream fetch.
//!
//! The job's download (`download.rs`) publishes each file it fetches here, keyed by the job id
//! and the file name, when the upstream announced the length (the response's `Content-Length`
//! becomes the client's) and it is at most [`TEE_MAX`] (the chunks are kept in memory while
//! the job runs), for formats whose files are verified by inline checksums (not by side files
//! fetched afterwards: Maven answers once stored). A client that joined the job
//! (`Engine::ingest`) races the job's outcome against the tee of the file it wants, which
//! `Engine::fetch_asset` names through the task-local [`Wanted`]. The response starts once
//! [`START_AT`] bytes have arrived (a smaller file is answered once stored, as before). The
//! file's last byte is held back until the job has verified the file and stored the version,
//! so a client that holds a complete response finds the version stored, and a file that fails
//! its checksums (or a job that fails) ends the client's body with an error, short of its
//! `Content-Length`: a client never completes a response with bad bytes. The job itself
//! (verification, commit, metadata, retention, prefetch) is unchanged: the tee only reads
//! what it downloads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{watch, Notify};

use super::packages::AssetBody;
use crate::model::{AssetName, Sha256};
use crate::store::blobs::BlobBytes;

/// Files larger than this are not teed: their clients wait for the stored file.
pub(super) const TEE_MAX: u64 = 64 * 1024 * 1024;
/// A teed response starts once this much has arrived; a smaller file is answered once stored,
/// so that a client holding a response status knows the version is stored, and an upstream
/// file failing its checksum still gets its error status.
const START_AT: u64 = 64 * 1024;

tokio::task_local! {
    /// The file a download request wants, and where `ingest` leaves its teed body.
    static WANTED: Wanted;
}

/// What `fetch_asset` asks for while it resolves a version.
pub(super) struct Wanted {
    asset: AssetName,
    body: RefCell<Option<AssetBody>>,
}

impl Wanted {
    /// Runs `fut` (the version's resolution) wanting `asset`; returns its result and the teed
    /// body when ingestion handed one over instead of waiting for the stored version.
    pub(super) async fn scope<T>(
        asset: &AssetName,
        fut: impl std::future::Future<Output = T>,
    ) -> (T, Option<AssetBody>) {
        let w = Wanted { asset: asset.clone(), body: RefCell::new(None) };
        let mut scoped = std::pin::pin!(WANTED.scope(w, fut));
        let out = (&mut scoped).await;
        let body = scoped.as_mut().take_value().and_then(|w| w.body.into_inner());
        (out, body)
    }

    /// The file the current request wants, if it is a download.
    pub(super) fn asset() -> Option<AssetName> {
        WANTED.try_with(|w| w.asset.clone()).ok()
    }

    /// Hands `body` to the request (see `scope`).
    pub(super) fn hand_over(body: AssetBody) {
        let _ = WANTED.try_with(|w| *w.body.borrow_mut() = Some(body));
    }
}

/// How far a teed download has got.
#[derive(Default)]
struct Progress {
    chunks: Vec<Bytes>,
    received: u64,
    /// Every byte arrived and every declared checksum matched.
    verified: bool,
    /// `Some(true)`: the job stored the version; `Some(false)`: the download or the job failed.
    end: Option<bool>,
}

/// One file being downloaded by a job.
pub(super) struct Tee {
    len: u64,
    /// The upstream's declared SHA-256, if any (the ETag of the teed response).
    sha256: Option<String>,
    progress: Mutex<Progress>,
    changed: watch::Sender<()>,
}

impl Tee {
    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().expect("tee lock"));
        self.changed.send_replace(());
    }
}

/// The job's side of a tee: fails the tee when dropped before `verified`.
pub(super) struct TeeWriter {
    tee: Arc<Tee>,
}

impl TeeWriter {
    pub(super) fn push(&self, chunk: &Bytes) {
        self.tee.update(|p| {
            p.received += chunk.len() as u64;
            p.chunks.push(chunk.clone());
        });
    }

    /// The file passed every check (its last byte still waits for the job to store it).
    pub(super) fn verified(self) {
        let len = self.tee.len;
        self.tee.update(|p| p.verified = p.received == len);
    }
}

impl Drop for TeeWriter {
    fn drop(&mut self) {
        self.tee.update(|p| {
            if !p.verified {
                p.end = Some(false);
            }
        });
    }
}

/// The tees of running jobs.
#[derive(Default)]
pub(super) struct Tees {
    map: Mutex<HashMap<(String, String), Arc<Tee>>>,
    added: Notify,
}

impl Tees {
    /// Publishes the download of `asset` by job `job`; `None` when it cannot be teed.
    pub(super) fn start(
        &self,
        job: &str,
        asset: &AssetName,
        len: Option<u64>,
        sha256: Option<String>,
    ) -> Option<TeeWriter> {
        let len = len.filter(|n| *n > 0 && *n <= TEE_MAX)?;
        let tee = Arc::new(Tee { len, sha256, progress: Mutex::default(), changed: watch::Sender::new(()) });
        self.map.lock().expect("tees lock").insert((job.to_string(), asset.as_str().to_string()), tee.clone());
        self.added.notify_waiters();
        Some(TeeWriter { tee })
    }

    /// Job `job` has finished (`stored`: its version is stored and retained): its tees release
    /// their last bytes, or fail, and are forgotten.
    pub(super) fn end_job(&self, job: &str, stored: bool) {
        let mut ended = Vec::new();
        self.map.lock().expect("tees lock").retain(|(j, _), t| {
            if j == job {
                ended.push(t.clone());
            }
            j != job
        });
        for t in ended {
            t.update(|p| p.end = Some(stored && p.verified));
        }
    }

    /// Waits until job `job` tees `asset` and its response may start: once [`START_AT`] bytes
    /// of a larger file have arrived. Never returns otherwise (the caller races this against the
    /// job's outcome, which then answers: a small file once stored, errors included).
    pub(super) async fn body(&self, job: &str, asset: &AssetName) -> AssetBody {
        let tee = loop {
            let added = self.added.notified();
            let mut added = std::pin::pin!(added);
            added.as_mut().enable();
            let found =
                self.map.lock().expect("tees lock").get(&(job.to_string(), asset.as_str().to_string())).cloned();
            if let Some(tee) = found {
                break tee;
            }
            added.await;
        };
        let mut rx = tee.changed.subscribe();
        loop {
            let ready = {
                let p = tee.progress.lock().expect("tee lock");
                match p.end {
                    // Ended before the response started: the job's outcome answers, with the
                    // stored file (and its ETag) or the error.
                    Some(_) => None,
                    None => Some(tee.len > START_AT && p.received >= START_AT),
                }
            };
            match ready {
                Some(true) => return tee.body(),
                Some(false) => {}
                None => std::future::pending::<()>().await,
            }
            // The sender lives in `tee`, held here: `changed` cannot fail.
            let _ = rx.changed().await;
        }
    }
}

impl Tee {
    /// A reader from the first byte: chunks as they arrive, the last byte once verified.
    fn body(self: Arc<Self>) -> AssetBody {
        let rx = self.changed.subscribe();
        let (size, sha256) = (self.len, self.sha256.as_deref().and_then(|h| Sha256::from_hex(h).ok()));
        // State: the chunk being read, the offset in it, the bytes sent; `None` once ended.
        let start = Some((self, rx, 0usize, 0usize, 0u64));
        let stream = futures::stream::unfold(start, |state| async move {
            let (tee, mut rx, mut idx, mut off, sent) = state?;
            loop {
                rx.borrow_and_update();
                let next = {
                    let p = tee.progress.lock().expect("tee lock");
                    if p.end == Some(false) {
                        Err(std::io::Error::other("the upstream file failed verification or its download failed"))
                    } else if sent == tee.len {
                        return None;
                    } else {
                        // Hold back the file's last byte until the job has verified it.
                        let limit = if p.end == Some(true) { tee.len } else { tee.len - 1 };
                        while p.chunks.get(idx).is_some_and(|c| off == c.len()) {
                            (idx, off) = (idx + 1, 0);
                        }
                        Ok(p.chunks.get(idx).map(|c| {
                            let take = (limit - sent).min((c.len() - off) as u64) as usize;
                            c.slice(off..off + take)
                        }))
                    }
                };
                match next {
                    Err(e) => return Some((Err(e), None)),
                    Ok(Some(b)) if !b.is_empty() => {
                        let n = b.len();
                        return Some((Ok(b), Some((tee, rx, idx, off + n, sent + n as u64))));
                    }
                    Ok(_) => {}
                }
                // The sender lives in `tee`, which this stream holds: `changed` cannot fail.
                let _ = rx.changed().await;
            }
        });
        AssetBody { size, sha256, bytes: BlobBytes::Stream(Box::pin(stream)) }
    }
}
