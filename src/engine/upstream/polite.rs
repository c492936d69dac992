//! Politeness towards one upstream: a request rate (governor's GCRA) in which requests a
//! client waits for go before background work, and the pause an upstream asks for with
//! `Retry-After`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::engine::error::UpstreamFailure;

/// Who waits for an upstream request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum Priority {
    /// A client request is waiting for it.
    Client,
    /// Nobody waits: prefetch, refreshes, resumed jobs.
    #[default]
    Background,
}

/// The priority of a shared piece of work (a coalesced fetch, an ingestion job): raised to
/// `Client` when a client joins work that started in the background.
#[derive(Clone, Debug, Default)]
pub(crate) struct Urgency(Arc<AtomicBool>);

impl Urgency {
    /// Urgency starting at `p`.
    pub(crate) fn new(p: Priority) -> Self {
        Self(Arc::new(AtomicBool::new(p == Priority::Client)))
    }
    /// A client now waits for this work.
    pub(crate) fn join(&self, p: Priority) {
        if p == Priority::Client {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    fn client(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// The priority now.
    pub(crate) fn priority(&self) -> Priority {
        if self.client() {
            Priority::Client
        } else {
            Priority::Background
        }
    }
}

/// How often at most a delayed request is logged per connection.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Delays shorter than this are the rate working as intended, not worth a log line.
const NOTABLE_DELAY: Duration = Duration::from_millis(100);

pub(super) struct Politeness {
    connection: String,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Background work's own share: half the rate, a quarter of the burst, so that a prefetch
    /// walk cannot drain the burst a client's next requests need.
    background: Option<DefaultDirectRateLimiter>,
    clients_waiting: AtomicUsize,
    paused_until: Mutex<Option<Instant>>,
    max_retry_after: Duration,
    delayed: AtomicU64,
    last_log: Mutex<Option<Instant>>,
}

impl Politeness {
    pub(super) fn new(connection: &str, rate_per_sec: f64, burst: u32, max_retry_after: Duration) -> Self {
        let limiter_of = |rate: f64, burst: u32| {
            (rate > 0.0)
                .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / rate)))
                .flatten()
                .map(|q| RateLimiter::direct(q.allow_burst(std::num::NonZeroU32::new(burst.max(1)).expect("non-zero"))))
        };
        Self {
            connection: connection.to_string(),
            limiter: limiter_of(rate_per_sec, burst),
            background: limiter_of(rate_per_sec / 2.0, burst / 4),
            clients_waiting: AtomicUsize::new(0),
            paused_until: Mutex::new(None),
            max_retry_after,
            delayed: AtomicU64::new(0),
            last_log: Mutex::new(None),
        }
    }

    /// The longest `Retry-After` waited out.
    pub(super) fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Pauses every request to this connection for `d` (a `Retry-After`).
    pub(super) fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = self.paused_until.lock().expect("pause lock");
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
        tracing::warn!(upstream = %self.connection, retry_after_secs = d.as_secs_f64(), "upstream asked Depot to slow down; pausing requests to it");
    }

    /// Waits until this request may go: past any pause, then within the rate, clients first.
    /// Fails at once when the upstream asked for a longer pause than Depot waits out.
    pub(super) async fn admit(&self, urgency: &Urgency) -> Result<(), UpstreamFailure> {
        let started = Instant::now();
        let paused = *self.paused_until.lock().expect("pause lock");
        if let Some(until) = paused {
            let left = until.saturating_duration_since(Instant::now());
            if left > self.max_retry_after {
                return Err(UpstreamFailure::RateLimited { retry_after: Some(left) });
            }
            tokio::time::sleep(left).await;
        }
        if let Some(lim) = &self.limiter {
            loop {
                if urgency.client() {
                    self.clients_waiting.fetch_add(1, Ordering::Relaxed);
                    lim.until_ready().await;
                    self.clients_waiting.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
                // Background work takes a slot only when no client waits for one, so a
                // prefetch backlog never queues ahead of a client.
                let wait = if self.clients_waiting.load(Ordering::Relaxed) == 0 {
                    let now = DefaultClock::default().now();
                    match self.background.as_ref().map_or(Ok(()), |b| b.check()).and_then(|()| lim.check()) {
                        Ok(()) => break,
                        Err(not_until) => not_until.wait_time_from(now),
                    }
                } else {
                    Duration::from_millis(20)
                };
                tokio::time::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(100))).await;
            }
        }
        let waited = started.elapsed();
        if waited >= NOTABLE_DELAY {
            self.note_delay(waited);
        }
        Ok(())
    }

    fn note_delay(&self, waited: Duration) {
        let n = self.delayed.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_log.lock().expect("log lock");
        if last.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            drop(last);
            tracing::info!(upstream = %self.connection, waited_ms = waited.as_millis() as u64, delayed_total = n,
                "upstream rate limit is delaying requests");
        }
    }
}

/// A `Retry-After` header: delta-seconds or an HTTP date.
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        h.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(27) && d <= Duration::from_secs(30), "{d:?}");
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test]
    async fn clients_go_before_background_work() {
        // One request per 100 ms, no burst beyond one.
        let p = Arc::new(Politeness::new("public:test", 10.0, 1, Duration::from_secs(5)));
        p.admit(&Urgency::new(Priority::Background)).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (p, order) = (p.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                p.admit(&Urgency::new(Priority::Background)).await.unwrap();
                order.lock().unwrap().push(format!("bg{i}"));
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (p2, order2) = (p.clone(), order.clone());
        let client = tokio::spawn(async move {
            p2.admit(&Urgency::new(Priority::Client)).await.unwrap();
            order2.lock().unwrap().push("client".to_string());
        });
        client.await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order[0], "client", "the client overtakes the background backlog: {order:?}");
    }

    #[tokio::test]
    async fn background_work_leaves_most_of_the_burst_to_clients() {
        // 10 requests/s, burst 8: background work gets 2 of the burst at once, then 5/s.
        let p = Arc::new(Politeness::new("public:test", 10.0, 8, Duration::from_secs(5)));
        let done = Arc::new(AtomicUsize::new(0));
        let (p2, done2) = (p.clone(), done.clone());
        let backlog = tokio::spawn(async move {
            for _ in 0..8 {
                p2.admit(&Urgency::new(Priority::Background)).await.unwrap();
                done2.fetch_add(1, Ordering::SeqCst);
            }
        });
        while done.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        let t = Instant::now();
        for _ in 0..6 {
            p.admit(&Urgency::new(Priority::Client)).await.unwrap();
        }
        assert!(t.elapsed() < Duration::from_millis(150), "clients waited {:?} behind a prefetch backlog", t.elapsed());
        backlog.abort();
    }

    #[tokio::test]
    async fn long_pauses_fail_fast_short_ones_wait() {
        let p = Politeness::new("public:test", 0.0, 1, Duration::from_secs(2));
        p.pause_for(Duration::from_secs(60));
        let r = p.admit(&Urgency::new(Priority::Client)).await;
        assert!(matches!(r, Err(UpstreamFailure::RateLimited { retry_after: Some(d) }) if d > Duration::from_secs(50)));
        let p = Politeness::new("public:test", 0.0, 1, Duration::from_secs(2));
        p.pause_for(Duration::from_millis(300));
        let t = Instant::now();
        p.admit(&Urgency::new(Priority::Client)).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(250));
    }
}
