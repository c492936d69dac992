//! Package operations on Maven versions (issue #11), with namespace = groupId and package =
//! artifactId: listings, describe (POM data), assets, dependencies, readme, copy, status,
//! dispose and delete through the real `aws` CLI, each checked on the wire (files and
//! `maven-metadata.xml` at the Maven endpoint), and one feed event per change.

use serde_json::Value;

use super::get;
use crate::support::clients::Aws;
use crate::support::depot::{TestDepot, AKID, SECRET};
use crate::support::{maven_app_and_store, sigv4};

const JAR: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
const QDOX: &str = "com/thoughtworks/qdox/qdox";

/// `op --domain acme --repository <repo> --format maven --namespace <group> --package <artifact>` + `rest`.
async fn op(aws: &Aws, repo: &str, name: &str, group: &str, artifact: &str, rest: &[&str]) -> Value {
    let mut a = vec![name, "--domain", "acme", "--repository", repo, "--format", "maven"];
    a.extend(["--namespace", group, "--package", artifact]);
    a.extend(rest);
    aws.ok(&a).await
}

async fn qdox(aws: &Aws, repo: &str, name: &str, rest: &[&str]) -> Value {
    op(aws, repo, name, "com.thoughtworks.qdox", "qdox", rest).await
}

async fn metadata(depot: &TestDepot, repo: &str, dir: &str, token: &str) -> (u16, String) {
    let r = get(depot, repo, &format!("{dir}/maven-metadata.xml"), Some(token)).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn status_of(depot: &TestDepot, repo: &str, path: &str, token: &str) -> u16 {
    get(depot, repo, path, Some(token)).await.status().as_u16()
}

async fn put(depot: &TestDepot, path: &str, token: &str, body: Vec<u8>) -> u16 {
    let url = format!("{}{path}", depot.maven_endpoint("acme", "app"));
    reqwest::Client::new().put(url).basic_auth("aws", Some(token)).body(body).send().await.unwrap().status().as_u16()
}

fn versions(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["version"].as_str().unwrap().to_string(), x["status"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

async fn set_status(aws: &Aws, version: &str, target: &str) {
    let r =
        qdox(aws, "app", "update-package-versions-status", &["--versions", version, "--target-status", target]).await;
    assert_eq!(r["failedVersions"], serde_json::json!({}), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_package_operations_and_events_use_group_and_artifact() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b.env("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "open")).await;
    aws.ok(&["create-repository", "--domain", "acme", "--repository", "dest"]).await;
    let token = aws.token("acme").await;
    let t = token.as_str();
    let jar1 = format!("{QDOX}/1.12.1/qdox-1.12.1.jar");
    let jar2 = format!("{QDOX}/2.0.3/qdox-2.0.3.jar");
    let lang = "org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar";
    for p in [&jar1, &jar2, &lang.to_string()] {
        assert_eq!(status_of(&depot, "app", p, t).await, 200, "{p}: {}", depot.log_tail(20));
    }
    // One version published by PUTs.
    let hello = "com/example/hello/1.0.0/hello-1.0.0";
    let pom = "<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId>\
               <artifactId>hello</artifactId><version>1.0.0</version></project>";
    assert_eq!(put(&depot, &format!("{hello}.jar"), t, JAR.to_vec()).await, 201);
    assert_eq!(put(&depot, &format!("{hello}.pom"), t, pom.as_bytes().to_vec()).await, 201);
    let meta = "<metadata><groupId>com.example</groupId><artifactId>hello</artifactId><versioning>\
                <versions><version>1.0.0</version></versions></versioning></metadata>";
    assert!(put(&depot, "com/example/hello/maven-metadata.xml", t, meta.as_bytes().to_vec()).await < 300);
    assert_eq!(status_of(&depot, "app", &format!("{hello}.jar"), t).await, 200);

    // Listings: namespace = groupId, package = artifactId.
    let base = ["--domain", "acme", "--repository", "app", "--format", "maven"];
    let mut a = vec!["list-packages"];
    a.extend(base);
    a.extend(["--namespace", "com.thoughtworks.qdox"]);
    let l = aws.ok(&a).await;
    let pkgs = l["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 1, "{l}");
    assert_eq!(pkgs[0]["namespace"], "com.thoughtworks.qdox");
    assert_eq!(pkgs[0]["package"], "qdox");
    assert_eq!(pkgs[0]["format"], "maven");
    let mut a = vec!["list-packages"];
    a.extend(base);
    a.extend(["--package-prefix", "commons-"]);
    let l = aws.ok(&a).await;
    let names: Vec<_> =
        l["packages"].as_array().unwrap().iter().map(|p| (p["namespace"].clone(), p["package"].clone())).collect();
    assert_eq!(names, [(Value::from("org.apache.commons"), Value::from("commons-lang3"))], "{l}");
    let d = qdox(&aws, "app", "describe-package", &[]).await;
    assert_eq!(d["package"]["namespace"], "com.thoughtworks.qdox", "{d}");
    assert_eq!(d["package"]["name"], "qdox", "{d}");
    let v = qdox(&aws, "app", "list-package-versions", &[]).await;
    let published = |vs: &[&str]| vs.iter().map(|v| (v.to_string(), "Published".to_string())).collect::<Vec<_>>();
    assert_eq!(versions(&v), published(&["1.12.1", "2.0.3"]), "{v}");
    let d = qdox(&aws, "app", "describe-package-version", &["--package-version", "2.0.3"]).await;
    let pv = &d["packageVersion"];
    assert_eq!(pv["displayName"], "QDox", "{d}");
    assert!(pv["summary"].as_str().unwrap_or_default().starts_with("QDox is a high speed"), "{d}");
    assert_eq!(pv["namespace"], "com.thoughtworks.qdox");
    assert_eq!(pv["packageName"], "qdox");
    let assets = qdox(&aws, "app", "list-package-version-assets", &["--package-version", "2.0.3"]).await;
    let mut names: Vec<&str> =
        assets["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["qdox-2.0.3.jar", "qdox-2.0.3.pom"], "{assets}");
    let deps = qdox(&aws, "app", "list-package-version-dependencies", &["--package-version", "1.12.1"]).await;
    let mut ds: Vec<String> = deps["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} {}",
                d["namespace"].as_str().unwrap_or(""),
                d["package"],
                d["versionRequirement"],
                d["dependencyType"]
            )
        })
        .collect();
    ds.sort();
    assert_eq!(ds.len(), 2, "{deps}");
    assert!(ds[0].starts_with("junit:\"junit\""), "{ds:?}");
    assert!(ds[1].starts_with("org.apache.ant:\"ant\" \"1.10.13\" \"compile\""), "{ds:?}");
    let out = depot.scratch("ops").join("asset.jar");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut a = vec!["get-package-version-asset"];
    a.extend(base);
    a.extend(["--namespace", "com.thoughtworks.qdox", "--package", "qdox", "--package-version", "2.0.3"]);
    a.extend(["--asset", "qdox-2.0.3.jar", out.to_str().unwrap()]);
    aws.ok(&a).await;
    let fixture = crate::support::fixtures().join("maven/repo").join(&jar2);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(fixture).unwrap());
    let r = qdox(&aws, "app", "get-package-version-readme", &["--package-version", "2.0.3"]).await;
    assert_eq!(r["version"], "2.0.3", "{r}");
    assert!(r.get("readme").is_none(), "a POM carries no readme, as an npm/PyPI version without one: {r}");

    // Copy to dest: served there and listed in dest's metadata.
    let r = aws
        .ok(&[
            "copy-package-versions",
            "--domain",
            "acme",
            "--source-repository",
            "app",
            "--destination-repository",
            "dest",
            "--format",
            "maven",
            "--namespace",
            "com.thoughtworks.qdox",
            "--package",
            "qdox",
            "--versions",
            "2.0.3",
        ])
        .await;
    assert_eq!(r["failedVersions"], serde_json::json!({}), "{r}");
    assert_eq!(status_of(&depot, "dest", &jar2, t).await, 200);
    let (s, m) = metadata(&depot, "dest", QDOX, t).await;
    assert_eq!(s, 200);
    assert!(m.contains("<version>2.0.3</version>") && !m.contains("1.12.1"), "{m}");

    // Status: Unlisted leaves the metadata but still downloads; Archived is 404; Published again.
    set_status(&aws, "1.12.1", "Unlisted").await;
    let (_, m) = metadata(&depot, "app", QDOX, t).await;
    assert!(!m.contains("<version>1.12.1</version>") && m.contains("<version>2.0.3</version>"), "{m}");
    assert_eq!(status_of(&depot, "app", &jar1, t).await, 200, "Unlisted still downloads by path");
    set_status(&aws, "1.12.1", "Archived").await;
    assert_eq!(status_of(&depot, "app", &jar1, t).await, 404, "Archived is not served");
    set_status(&aws, "1.12.1", "Published").await;
    let (_, m) = metadata(&depot, "app", QDOX, t).await;
    assert!(m.contains("<version>1.12.1</version>"), "{m}");
    assert_eq!(status_of(&depot, "app", &jar1, t).await, 200);

    // Dispose: jar 404, record kept as Disposed with no assets.
    let r = qdox(&aws, "app", "dispose-package-versions", &["--versions", "1.12.1"]).await;
    assert_eq!(r["failedVersions"], serde_json::json!({}), "{r}");
    assert_eq!(status_of(&depot, "app", &jar1, t).await, 404);
    // Listings default to Published, as for npm; the Disposed record is there under its status.
    let v = qdox(&aws, "app", "list-package-versions", &["--status", "Disposed"]).await;
    assert_eq!(versions(&v), [("1.12.1".to_string(), "Disposed".to_string())], "{v}");
    let d = qdox(&aws, "app", "describe-package-version", &["--package-version", "1.12.1"]).await;
    assert_eq!(d["packageVersion"]["status"], "Disposed", "{d}");
    let assets = qdox(&aws, "app", "list-package-version-assets", &["--package-version", "1.12.1"]).await;
    assert_eq!(assets["assets"], serde_json::json!([]), "{assets}");
    let (_, m) = metadata(&depot, "app", QDOX, t).await;
    assert!(!m.contains("1.12.1"), "{m}");

    // Delete a version, then the whole package (in dest and app).
    qdox(&aws, "dest", "delete-package-versions", &["--versions", "2.0.3"]).await;
    assert_eq!(status_of(&depot, "dest", &jar2, t).await, 404);
    let (s, m) = metadata(&depot, "dest", QDOX, t).await;
    assert!(s == 404 || !m.contains("<version>"), "{s} {m}");
    op(&aws, "app", "delete-package", "com.example", "hello", &[]).await;
    assert_eq!(status_of(&depot, "app", &format!("{hello}.jar"), t).await, 404);
    let (s, m) = metadata(&depot, "app", "com/example/hello", t).await;
    assert!(s == 404 || !m.contains("<version>"), "{s} {m}");
    let mut a = vec!["list-packages"];
    a.extend(base);
    a.extend(["--namespace", "com.example"]);
    assert_eq!(aws.ok(&a).await["packages"], serde_json::json!([]));

    // The feed: one event per change, namespace = groupId.
    let r = sigv4::signed_get(
        &depot.url,
        "/v1/depot/events",
        &[("max-results", "1000".into())],
        &depot.region,
        AKID,
        SECRET,
    )
    .await;
    assert_eq!(r.status(), 200);
    let feed: Value = r.json().await.unwrap();
    let lines: Vec<String> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let d = &e["detail"];
            format!(
                "{} {} {}:{} {} {} {}",
                d["repositoryName"].as_str().unwrap(),
                d["packageFormat"].as_str().unwrap(),
                d["packageNamespace"].as_str().unwrap_or("-"),
                d["packageName"].as_str().unwrap(),
                d["packageVersion"].as_str().unwrap(),
                d["operationType"].as_str().unwrap(),
                d["packageVersionState"].as_str().unwrap(),
            )
        })
        .collect();
    let q = "maven com.thoughtworks.qdox:qdox";
    let expected = [
        format!("store {q} 1.12.1 Created Published"),
        format!("app {q} 1.12.1 Created Published"),
        format!("store {q} 2.0.3 Created Published"),
        format!("app {q} 2.0.3 Created Published"),
        "store maven org.apache.commons:commons-lang3 3.12.0 Created Published".into(),
        "app maven org.apache.commons:commons-lang3 3.12.0 Created Published".into(),
        "app maven com.example:hello 1.0.0 Created Unfinished".into(),
        // The POM's PUT adds an asset to the same Unfinished version.
        "app maven com.example:hello 1.0.0 Updated Unfinished".into(),
        "app maven com.example:hello 1.0.0 Updated Published".into(),
        format!("dest {q} 2.0.3 Created Published"),
        format!("app {q} 1.12.1 Updated Unlisted"),
        format!("app {q} 1.12.1 Updated Archived"),
        format!("app {q} 1.12.1 Updated Published"),
        format!("app {q} 1.12.1 Updated Disposed"),
        format!("dest {q} 2.0.3 Deleted Published"),
        "app maven com.example:hello 1.0.0 Deleted Published".into(),
    ];
    assert_eq!(lines, expected);
}
