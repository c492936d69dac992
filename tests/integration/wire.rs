//! npm wire details at the HTTP level: scoped-name encodings, abbreviated documents, gzip,
//! ETags and 304s, version documents, HEAD.

use crate::support::app_and_store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packument_encodings_etags_and_scoped_names() {
    let (_fake, depot, _aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let client = reqwest::Client::builder().no_gzip().build().unwrap();

    for path in ["@babel%2fcode-frame", "@babel%2Fcode-frame", "@babel/code-frame"] {
        let r = client.get(format!("{endpoint}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["name"], "@babel/code-frame");
        let tarball = v["versions"]["7.29.7"]["dist"]["tarball"].as_str().unwrap();
        assert_eq!(tarball, format!("{endpoint}@babel/code-frame/-/code-frame-7.29.7.tgz"));
    }

    let r = client
        .get(format!("{endpoint}express"))
        .header("accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.npm.install-v1+json");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong etag: {etag}");
    let gz = r.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    let abbreviated: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v = &abbreviated["versions"]["4.22.3"];
    assert!(v["dependencies"].is_object() && v["dist"]["integrity"].is_string());
    assert!(v.get("scripts").is_none() && v.get("repository").is_none(), "abbreviated: {v}");

    let r = client
        .get(format!("{endpoint}express"))
        .header("accept", "application/vnd.npm.install-v1+json")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let full: serde_json::Value = client.get(format!("{endpoint}express")).send().await.unwrap().json().await.unwrap();
    assert!(
        full["versions"]["4.22.3"]["repository"] == "expressjs/express",
        "full documents keep every field: {}",
        full["versions"]["4.22.3"]
    );
    assert!(full["time"]["4.22.3"].is_string());

    let v: serde_json::Value = client.get(format!("{endpoint}ms/latest")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["version"], "2.1.3");
    let r = client.head(format!("{endpoint}ms/-/ms-2.1.3.tgz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-length"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let r = client.get(format!("{endpoint}ms/-/ms-0.0.1.tgz")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("0.0.1"));
    let r = client.get(format!("{endpoint}no-such-package-here")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

/// A tarball's strong ETag (its sha256) answers `If-None-Match` with 304 without opening the
/// blob, and a status change is seen at once: an Archived version is never answered from the
/// engine's asset index, not even with a 304.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tarball_revalidation_skips_the_blob_and_follows_status_changes() {
    let (_fake, depot, aws) = app_and_store(|b| b).await;
    let url = format!("{}ms/-/ms-2.1.3.tgz", depot.npm_endpoint("acme", "app"));
    let client = reqwest::Client::new();
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let hex = etag.trim_matches('"').to_string();
    assert_eq!(hex.len(), 64, "the ETag is the sha256: {etag}");

    // With the blob moved away, a revalidation still answers 304: the blob is not opened.
    let blob = depot.data_dir().join("blobs/sha256").join(&hex[0..2]).join(&hex[2..4]).join(&hex);
    let aside = blob.with_extension("aside");
    std::fs::rename(&blob, &aside).unwrap();
    let r = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304, "a matching If-None-Match opened the blob");
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    std::fs::rename(&aside, &blob).unwrap();

    let status = |target: &'static str| {
        let aws = &aws;
        async move {
            let r = aws
                .ok(&[
                    "update-package-versions-status",
                    "--domain",
                    "acme",
                    "--repository",
                    "app",
                    "--format",
                    "npm",
                    "--package",
                    "ms",
                    "--versions",
                    "2.1.3",
                    "--target-status",
                    target,
                ])
                .await;
            assert_eq!(r["failedVersions"], serde_json::json!({}));
        }
    };
    status("Archived").await;
    let r = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 404, "an Archived version was answered from the asset index");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 404);
    status("Published").await;
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len() as u64, std::fs::metadata(&blob).unwrap().len());
}
