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

/// A file outside the version's standard set (a `-sources.jar`) fetched on request follows
/// the same 40-second rule: with the upstream slower than the configured wait, the request
/// answers "in progress" after the wait while the download goes on detached; the file is then
/// stored (a later request gets the right bytes) after one upstream download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_file_fetched_on_request_answers_in_progress_then_is_stored() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("junit/junit");
    super::copy_dir(&crate::support::fixtures().join("maven/repo/junit/junit"), &dir);
    let sources = b"PK\x03\x04 junit sources, not in the corpus".to_vec();
    std::fs::write(dir.join("4.13.2/junit-4.13.2-sources.jar"), &sources).unwrap();
    let sha1 = {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(&sources))
    };
    std::fs::write(dir.join("4.13.2/junit-4.13.2-sources.jar.sha1"), sha1).unwrap();
    let fake = FakeMaven::start_with_root(root.path()).await;
    let depot = TestDepot::builder().maven_upstream(&fake.url()).env("DEPOT_INGESTION_WAIT_SECS", "1").start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;
    assert_eq!(get(&depot, "app", "junit/junit/4.13.2/junit-4.13.2.pom", None).await.status(), 200);

    fake.set_latency(Duration::from_millis(1500));
    let path = "junit/junit/4.13.2/junit-4.13.2-sources.jar";
    let started = std::time::Instant::now();
    let r = get(&depot, "app", path, None).await;
    assert_eq!(r.status(), 404, "{}", depot.log_tail(20));
    assert!(started.elapsed() < Duration::from_millis(2900), "answered after the wait, not after the fetch");
    assert!(r.text().await.unwrap().contains("Ingestion is in progress. Please try again later."));
    // The job goes on with no client waiting: the file lands in the store by itself.
    eventually(Duration::from_secs(40), "the sources jar is stored", || async {
        let assets = aws
            .run(&[
                "list-package-version-assets",
                "--domain",
                "acme",
                "--repository",
                "store",
                "--format",
                "maven",
                "--namespace",
                "junit",
                "--package",
                "junit",
                "--package-version",
                "4.13.2",
            ])
            .await;
        String::from_utf8_lossy(&assets.stdout).contains("junit-4.13.2-sources.jar")
    })
    .await;
    fake.set_latency(Duration::ZERO);
    let r = get(&depot, "app", path, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), sources);
    assert_eq!(fake.hits(path), 1, "one upstream download");
}
