//! Publishing to the Maven endpoint (issue #11): real `mvn deploy:deploy-file`, and the PUTs
//! it is made of done by hand (files land in an Unfinished version, checksum side files are
//! verified, `maven-metadata.xml` completes the version), with the 409 rules.

use sha2::Digest as _;

use super::get;
use crate::support::clients::Aws;
use crate::support::depot::TestDepot;
use crate::support::maven_app_and_store;

/// An empty zip: a valid jar with no entries.
const JAR: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

const POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>hello</artifactId>
  <version>1.0.0</version>
  <description>Published by hand</description>
</project>
"#;

async fn put(depot: &TestDepot, path: &str, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let url = format!("{}{path}", depot.maven_endpoint("acme", "app"));
    let mut req = reqwest::Client::new().put(url).body(body);
    if let Some(t) = token {
        req = req.basic_auth("aws", Some(t));
    }
    req.send().await.unwrap()
}

/// Versions of `group:artifact` in `app` with `status` (empty when the package is not there).
async fn versions_with(aws: &Aws, group: &str, artifact: &str, status: &str) -> Vec<String> {
    match super::list_maven_versions(aws, "app", group, artifact, Some(status)).await {
        Ok(vs) => vs,
        Err(err) => {
            assert!(err.contains("ResourceNotFound"), "{err}");
            Vec::new()
        }
    }
}

fn metadata(versions: &[&str]) -> Vec<u8> {
    let vs: String = versions.iter().map(|v| format!("<version>{v}</version>")).collect();
    format!(
        "<?xml version=\"1.0\"?><metadata><groupId>com.example</groupId><artifactId>hello</artifactId>\
         <versioning><versions>{vs}</versions><lastUpdated>20261206110000</lastUpdated></versioning></metadata>"
    )
    .into_bytes()
}

/// By hand: a PUT without a token is 401 with the Basic challenge; a jar and a POM leave
/// 1.0.0 Unfinished (not served, not in maven-metadata.xml); a matching .sha1 is accepted and
/// a wrong one answers 400 naming the mismatch; other bytes under the jar's name are 409;
/// junit 4.13.2 (in the upstream; origin defaults `open` so the upstream is consulted) is 409;
/// the metadata PUT publishes 1.0.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_put_builds_an_unfinished_version_until_its_metadata() {
    let (_fake, depot, aws) =
        maven_app_and_store(|b| b.env("DEPOT_ANONYMOUS_READS", "false").env("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "open"))
            .await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let jar = "com/example/hello/1.0.0/hello-1.0.0.jar";
    let r = put(&depot, jar, None, JAR.to_vec()).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));

    assert_eq!(put(&depot, jar, t, JAR.to_vec()).await.status(), 201, "{}", depot.log_tail(20));
    let pom = "com/example/hello/1.0.0/hello-1.0.0.pom";
    assert_eq!(put(&depot, pom, t, POM.as_bytes().to_vec()).await.status(), 201);
    assert_eq!(versions_with(&aws, "com.example", "hello", "Unfinished").await, ["1.0.0"]);
    assert!(versions_with(&aws, "com.example", "hello", "Published").await.is_empty());
    let meta = get(&depot, "app", "com/example/hello/maven-metadata.xml", t).await;
    assert!(!meta.text().await.unwrap().contains("1.0.0"), "an Unfinished version is not listed");

    let sha1 = hex::encode(sha1::Sha1::digest(JAR));
    assert!(put(&depot, &format!("{jar}.sha1"), t, sha1.into_bytes()).await.status().is_success());
    let r = put(&depot, &format!("{jar}.sha1"), t, b"0000000000000000000000000000000000000000".to_vec()).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("checksum mismatch"));
    // The same bytes again are a no-op; other bytes under the name are a conflict.
    assert_eq!(put(&depot, jar, t, JAR.to_vec()).await.status(), 200);
    assert_eq!(put(&depot, jar, t, b"other".to_vec()).await.status(), 409);
    let junit = "junit/junit/4.13.2/junit-4.13.2.jar";
    assert_eq!(put(&depot, junit, t, JAR.to_vec()).await.status(), 409, "{}", depot.log_tail(10));
    let bad = put(&depot, "com/example/hello/maven-metadata.xml", t, b"<metadata><oops".to_vec()).await;
    assert_eq!(bad.status(), 400);

    let r = put(&depot, "com/example/hello/maven-metadata.xml", t, metadata(&["0.9.0", "1.0.0"])).await;
    assert!(r.status().is_success());
    assert_eq!(versions_with(&aws, "com.example", "hello", "Published").await, ["1.0.0"]);
    let meta = get(&depot, "app", "com/example/hello/maven-metadata.xml", t).await.text().await.unwrap();
    assert!(meta.contains("<version>1.0.0</version>"), "{meta}");
    let served = get(&depot, "app", jar, t).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), JAR);
    let d = aws
        .ok(&[
            "describe-package-version",
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "maven",
            "--namespace",
            "com.example",
            "--package",
            "hello",
            "--package-version",
            "1.0.0",
        ])
        .await;
    assert_eq!(d["packageVersion"]["summary"], "Published by hand", "the POM is the metadata: {d}");
}

/// A file over `server.max_package_bytes` is 413 and leaves no version behind; a checksum
/// side file for a file that was never stored is 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_put_is_bounded_and_side_files_need_their_file() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b.env("DEPOT_MAX_PACKAGE_BYTES", "1024")).await;
    let token = aws.token("acme").await;
    let jar = "com/example/big/1.0.0/big-1.0.0.jar";
    let r = put(&depot, jar, Some(&token), vec![7u8; 4096]).await;
    assert_eq!(r.status(), 413, "{}", depot.log_tail(10));
    assert!(versions_with(&aws, "com.example", "big", "Unfinished").await.is_empty());
    let sha1 = hex::encode(sha1::Sha1::digest(JAR));
    assert_eq!(put(&depot, &format!("{jar}.sha1"), Some(&token), sha1.into_bytes()).await.status(), 404);
}

/// Under the default first-origin rule, a package that came from the upstream (junit, read
/// through `app`) has publish=BLOCK: a PUT is 403 and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_put_to_a_package_from_upstream_is_forbidden() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let pom = "junit/junit/4.13.2/junit-4.13.2.pom";
    assert_eq!(get(&depot, "app", pom, Some(&token)).await.status(), 200);
    let r = put(&depot, "junit/junit/4.13.3/junit-4.13.3.jar", Some(&token), JAR.to_vec()).await;
    assert_eq!(r.status(), 403, "{}", depot.log_tail(10));
    assert!(versions_with(&aws, "junit", "junit", "Unfinished").await.is_empty());
}

/// UpdatePackageVersionsStatus to Published completes an Unfinished version too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_unfinished_version_completed_by_status_update() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let jar = "com/example/hello/2.0.0/hello-2.0.0.jar";
    assert_eq!(put(&depot, jar, Some(&token), JAR.to_vec()).await.status(), 201);
    assert_eq!(get(&depot, "app", jar, Some(&token)).await.status(), 404, "not served while Unfinished");
    aws.ok(&[
        "update-package-versions-status",
        "--domain",
        "acme",
        "--repository",
        "app",
        "--format",
        "maven",
        "--namespace",
        "com.example",
        "--package",
        "hello",
        "--versions",
        "2.0.0",
        "--target-status",
        "Published",
    ])
    .await;
    assert_eq!(versions_with(&aws, "com.example", "hello", "Published").await, ["2.0.0"]);
    assert_eq!(get(&depot, "app", jar, Some(&token)).await.status(), 200);
}

/// Real `mvn deploy:deploy-file` of a small jar publishes it (Published afterwards), and
/// `mvn dependency:get` from another empty local repository resolves it back through Depot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mvn_deploy_file_publishes_and_resolves_back() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let dir = depot.scratch("mvn-deploy");
    std::fs::create_dir_all(&dir).unwrap();
    let endpoint = depot.maven_endpoint("acme", "app");
    let settings = std::fs::read_to_string(super::sample_project().join("settings.xml"))
        .unwrap()
        .replace("{{MIRROR_URL}}", &endpoint)
        .replace("{{TOKEN}}", &token);
    std::fs::write(dir.join("settings.xml"), settings).unwrap();
    std::fs::write(dir.join("tiny.jar"), JAR).unwrap();
    let out = super::mvn(
        &dir,
        &dir.join("m2"),
        &[
            "org.apache.maven.plugins:maven-deploy-plugin:3.0.0:deploy-file",
            "-Dfile=tiny.jar",
            "-DgroupId=com.example",
            "-DartifactId=tiny",
            "-Dversion=1.2.3",
            "-Dpackaging=jar",
            "-DrepositoryId=depot",
            &format!("-Durl={endpoint}"),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "mvn deploy-file failed:\n{}\n{}\n--- depot log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        depot.log_tail(40)
    );
    assert_eq!(versions_with(&aws, "com.example", "tiny", "Published").await, ["1.2.3"]);
    let out = super::mvn(
        &dir,
        &dir.join("m2-second"),
        &["org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get", "-Dartifact=com.example:tiny:1.2.3"],
    )
    .await;
    assert!(
        out.status.success(),
        "mvn dependency:get failed:\n{}\n{}\n--- depot log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        depot.log_tail(40)
    );
    assert_eq!(std::fs::read(dir.join("m2-second/com/example/tiny/1.2.3/tiny-1.2.3.jar")).unwrap(), JAR);
}
