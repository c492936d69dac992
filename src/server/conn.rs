//! One accepted connection: its state, the IO wrapper that watches reads and writes, the
//! service wrapper that counts requests in progress, and the watchdog that closes it.
//!
//! hyper's own `header_read_timeout` is off: it restarts whenever the connection waits for a
//! head, so it cannot tell a client that is slowly sending a head from a kept-alive one that
//! sends nothing. The watchdog keeps the two clocks apart (see `config/depot.toml`).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::front::App;
use crate::config::TransportLimits;

/// "Not set" for the millisecond clocks below.
const NONE: u64 = u64::MAX;

/// What the watchdog knows about one connection. Times are milliseconds since `born`.
pub(super) struct ConnState {
    born: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    idle_since: AtomicU64,
    head_started: AtomicU64,
    write_blocked: AtomicU64,
    evicted: AtomicBool,
    /// Wakes the watchdog for an eviction (everything else waits for its tick).
    pub(super) wake: Notify,
}

impl ConnState {
    pub(super) fn new() -> Self {
        Self {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            write_blocked: AtomicU64::new(NONE),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// Whether the connection can be closed without cutting a request: it is idle or still
    /// sending a head.
    pub(super) fn evictable(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.evicted.load(Ordering::Relaxed)
    }

    /// Marks the connection for closing (at the cap, to make room for a new one).
    pub(super) fn evict(&self) {
        self.evicted.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NONE, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Why the connection should be closed now, if it should.
    pub(super) fn expired(&self, limits: &TransportLimits) -> Option<&'static str> {
        let now = self.now();
        let over = |since: u64, limit: Duration| since != NONE && now.saturating_sub(since) as u128 > limit.as_millis();
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // A response the client has stopped reading would hold the connection forever.
            return over(self.write_blocked.load(Ordering::Relaxed), limits.body_timeout)
                .then_some("client stopped reading the response");
        }
        if self.evicted.load(Ordering::Relaxed) {
            return Some("connection limit reached; closing the oldest idle connection");
        }
        let head = self.head_started.load(Ordering::Relaxed);
        if head != NONE {
            return over(head, limits.header_timeout).then_some("request head not complete in time");
        }
        if self.requests.load(Ordering::Relaxed) == 0 {
            return over(0, limits.header_timeout).then_some("no request in time");
        }
        over(self.idle_since.load(Ordering::Relaxed), limits.keep_alive_timeout).then_some("keep-alive idle")
    }
}

/// A request in progress on a connection; dropped when its response body is done.
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let s = &self.0;
        s.idle_since.store(s.now(), Ordering::Relaxed);
        s.head_started.store(NONE, Ordering::Relaxed);
        s.write_blocked.store(NONE, Ordering::Relaxed);
        s.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The TCP stream, reporting reads (a head has started) and stalled writes to [`ConnState`].
pub(super) struct Watched<T> {
    pub(super) io: T,
    pub(super) state: Arc<ConnState>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let s = &self.state;
            if s.in_flight.load(Ordering::Acquire) == 0 {
                let _ = s.head_started.compare_exchange(NONE, s.now(), Ordering::Relaxed, Ordering::Relaxed);
            }
        }
        r
    }
}

impl<T> Watched<T> {
    fn note_write<R>(&self, r: &Poll<io::Result<R>>) {
        match r {
            Poll::Pending => {
                let s = &self.state;
                let _ = s.write_blocked.compare_exchange(NONE, s.now(), Ordering::Relaxed, Ordering::Relaxed);
            }
            Poll::Ready(_) => self.state.write_blocked.store(NONE, Ordering::Relaxed),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.note_write(&r);
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.note_write(&r);
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.note_write(&r);
        r
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The application as hyper calls it: counts the request as in progress until its response
/// body is done.
#[derive(Clone)]
pub(super) struct ConnService {
    pub(super) app: Arc<App>,
    pub(super) state: Arc<ConnState>,
}

type BoxFut = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<hyper::body::Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFut;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let guard = self.state.begin_request();
        let app = self.app.clone();
        Box::pin(async move {
            let resp = app.handle(req.map(Body::new)).await;
            Ok(resp.map(|b| Body::new(Guarded { inner: b, _guard: guard })))
        })
    }
}

/// A response body that keeps its request counted as in progress until it is done.
struct Guarded {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// How often the watchdog looks while nothing wakes it: a quarter of the shortest limit,
/// between 20 ms and 1 s.
pub(super) fn tick(limits: &TransportLimits) -> Duration {
    let shortest = limits.header_timeout.min(limits.keep_alive_timeout).min(limits.body_timeout);
    (shortest / 4).clamp(Duration::from_millis(20), Duration::from_secs(1))
}
