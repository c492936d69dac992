//! DisposePackageVersions and blob garbage collection (issue #10) through the real `aws
//! codeartifact`, `npm` and `pip`: the guide's dispose examples (mismatched status, then
//! success), mismatched revision and not found with the rest skipped; a disposed version
//! keeps its record (`--status Disposed`) with no assets and is gone from the wire; its blob
//! file leaves the data directory and DescribeDomain's `assetSizeBytes` drops, but only once
//! no version anywhere uses the bytes (a copy in another repository, the upstream's record of
//! a PyPI version); deleted versions and packages free their bytes too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::clients::{fresh_home, npm, npm_ok, write_npmrc, Aws};
use crate::support::depot::TestDepot;
use crate::support::python::{index_url_with_token, Venv};
use crate::support::{eventually, pypi_app_and_store};

/// `<op> --domain dp --repository <repo> --format npm --package dp-demo` then `extra`.
fn args<'a>(op: &'a str, repo: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![op, "--domain", "dp", "--repository", repo, "--format", "npm", "--package", "dp-demo"];
    a.extend_from_slice(extra);
    a
}

/// An npm publish of `dp-demo` by HTTP (`latest` → `version`); returns the status.
async fn publish(endpoint: &str, token: &str, version: &str) -> u16 {
    use base64::Engine as _;
    let tgz = crate::support::fake_npm::make_tarball("dp-demo", version, &[("v.txt", version.as_bytes())]);
    let body = json!({
        "name": "dp-demo", "versions": {version: {"name": "dp-demo", "version": version, "dist": {}}},
        "dist-tags": {"latest": version},
        "_attachments": {format!("dp-demo-{version}.tgz"): {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let r =
        reqwest::Client::new().put(format!("{endpoint}dp-demo")).bearer_auth(token).json(&body).send().await.unwrap();
    r.status().as_u16()
}

async fn get_status(url: &str, token: &str) -> u16 {
    reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

/// Where the blob of `sha256` (hex) lives under a data directory.
fn blob_path(data: &Path, sha: &str) -> PathBuf {
    data.join("blobs/sha256").join(&sha[0..2]).join(&sha[2..4]).join(sha)
}

/// The assets (SHA-256, size) of a version, from `list-package-version-assets`.
async fn assets(aws: &Aws, a: Vec<&str>) -> Vec<(String, u64)> {
    let r = aws.ok(&a).await;
    r["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["hashes"]["SHA-256"].as_str().unwrap().to_string(), x["size"].as_u64().unwrap()))
        .collect()
}

async fn asset_size(aws: &Aws, domain: &str) -> u64 {
    aws.ok(&["describe-domain", "--domain", domain]).await["domain"]["assetSizeBytes"].as_u64().unwrap()
}

async fn wait_gone(path: &Path, what: &str) {
    eventually(Duration::from_secs(20), what, || async { !path.exists() }).await;
}

/// `app` holds dp-demo 1.0.0, 2.0.0 and 3.0.0 (`latest`); 1.0.0 is also copied to `other`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_dispose_as_the_guide_shows_and_blobs_leave_when_unreferenced() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    aws.setup("dp", &[("app", &[], None), ("other", &[], None)]).await;
    let token = aws.token("dp").await;
    let endpoint = depot.npm_endpoint("dp", "app");
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        assert_eq!(publish(&endpoint, &token, v).await, 201, "publish {v}");
    }
    aws.ok(&[
        "copy-package-versions",
        "--domain",
        "dp",
        "--source-repository",
        "app",
        "--destination-repository",
        "other",
        "--format",
        "npm",
        "--package",
        "dp-demo",
        "--versions",
        "1.0.0",
    ])
    .await;
    let file = |v: &'static str| {
        let aws = aws.clone();
        async move { assets(&aws, args("list-package-version-assets", "app", &["--package-version", v])).await[0].clone() }
    };
    let (sha1, size1) = file("1.0.0").await;
    let (sha2, size2) = file("2.0.0").await;
    let (sha3, _) = file("3.0.0").await;
    let data = depot.data_dir();
    for s in [&sha1, &sha2, &sha3] {
        assert!(blob_path(data, s).exists(), "blob {s} stored");
    }
    let size_before = asset_size(&aws, "dp").await;
    let rev = |v: &'static str| {
        let aws = aws.clone();
        async move {
            let d = aws.ok(&args("describe-package-version", "app", &["--package-version", v])).await;
            d["packageVersion"]["revision"].as_str().unwrap().to_string()
        }
    };
    let rev2 = rev("2.0.0").await;
    let dispose = |repo: &'static str, extra: &'static [&'static str]| args("dispose-package-versions", repo, extra);

    // The guide: a mismatched expected status disposes nothing.
    let r = aws.ok(&dispose("app", &["--versions", "2.0.0", "--expected-status", "Unlisted"])).await;
    assert_eq!(
        r,
        json!({"successfulVersions": {}, "failedVersions": {"2.0.0": {
            "errorCode": "MISMATCHED_STATUS", "errorMessage": "current status: Published, expected status: Unlisted"}}})
    );
    // A mismatched revision fails that version and skips the other; a missing one is NOT_FOUND.
    let mut a = dispose("app", &["--versions", "2.0.0", "1.0.0", "--version-revisions"]);
    let bad = format!("2.0.0=bm90LXRoZS1yZXZpc2lvbg==,1.0.0={}", rev("1.0.0").await);
    a.push(&bad);
    let r = aws.ok(&a).await;
    assert_eq!(r["successfulVersions"], json!({}));
    assert_eq!(r["failedVersions"]["2.0.0"]["errorCode"], "MISMATCHED_REVISION", "{r}");
    assert_eq!(r["failedVersions"]["1.0.0"]["errorCode"], "SKIPPED", "{r}");
    let r = aws.ok(&dispose("app", &["--versions", "2.0.0", "9.9.9"])).await;
    assert_eq!(r["failedVersions"]["9.9.9"]["errorCode"], "NOT_FOUND", "{r}");
    assert_eq!(r["failedVersions"]["2.0.0"]["errorCode"], "SKIPPED", "{r}");
    assert!(blob_path(data, &sha2).exists(), "nothing was disposed");

    // The guide: with the right expected status the disposal succeeds; the revision stays.
    let r = aws.ok(&dispose("app", &["--versions", "2.0.0", "--expected-status", "Published"])).await;
    assert_eq!(
        r,
        json!({"successfulVersions": {"2.0.0": {"revision": rev2, "status": "Disposed"}}, "failedVersions": {}})
    );
    wait_gone(&blob_path(data, &sha2), "2.0.0's blob file removed").await;
    assert_eq!(asset_size(&aws, "dp").await, size_before - size2, "assetSizeBytes drops by 2.0.0's file");
    // The record stays, Disposed, with no assets.
    let d = aws.ok(&args("describe-package-version", "app", &["--package-version", "2.0.0"])).await;
    assert_eq!(d["packageVersion"]["status"], "Disposed");
    assert!(assets(&aws, args("list-package-version-assets", "app", &["--package-version", "2.0.0"])).await.is_empty());
    let l = aws.ok(&args("list-package-versions", "app", &["--status", "Disposed"])).await;
    assert_eq!(l["versions"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(l["versions"][0]["version"], "2.0.0", "{l}");

    // 1.0.0 has a copy in `other`: disposing it in `app` keeps the bytes.
    aws.ok(&dispose("app", &["--versions", "1.0.0"])).await;
    assert_eq!(aws.versions("dp", "app", "dp-demo").await, ["3.0.0"], "default listing hides disposed versions");
    // The wire: npm lists 3.0.0 only and installs neither disposed version; tarballs are 404.
    let base = depot.scratch("dispose");
    let home = fresh_home(&base, "home");
    write_npmrc(&home, &endpoint, &token);
    let out = npm_ok(&base, &home, &["view", "dp-demo", "versions", "--json"]).await;
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!(["3.0.0"]), "npm view: {out}");
    let proj = base.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("package.json"), r#"{"name":"proj","version":"0.0.0"}"#).unwrap();
    for v in ["dp-demo@2.0.0", "dp-demo@1.0.0"] {
        assert!(!npm(&proj, &home, &["install", v]).await.status.success(), "npm install {v} must fail");
    }
    for v in ["1.0.0", "2.0.0"] {
        assert_eq!(get_status(&format!("{endpoint}dp-demo/-/dp-demo-{v}.tgz"), &token).await, 404, "tarball {v}");
    }
    // `other`'s copy still installs, and its bytes are still counted.
    let other = depot.npm_endpoint("dp", "other");
    assert_eq!(get_status(&format!("{other}dp-demo/-/dp-demo-1.0.0.tgz"), &token).await, 200);
    assert!(blob_path(data, &sha1).exists(), "the copy in `other` still uses 1.0.0's bytes");
    assert_eq!(asset_size(&aws, "dp").await, size_before - size2);
    // Irreversible: no status change, no republish, no copy; only a delete.
    let r = aws
        .ok(&args("update-package-versions-status", "app", &["--versions", "2.0.0", "--target-status", "Published"]))
        .await;
    assert_eq!(r["failedVersions"]["2.0.0"]["errorCode"], "NOT_ALLOWED", "{r}");
    assert_eq!(publish(&endpoint, &token, "2.0.0").await, 409, "a disposed version is not republished");
    let r = aws
        .ok(&[
            "copy-package-versions",
            "--domain",
            "dp",
            "--source-repository",
            "app",
            "--destination-repository",
            "other",
            "--format",
            "npm",
            "--package",
            "dp-demo",
            "--versions",
            "2.0.0",
        ])
        .await;
    assert_eq!(r["failedVersions"]["2.0.0"]["errorCode"], "NOT_ALLOWED", "{r}");

    // Disposing the copy too frees the bytes.
    aws.ok(&dispose("other", &["--versions", "1.0.0"])).await;
    wait_gone(&blob_path(data, &sha1), "1.0.0's blob file removed once no copy uses it").await;
    assert_eq!(asset_size(&aws, "dp").await, size_before - size2 - size1);

    // Deletes free bytes as well: a published version, then the package.
    let r = aws.ok(&args("delete-package-versions", "app", &["--versions", "2.0.0", "3.0.0"])).await;
    assert_eq!(r["successfulVersions"]["2.0.0"]["status"], "Deleted", "{r}");
    wait_gone(&blob_path(data, &sha3), "3.0.0's blob file removed after its delete").await;
    assert_eq!(asset_size(&aws, "dp").await, 0);
    assert_eq!(publish(&endpoint, &token, "4.0.0").await, 201);
    let (sha4, _) = file("4.0.0").await;
    aws.ok(&args("delete-package", "app", &[])).await;
    wait_gone(&blob_path(data, &sha4), "4.0.0's blob file removed after delete-package").await;
    let d = aws.ok(&["describe-domain", "--domain", "dp"]).await;
    assert_eq!((d["domain"]["assetSizeBytes"].as_u64(), d["domain"]["repositoryCount"].as_u64()), (Some(0), Some(2)));
}

/// PyPI: idna 3.20 brought into `app` by pip is stored in `store` and retained in `app`, one
/// blob (plus its core-metadata blob) shared by both records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_dispose_hides_the_files_and_frees_the_shared_blob_last() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let index = index_url_with_token(&format!("{endpoint}simple/"), &token);
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    venv.pip_ok(&["install", "--index-url", &index, "idna==3.20"]).await;
    eventually(Duration::from_secs(30), "idna 3.20 retained in app", || {
        let aws = aws.clone();
        async move { aws.pypi_versions("acme", "app", "idna").await == ["3.20"] }
    })
    .await;
    let page = || async {
        let r = reqwest::Client::new().get(format!("{endpoint}simple/idna/")).bearer_auth(&token).send().await.unwrap();
        r.text().await.unwrap()
    };
    let wheel = format!("{endpoint}simple/idna/3.20/idna-3.20-py3-none-any.whl");
    let core = reqwest::Client::new().get(format!("{wheel}.metadata")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(core.status().as_u16(), 200, "core metadata served");
    let core_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(core.bytes().await.unwrap()))
    };
    let dispose = |repo: &'static str| {
        vec!["dispose-package-versions", "--domain", "acme", "--repository", repo, "--format", "pypi"]
            .into_iter()
            .chain(["--package", "idna", "--versions", "3.20"])
            .collect::<Vec<_>>()
    };
    let list = |repo: &'static str| {
        vec!["list-package-version-assets", "--domain", "acme", "--repository", repo, "--format", "pypi"]
            .into_iter()
            .chain(["--package", "idna", "--package-version", "3.20"])
            .collect::<Vec<_>>()
    };
    let (sha, _) = assets(&aws, list("app")).await[0].clone();
    let data = depot.data_dir();
    assert!(blob_path(data, &sha).exists() && blob_path(data, &core_sha).exists());
    let size_before = asset_size(&aws, "acme").await;

    let r = aws.ok(&dispose("app")).await;
    assert_eq!(r["successfulVersions"]["3.20"]["status"], "Disposed", "{r}");
    assert!(!page().await.contains("idna-3.20"), "the simple page no longer lists its files");
    assert_eq!(get_status(&wheel, &token).await, 404, "a disposed file is not downloadable");
    let fresh = Venv::create(&depot.scratch("pip"), "fresh").await;
    let out = fresh.pip(&["install", "--no-cache-dir", "--index-url", &index, "idna==3.20"]).await;
    assert!(!out.status.success(), "pip must not install the disposed version");
    assert!(assets(&aws, list("app")).await.is_empty());
    // `store` still holds the version: the bytes stay, and still count.
    assert!(blob_path(data, &sha).exists() && blob_path(data, &core_sha).exists(), "store's record uses them");
    assert_eq!(asset_size(&aws, "acme").await, size_before);

    aws.ok(&dispose("store")).await;
    wait_gone(&blob_path(data, &sha), "the wheel's blob removed once no version uses it").await;
    wait_gone(&blob_path(data, &core_sha), "its core-metadata blob too").await;
    assert_eq!(asset_size(&aws, "acme").await, 0);
    let l = aws
        .ok(&[
            "list-package-versions",
            "--domain",
            "acme",
            "--repository",
            "store",
            "--format",
            "pypi",
            "--package",
            "idna",
            "--status",
            "Disposed",
        ])
        .await;
    assert_eq!(l["versions"][0]["version"], "3.20", "{l}");
}
