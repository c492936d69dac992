//! The Maven endpoint over plain HTTP: the Basic challenge, checksum side files, the merged
//! `maven-metadata.xml`, bad paths, a corrupted upstream file, an outage, and the package
//! operations' view of a POM.

use sha2::Digest as _;

use super::{get, maven_versions};
use crate::support::fixtures;
use crate::support::maven_app_and_store;

const JUNIT_JAR: &str = "junit/junit/4.13.2/junit-4.13.2.jar";

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("maven/repo").join(path)).unwrap()
}

/// With anonymous reads off, a request without a token gets 401 and the Basic challenge
/// Maven waits for; Basic `aws:<token>` and Bearer both then succeed with the upstream's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_reads_need_a_token_and_answer_the_basic_challenge() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b.env("DEPOT_ANONYMOUS_READS", "false")).await;
    let r = get(&depot, "app", JUNIT_JAR, None).await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    let token = aws.token("acme").await;
    let r = get(&depot, "app", JUNIT_JAR, Some(&token)).await;
    assert_eq!(r.status(), 200, "{}", depot.log_tail(20));
    assert_eq!(r.bytes().await.unwrap().to_vec(), fixture(JUNIT_JAR));
    let url = format!("{}{JUNIT_JAR}.sha1", depot.maven_endpoint("acme", "app"));
    let r = reqwest::Client::new().get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = get(&depot, "app", JUNIT_JAR, Some("not-a-token")).await;
    assert_eq!(r.status(), 401);
}

/// Side files are generated from the stored digests (the upstream's are not asked again once
/// the file is stored) and match the bytes; the artifact's `maven-metadata.xml` lists qdox's
/// two versions with `<latest>`/`<release>` recomputed, carries an ETag (304 on a match) and
/// its own side files, and leaves out a version made Unlisted. Bad paths answer 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksums_metadata_and_bad_paths() {
    let (fake, depot, aws) = maven_app_and_store(|b| b).await;
    let jar = get(&depot, "app", JUNIT_JAR, None).await;
    assert_eq!(jar.status(), 200, "{}", depot.log_tail(20));
    let bytes = jar.bytes().await.unwrap().to_vec();
    let upstream_sidecar_hits = fake.requests().iter().filter(|p| p.starts_with(&format!("{JUNIT_JAR}."))).count();
    assert!(upstream_sidecar_hits >= 1, "the upstream checksum was checked: {:?}", fake.requests());
    for (ext, want) in [
        ("md5", hex::encode(md5::Md5::digest(&bytes))),
        ("sha1", hex::encode(sha1::Sha1::digest(&bytes))),
        ("sha256", hex::encode(sha2::Sha256::digest(&bytes))),
        ("sha512", hex::encode(sha2::Sha512::digest(&bytes))),
    ] {
        let r = get(&depot, "app", &format!("{JUNIT_JAR}.{ext}"), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap().trim(), want, "{ext}");
    }
    let head = reqwest::Client::new()
        .head(format!("{}{JUNIT_JAR}", depot.maven_endpoint("acme", "app")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), bytes.len().to_string());
    let after = fake.requests().iter().filter(|p| p.starts_with(&format!("{JUNIT_JAR}."))).count();
    assert_eq!(after, upstream_sidecar_hits, "side files answered from the store");

    // qdox: 1.12.1 stored (requested), 2.0.3 only in the upstream's metadata.
    assert_eq!(get(&depot, "app", "com/thoughtworks/qdox/qdox/1.12.1/qdox-1.12.1.pom", None).await.status(), 200);
    let r = get(&depot, "app", "com/thoughtworks/qdox/qdox/maven-metadata.xml", None).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<version>1.12.1</version>") && xml.contains("<version>2.0.3</version>"), "{xml}");
    assert!(xml.contains("<latest>2.0.3</latest>") && xml.contains("<release>2.0.3</release>"), "{xml}");
    assert!(xml.contains("<groupId>com.thoughtworks.qdox</groupId>") && xml.contains("<lastUpdated>"), "{xml}");
    let sha1 = get(&depot, "app", "com/thoughtworks/qdox/qdox/maven-metadata.xml.sha1", None).await;
    assert_eq!(sha1.text().await.unwrap(), hex::encode(sha1::Sha1::digest(xml.as_bytes())));
    let url = format!("{}com/thoughtworks/qdox/qdox/maven-metadata.xml", depot.maven_endpoint("acme", "app"));
    let r = reqwest::Client::new().get(&url).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    for repo in ["store", "app"] {
        aws.ok(&[
            "update-package-versions-status",
            "--domain",
            "acme",
            "--repository",
            repo,
            "--format",
            "maven",
            "--namespace",
            "com.thoughtworks.qdox",
            "--package",
            "qdox",
            "--versions",
            "1.12.1",
            "--target-status",
            "Unlisted",
        ])
        .await;
    }
    let xml = get(&depot, "app", "com/thoughtworks/qdox/qdox/maven-metadata.xml", None).await.text().await.unwrap();
    assert!(!xml.contains("<version>1.12.1</version>") && xml.contains("<version>2.0.3</version>"), "{xml}");

    for (path, why) in [
        ("junit/../junit/4.13.2/junit-4.13.2.jar", "not allowed"),
        ("junit//4.13.2/junit-4.13.2.jar", "not allowed"),
        ("junit/junit/4.13.2/other-4.13.2.jar", "not named after"),
        ("junit-4.13.2.jar", "too few"),
    ] {
        let (status, body) = raw_get(&depot, &format!("{}{path}", depot.maven_endpoint("acme", "app"))).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(why), "{path}: {body}");
    }
}

/// A GET sent as written: HTTP clients resolve `..` in a URL before sending it.
async fn raw_get(depot: &crate::support::depot::TestDepot, url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let _ = depot;
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A jar whose bytes do not match the upstream's checksum side file is never stored: the
/// client gets 502, no version appears, and the real bytes are stored once the upstream
/// serves them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_upstream_file_is_never_stored() {
    let (fake, depot, aws) = maven_app_and_store(|b| b).await;
    let path = "org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar";
    fake.corrupt(path, b"not the jar");
    let r = get(&depot, "app", path, None).await;
    assert_eq!(r.status(), 502, "{}", depot.log_tail(10));
    assert!(r.text().await.unwrap().contains("does not match"));
    assert!(maven_versions(&aws, "store", "org.apache.commons", "commons-lang3").await.is_empty());
    assert!(maven_versions(&aws, "app", "org.apache.commons", "commons-lang3").await.is_empty());
}

/// A file that is not among a version's standard files (junit's `-sources.jar` is not in the
/// corpus; commons-parent's `-site.xml` classifier is) is added to the stored version on first
/// request; a file the upstream lacks is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classifier_file_is_added_to_the_stored_version() {
    let (fake, depot, aws) = maven_app_and_store(|b| b).await;
    let site = "org/apache/commons/commons-parent/56/commons-parent-56-site.xml";
    let r = get(&depot, "app", site, None).await;
    assert_eq!(r.status(), 200, "{}", depot.log_tail(20));
    assert_eq!(r.bytes().await.unwrap().to_vec(), fixture(site));
    assert_eq!(fake.hits(site), 1);
    assert_eq!(get(&depot, "app", site, None).await.status(), 200);
    assert_eq!(fake.hits(site), 1, "served from the store the second time");
    let assets = aws
        .ok(&[
            "list-package-version-assets",
            "--domain",
            "acme",
            "--repository",
            "store",
            "--format",
            "maven",
            "--namespace",
            "org.apache.commons",
            "--package",
            "commons-parent",
            "--package-version",
            "56",
        ])
        .await;
    let names: Vec<&str> = assets["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"commons-parent-56.pom") && names.contains(&"commons-parent-56-site.xml"), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with(".jar")), "a pom-packaged artifact has no jar: {names:?}");
    assert_eq!(get(&depot, "app", "junit/junit/4.13.2/junit-4.13.2-sources.jar", None).await.status(), 404);
}

/// Once junit is stored, an upstream outage (the fake's port closed) does not stop it being
/// served: the jar, its side files and its `maven-metadata.xml` (from the cached upstream
/// metadata) all answer 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_files_are_served_through_an_outage() {
    let (fake, mut depot, _aws) = maven_app_and_store(|b| b).await;
    assert_eq!(get(&depot, "app", JUNIT_JAR, None).await.status(), 200);
    assert_eq!(get(&depot, "app", "junit/junit/maven-metadata.xml", None).await.status(), 200);
    fake.stop();
    assert_eq!(get(&depot, "app", JUNIT_JAR, None).await.status(), 200);
    assert_eq!(get(&depot, "app", &format!("{JUNIT_JAR}.sha1"), None).await.status(), 200);
    let r = get(&depot, "app", "junit/junit/maven-metadata.xml", None).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<version>4.13.2</version>"));
    // After a restart the stored upstream document is XML read back from the store.
    depot.restart().await;
    let r = get(&depot, "app", "junit/junit/maven-metadata.xml", None).await;
    assert_eq!(r.status(), 200, "{}", depot.log_tail(20));
    assert!(r.text().await.unwrap().contains("<version>4.13.2</version>"));
}

/// Upstream metadata that is not XML is refused with a clear error and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_xml_upstream_metadata_stores_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("org/example/broken");
    std::fs::create_dir_all(dir.join("1.0")).unwrap();
    std::fs::write(dir.join("maven-metadata.xml"), b"{\"versions\": [\"1.0\"]}").unwrap();
    std::fs::write(dir.join("1.0/broken-1.0.pom"), b"<project/>").unwrap();
    let fake = crate::support::fake_maven::FakeMaven::start_with_root(root.path()).await;
    let depot = crate::support::depot::TestDepot::builder().maven_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;
    let r = get(&depot, "app", "org/example/broken/1.0/broken-1.0.pom", None).await;
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(text.contains("does not parse") && text.contains("XML"), "{text}");
    assert!(maven_versions(&aws, "store", "org.example", "broken").await.is_empty());
}

/// DescribePackageVersion shows junit's POM data (name, description) and
/// ListPackageVersionDependencies its dependencies with the scope as dependencyType.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_package_version_shows_pom_data() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    assert_eq!(get(&depot, "app", "junit/junit/4.13.2/junit-4.13.2.pom", None).await.status(), 200);
    let args = |op: &'static str| {
        vec![
            op,
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "maven",
            "--namespace",
            "junit",
            "--package",
            "junit",
            "--package-version",
            "4.13.2",
        ]
    };
    let d = aws.ok(&args("describe-package-version")).await;
    let v = &d["packageVersion"];
    assert_eq!(v["displayName"], "JUnit", "{d}");
    assert!(v["summary"].as_str().unwrap().starts_with("JUnit is a unit testing framework"), "{d}");
    assert_eq!(v["namespace"], "junit");
    // The corpus' POMs are Debian's, which carry no <licenses> or <scm> (the unit tests of
    // formats/maven cover those fields).
    let deps = aws.ok(&args("list-package-version-dependencies")).await;
    let hamcrest = deps["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["package"] == "hamcrest")
        .unwrap_or_else(|| panic!("{deps}"));
    assert_eq!(hamcrest["namespace"], "org.hamcrest");
    assert!(hamcrest["dependencyType"].is_string(), "{deps}");
}
