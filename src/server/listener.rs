//! The accept loop: a connection cap below the file-descriptor limit, eviction of idle
//! connections at the cap, per-connection watchdogs, and the graceful shutdown.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

use super::conn::{tick, ConnService, ConnState, Watched};
use super::front::App;
use crate::config::TransportLimits;

/// File descriptors kept for everything but client sockets: the metadata store, upstream
/// sockets, log files, the listener.
const FD_RESERVE: u64 = 256;

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the connection cap: the
/// configured one, or (0 = auto) half of what remains after the reserve, since each
/// connection may also hold an open blob file.
pub(super) fn connection_cap(configured: usize, ingestion_workers: usize) -> usize {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(s, _)| s).unwrap_or(1024)
        }
    };
    let reserve = FD_RESERVE + 2 * ingestion_workers as u64;
    let auto = usize::try_from(soft.saturating_sub(reserve) / 2).unwrap_or(usize::MAX).max(16);
    if configured == 0 {
        tracing::info!(open_files = soft, max_connections = auto, "connection cap derived from the open-file limit");
        return auto;
    }
    if configured > auto {
        tracing::warn!(
            open_files = soft,
            max_connections = configured,
            suggested = auto,
            "server.max_connections is above what the open-file limit leaves room for"
        );
    }
    configured
}

/// The open connections, oldest first, so the cap can close the oldest idle one.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn insert(&self, id: u64, s: Arc<ConnState>) {
        self.conns.lock().expect("registry lock").insert(id, s);
    }
    fn remove(&self, id: u64) {
        self.conns.lock().expect("registry lock").remove(&id);
    }
    /// Asks the oldest connection with no request in progress to close; false if none.
    fn evict_oldest_idle(&self) -> bool {
        // Map walk only; the connection closes itself outside the lock.
        let conns = self.conns.lock().expect("registry lock");
        match conns.values().find(|s| s.evictable()) {
            Some(s) => {
                s.evict();
                true
            }
            None => false,
        }
    }
}

/// Accept errors are logged at most once a second, so a persistent error cannot flood the log.
struct ErrorLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    fn log(&mut self, e: &std::io::Error) {
        if self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(error = %e, suppressed = self.suppressed, "accept error");
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

/// Serves `app` on `listener` until `stop` turns true, then gives connections `grace`.
pub(super) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    limits: TransportLimits,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(max_connections));
    let registry = Arc::new(Registry::default());
    let tracker = TaskTracker::new();
    let mut errors = ErrorLog { last: None, suppressed: 0 };
    let mut next_id = 0u64;
    loop {
        let tcp = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => break,
        };
        let tcp = match tcp {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                errors.log(&e);
                // Out of descriptors (or similar): let connections close before trying again.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // One accepted socket waits here at most; the rest wait in the listen backlog.
                // A connection asked to close may have started a request meanwhile, so ask
                // again while waiting.
                let mut waited = None;
                loop {
                    if !registry.evict_oldest_idle() {
                        tracing::debug!("connection cap reached and every connection is busy; waiting");
                    }
                    tokio::select! {
                        p = permits.clone().acquire_owned() => { waited = p.ok(); break; }
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = stop.changed() => break,
                    }
                }
                match waited {
                    Some(p) => p,
                    None => break,
                }
            }
        };
        // Streamed bodies go out as several writes; without TCP_NODELAY, Nagle's algorithm and
        // the client's delayed ACK stall each response by ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        next_id += 1;
        let id = next_id;
        let state = Arc::new(ConnState::new());
        registry.insert(id, state.clone());
        let (builder, registry, app, mut stop) = (builder.clone(), registry.clone(), app.clone(), stop.clone());
        tracker.spawn(async move {
            let io = TokioIo::new(Watched { io: tcp, state: state.clone() });
            let svc = ConnService { app, state: state.clone() };
            let conn = builder.serve_connection_with_upgrades(io, svc);
            tokio::pin!(conn);
            let tick = tick(&limits);
            // One timer per connection, re-armed when it fires (not per request).
            let timer = tokio::time::sleep(tick);
            tokio::pin!(timer);
            let mut draining = *stop.borrow();
            if draining {
                conn.as_mut().graceful_shutdown();
            }
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = state.wake.notified() => {}
                    _ = timer.as_mut() => timer.as_mut().reset(tokio::time::Instant::now() + tick),
                    _ = stop.changed(), if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                        // Idle or still sending a head: nothing to finish, close now.
                        if state.evictable() {
                            break;
                        }
                    }
                }
                if let Some(why) = state.expired(&limits) {
                    tracing::debug!(reason = why, "closing connection");
                    break;
                }
            }
            registry.remove(id);
            drop(permit);
        });
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}
