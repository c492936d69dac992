//! A large publish streams: the base64 attachment is decoded into a staged blob as it
//! arrives, so Depot's memory does not follow the package size, and refused publishes leave
//! neither a blob nor a temp file.

use std::time::{Duration, Instant};

use crate::publish_limits::{count_files, proc_mem, publish_body};
use crate::support::depot::TestDepot;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_publish_streams_in_bounded_memory_and_refusals_leave_nothing() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &[], None)]).await;
    let token = aws.token("acme").await;
    let url = format!("{}/acme-{}/npm/app/big", depot.url, depot.account);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build().unwrap();
    let pid = depot.pid();

    // 150 MB of random bytes under a .tgz name: Depot never unpacks a tarball.
    let mut tgz = vec![0u8; 150_000_000];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut tgz);
    let body = publish_body("big", "1.0.0", &tgz, serde_json::json!({"latest": "1.0.0"}));
    let base = proc_mem(pid, "VmRSS").max(proc_mem(pid, "VmHWM"));
    let started = Instant::now();
    let r = client.put(&url).bearer_auth(&token).body(body).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let (peak, after) = (proc_mem(pid, "VmHWM"), proc_mem(pid, "VmRSS"));
    eprintln!(
        "150 MB publish: base {} MiB, peak {} MiB, after {} MiB, {:.1} s",
        base / MIB,
        peak / MIB,
        after / MIB,
        took.as_secs_f64()
    );
    assert!(peak < base + 64 * MIB, "peak RSS {} MiB over a base of {} MiB", peak / MIB, base / MIB);
    assert!(after < base + 64 * MIB, "RSS after {} MiB over a base of {} MiB", after / MIB, base / MIB);

    // Stored whole, under its digest.
    use sha2::Digest;
    let r = client.head(format!("{url}/-/big-1.0.0.tgz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], tgz.len().to_string().as_str());
    assert_eq!(r.headers()["etag"].to_str().unwrap(), format!("\"{}\"", hex::encode(sha2::Sha256::digest(&tgz))));
    drop(tgz);

    // Refused publishes: different content under a stored version (409), a tarball that does
    // not match dist.integrity (400). Neither leaves a blob or a temp file.
    let blobs = depot.data_dir().join("blobs");
    let before = count_files(&blobs);
    let mut other = vec![0u8; 3 * MIB];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut other);
    let r = client
        .put(&url)
        .bearer_auth(&token)
        .body(publish_body("big", "1.0.0", &other, serde_json::json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let mut bad: serde_json::Value =
        serde_json::from_slice(&publish_body("big", "2.0.0", &other, serde_json::json!({}))).unwrap();
    bad["versions"]["2.0.0"]["dist"]["integrity"] = serde_json::json!(format!("sha512-{}", "A".repeat(86) + "=="));
    let r = client.put(&url).bearer_auth(&token).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("dist.integrity"));
    assert_eq!(count_files(&blobs), before, "no blob and no temp file");
    assert_eq!(count_files(&blobs.join("tmp")), 0);
    assert_eq!(aws.versions("acme", "app", "big").await, vec!["1.0.0".to_string()]);
}
