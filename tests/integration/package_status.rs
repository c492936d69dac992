//! The status and delete operations of issue #10 through the real `aws codeartifact`:
//! update-package-versions-status (the guide's mismatched-status, mismatched-revision and
//! skipped examples, target validation), delete-package-versions (with `--expected-status`,
//! then a republish), delete-package; and what each status does on the wire, seen by the
//! real `npm` and `pip`: Unlisted is hidden from packuments, pages, version lists and
//! range/tag resolution but downloadable by exact file URL; Archived is neither, and cannot
//! be republished.

use serde_json::{json, Value};

use crate::support::clients::{fresh_home, npm, npm_ok, write_npmrc};
use crate::support::pypi_app_and_store;
use crate::support::python::{index_url_with_token, Venv};
use crate::support::{app_and_store, eventually};

/// `<op> --domain acme --repository app --format <f> --package <p>` then `extra`.
fn args<'a>(op: &'a str, format: &'a str, pkg: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![op, "--domain", "acme", "--repository", "app", "--format", format, "--package", pkg];
    a.extend_from_slice(extra);
    a
}

/// An npm publish by HTTP with a token; returns the status.
pub(crate) async fn raw_publish(endpoint: &str, token: &str, name: &str, version: &str) -> u16 {
    use base64::Engine as _;
    let tgz = crate::support::fake_npm::make_tarball(name, version, &[]);
    let body = json!({
        "name": name, "versions": {version: {"name": name, "version": version, "dist": {}}},
        "dist-tags": {"latest": version},
        "_attachments": {format!("{name}-{version}.tgz"): {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let r =
        reqwest::Client::new().put(format!("{endpoint}{name}")).bearer_auth(token).json(&body).send().await.unwrap();
    r.status().as_u16()
}

async fn get_status(url: &str, token: &str) -> u16 {
    reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

/// The guide's examples and the npm wire effects, on package `st-demo` published in `app`
/// (1.0.0, 1.1.0, then 2.0.0 as `latest`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_status_changes_deletes_and_their_wire_effects() {
    let (_fake, depot, aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;
    for v in ["1.0.0", "1.1.0", "2.0.0"] {
        assert_eq!(raw_publish(&endpoint, &token, "st-demo", v).await, 201, "publish {v}");
    }
    let revision = |d: Value| d["packageVersion"]["revision"].as_str().unwrap().to_string();
    let rev10 =
        revision(aws.ok(&args("describe-package-version", "npm", "st-demo", &["--package-version", "1.0.0"])).await);
    let rev11 =
        revision(aws.ok(&args("describe-package-version", "npm", "st-demo", &["--package-version", "1.1.0"])).await);
    let update = |extra: &'static [&'static str]| args("update-package-versions-status", "npm", "st-demo", extra);

    // Mismatched status: both fail, nothing changes.
    let r = aws
        .ok(&update(&["--versions", "1.1.0", "1.0.0", "--target-status", "Archived", "--expected-status", "Unlisted"]))
        .await;
    assert_eq!(r["successfulVersions"], json!({}));
    for v in ["1.0.0", "1.1.0"] {
        assert_eq!(
            r["failedVersions"][v],
            json!({"errorCode": "MISMATCHED_STATUS", "errorMessage": "current status: Published, expected status: Unlisted"})
        );
    }
    // Mismatched revision: that version fails, the other is skipped, nothing changes.
    let revs = format!("1.1.0=bm90LXRoZS1yZXZpc2lvbg==,1.0.0={rev10}");
    let mut a = args("update-package-versions-status", "npm", "st-demo", &["--version-revisions"]);
    a.extend([revs.as_str(), "--versions", "1.1.0", "1.0.0", "--target-status", "Archived"]);
    let r = aws.ok(&a).await;
    assert_eq!(r["successfulVersions"], json!({}));
    assert_eq!(r["failedVersions"]["1.0.0"]["errorCode"], "SKIPPED", "{r}");
    assert_eq!(r["failedVersions"]["1.1.0"]["errorCode"], "MISMATCHED_REVISION", "{r}");
    // A missing version fails as NOT_FOUND and skips the rest.
    let r = aws.ok(&update(&["--versions", "1.0.0", "9.9.9", "--target-status", "Unlisted"])).await;
    assert_eq!(r["failedVersions"]["9.9.9"]["errorCode"], "NOT_FOUND", "{r}");
    assert_eq!(r["failedVersions"]["1.0.0"]["errorCode"], "SKIPPED", "{r}");
    assert_eq!(aws.versions("acme", "app", "st-demo").await, ["1.0.0", "1.1.0", "2.0.0"], "all still Published");
    // Unfinished and Disposed are not targets.
    for t in ["Disposed", "Unfinished"] {
        let err = aws
            .err(&args(
                "update-package-versions-status",
                "npm",
                "st-demo",
                &["--versions", "1.0.0", "--target-status", t],
            ))
            .await;
        assert!(err.contains("ValidationException"), "{t}: {err}");
    }

    // Archive 1.0.0 (with the right revision), unlist 1.1.0: revisions unchanged.
    let mut a = args("update-package-versions-status", "npm", "st-demo", &["--version-revisions"]);
    let ok_rev = format!("1.0.0={rev10}");
    a.extend([ok_rev.as_str(), "--versions", "1.0.0", "--target-status", "Archived"]);
    let r = aws.ok(&a).await;
    assert_eq!(
        r,
        json!({"successfulVersions": {"1.0.0": {"revision": rev10, "status": "Archived"}}, "failedVersions": {}})
    );
    let r = aws.ok(&update(&["--versions", "1.1.0", "--target-status", "Unlisted"])).await;
    assert_eq!(r["successfulVersions"]["1.1.0"], json!({"revision": rev11, "status": "Unlisted"}));
    let d = aws.ok(&args("describe-package-version", "npm", "st-demo", &["--package-version", "1.1.0"])).await;
    assert_eq!(d["packageVersion"]["status"], "Unlisted");
    assert_eq!(revision(d), rev11);

    // The management listing: default shows Published only; the filter finds the others.
    assert_eq!(aws.versions("acme", "app", "st-demo").await, ["2.0.0"]);
    let l = aws.ok(&args("list-package-versions", "npm", "st-demo", &["--status", "Unlisted"])).await;
    assert_eq!(l["versions"][0]["version"], "1.1.0", "{l}");

    // The wire, with the real npm: neither version is listed or resolvable by range.
    let base = depot.scratch("status");
    let home = fresh_home(&base, "home");
    write_npmrc(&home, &endpoint, &token);
    let out = npm_ok(&base, &home, &["view", "st-demo", "versions", "--json"]).await;
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!(["2.0.0"]), "npm view: {out}");
    let proj = base.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("package.json"), r#"{"name":"proj","version":"0.0.0"}"#).unwrap();
    let out = npm(&proj, &home, &["install", "st-demo@^1.0.0"]).await;
    assert!(!out.status.success(), "^1.0.0 must not resolve to the unlisted 1.1.0");
    // Exact file downloads: the unlisted one works, the archived one does not.
    assert_eq!(get_status(&format!("{endpoint}st-demo/-/st-demo-1.1.0.tgz"), &token).await, 200);
    assert_eq!(get_status(&format!("{endpoint}st-demo/-/st-demo-1.0.0.tgz"), &token).await, 404);
    // An archived version cannot be republished.
    assert_eq!(raw_publish(&endpoint, &token, "st-demo", "1.0.0").await, 409);
    // Back to Published: npm sees it again.
    aws.ok(&update(&["--versions", "1.1.0", "--target-status", "Published", "--expected-status", "Unlisted"])).await;
    npm_ok(&proj, &home, &["install", "st-demo@^1.0.0"]).await;
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(proj.join("node_modules/st-demo/package.json")).unwrap())
            .unwrap();
    assert_eq!(installed["version"], "1.1.0");

    // Delete with an expected status: a mismatch changes nothing, a match deletes.
    let del = |extra: &'static [&'static str]| args("delete-package-versions", "npm", "st-demo", extra);
    let r = aws.ok(&del(&["--versions", "1.0.0", "--expected-status", "Published"])).await;
    assert_eq!(r["failedVersions"]["1.0.0"]["errorCode"], "MISMATCHED_STATUS", "{r}");
    let r = aws.ok(&del(&["--versions", "1.0.0", "--expected-status", "Archived"])).await;
    assert_eq!(
        r,
        json!({"successfulVersions": {"1.0.0": {"revision": rev10, "status": "Deleted"}}, "failedVersions": {}})
    );
    let err = aws.err(&args("describe-package-version", "npm", "st-demo", &["--package-version", "1.0.0"])).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    // After a delete the version can be published again.
    assert_eq!(raw_publish(&endpoint, &token, "st-demo", "1.0.0").await, 201);
    let out = npm_ok(&base, &home, &["view", "st-demo@1.0.0", "version"]).await;
    assert_eq!(out.trim(), "1.0.0");

    // Delete the package: gone from the listings and the wire.
    let r = aws.ok(&args("delete-package", "npm", "st-demo", &[])).await;
    assert_eq!(r["deletedPackage"]["package"], "st-demo", "{r}");
    assert_eq!(r["deletedPackage"]["format"], "npm", "{r}");
    let err = aws.err(&args("describe-package", "npm", "st-demo", &[])).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    assert!(!aws.package_names("acme", "app").await.contains(&"st-demo".to_string()));
    assert_eq!(get_status(&format!("{endpoint}st-demo"), &token).await, 404);
    let err = aws.err(&args("delete-package", "npm", "st-demo", &[])).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

/// PyPI: idna 3.20 brought into `app` by pip, then unlisted (the page and pip's resolution
/// drop it; its file URL still downloads) and archived (the file URL is 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_unlisted_and_archived_on_the_wire() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let index = index_url_with_token(&format!("{endpoint}simple/"), &token);
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    venv.pip_ok(&["install", "--index-url", &index, "idna==3.20"]).await;
    eventually(std::time::Duration::from_secs(30), "idna 3.20 stored in app", || {
        let aws = aws.clone();
        async move { aws.pypi_versions("acme", "app", "idna").await == ["3.20"] }
    })
    .await;
    let page = || async {
        let r = reqwest::Client::new().get(format!("{endpoint}simple/idna/")).bearer_auth(&token).send().await.unwrap();
        r.text().await.unwrap()
    };
    let wheel = format!("{endpoint}simple/idna/3.20/idna-3.20-py3-none-any.whl");
    assert!(page().await.contains("idna-3.20-py3-none-any.whl"));

    let set = |t: &'static str| {
        args("update-package-versions-status", "pypi", "IDNA", &["--versions", "3.20", "--target-status"])
            .into_iter()
            .chain([t])
            .collect::<Vec<_>>()
    };
    let r = aws.ok(&set("Unlisted")).await;
    assert_eq!(r["successfulVersions"]["3.20"]["status"], "Unlisted", "{r}");
    assert!(!page().await.contains("idna-3.20"), "the unlisted version left the page");
    let fresh = Venv::create(&depot.scratch("pip"), "fresh").await;
    let out = fresh.pip(&["install", "--no-cache-dir", "--index-url", &index, "idna"]).await;
    assert!(!out.status.success(), "pip must not resolve `idna` to the unlisted 3.20");
    assert_eq!(get_status(&wheel, &token).await, 200, "exact file download of an unlisted version");

    aws.ok(&set("Archived")).await;
    assert!(!page().await.contains("idna-3.20"));
    assert_eq!(get_status(&wheel, &token).await, 404, "an archived version is not downloadable");
    assert!(aws.pypi_versions("acme", "app", "idna").await.is_empty(), "default listing hides it");
}
