//! Transport hardening (issue #8): connection and body timeouts, the connection cap, the Host
//! check, private data on disk, start-up order, and the management API refusing before it
//! reads a body. Raw sockets on loopback, so the tests control every byte.

mod connections;
mod host;
mod startup;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::depot::TestDepot;

/// `127.0.0.1:<port>` of a test Depot.
fn addr(depot: &TestDepot) -> String {
    depot.url.trim_start_matches("http://").to_string()
}

/// Opens a connection and sends `bytes` (a request, or part of one).
async fn send(addr: &str, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    s
}

/// Reads until the server closes the connection (a reset counts) and returns how long that
/// took, or `None` if it is still open after `limit`. Whatever arrives meanwhile is dropped.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let r = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    r.ok().map(|_| start.elapsed())
}

/// Reads one response (head and a `Content-Length` body) without waiting for the close.
async fn read_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n =
            tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("response in time").unwrap();
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0usize);
            if got.len() >= end + 4 + len || n == 0 {
                return text;
            }
        }
        assert!(n > 0, "connection closed mid-response: {text}");
    }
}

/// Sends a whole request on a new connection and returns the whole answer.
async fn exchange(addr: &str, request: &str) -> String {
    let mut s = send(addr, request.as_bytes()).await;
    read_response(&mut s).await
}

/// The status code of a raw response.
fn status(resp: &str) -> u16 {
    resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status line: {resp:?}"))
}

/// The JSON body of a raw response.
fn json_body(resp: &str) -> serde_json::Value {
    let body = &resp[resp.find("\r\n\r\n").expect("a head") + 4..];
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

/// `GET /healthz` through a client that gives up after `secs`: the status, or 0.
async fn healthz(url: &str, secs: u64) -> u16 {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(secs)).build().unwrap();
    client.get(format!("{url}/healthz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}
