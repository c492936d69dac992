//! HTTP client for one external connection: timeouts, retries with exponential back-off,
//! and a circuit breaker so a dead upstream is not waited on request after request.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::ConnectionConfig;

/// Consecutive failures that open the breaker.
const BREAKER_THRESHOLD: u32 = 5;
/// How long an open breaker fails fast before letting one request probe.
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(15);

/// Result of a metadata fetch.
pub(super) enum Fetched {
    /// 200 with a body.
    Found { body: Bytes, etag: Option<String> },
    /// The upstream says there is no such package.
    NotFound,
    /// 304 to our `If-None-Match`.
    NotModified,
}

pub(super) struct Upstream {
    pub(super) name: String,
    pub(super) base: String,
    client: reqwest::Client,
    timeout: Duration,
    retries: u32,
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Upstream {
    pub(super) fn new(name: &str, c: &ConnectionConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(c.connect_timeout_secs))
            .read_timeout(Duration::from_secs(c.timeout_secs))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("depot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            name: name.to_string(),
            base: c.url.trim_end_matches('/').to_string(),
            client,
            timeout: Duration::from_secs(c.timeout_secs),
            retries: c.retries,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        })
    }

    fn check_breaker(&self) -> Result<(), String> {
        let mut open = self.open_until.lock().expect("breaker lock");
        match *open {
            Some(until) if Instant::now() < until => {
                Err(format!("external connection {} is unavailable (recent requests failed)", self.name))
            }
            Some(_) => {
                // Half-open: let this request probe.
                *open = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record(&self, ok: bool) {
        if ok {
            self.failures.store(0, Ordering::Relaxed);
        } else if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= BREAKER_THRESHOLD {
            *self.open_until.lock().expect("breaker lock") = Some(Instant::now() + BREAKER_OPEN_FOR);
            tracing::warn!(upstream = %self.name, "upstream failing; circuit open");
        }
    }

    async fn backoff(attempt: u32) {
        let base = 100u64 << attempt.min(6);
        let jitter = rand::random::<u64>() % (base / 2 + 1);
        tokio::time::sleep(Duration::from_millis(base + jitter)).await;
    }

    /// GETs a metadata document, retrying transient failures.
    pub(super) async fn get_metadata(&self, url: &str, accept: &str, etag: Option<&str>) -> Result<Fetched, String> {
        self.check_breaker()?;
        let started = Instant::now();
        let mut last_err = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                Self::backoff(attempt).await;
            }
            let mut req = self.client.get(url).header("accept", accept).timeout(self.timeout);
            if let Some(e) = etag {
                req = req.header("if-none-match", e);
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.as_u16() == 404 || status.as_u16() == 410 {
                        self.record(true);
                        return Ok(Fetched::NotFound);
                    }
                    if status.as_u16() == 304 {
                        self.record(true);
                        return Ok(Fetched::NotModified);
                    }
                    if status.is_success() {
                        let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
                        match resp.bytes().await {
                            Ok(body) => {
                                self.record(true);
                                tracing::debug!(upstream = %self.name, url, duration_ms = started.elapsed().as_millis() as u64,
                                    size_bytes = body.len(), "fetched upstream metadata");
                                return Ok(Fetched::Found { body, etag });
                            }
                            Err(e) => last_err = format!("reading {url}: {e}"),
                        }
                    } else {
                        last_err = format!("{url} answered {status}");
                        if status.is_client_error() && status.as_u16() != 429 {
                            self.record(true);
                            return Err(last_err);
                        }
                    }
                }
                Err(e) => last_err = format!("requesting {url}: {e}"),
            }
        }
        self.record(false);
        tracing::warn!(upstream = %self.name, url, error = %last_err, "upstream metadata fetch failed");
        Err(last_err)
    }

    /// Starts an asset download; retries until the response head arrives, then streams.
    pub(super) async fn get_asset(&self, url: &str) -> Result<reqwest::Response, String> {
        self.check_breaker()?;
        let mut last_err = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                Self::backoff(attempt).await;
            }
            match self.client.get(url).send().await {
                Ok(resp) if resp.status().is_success() => {
                    self.record(true);
                    return Ok(resp);
                }
                Ok(resp) => {
                    last_err = format!("{url} answered {}", resp.status());
                    if resp.status().is_client_error() && resp.status().as_u16() != 429 {
                        return Err(last_err);
                    }
                }
                Err(e) => last_err = format!("requesting {url}: {e}"),
            }
        }
        self.record(false);
        Err(last_err)
    }
}
