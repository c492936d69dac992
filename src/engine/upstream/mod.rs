//! HTTP client for one external connection. Every request — metadata or asset — goes through
//! one path ([`Upstream::request`]): politeness (rate, priority, `Retry-After`), retries with
//! exponential back-off, and a circuit breaker so a dead upstream is not waited on request
//! after request. Failures come back typed ([`UpstreamError`]) and never carry a URL, since
//! URLs may hold credentials.

mod polite;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION};

pub(crate) use polite::{Priority, Urgency};

use super::error::{UpstreamError, UpstreamFailure};
use crate::config::{redact_url, ConnectionConfig};

/// Consecutive failed requests that open the breaker.
const BREAKER_THRESHOLD: u32 = 5;
/// How long an open breaker fails fast before letting one request probe.
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(15);

/// Result of a metadata fetch.
pub(super) enum Fetched {
    /// 200 with a body, its media type and the URL it came from after redirects.
    Found { body: Bytes, etag: Option<String>, content_type: Option<String>, url: String },
    /// The upstream says there is no such package.
    NotFound,
    /// 304 to our `If-None-Match`.
    NotModified,
}

/// How one attempt ended, when it did not produce a value.
enum AttemptError {
    /// Try again (after back-off) while attempts remain.
    Retry(UpstreamFailure, Option<Arc<dyn std::error::Error + Send + Sync>>),
    /// A definitive answer: no retry.
    Fail(UpstreamFailure),
}

struct Breaker {
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    fn check(&self) -> Result<(), UpstreamFailure> {
        let mut open = self.open_until.lock().expect("breaker lock");
        match *open {
            Some(until) if Instant::now() < until => Err(UpstreamFailure::CircuitOpen),
            Some(_) => {
                // Half-open: let this request probe.
                *open = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record(&self, ok: bool, connection: &str) {
        if ok {
            self.failures.store(0, Ordering::Relaxed);
        } else if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= BREAKER_THRESHOLD {
            *self.open_until.lock().expect("breaker lock") = Some(Instant::now() + BREAKER_OPEN_FOR);
            tracing::warn!(upstream = %connection, "upstream failing; circuit open");
        }
    }
}

pub(super) struct Upstream {
    pub(super) name: String,
    /// The configured URL without credentials or a trailing slash.
    pub(super) base: String,
    /// Credentials go only to this origin: asset URLs in upstream documents may point at
    /// other hosts (CDNs), which must never see them.
    origin: url::Origin,
    auth: Option<HeaderValue>,
    client: reqwest::Client,
    timeout: Duration,
    retries: u32,
    breaker: Breaker,
    polite: polite::Politeness,
}

fn basic_auth(user: &str, password: &str) -> HeaderValue {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut v = HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a valid header value");
    v.set_sensitive(true);
    v
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl Upstream {
    pub(super) fn new(name: &str, c: &ConnectionConfig) -> anyhow::Result<Self> {
        let mut url = url::Url::parse(&c.url).map_err(|e| anyhow::anyhow!("connections.\"{name}\".url: {e}"))?;
        // Explicit settings win over credentials in the URL; either way they leave the URL.
        let auth = if !c.username.is_empty() {
            Some(basic_auth(&c.username, &c.password))
        } else if !url.username().is_empty() || url.password().is_some() {
            Some(basic_auth(&decode(url.username()), &decode(url.password().unwrap_or(""))))
        } else {
            None
        };
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(c.connect_timeout_secs))
            .read_timeout(Duration::from_secs(c.timeout_secs))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("depot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            name: name.to_string(),
            base: url.as_str().trim_end_matches('/').to_string(),
            origin: url.origin(),
            auth,
            client,
            timeout: Duration::from_secs(c.timeout_secs),
            retries: c.retries,
            breaker: Breaker { failures: AtomicU32::new(0), open_until: Mutex::new(None) },
            polite: polite::Politeness::new(name, c.rate_per_sec, c.burst, Duration::from_secs(c.max_retry_after_secs)),
        })
    }

    /// An error of this connection.
    pub(super) fn error(
        &self,
        failure: UpstreamFailure,
        cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    ) -> UpstreamError {
        UpstreamError { connection: self.name.clone(), failure, cause }
    }

    /// Classifies a transport error (connect, timeout, broken body), dropping its URL.
    pub(super) fn transport_error(&self, e: reqwest::Error) -> UpstreamError {
        let (failure, cause) = classify(e);
        self.error(failure, cause)
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let mut req = self.client.get(url);
        if let Some(auth) = &self.auth {
            if url::Url::parse(url).is_ok_and(|u| u.origin() == self.origin) {
                req = req.header(AUTHORIZATION, auth.clone());
            }
        }
        req
    }

    async fn backoff(attempt: u32) {
        let base = 100u64 << attempt.min(6);
        let jitter = rand::random::<u64>() % (base / 2 + 1);
        tokio::time::sleep(Duration::from_millis(base + jitter)).await;
    }

    /// The one request path: breaker, politeness, attempts with back-off. `build` makes the
    /// request; `finish` turns a non-5xx response into a value or a definitive failure.
    async fn request<T, F, Fut>(
        &self,
        url: &str,
        urgency: &Urgency,
        build: impl Fn() -> reqwest::RequestBuilder,
        finish: F,
    ) -> Result<T, UpstreamError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        self.breaker.check().map_err(|f| self.error(f, None))?;
        let started = Instant::now();
        let mut last: Option<(UpstreamFailure, Option<Arc<dyn std::error::Error + Send + Sync>>)> = None;
        let mut told_to_wait = false;
        for attempt in 0..=self.retries {
            if attempt > 0 && !told_to_wait {
                Self::backoff(attempt).await;
            }
            // Waits out any Retry-After pause, then the rate.
            self.polite.admit(urgency).await.map_err(|f| self.error(f, None))?;
            told_to_wait = false;
            let resp = match build().send().await {
                Ok(r) => r,
                Err(e) => {
                    last = Some(classify(e));
                    continue;
                }
            };
            let status = resp.status().as_u16();
            if status == 429 || status == 503 {
                let ra = polite::retry_after(resp.headers());
                if let Some(d) = ra {
                    self.polite.pause_for(d);
                    told_to_wait = true;
                    if d > self.polite.max_retry_after() {
                        // Being told to wait is not the upstream failing: the breaker is left alone.
                        return Err(self.error(UpstreamFailure::RateLimited { retry_after: Some(d) }, None));
                    }
                }
                let failure = if status == 429 {
                    UpstreamFailure::RateLimited { retry_after: ra }
                } else {
                    UpstreamFailure::Status(503)
                };
                last = Some((failure, None));
                continue;
            }
            if status >= 500 {
                last = Some((UpstreamFailure::Status(status), None));
                continue;
            }
            // Any other answer means the upstream is up.
            self.breaker.record(true, &self.name);
            match finish(resp).await {
                Ok(v) => {
                    tracing::debug!(upstream = %self.name, url = %redact_url(url), duration_ms = started.elapsed().as_millis() as u64,
                        "upstream request done");
                    return Ok(v);
                }
                Err(AttemptError::Retry(f, cause)) => last = Some((f, cause)),
                Err(AttemptError::Fail(f)) => return Err(self.error(f, None)),
            }
        }
        let (failure, cause) = last.unwrap_or((UpstreamFailure::Unreachable, None));
        if !matches!(failure, UpstreamFailure::RateLimited { .. }) {
            self.breaker.record(false, &self.name);
        }
        let err = self.error(failure, cause);
        tracing::warn!(upstream = %self.name, url = %redact_url(url), error = %err,
            cause = err.cause.as_ref().map(|c| c.to_string()).unwrap_or_default(), "upstream request failed");
        Err(err)
    }

    /// GETs a metadata document.
    pub(super) async fn get_metadata(
        &self,
        url: &str,
        accept: &str,
        etag: Option<&str>,
        urgency: &Urgency,
    ) -> Result<Fetched, UpstreamError> {
        let build = || {
            let mut req = self.get(url).header("accept", accept).timeout(self.timeout);
            if let Some(e) = etag {
                req = req.header("if-none-match", e);
            }
            req
        };
        self.request(url, urgency, build, |resp| async move {
            match resp.status().as_u16() {
                404 | 410 => Ok(Fetched::NotFound),
                304 => Ok(Fetched::NotModified),
                s if (200..300).contains(&s) => {
                    let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                    let (etag, content_type) = (header("etag"), header("content-type"));
                    let url = resp.url().to_string();
                    match resp.bytes().await {
                        Ok(body) => Ok(Fetched::Found { body, etag, content_type, url }),
                        Err(e) => {
                            let (f, cause) = classify(e);
                            Err(AttemptError::Retry(f, cause))
                        }
                    }
                }
                s => Err(AttemptError::Fail(UpstreamFailure::Status(s))),
            }
        })
        .await
    }

    /// Starts an asset download: retries until a response head arrives, then the caller
    /// streams the body (a failure mid-stream fails the ingestion; the next request retries).
    pub(super) async fn get_asset(&self, url: &str, urgency: &Urgency) -> Result<reqwest::Response, UpstreamError> {
        self.request(
            url,
            urgency,
            || self.get(url),
            |resp| async move {
                if resp.status().is_success() {
                    Ok(resp)
                } else {
                    Err(AttemptError::Fail(UpstreamFailure::Status(resp.status().as_u16())))
                }
            },
        )
        .await
    }
}

fn classify(e: reqwest::Error) -> (UpstreamFailure, Option<Arc<dyn std::error::Error + Send + Sync>>) {
    let failure = if e.is_timeout() {
        UpstreamFailure::Timeout
    } else if e.is_connect() {
        UpstreamFailure::Unreachable
    } else if e.is_body() || e.is_decode() {
        UpstreamFailure::Interrupted
    } else {
        UpstreamFailure::Unreachable
    };
    (failure, Some(Arc::new(e.without_url())))
}

#[cfg(test)]
mod tests;
