//! Package origin controls with the real clients: the first-origin defaults that keep an
//! internally published package from absorbing a public one of the same name (the `levn`
//! case), the `open` switch that restores the older behaviour, put-package-origin-configuration
//! (also on a package with no versions), publish=BLOCK refusing `npm publish` and `twine
//! upload`, upstream=BLOCK hiding upstream versions from npm and pip, and list-packages'
//! `--publish` / `--upstream` filters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Command;

use crate::support::clients::{fresh_home, npm, npm_ok, write_npmrc, Aws};
use crate::support::fake_npm::make_tarball;
use crate::support::python::{index_url_with_token, Venv};
use crate::support::{app_and_store, eventually, fixtures, pypi_app_and_store};

fn package_dir(base: &Path, name: &str, version: &str) -> PathBuf {
    let dir = base.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), format!(r#"{{"name":"{name}","version":"{version}","main":"index.js"}}"#))
        .unwrap();
    std::fs::write(dir.join("index.js"), format!("module.exports = {version:?};")).unwrap();
    dir
}

fn project(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), r#"{"name":"p","version":"1.0.0","private":true}"#).unwrap();
    dir
}

fn installed_version(proj: &Path, name: &str) -> String {
    let v: Value =
        serde_json::from_slice(&std::fs::read(proj.join("node_modules").join(name).join("package.json")).unwrap())
            .unwrap();
    v["version"].as_str().unwrap().to_string()
}

/// `npm view <name> versions --json`, as a list (npm prints a lone version as a string).
async fn npm_versions(dir: &Path, home: &Path, name: &str) -> Vec<String> {
    let out = npm(dir, home, &["view", name, "versions", "--json"]).await;
    if !out.status.success() {
        eprintln!("npm view {name}: {}", String::from_utf8_lossy(&out.stderr));
        return vec![];
    }
    match serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null) {
        Value::String(s) => vec![s],
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => vec![],
    }
}

fn pkg_args<'a>(op: &'a str, repo: &'a str, format: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![op, "--domain", "acme", "--repository", repo, "--format", format, "--package", name]
}

/// The restrictions describe-package reports, as (publish, upstream).
async fn restrictions(aws: &Aws, repo: &str, format: &str, name: &str) -> (String, String) {
    let p = aws.ok(&pkg_args("describe-package", repo, format, name)).await;
    let r = &p["package"]["originConfiguration"]["restrictions"];
    (r["publish"].as_str().unwrap_or_default().into(), r["upstream"].as_str().unwrap_or_default().into())
}

async fn put_origin(aws: &Aws, repo: &str, format: &str, name: &str, publish: &str, upstream: &str) -> Value {
    let spec = format!("publish={publish},upstream={upstream}");
    let mut args = pkg_args("put-package-origin-configuration", repo, format, name);
    args.extend(["--restrictions", &spec]);
    aws.ok(&args).await
}

/// list-packages names with the given extra arguments, sorted.
async fn listed(aws: &Aws, repo: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["list-packages", "--domain", "acme", "--repository", repo];
    args.extend(extra);
    let v = aws.ok(&args).await;
    let mut names: Vec<String> =
        v["packages"].as_array().unwrap().iter().map(|p| p["package"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

/// First-origin (the default): `levn@0.0.1` published to `app` gets publish ALLOW / upstream
/// BLOCK; when `levn@0.4.1` appears on the public registry, `store` shows it but `app` keeps
/// installing and showing 0.0.1 only. A package that first came through the upstream gets
/// publish BLOCK / upstream ALLOW, so `npm publish` of it is refused with 403. On main, `app`
/// absorbs 0.4.1 (the `npm view` assertion fails) and describe-package has no
/// originConfiguration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_origin_keeps_an_internal_package_internal() {
    // npm reads the packument before it publishes: the store then caches "no such package
    // upstream", for a second only.
    let (fake, depot, aws) = app_and_store(|b| b.env("DEPOT_METADATA_MAX_AGE_NPM_SECS", "1")).await;
    let base = depot.scratch("origin");
    let token = aws.token("acme").await;
    let home = fresh_home(&base, "home");
    write_npmrc(&home, &depot.npm_endpoint("acme", "app"), &token);
    let store_home = fresh_home(&base, "store-home");
    write_npmrc(&store_home, &depot.npm_endpoint("acme", "store"), &token);

    npm_ok(&package_dir(&base, "levn", "0.0.1"), &home, &["publish"]).await;
    assert_eq!(restrictions(&aws, "app", "npm", "levn").await, ("ALLOW".into(), "BLOCK".into()));

    // The same name appears upstream with a higher version: the store sees it ...
    fake.publish_version("levn", "0.4.1", json!({}), make_tarball("levn", "0.4.1", &[]), None);
    eventually(Duration::from_secs(30), "the store shows levn 0.4.1", || async {
        npm_versions(&base, &store_home, "levn").await == ["0.4.1"]
    })
    .await;
    // ... app does not: not in its packument, not picked for `*`, not installable by version.
    assert_eq!(npm_versions(&base, &home, "levn").await, ["0.0.1"]);
    let proj = project(&base, "levn-proj");
    npm_ok(&proj, &home, &["install", "levn@*"]).await;
    assert_eq!(installed_version(&proj, "levn"), "0.0.1");
    let other = project(&base, "levn-exact");
    assert!(!npm(&other, &home, &["install", "levn@0.4.1"]).await.status.success());
    assert_eq!(aws.versions("acme", "app", "levn").await, ["0.0.1"]);

    // A package whose first version came through the upstream: publish BLOCK, upstream ALLOW,
    // both where it was retained (app) and where it was ingested (store).
    let proj = project(&base, "ms-proj");
    npm_ok(&proj, &home, &["install", "ms@2.1.3"]).await;
    assert_eq!(restrictions(&aws, "app", "npm", "ms").await, ("BLOCK".into(), "ALLOW".into()));
    assert_eq!(restrictions(&aws, "store", "npm", "ms").await, ("BLOCK".into(), "ALLOW".into()));
    let out = npm(&package_dir(&base, "ms", "9.0.0"), &home, &["publish"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("403") && err.contains("origin configuration"), "{err}");
    assert_eq!(aws.versions("acme", "app", "ms").await, ["2.1.3"]);

    // list-packages reports each package's configuration and filters on it.
    let v = aws.ok(&["list-packages", "--domain", "acme", "--repository", "app", "--package-prefix", "levn"]).await;
    assert_eq!(
        v["packages"][0]["originConfiguration"],
        json!({"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}})
    );
    assert_eq!(listed(&aws, "app", &["--publish", "BLOCK"]).await, ["ms"]);
    assert_eq!(listed(&aws, "app", &["--upstream", "BLOCK"]).await, ["levn"]);
    assert_eq!(listed(&aws, "app", &["--publish", "ALLOW", "--upstream", "BLOCK"]).await, ["levn"]);
    assert!(listed(&aws, "app", &["--publish", "ALLOW", "--upstream", "ALLOW"]).await.is_empty());
    assert_eq!(listed(&aws, "app", &[]).await, ["levn", "ms"]);
    let err = aws.err(&["list-packages", "--domain", "acme", "--repository", "app", "--publish", "MAYBE"]).await;
    assert!(err.contains("ValidationException"), "{err}");
}

/// `origin_defaults = "open"`: the older behaviour — both ALLOW, `app` takes `levn@0.4.1`
/// from upstream once it appears, and publishing a version the upstream has is a 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_defaults_keep_the_older_behaviour() {
    let (fake, depot, aws) = app_and_store(|b| {
        b.config("[packages]\norigin_defaults = \"open\"\n").env("DEPOT_METADATA_MAX_AGE_NPM_SECS", "1")
    })
    .await;
    let base = depot.scratch("origin");
    let home = fresh_home(&base, "home");
    write_npmrc(&home, &depot.npm_endpoint("acme", "app"), &aws.token("acme").await);

    npm_ok(&package_dir(&base, "levn", "0.0.1"), &home, &["publish"]).await;
    assert_eq!(restrictions(&aws, "app", "npm", "levn").await, ("ALLOW".into(), "ALLOW".into()));
    fake.publish_version("levn", "0.4.1", json!({}), make_tarball("levn", "0.4.1", &[]), None);
    // npm's read before the publish, and the publish's check, cached "no such package
    // upstream" for a second.
    eventually(Duration::from_secs(30), "app shows levn 0.4.1", || async {
        npm_versions(&base, &home, "levn").await.contains(&"0.4.1".to_string())
    })
    .await;
    let proj = project(&base, "levn-proj");
    npm_ok(&proj, &home, &["install", "levn@*"]).await;
    assert_eq!(installed_version(&proj, "levn"), "0.4.1");
    // The 409 rule holds where the upstream is allowed.
    let out = npm(&package_dir(&base, "ms", "2.1.3"), &home, &["publish"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && (err.contains("409") || err.contains("cannot publish over")), "{err}");
}

/// put-package-origin-configuration on a package `app` does not have creates it with no
/// versions (describe-package, list-packages show it); upstream=BLOCK then hides the
/// upstream's versions from npm, ALLOW brings them back (the ready packument is rebuilt), and
/// publish=BLOCK set before any publish refuses one until it is lifted. On main the
/// operation does not exist (UnknownOperationException).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_origin_configuration_before_any_version() {
    let (_fake, depot, aws) = app_and_store(|b| b).await;
    let base = depot.scratch("origin");
    let home = fresh_home(&base, "home");
    write_npmrc(&home, &depot.npm_endpoint("acme", "app"), &aws.token("acme").await);

    let r = put_origin(&aws, "app", "npm", "ms", "ALLOW", "BLOCK").await;
    assert_eq!(r, json!({"originConfiguration": {"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}}}));
    assert_eq!(restrictions(&aws, "app", "npm", "ms").await, ("ALLOW".into(), "BLOCK".into()));
    assert_eq!(listed(&aws, "app", &[]).await, ["ms"]);
    assert!(aws.versions("acme", "app", "ms").await.is_empty());
    assert!(npm_versions(&base, &home, "ms").await.is_empty());
    assert!(!npm(&project(&base, "blocked"), &home, &["install", "ms@2.1.3"]).await.status.success());
    let err = aws.err(&pkg_args("describe-package", "store", "npm", "ms")).await;
    assert!(err.contains("ResourceNotFoundException"), "nothing reached the store: {err}");

    put_origin(&aws, "app", "npm", "ms", "BLOCK", "ALLOW").await;
    assert!(npm_versions(&base, &home, "ms").await.contains(&"2.1.3".to_string()));
    let proj = project(&base, "allowed");
    npm_ok(&proj, &home, &["install", "ms@2.1.3"]).await;
    assert_eq!(installed_version(&proj, "ms"), "2.1.3");
    // The configuration set stays when the first version arrives.
    assert_eq!(restrictions(&aws, "app", "npm", "ms").await, ("BLOCK".into(), "ALLOW".into()));

    // publish=BLOCK before the first publish, then lifted.
    put_origin(&aws, "app", "npm", "mine", "BLOCK", "BLOCK").await;
    let dir = package_dir(&base, "mine", "1.0.0");
    let out = npm(&dir, &home, &["publish"]).await;
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("403"));
    put_origin(&aws, "app", "npm", "mine", "ALLOW", "BLOCK").await;
    npm_ok(&dir, &home, &["publish"]).await;
    assert_eq!(aws.versions("acme", "app", "mine").await, ["1.0.0"]);

    let mut bad = pkg_args("put-package-origin-configuration", "app", "npm", "ms");
    bad.extend(["--restrictions", "publish=MAYBE,upstream=ALLOW"]);
    assert!(aws.err(&bad).await.contains("ValidationException"));
}

const PIP_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// The file names a simple page lists (none when the page is missing).
async fn page_files(endpoint: &str, project: &str, token: &str) -> Vec<String> {
    let r = reqwest::Client::new()
        .get(format!("{endpoint}simple/{project}/"))
        .basic_auth("aws", Some(token))
        .header("Accept", PIP_JSON)
        .send()
        .await
        .unwrap();
    if r.status() != 200 {
        return vec![];
    }
    let v: Value = r.json().await.unwrap();
    v["files"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap().to_string()).collect()
}

async fn twine_upload(home: &Path, endpoint: &str, token: &str, file: &Path) -> String {
    let dir = std::env::var("DEPOT_TEST_PYCLIENTS").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/depot-test-pyclients/bin")
    });
    let out = Command::new(dir.join("twine"))
        .args(["upload", "--verbose", "--disable-progress-bar", "--repository-url", endpoint, "-u", "aws", "-p", token])
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TWINE_NON_INTERACTIVE", "1")
        .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        .output()
        .await
        .expect("run twine (scripts/test installs it)");
    assert!(!out.status.success(), "twine upload unexpectedly succeeded");
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// PyPI: upstream=BLOCK on `certifi` in `app` empties its simple page there and pip cannot
/// install it (the store still lists it); ALLOW brings the files back. `idna` installed
/// through `app` gets publish BLOCK there, and `twine upload` of an idna file is refused with
/// 403. On main the operation does not exist and the upload gets 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_upstream_block_and_publish_block() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let app = depot.pypi_endpoint("acme", "app");
    let store = depot.pypi_endpoint("acme", "store");
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    let index = index_url_with_token(&format!("{app}simple/"), &token);

    put_origin(&aws, "app", "pypi", "certifi", "ALLOW", "BLOCK").await;
    assert!(page_files(&app, "certifi", &token).await.is_empty());
    assert!(!page_files(&store, "certifi", &token).await.is_empty());
    assert!(!venv.pip(&["install", "--no-deps", "--index-url", &index, "certifi"]).await.status.success());
    put_origin(&aws, "app", "pypi", "certifi", "ALLOW", "ALLOW").await;
    assert!(page_files(&app, "certifi", &token).await.contains(&"certifi-2026.10.18-py3-none-any.whl".to_string()));
    venv.pip_ok(&["install", "--no-deps", "--index-url", &index, "certifi"]).await;

    venv.pip_ok(&["install", "--no-deps", "--index-url", &index, "idna==3.20"]).await;
    assert_eq!(restrictions(&aws, "app", "pypi", "idna").await, ("BLOCK".into(), "ALLOW".into()));
    let wheel = fixtures().join("pypi/files/idna-3.20-py3-none-any.whl");
    let out = twine_upload(&venv.home, &app, &token, &wheel).await;
    // twine wraps the server's message over several lines.
    let words: String = out.split_whitespace().collect();
    assert!(words.contains("403Forbidden") && words.contains("itsoriginconfigurationblocksdirectpublishing"), "{out}");
}
