//! The client wait ("40-second rule", shortened here) and coalescing of upstream fetches.

use std::time::Duration;

use crate::support::depot::TestDepot;
use crate::support::fake_npm::FakeNpm;

const IN_PROGRESS: &str = "Ingestion is in progress. Please try again later.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_gets_in_progress_then_succeeds_without_refetch() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder().npm_upstream(&fake.url()).env("DEPOT_INGESTION_WAIT_SECS", "1").start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:npmjs"))]).await;
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
    assert_eq!(r.status(), 502);
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("DEPOT_UPSTREAM_PUBLIC_NPMJS"), "{msg}");
}
