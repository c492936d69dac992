//! The streaming tee (`src/engine/tee.rs`): N concurrent downloads of a missing tarball make
//! one upstream fetch, every client receives bytes before the upstream has sent the whole
//! file, and a file failing its declared checksum never completes a client's response.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::json;
use sha2::Digest as _;
use tokio::sync::watch;

use crate::support::depot::TestDepot;
use crate::support::fake_npm::make_tarball;
use crate::support::fake_server::FakeServer;

const CLIENTS: usize = 4;

/// An upstream with one package whose tarball is sent in two halves: the second only once the
/// test opens the gate.
struct Slow {
    base: Mutex<String>,
    tarball: Vec<u8>,
    /// The integrity the packument declares (the tarball's own, or another file's).
    declared: Vec<u8>,
    gate: watch::Receiver<bool>,
    tarball_hits: AtomicUsize,
}

async fn packument(State(s): State<Arc<Slow>>) -> Response {
    let url = format!("{}/slowpkg/-/slowpkg-1.0.0.tgz", s.base.lock().unwrap());
    let integrity =
        format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&s.declared)));
    let doc = json!({
        "_id": "slowpkg", "name": "slowpkg", "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {"name": "slowpkg", "version": "1.0.0", "dist": {"tarball": url, "integrity": integrity}}},
        "time": {"1.0.0": "2024-01-01T00:00:00.000Z"}
    });
    Response::builder().header(header::CONTENT_TYPE, "application/json").body(Body::from(doc.to_string())).unwrap()
}

async fn send_tarball(State(s): State<Arc<Slow>>) -> Response {
    s.tarball_hits.fetch_add(1, Ordering::SeqCst);
    let half = s.tarball.len() / 2;
    let (first, rest) =
        (bytes::Bytes::copy_from_slice(&s.tarball[..half]), bytes::Bytes::copy_from_slice(&s.tarball[half..]));
    let gate = s.gate.clone();
    let body = futures::stream::unfold(0, move |step| {
        let (first, rest, mut gate) = (first.clone(), rest.clone(), gate.clone());
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(first), 1)),
                1 => {
                    let _ = gate.wait_for(|open| *open).await;
                    Some((Ok(rest), 2))
                }
                _ => None,
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, s.tarball.len())
        .body(Body::from_stream(body))
        .unwrap()
}

/// A tarball of some 256 KiB that gzip cannot shrink.
fn big_tarball() -> Vec<u8> {
    let noise = crate::support::noise(256 * 1024);
    make_tarball("slowpkg", "1.0.0", &[("noise.bin", &noise)])
}

/// Starts the slow upstream and Depot in front of it; returns them, the gate and the
/// tarball's URL through Depot with a token.
async fn setup(declared_ok: bool) -> (FakeServer, Arc<Slow>, TestDepot, watch::Sender<bool>, String, String) {
    let tarball = big_tarball();
    let declared = if declared_ok { tarball.clone() } else { make_tarball("slowpkg", "1.0.0", &[]) };
    let (open, gate) = watch::channel(false);
    let slow = Arc::new(Slow { base: Mutex::default(), tarball, declared, gate, tarball_hits: AtomicUsize::new(0) });
    let app = Router::new()
        .route("/slowpkg", get(packument))
        .route("/slowpkg/-/slowpkg-1.0.0.tgz", get(send_tarball))
        .with_state(slow.clone());
    let fake = FakeServer::start(app).await;
    *slow.base.lock().unwrap() = fake.url();
    let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    let token = aws.token("acme").await;
    let url = format!("{}slowpkg/-/slowpkg-1.0.0.tgz", depot.npm_endpoint("acme", "store"));
    (fake, slow, depot, open, url, token)
}

/// Starts `CLIENTS` downloads; returns each response once its first bytes have arrived (the
/// upstream has sent only half the file: the gate is closed).
async fn first_bytes(url: &str, token: &str) -> Vec<(reqwest::Response, Vec<u8>)> {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let req = client.get(url).bearer_auth(token);
        tasks.push(tokio::spawn(async move {
            let mut resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200, "a teed download answers 200 at once");
            let first = resp.chunk().await.unwrap().expect("first bytes before the upstream finished");
            (resp, first.to_vec())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Reads the rest of a body; `Err` when the response is cut short.
async fn rest(mut resp: reqwest::Response, mut got: Vec<u8>) -> Result<Vec<u8>, reqwest::Error> {
    while let Some(c) = resp.chunk().await? {
        got.extend_from_slice(&c);
    }
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_downloads_share_one_fetch_and_stream() {
    let (_fake, slow, depot, open, url, token) = setup(true).await;
    let started = first_bytes(&url, &token).await;
    assert!(!*open.borrow(), "every client got bytes while the upstream still held back half the file");
    assert_eq!(slow.tarball_hits.load(Ordering::SeqCst), 1, "{CLIENTS} concurrent requests, one upstream fetch");
    for (resp, first) in &started {
        let announced = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        assert_eq!(announced, Some(slow.tarball.len()));
        assert!(first.len() < slow.tarball.len());
    }
    open.send_replace(true);
    for (resp, first) in started {
        assert!(rest(resp, first).await.unwrap() == slow.tarball, "a teed body differs from the upstream's file");
    }
    // Stored as usual: once the job has committed, downloads come from the store (ETag: the
    // SHA-256) without another fetch.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(&slow.tarball)));
    let stored = crate::support::poll_until(std::time::Duration::from_secs(30), || async {
        let Ok(r) = client.get(&url).bearer_auth(&token).send().await else { return false };
        let from_store =
            r.status() == 200 && r.headers().get(header::ETAG).is_some_and(|v| v.to_str().is_ok_and(|v| v == etag));
        from_store && r.bytes().await.is_ok_and(|b| b == slow.tarball)
    })
    .await;
    assert!(stored, "the teed version was never served from the store");
    assert_eq!(slow.tarball_hits.load(Ordering::SeqCst), 1, "later downloads are served from the store");
    drop(depot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teed_file_failing_its_checksum_never_completes() {
    let (_fake, slow, _depot, open, url, token) = setup(false).await;
    let started = first_bytes(&url, &token).await;
    open.send_replace(true);
    for (resp, first) in started {
        match rest(resp, first).await {
            Err(_) => {}
            Ok(body) => panic!("a response with unverified bytes completed ({} bytes)", body.len()),
        }
    }
    assert_eq!(slow.tarball_hits.load(Ordering::SeqCst), 1);
}
