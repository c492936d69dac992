//! Single-flight background work with a bounded client wait, shared by ingestion jobs
//! (`ingest.rs`) and files added on request (`on_demand.rs`). Work is keyed by an id; a second
//! caller with the same id joins the work under way. The work runs detached, so it completes
//! when every client has stopped waiting; a client waits at most `ingestion.wait_secs` (a
//! timeout around the waiting, never around the work) and then gets "Ingestion is in progress".

use std::sync::Arc;

use tokio::sync::watch;
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
