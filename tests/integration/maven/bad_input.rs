//! Bad input on the Maven endpoint (issue #11): malformed coordinates, `..` / `%2e%2e`
//! traversal, backslashes, metadata that is not XML or is over the 4 MiB bound, a POM that
//! does not parse, a file not named after the path's artifact and version. Each is a 400
//! naming the reason, and nothing is stored: no version in any status, no new blob. An
//! upstream POM whose bytes disagree with its `.sha1` is never stored either.

use std::path::Path;

use base64::Engine as _;

use super::{get, maven_versions};
use crate::support::clients::Aws;
use crate::support::depot::TestDepot;
use crate::support::maven_app_and_store;

/// A PUT sent as written (HTTP clients resolve `..` and `%2e%2e` before sending).
async fn raw_put(depot: &TestDepot, token: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = format!("{}{path}", depot.maven_endpoint("acme", "app"));
    let (host, path) = url.strip_prefix("http://").unwrap().split_once('/').unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("aws:{token}"));
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "PUT /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading a refused body.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.map(|e| e.unwrap()).map(|e| if e.file_type().unwrap().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}

async fn versions_any_status(aws: &Aws, group: &str, artifact: &str) -> Vec<String> {
    let mut all = Vec::new();
    for status in ["Published", "Unfinished", "Unlisted", "Archived", "Disposed"] {
        all.extend(super::list_maven_versions(aws, "app", group, artifact, Some(status)).await.unwrap_or_default());
    }
    all
}

const GOOD_POM: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.example</groupId><artifactId>hello</artifactId><version>1.0.0</version></project>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_maven_input_is_a_400_with_the_reason_and_stores_nothing() {
    let (_fake, depot, aws) = maven_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let blobs = depot.data_dir().join("blobs/sha256");
    let before = count_files(&blobs);
    let big = {
        let mut m = b"<metadata><versioning><versions><version>1.0.0</version></versions></versioning>".to_vec();
        m.resize(4 * 1024 * 1024 + 1, b' ');
        m
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("com/example/bad:name/1.0.0/bad:name-1.0.0.jar", b"jar".to_vec(), "not a valid Maven artifactId"),
        ("com/ex*ample/hello/1.0.0/hello-1.0.0.jar", b"jar".to_vec(), "not a valid Maven groupId"),
        ("com/example/hello/1.0%3C2/hello-1.0%3C2.jar", b"jar".to_vec(), "not a valid Maven version"),
        ("com/example/../example/hello/1.0.0/hello-1.0.0.jar", b"jar".to_vec(), "not allowed"),
        ("com/example/hello/%2e%2e/hello/1.0.0/hello-1.0.0.jar", b"jar".to_vec(), "not allowed"),
        ("com/example/hello/1.0.0/..%2fhello-1.0.0.jar", b"jar".to_vec(), "not allowed"),
        ("com%5Cexample/hello/1.0.0/hello-1.0.0.jar", b"jar".to_vec(), "not allowed"),
        ("com/example/hello/maven-metadata.xml", b"{\"versions\": [\"1.0.0\"]}".to_vec(), "does not parse"),
        ("com/example/hello/maven-metadata.xml", big, "larger than 4194304 bytes"),
        ("com/example/hello/1.0.0/hello-1.0.0.pom", b"<project><name>unclosed</project>".to_vec(), "not a valid POM"),
        ("com/example/hello/1.0.0/other-1.0.0.jar", b"jar".to_vec(), "not named after"),
        ("com/example/hello/1.0.0/hello-1.0.1.pom", GOOD_POM.as_bytes().to_vec(), "not named after"),
    ];
    for (path, body, why) in &cases {
        let (status, text) = raw_put(&depot, &token, path, body).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains(why), "{path} should say {why:?}: {text}");
    }
    for (group, artifact) in [("com.example", "hello"), ("com.example", "other"), ("com.example", "bad:name")] {
        assert!(versions_any_status(&aws, group, artifact).await.is_empty(), "{group}:{artifact} stored");
    }
    assert_eq!(count_files(&blobs), before, "no blob stored");
    assert!(count_files(&depot.data_dir().join("blobs/tmp")) == 0, "no staged file left behind");
}

/// An upstream POM whose bytes do not match its `.sha1` side file is never stored (the
/// version's required file; the jar case is in http.rs): 502 naming the mismatch, no version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_pom_that_fails_its_sha1_is_never_stored() {
    let (fake, depot, aws) = maven_app_and_store(|b| b).await;
    let pom = "junit/junit/4.13.2/junit-4.13.2.pom";
    fake.corrupt(pom, b"<project><name>not junit</name></project>");
    let r = get(&depot, "app", pom, None).await;
    assert_eq!(r.status(), 502, "{}", depot.log_tail(10));
    assert!(r.text().await.unwrap().contains("does not match"));
    for repo in ["store", "app"] {
        assert!(maven_versions(&aws, repo, "junit", "junit").await.is_empty(), "{repo}");
    }
}
