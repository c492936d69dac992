//! Single-flight background work with a bounded client wait, shared by ingestion jobs
//! (`ingest.rs`) and files added on request (`on_demand.rs`). Work is keyed by an id; a second
//! caller with the same id joins the work under way. The work runs detached, so it completes
//! when every client has stopped waiting; a client waits at most `ingestion.wait_secs` (a
//! timeout around the waiting, never around the work) and then gets "Ingestion is in progress".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::error::{EngineError, Result};
use super::ingest::Running;
use super::upstream::{Priority, Urgency};
use super::Engine;

/// What a flight reports to everyone who joined it: `None` until it is done.
pub(super) type Outcome = Option<std::result::Result<(), Arc<EngineError>>>;

/// A caller's place in a flight.
pub(super) enum Flight {
    /// Work under the id was already running; this is its outcome.
    Joined(watch::Receiver<Outcome>),
    /// This caller registered the id and must run the work and `land` it.
    Started { tx: watch::Sender<Outcome>, rx: watch::Receiver<Outcome>, urgency: Urgency },
}

impl Engine {
    /// Joins the flight `id` (raising its urgency to `priority`) or registers a new one.
    pub(super) fn board(&self, id: &str, priority: Priority) -> Flight {
        let mut running = self.jobs.running.lock().expect("jobs lock");
        if let Some(r) = running.get(id) {
            // A client joining background work makes its downloads go first.
            r.urgency.join(priority);
            return Flight::Joined(r.rx.clone());
        }
        let urgency = Urgency::new(priority);
        let (tx, rx) = watch::channel(None);
        running.insert(id.to_string(), Running { rx: rx.clone(), urgency: urgency.clone() });
        Flight::Started { tx, rx, urgency }
    }

    /// Forgets the flight `id`, so the next caller starts new work (a failed flight is not
    /// retried by itself).
    pub(super) fn forget_flight(&self, id: &str) {
        self.jobs.running.lock().expect("jobs lock").remove(id);
    }

    /// Ends the flight `id` and tells everyone who joined it.
    pub(super) fn land(&self, id: &str, tx: &watch::Sender<Outcome>, res: Result<()>) {
        self.forget_flight(id);
        let _ = tx.send(Some(res.map_err(Arc::new)));
    }

    /// Waits (without a bound) for a flight's outcome.
    pub(super) async fn landed(mut rx: watch::Receiver<Outcome>) -> Result<()> {
        let outcome =
            rx.wait_for(Option::is_some).await.map_err(|_| EngineError::Internal("background work vanished".into()))?;
        match outcome.as_ref() {
            Some(Err(e)) => Err((**e).clone()),
            _ => Ok(()),
        }
    }

    /// Waits at most the ingestion wait for `task` (detached: it goes on when the wait runs
    /// out, and the client gets `IngestionInProgress`).
    pub(super) async fn wait_for_client<T>(&self, mut task: JoinHandle<Result<T>>, what: &str) -> Result<T> {
        match tokio::time::timeout(self.ingestion_wait(), &mut task).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => Err(EngineError::Internal(format!("background task failed: {e}"))),
            Err(_) => {
                tracing::info!(what, "client wait elapsed; the work continues");
                Err(EngineError::IngestionInProgress)
            }
        }
    }
}

/// The `ingestion.workers` permits, client work first: work a client waits for takes a permit
/// as soon as one is free; background work (prefetch, refreshes, resumed jobs) takes one only
/// while no client is waiting, and never holds more than half of them, so a prefetch backlog
/// never queues ahead of a client nor fills the pool.
pub(super) struct Workers {
    all: Arc<Semaphore>,
    background: Arc<Semaphore>,
    clients_waiting: AtomicUsize,
    /// Signalled when a client starts or stops waiting.
    changed: Notify,
}

/// A held worker permit (and, for background work, its background slot).
pub(super) struct WorkerPermit {
    _all: OwnedSemaphorePermit,
    _background: Option<OwnedSemaphorePermit>,
}

/// How often waiting background work looks again whether a client has joined it.
const RECHECK: Duration = Duration::from_millis(50);

impl Workers {
    pub(super) fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        Self {
            all: Arc::new(Semaphore::new(workers)),
            background: Arc::new(Semaphore::new((workers / 2).max(1))),
            clients_waiting: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    /// Waits for a permit with `urgency`'s priority (re-read while waiting: a client joining
    /// background work makes it a client's).
    pub(super) async fn acquire(&self, urgency: &Urgency) -> Option<WorkerPermit> {
        if urgency.priority() == Priority::Client {
            return self.acquire_client().await;
        }
        let mut slot = None;
        loop {
            if urgency.priority() == Priority::Client {
                drop(slot);
                return self.acquire_client().await;
            }
            let Some(held) = slot.take() else {
                tokio::select! {
                    s = self.background.clone().acquire_owned() => slot = Some(s.ok()?),
                    _ = tokio::time::sleep(RECHECK) => {}
                }
                continue;
            };
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if self.clients_waiting.load(Ordering::SeqCst) == 0 {
                tokio::select! {
                    p = self.all.clone().acquire_owned() => {
                        return p.ok().map(|p| WorkerPermit { _all: p, _background: Some(held) });
                    }
                    _ = &mut changed => {}
                    _ = tokio::time::sleep(RECHECK) => {}
                }
            } else {
                tokio::select! {
                    _ = &mut changed => {}
                    _ = tokio::time::sleep(RECHECK) => {}
                }
            }
            slot = Some(held);
        }
    }

    async fn acquire_client(&self) -> Option<WorkerPermit> {
        self.clients_waiting.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        let p = self.all.clone().acquire_owned().await;
        self.clients_waiting.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        p.ok().map(|p| WorkerPermit { _all: p, _background: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_take_worker_permits_before_background_work() {
        let w = Arc::new(Workers::new(2));
        let bg = Urgency::new(Priority::Background);
        let client = Urgency::new(Priority::Client);
        // A client holds one permit, background work the other: the pool is full.
        let held_client = w.acquire(&client).await.unwrap();
        let held_bg = w.acquire(&bg).await.unwrap();
        // Background work may hold at most half the pool, and waits behind clients.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (w2, tx2, bg2) = (w.clone(), tx.clone(), bg.clone());
        let waiting_bg = tokio::spawn(async move {
            let p = w2.acquire(&bg2).await.unwrap();
            tx2.send("background").unwrap();
            p
        });
        let (w3, tx3, c3) = (w.clone(), tx.clone(), client.clone());
        let waiting_client = tokio::spawn(async move {
            let p = w3.acquire(&c3).await.unwrap();
            tx3.send("client").unwrap();
            p
        });
        // Let both queue (the client counts itself as waiting before it parks).
        while w.clients_waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        drop(held_bg);
        assert_eq!(rx.recv().await, Some("client"), "the freed permit goes to the client");
        drop(held_client);
        assert_eq!(rx.recv().await, Some("background"));
        drop((waiting_bg.await.unwrap(), waiting_client.await.unwrap()));
    }

    #[tokio::test]
    async fn background_work_joined_by_a_client_goes_as_a_client() {
        let w = Arc::new(Workers::new(2));
        let bg = Urgency::new(Priority::Background);
        let _one = w.acquire(&bg).await.unwrap();
        // The background half of the pool is taken; a second background job waits for it...
        let (w2, bg2) = (w.clone(), bg.clone());
        let second = tokio::spawn(async move { w2.acquire(&bg2).await.map(|_| ()) });
        // ...until a client joins it, which lets it use the client half.
        bg.join(Priority::Client);
        assert!(second.await.unwrap().is_some());
    }
}
