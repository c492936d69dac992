//! The engine's timing rules hold for Maven: the client wait (40 s, configured short here) and
//! the metadata max age (3 h, `DEPOT_METADATA_MAX_AGE_MAVEN_SECS` short here).

use std::time::Duration;

use super::get;
use crate::support::depot::TestDepot;
use crate::support::fake_maven::FakeMaven;
use crate::support::{eventually, maven_app_and_store};

/// A slow upstream: the first request answers CodeArtifact's "in progress" 404 after the
/// configured wait while the ingestion goes on; a retry is served from the store without a
/// second upstream download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_answers_in_progress_then_serves_from_the_store() {
    let (fake, depot, _aws) = maven_app_and_store(|b| b.env("DEPOT_INGESTION_WAIT_SECS", "1")).await;
    fake.set_latency(Duration::from_millis(1500));
    let jar = "junit/junit/4.13.2/junit-4.13.2.jar";
    let started = std::time::Instant::now();
    let r = get(&depot, "app", jar, None).await;
    assert_eq!(r.status(), 404);
    assert!(started.elapsed() < Duration::from_millis(2900), "answered after the wait, not after the fetch");
    assert!(r.text().await.unwrap().contains("in progress"));
    eventually(Duration::from_secs(40), "the jar is served", || async {
        get(&depot, "app", jar, None).await.status() == 200
    })
    .await;
    assert_eq!(fake.hits(jar), 1, "one upstream download");
}

/// A version added upstream is not seen while the cached `maven-metadata.xml` is younger than
/// the max age; after it, a request serves the cached copy and refreshes it in the background,
/// and the new version then appears in Depot's merged metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_added_upstream_appears_after_the_max_age() {
    let root = tempfile::tempdir().unwrap();
    let src = crate::support::fixtures().join("maven/repo/com/thoughtworks/qdox/qdox");
    let dir = root.path().join("com/thoughtworks/qdox/qdox");
    super::copy_dir(&src, &dir);
    let meta = |versions: &[&str]| {
        let list: String = versions.iter().map(|v| format!("<version>{v}</version>")).collect();
        format!("<?xml version=\"1.0\"?><metadata><groupId>com.thoughtworks.qdox</groupId><artifactId>qdox</artifactId><versioning><versions>{list}</versions></versioning></metadata>")
    };
    std::fs::write(dir.join("maven-metadata.xml"), meta(&["1.12.1"])).unwrap();
    let fake = FakeMaven::start_with_root(root.path()).await;
    let depot =
        TestDepot::builder().maven_upstream(&fake.url()).env("DEPOT_METADATA_MAX_AGE_MAVEN_SECS", "3").start().await;
    depot.aws().setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;
    let path = "com/thoughtworks/qdox/qdox/maven-metadata.xml";
    let text = get(&depot, "app", path, None).await.text().await.unwrap();
    assert!(text.contains("<version>1.12.1</version>") && !text.contains("2.0.3"), "{text}");

    std::fs::write(dir.join("maven-metadata.xml"), meta(&["1.12.1", "2.0.3"])).unwrap();
    let text = get(&depot, "app", path, None).await.text().await.unwrap();
    assert!(!text.contains("2.0.3"), "the cached metadata is still fresh: {text}");
    assert_eq!(fake.hits(path), 1);
    eventually(Duration::from_secs(20), "2.0.3 in Depot's maven-metadata.xml", || async {
        get(&depot, "app", path, None).await.text().await.unwrap().contains("<latest>2.0.3</latest>")
    })
    .await;
    assert!(fake.hits(path) >= 2, "refreshed upstream");
}
