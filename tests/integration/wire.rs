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
