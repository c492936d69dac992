//! Header, keep-alive and body timeouts, and the connection cap.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{addr, closed_within, healthz, read_response, send, status};
use crate::support::depot::{TestDepot, AKID};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_head_is_closed_after_header_timeout() {
    let depot = TestDepot::builder()
        .env("DEPOT_HEADER_TIMEOUT_SECS", "1")
        .env("DEPOT_KEEP_ALIVE_TIMEOUT_SECS", "30")
        .start()
        .await;
    let a = addr(&depot);
    let opened = Instant::now();
    let mut partial = send(&a, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
    let mut silent = send(&a, b"").await;
    for (what, s) in [("a partial head", &mut partial), ("a silent connection", &mut silent)] {
        let closed = closed_within(s, Duration::from_secs(6)).await;
        assert!(closed.is_some(), "{what} is still open 6 s after a 1 s header timeout");
        let t = opened.elapsed();
        assert!(t >= Duration::from_millis(900), "{what} closed before the header timeout: {t:?}");
    }
    assert_eq!(healthz(&depot.url, 5).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_is_closed_after_keep_alive_timeout() {
    let depot = TestDepot::builder()
        .env("DEPOT_HEADER_TIMEOUT_SECS", "1")
        .env("DEPOT_KEEP_ALIVE_TIMEOUT_SECS", "3")
        .start()
        .await;
    let a = addr(&depot);
    let mut s = send(&a, format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes()).await;
    assert_eq!(status(&read_response(&mut s).await), 200);
    // The same connection serves a second request: it is kept alive.
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes()).await.unwrap();
    assert_eq!(status(&read_response(&mut s).await), 200);
    let t = closed_within(&mut s, Duration::from_secs(8)).await;
    let t = t.expect("an idle kept-alive connection is still open 8 s after a 3 s keep-alive timeout");
    // Idle is not "sending a head": the 1 s header timeout does not apply.
    assert!(t >= Duration::from_millis(2700), "closed after {t:?}, before the keep-alive timeout");
}

/// A management request with a known key and a current date: it passes the header checks,
/// so Depot reads its body to verify the signature.
fn api_head(a: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", now.year(), u8::from(now.month()), now.day());
    let stamp = format!("{date}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
    format!(
        "POST /v1/domains HTTP/1.1\r\nHost: {a}\r\nX-Amz-Date: {stamp}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential={AKID}/{date}/us-east-1/codeartifact/aws4_request, SignedHeaders=host;x-amz-date, \
         Signature={}\r\nContent-Length: 1000000\r\n\r\n{{\"a",
        "0".repeat(64)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_cut_and_free_request_slots() {
    let depot = TestDepot::builder()
        .env("DEPOT_MAX_CONCURRENT_REQUESTS", "4")
        .env("DEPOT_BODY_TIMEOUT_SECS", "2")
        .env("DEPOT_HEADER_TIMEOUT_SECS", "30")
        .start()
        .await;
    let aws = depot.aws();
    aws.ok(&["create-domain", "--domain", "dd"]).await;
    aws.ok(&["create-repository", "--domain", "dd", "--repository", "rr"]).await;
    let token = aws.token("dd").await;
    let a = addr(&depot);
    let path = depot.npm_endpoint("dd", "rr").trim_start_matches(&depot.url).to_string();
    // Two authenticated publishes and two signed management calls, each stalling after 3
    // body bytes of a declared 1,000,000.
    let mut stalled = Vec::new();
    for i in 0..4 {
        let head = if i % 2 == 0 {
            format!(
                "PUT {path}pkg{i} HTTP/1.1\r\nHost: {a}\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{\"a"
            )
        } else {
            api_head(&a)
        };
        stalled.push(send(&a, head.as_bytes()).await);
    }
    eventually(Duration::from_secs(5), "the stalled bodies to hold every request slot (503)", || async {
        healthz(&depot.url, 2).await == 503
    })
    .await;
    let held = Instant::now();
    eventually(Duration::from_secs(6), "a normal request to succeed again", || async {
        healthz(&depot.url, 2).await == 200
    })
    .await;
    assert!(held.elapsed() < Duration::from_secs(6), "slots came back after {:?}", held.elapsed());
    for mut s in stalled {
        let resp = read_response(&mut s).await;
        assert_eq!(status(&resp), 408, "{resp}");
        assert!(resp.contains("body_timeout_secs"), "{resp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_survives_a_flood_of_partial_connections() {
    // 256 descriptors: without a cap, 300 connections exhaust them.
    let mut depot = TestDepot::builder()
        .shell("ulimit -n 256")
        .env("DEPOT_MAX_CONNECTIONS", "50")
        .env("DEPOT_HEADER_TIMEOUT_SECS", "5")
        .start()
        .await;
    let a = addr(&depot);
    let mut flood = Vec::new();
    for _ in 0..300 {
        let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&a)).await else { break };
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
        flood.push(s);
    }
    assert!(flood.len() >= 250, "only {} connections opened", flood.len());
    let start = Instant::now();
    eventually(Duration::from_secs(8), "a normal request to be served during the flood", || async {
        healthz(&depot.url, 2).await == 200
    })
    .await;
    let served_after = start.elapsed();
    assert!(served_after < Duration::from_secs(8), "served after {served_after:?}");
    drop(flood);
    assert!(depot.running(), "depot exited:\n{}", depot.log_tail(20));
    let log = depot.log();
    assert!(!log.contains("Too many open files"), "{}", depot.log_tail(20));
    eprintln!("normal request served {served_after:?} into a flood of 300 partial connections (cap 50)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_api_refuses_before_reading_the_body() {
    let depot = TestDepot::builder().env("DEPOT_BODY_TIMEOUT_SECS", "30").start().await;
    let a = addr(&depot);
    let unsigned = format!("POST /v1/domains HTTP/1.1\r\nHost: {a}\r\nContent-Length: 1000000\r\n\r\n");
    let unknown = api_head(&a).replace(AKID, "AKIDNOBODYKNOWS00001");
    for (req, error_type) in
        [(unsigned, "MissingAuthenticationTokenException"), (unknown, "UnrecognizedClientException")]
    {
        let start = Instant::now();
        let mut s = send(&a, req.as_bytes()).await;
        // No body bytes follow: the answer must come from the headers alone.
        let resp = read_response(&mut s).await;
        assert_eq!(status(&resp), 403, "{resp}");
        assert!(
            resp.to_ascii_lowercase().contains(&format!("x-amzn-errortype: {}", error_type.to_ascii_lowercase())),
            "{resp}"
        );
        assert!(start.elapsed() < Duration::from_secs(3), "refused after {:?}", start.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_stops_reading_is_cut() {
    let depot = TestDepot::builder().env("DEPOT_BODY_TIMEOUT_SECS", "2").start().await;
    let aws = depot.aws();
    aws.ok(&["create-domain", "--domain", "dd"]).await;
    aws.ok(&["create-repository", "--domain", "dd", "--repository", "rr"]).await;
    let endpoint = depot.npm_endpoint("dd", "rr");
    // 16 MiB that do not compress: far more than the socket buffers hold.
    let mut noise = vec![0u8; 16 << 20];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut noise);
    let tgz = crate::support::fake_npm::make_tarball("big-pkg", "1.0.0", &[("noise.bin", &noise)]);
    use base64::Engine as _;
    let body = serde_json::json!({
        "name": "big-pkg", "versions": {"1.0.0": {"name": "big-pkg", "version": "1.0.0", "dist": {}}},
        "_attachments": {"big-pkg-1.0.0.tgz": {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let put = reqwest::Client::new().put(format!("{endpoint}big-pkg")).bearer_auth(aws.token("dd").await).json(&body);
    assert_eq!(put.send().await.unwrap().status(), 201);

    let a = addr(&depot);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(a.parse().unwrap()).await.unwrap();
    let path = endpoint.trim_start_matches(&depot.url);
    s.write_all(format!("GET {path}big-pkg/-/big-pkg-1.0.0.tgz HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Read nothing: Depot's writes block, and after the body timeout it gives up.
    eventually(Duration::from_secs(10), "depot to close a connection whose client stopped reading", || async {
        depot.log().contains("client stopped reading the response")
    })
    .await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::AsyncReadExt;
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection was not closed");
    assert!(got < tgz.len(), "the whole response ({got} bytes) arrived: it was not cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_by_the_minimum_rate() {
    let depot = TestDepot::builder()
        .env("DEPOT_BODY_TIMEOUT_SECS", "1")
        .env("DEPOT_MIN_BODY_RATE_BYTES_PER_SEC", "1000")
        .start()
        .await;
    let a = addr(&depot);
    let mut s = send(&a, api_head(&a).as_bytes()).await;
    // A byte every 100 ms never stalls for the 1 s body timeout, but averages 10 bytes/s.
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while start.elapsed() < Duration::from_secs(6) {
        if s.write_all(b"x").await.is_err() {
            break;
        }
        use tokio::io::AsyncReadExt;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            got.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&got).contains("\r\n\r\n") {
                break;
            }
        }
    }
    let resp = String::from_utf8_lossy(&got).into_owned();
    assert_eq!(status(&resp), 408, "after {:?}: {resp}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(4), "cut after {:?}", start.elapsed());
    assert!(depot.log().contains("slower than 1000 bytes/s"), "{}", depot.log_tail(10));
}
