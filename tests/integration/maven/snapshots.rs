//! Maven snapshots (issue #11, the guide's "Use Maven snapshots"): every deploy of
//! `1.0-SNAPSHOT` is a build version of its own (`1.0-<yyyyMMdd.HHmmss>-<n>`), Unlisted once
//! complete, while `1.0-SNAPSHOT` is Published holding the newest build's files. Real `mvn
//! deploy` twice and a second project resolving the snapshot, then the same by hand.

use std::path::Path;
use std::time::Duration;

use sha2::Digest as _;

use super::{copy_dir, get, mvn, sample_project};
use crate::support::clients::Aws;
use crate::support::depot::TestDepot;
use crate::support::{eventually, maven_app_and_store};

/// The profile that lets Maven resolve snapshots behind a `mirrorOf *` mirror: the mirror
/// inherits the snapshot policy of the repositories it stands for, and Maven's built-in
/// `central` has snapshots disabled. (README text.)
const SNAPSHOTS_PROFILE: &str = r#"  <profiles>
    <profile>
      <id>depot-snapshots</id>
      <repositories>
        <repository>
          <id>depot-snapshots</id>
          <url>{{MIRROR_URL}}</url>
          <releases><enabled>true</enabled></releases>
          <snapshots><enabled>true</enabled></snapshots>
        </repository>
      </repositories>
    </profile>
  </profiles>
  <activeProfiles>
    <activeProfile>depot-snapshots</activeProfile>
  </activeProfiles>
</settings>"#;

/// The guide's `settings.xml` (mirror + server), with the snapshots profile when `profile`.
fn settings(endpoint: &str, token: &str, profile: bool) -> String {
    let s = std::fs::read_to_string(sample_project().join("settings.xml")).unwrap();
    let s = if profile { s.replace("</settings>", SNAPSHOTS_PROFILE) } else { s };
    s.replace("{{MIRROR_URL}}", endpoint).replace("{{TOKEN}}", token)
}

/// Versions of `group:artifact` in `app` with `status`, sorted (empty when there are none).
async fn versions_with(aws: &Aws, group: &str, artifact: &str, status: &str) -> Vec<String> {
    let mut vs = super::list_maven_versions(aws, "app", group, artifact, Some(status)).await.unwrap_or_default();
    vs.sort();
    vs
}

fn assert_ok(out: &std::process::Output, what: &str, depot: &TestDepot) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}\n--- depot log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        depot.log_tail(40)
    );
}

/// Whether `v` is a build of `1.0-SNAPSHOT` numbered `n` (`1.0-<yyyyMMdd.HHmmss>-<n>`).
fn is_build(v: &str, n: u32) -> bool {
    let Some(rest) = v.strip_prefix("1.0-") else { return false };
    rest.len() == 15 + 1 + n.to_string().len() && rest.ends_with(&format!("-{n}")) && rest.as_bytes()[8] == b'.'
}

/// The sample project as `1.0-SNAPSHOT` deploying to `endpoint`, with a resource saying which
/// build it is (so each build's jar differs).
fn snapshot_project(dir: &Path, endpoint: &str, token: &str) -> std::path::PathBuf {
    let project = dir.join("producer");
    copy_dir(&sample_project(), &project);
    let pom = std::fs::read_to_string(project.join("pom.xml")).unwrap();
    let pom = pom.replacen("<version>1.0.0</version>", "<version>1.0-SNAPSHOT</version>", 1).replace(
        "  <build>",
        &format!(
            "  <distributionManagement>\n    <snapshotRepository><id>depot</id><url>{endpoint}</url></snapshotRepository>\n  </distributionManagement>\n\n  <build>"
        ),
    );
    std::fs::write(project.join("pom.xml"), pom).unwrap();
    std::fs::write(project.join("settings.xml"), settings(endpoint, token, false)).unwrap();
    project
}

/// Real `mvn deploy` of `1.0-SNAPSHOT` twice: after each, `1.0-SNAPSHOT` is Published with
/// that build's jar and every build is Unlisted; the artifact-level metadata lists
/// `1.0-SNAPSHOT` and no build; the snapshot-level metadata names build 2. Then a second
/// project with the snapshots profile resolves build 2's jar through the `mirrorOf *` mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mvn_deploys_a_snapshot_twice_and_a_consumer_resolves_the_newest() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let endpoint = depot.maven_endpoint("acme", "app");
    let dir = depot.scratch("mvn-snapshots");
    let project = snapshot_project(&dir, &endpoint, &token);
    let m2 = dir.join("m2");
    let (g, a) = ("com.example.sample", "sample");
    let mut jars = Vec::new();
    for n in 1..=2u32 {
        std::fs::create_dir_all(project.join("src/main/resources")).unwrap();
        std::fs::write(project.join("src/main/resources/build.txt"), format!("build {n}\n")).unwrap();
        let out = mvn(&project, &m2, &["deploy"]).await;
        assert_ok(&out, &format!("mvn deploy #{n}"), &depot);
        jars.push(std::fs::read(project.join("target/sample-1.0-SNAPSHOT.jar")).unwrap());
        assert_eq!(versions_with(&aws, g, a, "Published").await, ["1.0-SNAPSHOT"]);
        let builds = versions_with(&aws, g, a, "Unlisted").await;
        assert_eq!(builds.len(), n as usize, "{builds:?}");
        assert!(builds.iter().zip(1..).all(|(b, i)| is_build(b, i)), "{builds:?}");
        assert!(versions_with(&aws, g, a, "Unfinished").await.is_empty());
    }
    assert_ne!(jars[0], jars[1]);
    let builds = versions_with(&aws, g, a, "Unlisted").await;

    let snap = get(&depot, "app", "com/example/sample/sample/1.0-SNAPSHOT/sample-1.0-SNAPSHOT.jar", t).await;
    assert_eq!(snap.status(), 200);
    assert_eq!(snap.bytes().await.unwrap().as_ref(), jars[1].as_slice(), "-SNAPSHOT is the newest build");
    let meta = get(&depot, "app", "com/example/sample/sample/maven-metadata.xml", t).await.text().await.unwrap();
    assert!(meta.contains("<version>1.0-SNAPSHOT</version>"), "{meta}");
    assert!(!builds.iter().any(|b| meta.contains(b.as_str())), "builds are Unlisted: {meta}");
    let r = get(&depot, "app", "com/example/sample/sample/1.0-SNAPSHOT/maven-metadata.xml", t).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("etag"));
    let snap_meta = r.text().await.unwrap();
    let (ts, n) = builds[1].strip_prefix("1.0-").unwrap().split_at(15);
    assert!(snap_meta.contains(&format!("<timestamp>{ts}</timestamp>")), "{snap_meta}");
    assert!(snap_meta.contains(&format!("<buildNumber>{}</buildNumber>", &n[1..])), "{snap_meta}");
    assert!(snap_meta.contains(&format!("<value>{}</value>", builds[1])), "{snap_meta}");
    let side = get(&depot, "app", "com/example/sample/sample/1.0-SNAPSHOT/maven-metadata.xml.sha1", t).await;
    assert_eq!(side.text().await.unwrap(), hex::encode(sha1::Sha1::digest(snap_meta.as_bytes())));
    let b1 = format!("com/example/sample/sample/1.0-SNAPSHOT/sample-{}.jar", builds[0]);
    assert_eq!(get(&depot, "app", &b1, t).await.bytes().await.unwrap().as_ref(), jars[0].as_slice());

    // A second project depending on 1.0-SNAPSHOT, through the mirror and the snapshots profile.
    let consumer = dir.join("consumer");
    std::fs::create_dir_all(consumer.join("src/main/java/com/example/consumer")).unwrap();
    std::fs::write(consumer.join("settings.xml"), settings(&endpoint, &token, true)).unwrap();
    let pom = std::fs::read_to_string(sample_project().join("pom.xml"))
        .unwrap()
        .replacen("<artifactId>sample</artifactId>", "<artifactId>consumer</artifactId>", 1)
        .replace(
            "  <dependencies>\n",
            "  <dependencies>\n    <dependency><groupId>com.example.sample</groupId><artifactId>sample</artifactId><version>1.0-SNAPSHOT</version></dependency>\n",
        );
    std::fs::write(consumer.join("pom.xml"), pom).unwrap();
    std::fs::write(
        consumer.join("src/main/java/com/example/consumer/Use.java"),
        "package com.example.consumer;\npublic class Use { Class<?> c = com.example.sample.Words.class; }\n",
    )
    .unwrap();
    let m2c = dir.join("m2-consumer");
    let out = mvn(&consumer, &m2c, &["compile"]).await;
    assert_ok(&out, "consumer mvn compile", &depot);
    let got = std::fs::read(m2c.join(format!("com/example/sample/sample/1.0-SNAPSHOT/sample-{}.jar", builds[1])))
        .expect("the consumer resolved build 2 by its timestamped name");
    assert_eq!(hex::encode(sha2::Sha256::digest(&got)), hex::encode(sha2::Sha256::digest(&jars[1])));
}

/// Builds deployed by hand: PUTs of `com.example:snap` files.
async fn put(depot: &TestDepot, path: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    let url = format!("{}com/example/snap/1.0-SNAPSHOT/{path}", depot.maven_endpoint("acme", "app"));
    reqwest::Client::new().put(url).basic_auth("aws", Some(token)).body(body).send().await.unwrap()
}

fn snapshot_metadata(build: &str) -> Vec<u8> {
    let (ts, n) = build.strip_prefix("1.0-").unwrap().split_at(15);
    format!(
        "<?xml version=\"1.0\"?><metadata><groupId>com.example</groupId><artifactId>snap</artifactId>\
         <version>1.0-SNAPSHOT</version><versioning><snapshot><timestamp>{ts}</timestamp><buildNumber>{}</buildNumber>\
         </snapshot><lastUpdated>20261206121500</lastUpdated><snapshotVersions><snapshotVersion><extension>jar</extension>\
         <value>{build}</value></snapshotVersion></snapshotVersions></versioning></metadata>",
        &n[1..]
    )
    .into_bytes()
}

const POM: &str = "<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId>\
                   <artifactId>snap</artifactId><version>1.0-SNAPSHOT</version></project>";

/// By hand: build 1 completed by its snapshot-level metadata; build 2 Unfinished is neither
/// served nor named in metadata (-SNAPSHOT still build 1); the artifact-level metadata
/// listing 1.0-SNAPSHOT completes it; then -SNAPSHOT is build 2, build 1's timestamped jar is
/// still build 1's bytes; bad names are 400 with nothing stored; a snapshot is never asked
/// of the external connection; DeletePackageVersions --expected-status Unlisted of the builds
/// leaves 1.0-SNAPSHOT serving build 2's bytes after the collector ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_builds_by_hand() {
    let (fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let dir = "com/example/snap/1.0-SNAPSHOT";
    let (b1, b2) = ("1.0-20261206.121500-1", "1.0-20261206.131500-2");
    let (jar1, jar2) = (b"jar of build 1".to_vec(), b"jar of build 2".to_vec());
    assert_eq!(get(&depot, "app", &format!("{dir}/maven-metadata.xml"), t).await.status(), 404);

    assert_eq!(put(&depot, &format!("snap-{b1}.jar"), &token, jar1.clone()).await.status(), 201);
    assert_eq!(put(&depot, &format!("snap-{b1}.pom"), &token, POM.into()).await.status(), 201);
    let sha1 = hex::encode(sha1::Sha1::digest(&jar1));
    assert_eq!(put(&depot, &format!("snap-{b1}.jar.sha1"), &token, sha1.clone().into_bytes()).await.status(), 201);
    assert_eq!(put(&depot, &format!("snap-{b1}.jar.sha1"), &token, b"00".to_vec()).await.status(), 400);
    assert_eq!(versions_with(&aws, "com.example", "snap", "Unfinished").await, [b1]);
    assert_eq!(put(&depot, "maven-metadata.xml", &token, snapshot_metadata(b1)).await.status(), 201);
    assert_eq!(versions_with(&aws, "com.example", "snap", "Published").await, ["1.0-SNAPSHOT"]);
    assert_eq!(versions_with(&aws, "com.example", "snap", "Unlisted").await, [b1]);

    assert_eq!(put(&depot, &format!("snap-{b2}.jar"), &token, jar2.clone()).await.status(), 201);
    assert_eq!(get(&depot, "app", &format!("{dir}/snap-{b2}.jar"), t).await.status(), 404, "Unfinished");
    let snap = get(&depot, "app", &format!("{dir}/snap-1.0-SNAPSHOT.jar"), t).await;
    assert_eq!(snap.bytes().await.unwrap().as_ref(), jar1.as_slice());
    let meta = get(&depot, "app", &format!("{dir}/maven-metadata.xml"), t).await.text().await.unwrap();
    assert!(meta.contains(b1) && !meta.contains(b2), "{meta}");
    let art = get(&depot, "app", "com/example/snap/maven-metadata.xml", t).await.text().await.unwrap();
    assert!(art.contains("<version>1.0-SNAPSHOT</version>") && !art.contains(b2), "{art}");

    // The artifact-level metadata listing 1.0-SNAPSHOT completes the Unfinished build.
    let art_meta = "<metadata><groupId>com.example</groupId><artifactId>snap</artifactId><versioning>\
                    <versions><version>1.0-SNAPSHOT</version></versions></versioning></metadata>";
    let r = reqwest::Client::new()
        .put(format!("{}com/example/snap/maven-metadata.xml", depot.maven_endpoint("acme", "app")))
        .basic_auth("aws", t)
        .body(art_meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(versions_with(&aws, "com.example", "snap", "Unlisted").await, [b1, b2]);
    let snap = get(&depot, "app", &format!("{dir}/snap-1.0-SNAPSHOT.jar"), t).await;
    assert_eq!(snap.bytes().await.unwrap().as_ref(), jar2.as_slice(), "-SNAPSHOT is the newest build");
    let old = get(&depot, "app", &format!("{dir}/snap-{b1}.jar"), t).await;
    assert_eq!(old.bytes().await.unwrap().as_ref(), jar1.as_slice(), "an Unlisted build by exact name");
    assert_eq!(get(&depot, "app", &format!("{dir}/snap-{b1}.jar.sha1"), t).await.text().await.unwrap(), sha1);
    let meta = get(&depot, "app", &format!("{dir}/maven-metadata.xml"), t).await.text().await.unwrap();
    assert!(meta.contains("<buildNumber>2</buildNumber>") && meta.contains(b2), "{meta}");

    // Bad names: 400, nothing stored.
    for bad in ["snap-1.0-2026126.121500-3.jar", "snap-2.0-20261206.141500-3.jar", "snap-1.0-SNAPSHOT.jar"] {
        let r = put(&depot, bad, &token, b"x".to_vec()).await;
        assert_eq!(r.status(), 400, "{bad}: {}", r.text().await.unwrap());
    }
    assert!(versions_with(&aws, "com.example", "snap", "Unfinished").await.is_empty());
    assert_eq!(versions_with(&aws, "com.example", "snap", "Unlisted").await.len(), 2);

    // Snapshots are never asked of the external connection.
    let junit = get(&depot, "app", "junit/junit/4.14-SNAPSHOT/maven-metadata.xml", t).await;
    assert_eq!(junit.status(), 404);
    let junit = get(&depot, "app", "junit/junit/4.14-SNAPSHOT/junit-4.14-SNAPSHOT.jar", t).await;
    assert_eq!(junit.status(), 404);
    assert!(!fake.requests().iter().any(|r| r.contains("SNAPSHOT")), "{:?}", fake.requests());

    // The guide: delete every build with expected status Unlisted; 1.0-SNAPSHOT stays.
    let jar1_sha = hex::encode(sha2::Sha256::digest(&jar1));
    aws.ok(&[
        "delete-package-versions",
        "--domain",
        "acme",
        "--repository",
        "app",
        "--format",
        "maven",
        "--namespace",
        "com.example",
        "--package",
        "snap",
        "--versions",
        b1,
        b2,
        "--expected-status",
        "Unlisted",
    ])
    .await;
    assert_eq!(versions_with(&aws, "com.example", "snap", "Published").await, ["1.0-SNAPSHOT"]);
    assert!(versions_with(&aws, "com.example", "snap", "Unlisted").await.is_empty());
    let blob1 = depot.data_dir().join("blobs/sha256").join(&jar1_sha[0..2]).join(&jar1_sha[2..4]).join(&jar1_sha);
    eventually(Duration::from_secs(10), "build 1's jar collected", || {
        let gone = !blob1.exists();
        async move { gone }
    })
    .await;
    let snap = get(&depot, "app", &format!("{dir}/snap-1.0-SNAPSHOT.jar"), t).await;
    assert_eq!(snap.status(), 200, "{}", depot.log_tail(10));
    assert_eq!(snap.bytes().await.unwrap().as_ref(), jar2.as_slice());
    assert_eq!(
        get(&depot, "app", &format!("{dir}/snap-{b2}.jar"), t).await.status(),
        200,
        "current build via the alias"
    );
    assert_eq!(get(&depot, "app", &format!("{dir}/snap-{b1}.jar"), t).await.status(), 404);
}

/// Builds published to the upstream repository `store` and read through `app`: `app` serves
/// each new build without keeping a copy of `1.0-SNAPSHOT` (a retained copy would stay on the
/// first build forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_read_through_a_downstream_repository_follows_new_builds() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let dir = "com/example/snap/1.0-SNAPSHOT";
    let put_store = |path: String, body: Vec<u8>| {
        let url = format!("{}{dir}/{path}", depot.maven_endpoint("acme", "store"));
        let req = reqwest::Client::new().put(url).basic_auth("aws", Some(token.clone())).body(body);
        async move { req.send().await.unwrap().status() }
    };
    for (n, b) in [(1, "1.0-20261206.121500-1"), (2, "1.0-20261206.131500-2")] {
        let jar = format!("jar of build {n}").into_bytes();
        assert_eq!(put_store(format!("snap-{b}.jar"), jar.clone()).await, 201);
        assert_eq!(put_store("maven-metadata.xml".into(), snapshot_metadata(b)).await, 201);
        let snap = get(&depot, "app", &format!("{dir}/snap-1.0-SNAPSHOT.jar"), t).await;
        assert_eq!(snap.bytes().await.unwrap().as_ref(), jar.as_slice(), "build {n} through app");
        let meta = get(&depot, "app", &format!("{dir}/maven-metadata.xml"), t).await.text().await.unwrap();
        assert!(meta.contains(&format!("<buildNumber>{n}</buildNumber>")), "{meta}");
    }
    assert!(versions_with(&aws, "com.example", "snap", "Published").await.is_empty(), "nothing retained in app");
}

/// UpdatePackageVersionsStatus publishing an Unfinished build completes it like its metadata
/// would (the build Unlisted, `1.0-SNAPSHOT` Published with its file), and every write is an
/// event: the build's creation and status change, the alias's creation, then its new revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_build_completed_by_status_update_with_events() {
    use crate::support::depot::{AKID, SECRET};
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let t = Some(token.as_str());
    let (b1, b2) = ("1.0-20261206.121500-1", "1.0-20261206.131500-2");
    assert_eq!(put(&depot, &format!("snap-{b1}.jar"), &token, b"one".to_vec()).await.status(), 201);
    let out = aws
        .ok(&[
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
            "snap",
            "--versions",
            b1,
            "--target-status",
            "Published",
        ])
        .await;
    assert_eq!(out["successfulVersions"][b1]["status"], "Unlisted", "{out}");
    assert_eq!(versions_with(&aws, "com.example", "snap", "Published").await, ["1.0-SNAPSHOT"]);
    assert_eq!(versions_with(&aws, "com.example", "snap", "Unlisted").await, [b1]);
    let snap = get(&depot, "app", "com/example/snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar", t).await;
    assert_eq!(snap.bytes().await.unwrap().as_ref(), b"one");
    assert_eq!(put(&depot, &format!("snap-{b2}.jar"), &token, b"two".to_vec()).await.status(), 201);
    assert_eq!(put(&depot, "maven-metadata.xml", &token, snapshot_metadata(b2)).await.status(), 201);

    let q = vec![("max-results", "1000".to_string())];
    let r = crate::support::sigv4::signed_get(&depot.url, "/v1/depot/events", &q, &depot.region, AKID, SECRET).await;
    let v: serde_json::Value = r.json().await.unwrap();
    let lines: Vec<String> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["detail"])
        .filter(|d| d["packageName"] == "snap")
        .map(|d| format!("{} {}", d["packageVersion"].as_str().unwrap(), d["packageVersionState"].as_str().unwrap()))
        .collect();
    let want = [
        format!("{b1} Unfinished"),
        format!("{b1} Unlisted"),
        "1.0-SNAPSHOT Published".to_string(),
        format!("{b2} Unfinished"),
        format!("{b2} Unlisted"),
        "1.0-SNAPSHOT Published".to_string(),
    ];
    assert_eq!(lines, want);
}
