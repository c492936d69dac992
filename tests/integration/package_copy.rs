//! CopyPackageVersions (issue #10) through the real `aws codeartifact`: the guide's worked
//! examples (not found with the rest skipped, already exists, mismatched revision, a
//! successful copy, the idempotent copy that leaves identical versions out of the result),
//! `--allow-overwrite`, `--include-from-upstream`, npm tags copied over the destination's,
//! the copied version installed by the real `npm` from the destination, and DescribeDomain's
//! `assetSizeBytes` unchanged by a copy (the blobs are shared, not duplicated).

use serde_json::{json, Value};

use crate::support::clients::{fresh_home, npm_ok, write_npmrc};
use crate::support::depot::TestDepot;

/// An npm publish by HTTP with a token, the version tagged `tag`; `extra` changes the bytes.
async fn publish(endpoint: &str, token: &str, version: &str, tag: &str, extra: &[(&str, &[u8])]) {
    use base64::Engine as _;
    let tgz = crate::support::fake_npm::make_tarball("cp-demo", version, extra);
    let body = json!({
        "name": "cp-demo", "versions": {version: {"name": "cp-demo", "version": version, "dist": {}}},
        "dist-tags": {tag: version},
        "_attachments": {format!("cp-demo-{version}.tgz"): {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let r =
        reqwest::Client::new().put(format!("{endpoint}cp-demo")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "publish {version}: {}", r.text().await.unwrap());
}

/// `copy-package-versions` from `src` to `dst` in domain `cp`, then `extra`.
fn copy<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "copy-package-versions",
        "--domain",
        "cp",
        "--source-repository",
        "src",
        "--destination-repository",
        "dst",
        "--format",
        "npm",
        "--package",
        "cp-demo",
    ];
    a.extend_from_slice(extra);
    a
}

async fn dist_tags(endpoint: &str, token: &str) -> Value {
    let r = reqwest::Client::new().get(format!("{endpoint}cp-demo")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().await.unwrap()["dist-tags"].clone()
}

/// `src` (upstream `up`) and `dst`: src holds 1.0.0 (`latest` until 2.0.0), 1.1.0 (`beta`)
/// and 2.0.0 (`latest`); up holds 3.0.0 (`latest`); dst holds a different 2.0.0 (`latest`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_package_versions_as_the_guide_shows() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    aws.setup("cp", &[("src", &["up"], None), ("up", &[], None), ("dst", &[], None)]).await;
    let token = aws.token("cp").await;
    let (src, up, dst) =
        (depot.npm_endpoint("cp", "src"), depot.npm_endpoint("cp", "up"), depot.npm_endpoint("cp", "dst"));
    publish(&src, &token, "1.0.0", "latest", &[]).await;
    publish(&src, &token, "1.1.0", "beta", &[]).await;
    publish(&src, &token, "2.0.0", "latest", &[]).await;
    publish(&up, &token, "3.0.0", "latest", &[]).await;
    publish(&dst, &token, "2.0.0", "latest", &[("other.txt", b"not the same bytes")]).await;
    let size = || async { aws.ok(&["describe-domain", "--domain", "cp"]).await["domain"]["assetSizeBytes"].clone() };
    let size_before = size().await;
    let rev = |repo: &'static str, v: &'static str| {
        let aws = aws.clone();
        async move {
            let d = aws
                .ok(&[
                    "describe-package-version",
                    "--domain",
                    "cp",
                    "--repository",
                    repo,
                    "--format",
                    "npm",
                    "--package",
                    "cp-demo",
                    "--package-version",
                    v,
                ])
                .await;
            d["packageVersion"]["revision"].as_str().unwrap().to_string()
        }
    };
    let (rev10, rev11) = (rev("src", "1.0.0").await, rev("src", "1.1.0").await);

    // Not found: the rest is skipped, nothing is copied.
    let r = aws.ok(&copy(&["--versions", "1.0.0", "5.6.7"])).await;
    assert_eq!(
        r,
        json!({"successfulVersions": {}, "failedVersions": {
            "1.0.0": {"errorCode": "SKIPPED", "errorMessage": "Version 1.0.0 was skipped"},
            "5.6.7": {"errorCode": "NOT_FOUND", "errorMessage": "Could not find version 5.6.7"}}})
    );
    // A different 2.0.0 is already in dst.
    let r = aws.ok(&copy(&["--versions", "1.0.0", "2.0.0"])).await;
    assert_eq!(r["successfulVersions"], json!({}), "{r}");
    assert_eq!(r["failedVersions"]["2.0.0"]["errorCode"], "ALREADY_EXISTS", "{r}");
    assert_eq!(r["failedVersions"]["1.0.0"]["errorCode"], "SKIPPED", "{r}");
    // A revision that is not the source's.
    let revs = format!("1.0.0=bm90LXRoZS1yZXZpc2lvbg==,1.1.0={rev11}");
    let r = aws.ok(&copy(&["--version-revisions", &revs])).await;
    assert_eq!(r["failedVersions"]["1.0.0"]["errorCode"], "MISMATCHED_REVISION", "{r}");
    assert_eq!(r["failedVersions"]["1.1.0"]["errorCode"], "SKIPPED", "{r}");
    assert_eq!(aws.versions("cp", "dst", "cp-demo").await, ["2.0.0"], "nothing was copied");
    // versions xor versionRevisions.
    let both = format!("1.0.0={rev10}");
    let err = aws.err(&copy(&["--versions", "1.0.0", "--version-revisions", &both])).await;
    assert!(err.contains("ValidationException"), "{err}");

    // The guide's successful copy; the destination's record has the source's revision.
    let r = aws.ok(&copy(&["--versions", "1.0.0", "1.1.0"])).await;
    assert_eq!(
        r,
        json!({"successfulVersions": {
            "1.0.0": {"revision": rev10, "status": "Published"},
            "1.1.0": {"revision": rev11, "status": "Published"}}, "failedVersions": {}})
    );
    assert_eq!(rev("dst", "1.1.0").await, rev11);
    assert_eq!(aws.versions("cp", "dst", "cp-demo").await, ["1.0.0", "1.1.0", "2.0.0"]);
    // Tags on copied versions come along; src's `latest` is on 2.0.0, which was not copied.
    assert_eq!(dist_tags(&dst, &token).await, json!({"latest": "2.0.0", "beta": "1.1.0"}));

    // Upstream versions need --include-from-upstream; identical ones are left out (idempotent).
    let r = aws.ok(&copy(&["--versions", "1.1.0", "3.0.0"])).await;
    assert_eq!(r["failedVersions"]["3.0.0"]["errorCode"], "NOT_FOUND", "{r}");
    let r = aws.ok(&copy(&["--versions", "1.1.0", "3.0.0", "--include-from-upstream"])).await;
    let rev30 = rev("up", "3.0.0").await;
    assert_eq!(
        r,
        json!({"successfulVersions": {"3.0.0": {"revision": rev30, "status": "Published"}}, "failedVersions": {}})
    );
    let r = aws.ok(&copy(&["--versions", "1.1.0", "3.0.0", "--include-from-upstream"])).await;
    assert_eq!(r, json!({"successfulVersions": {}, "failedVersions": {}}));
    // up's `latest` overrides dst's.
    assert_eq!(dist_tags(&dst, &token).await, json!({"latest": "3.0.0", "beta": "1.1.0"}));
    // Copies wrote no bytes: the domain's deduplicated size is unchanged.
    assert_eq!(size().await, size_before);

    // --allow-overwrite replaces dst's different 2.0.0 (and src's `latest` comes with it).
    let r = aws.ok(&copy(&["--versions", "2.0.0", "--allow-overwrite"])).await;
    assert_eq!(r["successfulVersions"]["2.0.0"]["status"], "Published", "{r}");
    assert_eq!(rev("dst", "2.0.0").await, rev("src", "2.0.0").await);
    assert_eq!(dist_tags(&dst, &token).await["latest"], "2.0.0");

    // The copied version installs from the destination with the real npm.
    let base = depot.scratch("copy");
    let home = fresh_home(&base, "home");
    write_npmrc(&home, &dst, &token);
    let proj = base.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("package.json"), r#"{"name":"proj","version":"0.0.0"}"#).unwrap();
    npm_ok(&proj, &home, &["install", "cp-demo@beta"]).await;
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(proj.join("node_modules/cp-demo/package.json")).unwrap())
            .unwrap();
    assert_eq!(installed["version"], "1.1.0");
}
