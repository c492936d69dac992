//! Request-body limits: a body that stalls longer than `body_timeout`, or whose average rate
//! falls below `min_body_rate` once `body_timeout` has passed, fails its next read. Whatever
//! the handler then answers, the client gets 408, so the request (and its slot) ends at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::time::{Instant, Sleep};

use crate::config::TransportLimits;

/// Why a request body was cut.
#[derive(Debug, thiserror::Error)]
pub enum BodyTimeout {
    /// Nothing arrived for the body timeout.
    #[error("request body stalled for more than {0:?}")]
    Stalled(Duration),
    /// The average rate fell below the minimum.
    #[error("request body slower than {0} bytes/s")]
    TooSlow(u64),
}

struct Timed {
    inner: Body,
    limits: TransportLimits,
    /// Set when the first read is attempted: a handler that reads late is not the client's fault.
    started: Option<Instant>,
    last: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    cut: Arc<AtomicBool>,
}

impl Timed {
    /// The earlier of "stalled too long" and "too slow on average", as an instant and a reason.
    fn deadline(&self, started: Instant) -> (Instant, BodyTimeout) {
        let stall = self.last + self.limits.body_timeout;
        if self.limits.min_body_rate == 0 {
            return (stall, BodyTimeout::Stalled(self.limits.body_timeout));
        }
        let earned = Duration::from_secs_f64(self.received as f64 / self.limits.min_body_rate as f64);
        let slow = started + earned.max(self.limits.body_timeout);
        if slow < stall {
            (slow, BodyTimeout::TooSlow(self.limits.min_body_rate))
        } else {
            (stall, BodyTimeout::Stalled(self.limits.body_timeout))
        }
    }
}

impl http_body::Body for Timed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        if self.received == 0 && self.last < started {
            self.last = started;
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.received += d.len() as u64;
                    self.last = now;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let (at, why) = self.deadline(started);
                if self.timer.deadline() != at {
                    self.timer.as_mut().reset(at);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.cut.store(true, Ordering::Relaxed);
                        tracing::info!(received = self.received, reason = %why, "request body cut");
                        Poll::Ready(Some(Err(axum::Error::new(why))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            other => other,
        }
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a timed body was cut.
pub(super) struct Cut(Arc<AtomicBool>);

impl Cut {
    pub(super) fn is_cut(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Puts the request body on the clock.
pub(super) fn timed(req: Request, limits: TransportLimits) -> (Request, Cut) {
    let cut = Arc::new(AtomicBool::new(false));
    let now = Instant::now();
    let req = req.map(|inner| {
        Body::new(Timed {
            inner,
            limits,
            started: None,
            last: now,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(now + limits.body_timeout)),
            cut: cut.clone(),
        })
    });
    (req, Cut(cut))
}

/// The answer to a request whose body was cut, whatever its handler answered: 408, and the
/// connection closes.
pub(super) fn cut_response() -> Response {
    let msg =
        "request body too slow: send it without pauses (server.body_timeout_secs, server.min_body_rate_bytes_per_sec)";
    let mut resp =
        (StatusCode::REQUEST_TIMEOUT, axum::Json(serde_json::json!({ "error": msg, "message": msg }))).into_response();
    // The rest of the body may still be on its way; this connection cannot be reused.
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
