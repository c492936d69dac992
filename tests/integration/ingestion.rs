//! The client wait ("40-second rule", shortened here) and coalescing of upstream fetches.

use std::time::Duration;

use crate::support::app_and_store;
use crate::support::depot::TestDepot;
use crate::support::fake_npm::FakeNpm;

const IN_PROGRESS: &str = "Ingestion is in progress. Please try again later.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_gets_in_progress_then_succeeds_without_refetch() {
    let (fake, depot, aws) = app_and_store(|b| b.env("DEPOT_INGESTION_WAIT_SECS", "1")).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    fake.set_latency(Duration::from_millis(2500));

    // The packument needs an upstream fetch: 404 with CodeArtifact's message after the wait.
    let started = std::time::Instant::now();
    let r = reqwest::get(format!("{endpoint}depd")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(started.elapsed() < Duration::from_millis(2400), "answered after the wait, not after the fetch");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], IN_PROGRESS);
    // A later retry is served from what the background fetch stored.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = reqwest::get(format!("{endpoint}depd")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(fake.hits("/depd"), 1, "one upstream fetch of the packument");

    // Same for a tarball.
    let url = format!("{endpoint}depd/-/depd-2.0.0.tgz");
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], IN_PROGRESS);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.bytes().await.unwrap().is_empty());
    assert_eq!(fake.hits("/depd/-/depd-2.0.0.tgz"), 1, "no second upstream fetch");
    // And the version was retained in the requesting repository meanwhile.
    assert_eq!(aws.versions("acme", "app", "depd").await, vec!["2.0.0".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_coalesce_into_one_upstream_fetch() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    let endpoint = depot.npm_endpoint("acme", "store");
    fake.set_latency(Duration::from_millis(500));
    let url = format!("{endpoint}vary/-/vary-1.1.2.tgz");
    let reqs = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { reqwest::get(url).await.unwrap().bytes().await.unwrap() })
    });
    let bodies: Vec<_> = futures::future::join_all(reqs).await.into_iter().map(Result::unwrap).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]) && !bodies[0].is_empty());
    assert_eq!(fake.hits("/vary"), 1);
    assert_eq!(fake.hits("/vary/-/vary-1.1.2.tgz"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_connection_says_which_setting_to_fill() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    let r = reqwest::get(format!("{}ms", depot.npm_endpoint("acme", "store"))).await.unwrap();
    assert_eq!(r.status(), 404, "no retry can help: final for npm");
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("DEPOT_UPSTREAM_PUBLIC_NPMJS"), "{msg}");
    // The bootstrap `main` has no npm store then; its 404 names the setting too.
    let r = reqwest::get(format!("{}express", depot.npm_endpoint("default", "main"))).await.unwrap();
    assert_eq!(r.status(), 404);
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("DEPOT_UPSTREAM_PUBLIC_NPMJS"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_ingestion_resumes_after_a_crash() {
    let (fake, mut depot, aws) = app_and_store(|b| b.env("DEPOT_INGESTION_WAIT_SECS", "1")).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    assert_eq!(reqwest::get(format!("{endpoint}depd")).await.unwrap().status(), 200);
    // The download is slow: the client gives up, Depot is killed mid-download.
    fake.set_latency(Duration::from_secs(4));
    let r = reqwest::get(format!("{endpoint}depd/-/depd-2.0.0.tgz")).await.unwrap();
    assert_eq!(r.status(), 404);
    depot.kill().await;
    fake.set_latency(Duration::ZERO);
    depot.restart().await;
    // Nobody asks again: the resumed job stores it in the store and retains it in app.
    crate::support::eventually(Duration::from_secs(30), "the resumed job to finish", || {
        let aws = aws.clone();
        async move { aws.versions("acme", "app", "depd").await == ["2.0.0"] }
    })
    .await;
    assert_eq!(aws.versions("acme", "store", "depd").await, ["2.0.0"]);
    assert!(depot.log().contains("resuming ingestion job"), "{}", depot.log_tail(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_upstream_failures_are_retried() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    fake.fail_next(2);
    let r = reqwest::get(format!("{}depd", depot.npm_endpoint("acme", "store"))).await.unwrap();
    assert_eq!(r.status(), 200, "two 503s, then success on the third attempt");
    assert_eq!(fake.hits("/depd"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_max_age_and_stale_while_revalidate() {
    let fake = FakeNpm::start().await;
    let depot =
        TestDepot::builder().npm_upstream(&fake.url()).env("DEPOT_METADATA_MAX_AGE_NPM_SECS", "2").start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:npmjs"))]).await;
    let url = format!("{}depd", depot.npm_endpoint("acme", "app"));
    let versions =
        |v: serde_json::Value| -> Vec<String> { v["versions"].as_object().unwrap().keys().cloned().collect() };
    let get = || async { reqwest::get(&url).await.unwrap().json::<serde_json::Value>().await.unwrap() };
    assert_eq!(versions(get().await), ["2.0.0"]);
    // Expired but unchanged upstream: the refresh is conditional and answered 304.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(versions(get().await), ["2.0.0"]);
    crate::support::eventually(Duration::from_secs(10), "a conditional refresh answered 304", || async {
        fake.not_modified() == 1
    })
    .await;
    let tgz = crate::support::fake_npm::make_tarball("depd", "3.0.0", &[]);
    fake.publish_version("depd", "3.0.0", serde_json::json!({}), tgz, Some("latest"));
    assert_eq!(versions(get().await), ["2.0.0"], "within the max age the cache answers");
    assert_eq!(fake.hits("/depd"), 2, "the first fetch and the conditional refresh");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // The first request after expiry still gets the cached view and triggers the refresh.
    assert_eq!(versions(get().await), ["2.0.0"]);
    crate::support::eventually(Duration::from_secs(10), "the refreshed packument", || async {
        versions(get().await).contains(&"3.0.0".to_string())
    })
    .await;
    let latest = reqwest::get(format!("{}/latest", url)).await.unwrap().json::<serde_json::Value>().await.unwrap();
    assert_eq!(latest["version"], "3.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_bytes_that_do_not_match_their_declared_hash_are_refused() {
    let (fake, depot, aws) = app_and_store(|b| b).await;
    fake.replace_tarball("/ms/-/ms-2.1.3.tgz", crate::support::fake_npm::make_tarball("ms", "2.1.3", &[]));
    let r = reqwest::get(format!("{}ms/-/ms-2.1.3.tgz", depot.npm_endpoint("acme", "app"))).await.unwrap();
    assert_eq!(r.status(), 502);
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("does not match"), "{msg}");
    assert!(aws.versions("acme", "store", "ms").await.is_empty(), "nothing stored");
    assert!(aws.versions("acme", "app", "ms").await.is_empty());
    let blobs = walk_files(&depot.data_dir().join("blobs"));
    assert!(blobs.is_empty(), "no blob committed or left behind: {blobs:?}");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk_files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_upstream_opens_the_circuit_breaker() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    let endpoint = depot.npm_endpoint("acme", "store");
    fake.set_outage(true);
    for name in ["depd", "vary", "etag", "fresh", "once"] {
        let r = reqwest::get(format!("{endpoint}{name}")).await.unwrap();
        assert_eq!(r.status(), 502, "{name}: nothing cached, upstream failing");
    }
    // Five failed fetches (each after its retries) open the breaker: no more upstream calls.
    let before = fake.total_hits();
    assert_eq!(before, 15, "three attempts per fetch");
    let started = std::time::Instant::now();
    let r = reqwest::get(format!("{endpoint}qs")).await.unwrap();
    assert_eq!(r.status(), 404, "an open breaker is an outage: final for npm");
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("unavailable"));
    assert!(started.elapsed() < Duration::from_millis(200), "fails fast");
    assert_eq!(fake.total_hits(), before, "the open breaker sends nothing upstream");
}
