//! The core's conduct towards external connections: credentials that never leak, answers a
//! client can act on while an upstream is down, a politeness rate in which clients go
//! before prefetch, publish checks against metadata fetched after the publish arrived, and
//! store failures reported as Depot's own.

use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::support::app_and_store;
use crate::support::clients::{fresh_home, npm, write_npmrc};
use crate::support::depot::TestDepot;
use crate::support::fake_npm::{make_tarball, FakeNpm};

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_credentials_stay_out_of_bodies_logs_and_config_show() {
    let fake = FakeNpm::start().await;
    let with_creds = fake.url().replacen("http://", "http://mirror:hunter2@", 1);
    let depot = TestDepot::builder().npm_upstream(&with_creds).start().await;
    depot.aws().setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    let endpoint = depot.npm_endpoint("acme", "store");
    assert_eq!(reqwest::get(format!("{endpoint}ms")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{endpoint}ms/-/ms-2.1.3.tgz")).await.unwrap().status(), 200);
    let auths = fake.authorizations();
    assert!(auths.len() >= 2);
    assert!(auths.iter().all(|a| a.as_deref() == Some(basic("mirror", "hunter2").as_str())), "{auths:?}");

    // The upstream goes away: what a client reads names the connection, not the URL.
    fake.stop();
    let r = reqwest::get(format!("{endpoint}depd")).await.unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(!body.contains("hunter2") && !body.contains(&fake.url()[7..]), "{status} {body}");
    assert!(body.contains("public:npmjs"), "{body}");
    let log = depot.log();
    assert!(!log.contains("hunter2"), "the log shows the password:\n{}", depot.log_tail(20));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depot"))
        .args(["config", "show"])
        .env("DEPOT_UPSTREAM_PUBLIC_NPMJS", &with_creds)
        .env("DEPOT_UPSTREAM_PUBLIC_PYPI_USERNAME", "bot")
        .env("DEPOT_UPSTREAM_PUBLIC_PYPI_PASSWORD", "tr0ub4dor")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("hunter2") && !shown.contains("tr0ub4dor"), "{shown}");
    assert!(shown.contains("username = \"bot\""), "{shown}");

    // Credentials from their own settings, kept out of the URL.
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder()
        .npm_upstream(&fake.url())
        .env("DEPOT_UPSTREAM_PUBLIC_NPMJS_USERNAME", "bot")
        .env("DEPOT_UPSTREAM_PUBLIC_NPMJS_PASSWORD", "s3cret")
        .start()
        .await;
    depot.aws().setup("acme", &[("store", &[], Some("public:npmjs"))]).await;
    assert_eq!(reqwest::get(format!("{}ms", depot.npm_endpoint("acme", "store"))).await.unwrap().status(), 200);
    assert_eq!(fake.authorizations()[0].as_deref(), Some(basic("bot", "s3cret").as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_upstream_down_npm_gets_a_clear_404_at_once() {
    let (fake, depot, aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    // `ms` is cached; `depd` never was.
    assert_eq!(reqwest::get(format!("{endpoint}ms")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{endpoint}ms/-/ms-2.1.3.tgz")).await.unwrap().status(), 200);
    fake.stop();
    let r = reqwest::get(format!("{endpoint}depd")).await.unwrap();
    assert_eq!(r.status(), 404, "connection refused and nothing cached: final for npm");
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("not cached") && msg.contains("public:npmjs is unreachable"), "{msg}");

    // npm gives up on such a package at once instead of retrying 5xx answers for a minute,
    // and an optional dependency that cannot be had does not fail the install.
    let home = fresh_home(&depot.scratch("outage"), "home");
    write_npmrc(&home, &endpoint, &aws.token("acme").await);
    let dir = depot.scratch("outage/project");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"p","version":"1.0.0","dependencies":{"ms":"2.1.3"},"optionalDependencies":{"depd":"^2.0.0"}}"#,
    )
    .unwrap();
    let started = Instant::now();
    let out = npm(&dir, &home, &["install", "--no-audit", "--no-fund"]).await;
    let took = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("node_modules/ms/package.json").exists());
    assert!(took < Duration::from_secs(20), "npm install took {took:?} during the outage");
    let started = Instant::now();
    let out = npm(&dir, &home, &["view", "depd", "version"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(15), "npm view took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_sees_a_version_that_appeared_upstream_just_before_it() {
    // The 409 rule applies where the package's origin controls allow upstream versions.
    let (fake, depot, aws) = app_and_store(|b| b.open_origins()).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;
    // Depot reads the package; then the upstream publishes 9.9.9; then a client publishes
    // the same version, well within a second of the read.
    assert_eq!(reqwest::get(format!("{endpoint}ms")).await.unwrap().status(), 200);
    fake.publish_version("ms", "9.9.9", serde_json::json!({}), make_tarball("ms", "9.9.9", &[]), None);
    let tgz = make_tarball("ms", "9.9.9", &[("index.js", b"ours")]);
    let body = serde_json::json!({
        "name": "ms", "versions": {"9.9.9": {"name": "ms", "version": "9.9.9", "dist": {}}},
        "_attachments": {"ms-9.9.9.tgz": {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let r = reqwest::Client::new().put(format!("{endpoint}ms")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap());
    assert!(aws.versions("acme", "app", "ms").await.iter().all(|v| v != "9.9.9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_rate_wait_and_clients_go_before_prefetch() {
    let (fake, depot, _aws) =
        app_and_store(|b| b.config("[connections.\"public:npmjs\"]\nrate_per_sec = 4\nburst = 1\n")).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    // One tarball starts the prefetch of express's dependency closure: tens of background
    // requests, several seconds' worth at 4 per second.
    let r = reqwest::get(format!("{endpoint}express/-/express-4.22.3.tgz")).await.unwrap();
    assert_eq!(r.status(), 200);
    crate::support::eventually(Duration::from_secs(10), "the prefetch to start", || async { fake.total_hits() > 3 })
        .await;
    // A client's own request overtakes that backlog.
    let started = Instant::now();
    assert_eq!(reqwest::get(format!("{endpoint}chalk")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{endpoint}chalk/-/chalk-5.6.2.tgz")).await.unwrap().status(), 200);
    let took = started.elapsed();
    let hits_then = fake.total_hits();
    assert!(took < Duration::from_secs(3), "the client waited {took:?} behind the prefetch");
    crate::support::eventually(Duration::from_secs(60), "the prefetch to go on after the client", || async {
        fake.total_hits() > hits_then + 4
    })
    .await;
    // Never faster than the rate: n requests span at least (n - burst) / rate seconds.
    let times = fake.request_times();
    for (i, a) in times.iter().enumerate() {
        for (j, b) in times.iter().enumerate().skip(i + 1) {
            let allowed = 1.0 + 4.0 * b.duration_since(*a).as_secs_f64() + 1.0;
            assert!(((j - i) as f64) <= allowed, "{} requests in {:?}", j - i, b.duration_since(*a));
        }
    }
    assert!(depot.log().contains("upstream rate limit is delaying requests"), "{}", depot.log_tail(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_is_not_reported_as_an_upstream_failure() {
    let (_fake, depot, _aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    assert_eq!(reqwest::get(format!("{endpoint}ms")).await.unwrap().status(), 200);
    // Blob writes now fail (a file where the temp directory was; root ignores modes).
    let tmp = depot.data_dir().join("blobs/tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let r = reqwest::get(format!("{endpoint}ms/-/ms-2.1.3.tgz")).await.unwrap();
    assert_eq!(r.status(), 500);
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert_eq!(msg, "internal error");
    assert!(depot.log().contains("storage failure"), "{}", depot.log_tail(20));
}
