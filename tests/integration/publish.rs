//! Publishing with the real npm: blocking versions that exist upstream, idempotent
//! republish, dist-tags (merge with upstream, upstream wins), tarball URL rewriting,
//! deprecate, view, ping, and the commands CodeArtifact does not support.

use std::path::{Path, PathBuf};

use crate::support::app_and_store;
use crate::support::clients::{fresh_home, npm, npm_ok, write_npmrc};
use crate::support::depot::TestDepot;
use crate::support::fake_npm::FakeNpm;

fn package_dir(base: &Path, name: &str, version: &str, body: &str) -> PathBuf {
    let dir = base.join(format!("{}-{version}-{}", name.replace('/', "_"), body.len()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), format!(r#"{{"name":"{name}","version":"{version}","main":"index.js"}}"#))
        .unwrap();
    std::fs::write(dir.join("index.js"), body).unwrap();
    dir
}

/// PUTs a minimal publish body; returns the status and the error text.
async fn raw_publish(endpoint: &str, token: &str, name: &str, version: &str) -> (u16, String) {
    use base64::Engine as _;
    let tgz = crate::support::fake_npm::make_tarball(name, version, &[]);
    let body = serde_json::json!({
        "name": name, "versions": {version: {"name": name, "version": version, "dist": {}}},
        "_attachments": {format!("{name}-{version}.tgz"): {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let r =
        reqwest::Client::new().put(format!("{endpoint}{name}")).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json::<serde_json::Value>().await.map(|v| v["error"].to_string()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rules_tags_and_metadata_with_real_npm() {
    // Written for the guide's behaviour (both origin controls ALLOW): 409s for upstream
    // versions, publishes next to them, and tags merged from both.
    let (_fake, depot, aws) = app_and_store(|b| b.open_origins()).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let home = fresh_home(&depot.scratch("pub"), "home");
    write_npmrc(&home, &endpoint, &aws.token("acme").await);
    let base = depot.scratch("pub");

    // A version the external connection has: 409, nothing stored. (On a 409, npm re-reads
    // the packument and reports the conflict in its own words.)
    let dir = package_dir(&base, "ms", "2.1.3", "module.exports = 1;");
    let out = npm(&dir, &home, &["publish"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot publish over") || err.contains("409"), "{err}");
    let token = aws.token("acme").await;
    let r = raw_publish(&endpoint, &token, "ms", "2.1.3").await;
    assert_eq!(r.0, 409);
    assert!(r.1.contains("already exists in external connection public:npmjs"), "{}", r.1);
    assert!(aws.versions("acme", "app", "ms").await.is_empty(), "nothing stored");

    // A new version of the same package: published.
    let dir = package_dir(&base, "ms", "9.0.0", "module.exports = 9;");
    npm_ok(&dir, &home, &["publish"]).await;
    // Different content under the same version: refused. (Identical bytes succeed: see the
    // HTTP-level test below; npm's own pack output is not byte-for-byte repeatable.)
    let changed = package_dir(&base, "ms", "9.0.0", "module.exports = 'changed';");
    let out = npm(&changed, &home, &["publish"]).await;
    assert!(!out.status.success(), "different content under the same version is refused");
    assert_eq!(aws.versions("acme", "app", "ms").await, vec!["9.0.0".to_string()]);

    // Publishing into the repository with the connection is blocked too.
    let store_home = fresh_home(&base, "store-home");
    write_npmrc(&store_home, &depot.npm_endpoint("acme", "store"), &aws.token("acme").await);
    let dir_ms = package_dir(&base, "ms", "2.0.0", "module.exports = 0;");
    assert!(!npm(&dir_ms, &store_home, &["publish"]).await.status.success());

    // A scoped package of our own.
    let scoped = package_dir(&base, "@acme/util", "1.0.0", "module.exports = 'util';");
    npm_ok(&scoped, &home, &["publish"]).await;
    let url = npm_ok(&base, &home, &["view", "@acme/util", "dist.tarball"]).await;
    assert_eq!(url.trim(), format!("{endpoint}@acme/util/-/util-1.0.0.tgz"));

    // Tarball URLs point at Depot, for upstream versions too.
    let url = npm_ok(&base, &home, &["view", "ms@2.1.3", "dist.tarball"]).await;
    assert_eq!(url.trim(), format!("{endpoint}ms/-/ms-2.1.3.tgz"));

    // dist-tags: ours merged with the upstream's; the upstream wins a conflict.
    let tags = npm_ok(&base, &home, &["dist-tag", "ls", "ms"]).await;
    assert!(tags.contains("latest: 2.1.3") && tags.contains("next: 3.0.0-canary.1"), "{tags}");
    npm_ok(&base, &home, &["dist-tag", "add", "ms@9.0.0", "beta"]).await;
    npm_ok(&base, &home, &["dist-tag", "add", "ms@9.0.0", "next"]).await;
    let tags = npm_ok(&base, &home, &["dist-tag", "ls", "ms"]).await;
    assert!(tags.contains("beta: 9.0.0"), "{tags}");
    assert!(tags.contains("next: 3.0.0-canary.1"), "upstream value wins: {tags}");
    npm_ok(&base, &home, &["dist-tag", "rm", "ms", "beta"]).await;
    let tags = npm_ok(&base, &home, &["dist-tag", "ls", "ms"]).await;
    assert!(!tags.contains("beta"), "{tags}");
    // Installing by tag follows the merged view.
    let proj = base.join("tagproj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("package.json"), r#"{"name":"t","version":"1.0.0","private":true}"#).unwrap();
    npm_ok(&proj, &home, &["install", "ms@next", "ms-nine@npm:ms@9.0.0"]).await;
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(proj.join("node_modules/ms/package.json")).unwrap()).unwrap();
    assert_eq!(v["version"], "3.0.0-canary.1");
    assert_eq!(std::fs::read_to_string(proj.join("node_modules/ms-nine/index.js")).unwrap(), "module.exports = 9;");

    // deprecate and view.
    npm_ok(&base, &home, &["deprecate", "ms@9.0.0", "use ms 2"]).await;
    let dep = npm_ok(&base, &home, &["view", "ms@9.0.0", "deprecated"]).await;
    assert_eq!(dep.trim(), "use ms 2");
    npm_ok(&base, &home, &["ping"]).await;

    // Unsupported commands fail with a clear message.
    for args in
        [vec!["whoami"], vec!["search", "ms"], vec!["unpublish", "ms@9.0.0", "--force"], vec!["owner", "ls", "ms"]]
    {
        let out = npm(&base, &home, &args).await;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "npm {args:?} should fail: {text}");
        assert!(text.contains("not supported") || text.contains("405"), "npm {args:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_a_token_and_bad_publishes_are_refused() {
    let fake = FakeNpm::start().await;
    let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &[], None)]).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let client = reqwest::Client::new();
    let tgz = crate::support::fake_npm::make_tarball("thing", "1.0.0", &[]);
    use base64::Engine as _;
    let body = serde_json::json!({
        "name": "thing", "versions": {"1.0.0": {"name": "thing", "version": "1.0.0", "dist": {}}},
        "dist-tags": {"latest": "1.0.0"},
        "_attachments": {"thing-1.0.0.tgz": {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let r = client.put(format!("{endpoint}thing")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "publishing without a token");
    let token = aws.token("acme").await;
    let r = client.put(format!("{endpoint}thing")).bearer_auth("garbage").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let mut bad = body.clone();
    bad["_attachments"]["thing-1.0.0.tgz"]["length"] = serde_json::json!(3);
    let r = client.put(format!("{endpoint}thing")).bearer_auth(&token).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("length"));
    let r = client.put(format!("{endpoint}thing")).bearer_auth(&token).body("not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = client.put(format!("{endpoint}thing")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = client.put(format!("{endpoint}thing")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "the same bytes again: idempotent success");
    // A token for another domain is refused.
    aws.ok(&["create-domain", "--domain", "other"]).await;
    let other = aws.token("other").await;
    let r = client.put(format!("{endpoint}thing")).bearer_auth(&other).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // Path traversal and bad names never reach the store.
    for p in ["..%2f..%2fetc%2fpasswd", "%2e%2e", "a%20b", "thing/-/..%2f..%2fx.tgz"] {
        let r = client.get(format!("{endpoint}{p}")).send().await.unwrap();
        assert!(r.status() == 404 || r.status() == 400, "{p}: {}", r.status());
    }
}
