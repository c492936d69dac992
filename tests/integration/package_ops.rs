//! The read-only package operations of issue #10 through the real `aws codeartifact`:
//! describe-package, describe-package-version, list-package-version-assets (with pagination),
//! get-package-version-asset (the bytes written to a file, the revision check),
//! list-package-version-dependencies and get-package-version-readme, for npm versions (one
//! ingested from the fake npm upstream, one published with a token) and PyPI versions
//! (ingested through the fake PyPI upstream). They read the named repository only: a version
//! only an upstream has is not found.

use std::collections::BTreeSet;
use std::time::Duration;

use md5::Md5;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::support::clients::Aws;
use crate::support::depot::TestDepot;
use crate::support::{app_and_store, eventually, pypi_app_and_store};

fn hex_of<D: Digest>(bytes: &[u8]) -> String {
    hex::encode(D::digest(bytes))
}

/// `--domain acme --repository <repo> --format <format> [--namespace ns] --package <name>`
/// followed by `extra`.
fn args<'a>(op: &'a str, repo: &'a str, format: &'a str, pkg: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![op, "--domain", "acme", "--repository", repo, "--format", format];
    match pkg.strip_prefix('@').and_then(|p| p.split_once('/')) {
        Some((ns, name)) => a.extend(["--namespace", ns, "--package", name]),
        None => a.extend(["--package", pkg]),
    }
    a.extend_from_slice(extra);
    a
}

/// GETs `url` (ingesting it through Depot) until it answers 200; returns the bytes.
async fn download(url: &str, auth: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Vec<u8> {
    let body = std::sync::Mutex::new(Vec::new());
    eventually(Duration::from_secs(60), &format!("GET {url}"), || async {
        let r = auth(reqwest::Client::new().get(url)).send().await.unwrap();
        if r.status() != 200 {
            return false;
        }
        *body.lock().unwrap() = r.bytes().await.unwrap().to_vec();
        true
    })
    .await;
    body.into_inner().unwrap()
}

/// Runs get-package-version-asset into a scratch file; returns the CLI's JSON and the bytes.
async fn get_asset(aws: &Aws, depot: &TestDepot, base: &[&str], asset: &str, extra: &[&str]) -> (Value, Vec<u8>) {
    let out = depot.scratch("assets").join(asset.replace('/', "_"));
    let out_s = out.to_str().unwrap().to_string();
    let mut a = base.to_vec();
    a.extend(["--asset", asset]);
    a.extend_from_slice(extra);
    a.push(&out_s);
    let v = aws.ok(&a).await;
    (v, std::fs::read(&out).unwrap())
}

/// An ingested npm version (debug 4.4.3 from the fake upstream, retained in `app`), a
/// published scoped one (@acme/util 1.0.0, PUT with a token) and one the real `npm publish`
/// sent (its README.md arrives as the readme): every operation's fields, the
/// asset named `package.tgz` as CodeArtifact names npm tarballs, its hashes equal to the
/// downloaded bytes', the revision check, and not-found for what only an upstream has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_versions_described_listed_and_downloaded() {
    let (_fake, depot, aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let tgz = download(&format!("{endpoint}debug/-/debug-4.4.3.tgz"), |r| r.bearer_auth(&token)).await;

    // Only upstream (never requested): not found, in the package and the version operations alike.
    for op in ["describe-package", "list-package-versions"] {
        let err = aws.err(&args(op, "app", "npm", "ms", &[])).await;
        assert!(err.contains("ResourceNotFoundException"), "{op}: {err}");
    }
    for op in [
        "describe-package-version",
        "list-package-version-assets",
        "list-package-version-dependencies",
        "get-package-version-readme",
    ] {
        let err = aws.err(&args(op, "app", "npm", "debug", &["--package-version", "2.6.9"])).await;
        assert!(err.contains("ResourceNotFoundException"), "{op} of a version only upstream: {err}");
    }

    let p = aws.ok(&args("describe-package", "app", "npm", "debug", &[])).await;
    assert_eq!(p["package"]["name"], "debug");
    assert_eq!(p["package"]["format"], "npm");

    let v443 = ["--package-version", "4.4.3"];
    let d = aws.ok(&args("describe-package-version", "app", "npm", "debug", &v443)).await["packageVersion"].clone();
    assert_eq!(d["packageName"], "debug");
    assert_eq!(d["displayName"], "debug");
    assert_eq!(d["version"], "4.4.3");
    assert_eq!(d["summary"], "Lightweight debugging utility for Node.js and the browser");
    assert_eq!(d["sourceCodeRepository"], "git://github.com/debug-js/debug.git");
    assert_eq!(d["licenses"], json!([{"name": "MIT"}]));
    assert_eq!(d["status"], "Published");
    assert_eq!(
        d["origin"],
        json!({"domainEntryPoint": {"externalConnectionName": "public:npmjs"}, "originType": "EXTERNAL"})
    );
    assert!(d["publishedTime"].is_number(), "{d}");
    let revision = d["revision"].as_str().unwrap().to_string();

    let a = aws.ok(&args("list-package-version-assets", "app", "npm", "debug", &v443)).await;
    assert_eq!(a["versionRevision"], revision.as_str());
    assert_eq!(a["version"], "4.4.3");
    let assets = a["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "{a}");
    assert_eq!(assets[0]["name"], "package.tgz");
    assert_eq!(assets[0]["size"], tgz.len());
    assert_eq!(
        assets[0]["hashes"],
        json!({
            "MD5": hex_of::<Md5>(&tgz), "SHA-1": hex_of::<Sha1>(&tgz),
            "SHA-256": hex_of::<Sha256>(&tgz), "SHA-512": hex_of::<Sha512>(&tgz),
        })
    );

    let base = args("get-package-version-asset", "app", "npm", "debug", &v443);
    let (out, bytes) = get_asset(&aws, &depot, &base, "package.tgz", &["--package-version-revision", &revision]).await;
    assert_eq!(hex_of::<Sha256>(&bytes), hex_of::<Sha256>(&tgz), "the written file holds the stored bytes");
    assert_eq!(out["assetName"], "package.tgz");
    assert_eq!(out["packageVersion"], "4.4.3");
    assert_eq!(out["packageVersionRevision"], revision.as_str());
    // The stored file name works too.
    let (_, bytes) = get_asset(&aws, &depot, &base, "debug-4.4.3.tgz", &[]).await;
    assert_eq!(bytes, tgz);
    let mut bad = base.clone();
    bad.extend(["--asset", "package.tgz", "--package-version-revision", "bm90LXRoZS1yZXZpc2lvbg==", "/dev/null"]);
    let err = aws.err(&bad).await;
    assert!(err.contains("ConflictException") && err.contains("revision"), "{err}");
    let mut missing = base.clone();
    missing.extend(["--asset", "nope.tgz", "/dev/null"]);
    assert!(aws.err(&missing).await.contains("ResourceNotFoundException"));

    let deps = aws.ok(&args("list-package-version-dependencies", "app", "npm", "debug", &v443)).await;
    assert_eq!(deps["versionRevision"], revision.as_str());
    let deps = deps["dependencies"].as_array().unwrap().clone();
    assert!(
        deps.contains(&json!({"package": "ms", "dependencyType": "regular", "versionRequirement": "^2.1.3"})),
        "{deps:?}"
    );
    assert!(
        deps.contains(&json!({"package": "mocha", "dependencyType": "dev", "versionRequirement": "^5.2.0"})),
        "{deps:?}"
    );
    assert_eq!(deps.len(), 12, "1 regular + 11 dev: {deps:?}");
    let r = aws.ok(&args("get-package-version-readme", "app", "npm", "debug", &v443)).await;
    assert_eq!(r["versionRevision"], revision.as_str());
    assert!(r.get("readme").is_none(), "the upstream manifest has no readme: {r}");

    // Published here with a token: an INTERNAL origin in `app`, its readme and dependencies.
    let readme = "# util\n\nSmall helpers.\n";
    let util_tgz = crate::support::fake_npm::make_tarball("@acme/util", "1.0.0", &[]);
    use base64::Engine as _;
    let manifest = json!({
        "name": "@acme/util", "version": "1.0.0", "description": "Acme utilities",
        "homepage": "https://example.invalid/util", "license": "ISC", "readme": readme,
        "repository": {"type": "git", "url": "git+https://example.invalid/util.git"},
        "dependencies": {"debug": "^4.4.0"}, "peerDependencies": {"@babel/core": "^7.0.0"},
        "optionalDependencies": {"ms": "2"}, "dist": {},
    });
    let body = json!({
        "name": "@acme/util", "versions": {"1.0.0": manifest}, "dist-tags": {"latest": "1.0.0"},
        "_attachments": {"util-1.0.0.tgz": {"data": base64::engine::general_purpose::STANDARD.encode(&util_tgz), "length": util_tgz.len()}},
    });
    let r = reqwest::Client::new()
        .put(format!("{endpoint}@acme%2futil"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let v100 = ["--package-version", "1.0.0"];
    let p = aws.ok(&args("describe-package", "app", "npm", "@acme/util", &[])).await;
    assert_eq!((p["package"]["namespace"].as_str(), p["package"]["name"].as_str()), (Some("acme"), Some("util")));
    let d =
        aws.ok(&args("describe-package-version", "app", "npm", "@acme/util", &v100)).await["packageVersion"].clone();
    assert_eq!(d["namespace"], "acme");
    assert_eq!(d["packageName"], "util");
    assert_eq!(d["displayName"], "@acme/util");
    assert_eq!(d["summary"], "Acme utilities");
    assert_eq!(d["homePage"], "https://example.invalid/util");
    assert_eq!(d["sourceCodeRepository"], "git+https://example.invalid/util.git");
    assert_eq!(d["licenses"], json!([{"name": "ISC"}]));
    assert_eq!(d["origin"], json!({"domainEntryPoint": {"repositoryName": "app"}, "originType": "INTERNAL"}));
    let r = aws.ok(&args("get-package-version-readme", "app", "npm", "@acme/util", &v100)).await;
    assert_eq!(r["readme"], readme);
    assert_eq!((r["namespace"].as_str(), r["package"].as_str()), (Some("acme"), Some("util")));
    let deps = aws.ok(&args("list-package-version-dependencies", "app", "npm", "@acme/util", &v100)).await;
    let deps: BTreeSet<String> = deps["dependencies"].as_array().unwrap().iter().map(Value::to_string).collect();
    let expected: BTreeSet<String> = [
        json!({"package": "debug", "dependencyType": "regular", "versionRequirement": "^4.4.0"}),
        json!({"namespace": "babel", "package": "core", "dependencyType": "peer", "versionRequirement": "^7.0.0"}),
        json!({"package": "ms", "dependencyType": "optional", "versionRequirement": "2"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    assert_eq!(deps, expected);
    let base = args("get-package-version-asset", "app", "npm", "@acme/util", &v100);
    let (_, bytes) = get_asset(&aws, &depot, &base, "package.tgz", &[]).await;
    assert_eq!(bytes, util_tgz);
    // The real npm: its publish body carries the README file as the manifest's `readme`.
    let home = crate::support::clients::fresh_home(&depot.scratch("npm"), "home");
    crate::support::clients::write_npmrc(&home, &endpoint, &token);
    let dir = depot.scratch("npm").join("greet");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"greet-acme","version":"0.1.0","description":"Says hello","license":"MIT","dependencies":{"ms":"^2.1.3"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("index.js"), "module.exports = 'hello';").unwrap();
    std::fs::write(dir.join("README.md"), "# greet-acme\n\nSays hello.\n").unwrap();
    crate::support::clients::npm_ok(&dir, &home, &["publish"]).await;
    let v010 = ["--package-version", "0.1.0"];
    let r = aws.ok(&args("get-package-version-readme", "app", "npm", "greet-acme", &v010)).await;
    assert_eq!(r["readme"].as_str().map(str::trim), Some("# greet-acme\n\nSays hello."), "{r}");
    let d =
        aws.ok(&args("describe-package-version", "app", "npm", "greet-acme", &v010)).await["packageVersion"].clone();
    assert_eq!((d["summary"].as_str(), d["origin"]["originType"].as_str()), (Some("Says hello"), Some("INTERNAL")));

    // `store` (app's upstream) never saw it: these operations ignore the repository graph anyway.
    let err = aws.err(&args("describe-package-version", "store", "npm", "@acme/util", &v100)).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

/// The corpus's declared SHA-256 of every file of a PyPI release.
fn corpus_files(project: &str, version: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(crate::support::fixtures().join("pypi/index.json")).unwrap();
    let index: Value = serde_json::from_str(&text).unwrap();
    let stem = format!("{}-{version}", project.replace('-', "_"));
    index[project]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let name = f["filename"].as_str()?;
            (name.starts_with(&format!("{stem}-")) || name.starts_with(&format!("{stem}.")))
                .then(|| (name.to_string(), f["sha256"].as_str().unwrap().to_string()))
        })
        .collect()
}

/// PyPI versions ingested through the fake upstream: names in any spelling, the core
/// metadata's fields (summary, license, source URL), `Requires-Dist` as dependencies, the
/// description as readme, charset-normalizer 3.5.2's 11 files over pages of 4, a download
/// whose bytes match the corpus, the revision check, and not-found for a release only
/// upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_versions_described_listed_and_downloaded() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let files = corpus_files("charset-normalizer", "3.5.2");
    assert_eq!(files.len(), 11, "{files:?}");
    let wheel = "charset_normalizer-3.5.2-py3-none-any.whl";
    let auth = |r: reqwest::RequestBuilder| r.basic_auth("aws", Some(&token));
    let bytes = download(&format!("{endpoint}simple/charset-normalizer/3.5.2/{wheel}"), auth).await;
    download(&format!("{endpoint}simple/requests/2.34.2/requests-2.34.2-py3-none-any.whl"), auth).await;

    let p = aws.ok(&args("describe-package", "app", "pypi", "Charset_Normalizer", &[])).await;
    let listed = aws.ok(&args("list-package-versions", "app", "pypi", "Charset.Normalizer", &[])).await;
    assert_eq!(listed["versions"][0]["version"], "3.5.2", "any spelling lists the project: {listed}");
    // Its first version came from the external connection: publish BLOCK, upstream ALLOW.
    let origin = json!({"restrictions": {"publish": "BLOCK", "upstream": "ALLOW"}});
    assert_eq!(p["package"], json!({"format": "pypi", "name": "charset-normalizer", "originConfiguration": origin}));
    let v = ["--package-version", "3.5.2"];
    let d = aws.ok(&args("describe-package-version", "app", "pypi", "Charset.Normalizer", &v)).await["packageVersion"]
        .clone();
    assert_eq!(d["packageName"], "charset-normalizer");
    assert_eq!(d["displayName"], "charset-normalizer");
    assert!(d["summary"].as_str().unwrap().starts_with("The Real First Universal Charset Detector"), "{d}");
    assert_eq!(d["licenses"], json!([{"name": "MIT"}]));
    assert_eq!(d["sourceCodeRepository"], "https://github.com/jawah/charset_normalizer");
    assert_eq!(
        d["origin"],
        json!({"domainEntryPoint": {"externalConnectionName": "public:pypi"}, "originType": "EXTERNAL"})
    );
    assert_eq!(d["status"], "Published");
    let revision = d["revision"].as_str().unwrap().to_string();

    // Pages of 4 by hand (4, 4, 3: `--max-results` turns the CLI's paging off), then the CLI's
    // own paging (`--page-size 4`, sent as maxResults) over the same pages.
    let mut seen = Vec::new();
    let mut token_arg: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut extra = vec!["--package-version", "3.5.2", "--max-results", "4", "--no-paginate"];
        if let Some(t) = &token_arg {
            extra.extend(["--next-token", t.as_str()]);
        }
        let page = aws.ok(&args("list-package-version-assets", "app", "pypi", "charset-normalizer", &extra)).await;
        assert_eq!(page["versionRevision"], revision.as_str());
        let assets = page["assets"].as_array().unwrap();
        pages.push(assets.len());
        for a in assets {
            seen.push((a["name"].as_str().unwrap().to_string(), a["hashes"]["SHA-256"].as_str().unwrap().to_string()));
            for h in ["MD5", "SHA-1", "SHA-512"] {
                assert!(a["hashes"][h].is_string(), "{h} of {a}");
            }
        }
        match page["nextToken"].as_str() {
            Some(t) => token_arg = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, vec![4, 4, 3]);
    let mut want = files.clone();
    want.sort();
    seen.sort();
    assert_eq!(seen, want, "every file once, with the corpus's SHA-256");
    let all = aws
        .ok(&args(
            "list-package-version-assets",
            "app",
            "pypi",
            "charset-normalizer",
            &["--package-version", "3.5.2", "--page-size", "4"],
        ))
        .await;
    assert_eq!(all["assets"].as_array().unwrap().len(), 11, "{all}");

    let base = args("get-package-version-asset", "app", "pypi", "charset-normalizer", &v);
    let (out, got) = get_asset(&aws, &depot, &base, wheel, &["--package-version-revision", &revision]).await;
    let declared = &files.iter().find(|(n, _)| n == wheel).unwrap().1;
    assert_eq!(&hex_of::<Sha256>(&got), declared);
    assert_eq!(got, bytes);
    assert_eq!(out["assetName"], wheel);
    assert_eq!(out["packageVersion"], "3.5.2");
    assert_eq!(out["packageVersionRevision"], revision.as_str());
    let mut bad = base.clone();
    bad.extend(["--asset", wheel, "--package-version-revision", "bm90LXRoZS1yZXZpc2lvbg==", "/dev/null"]);
    let err = aws.err(&bad).await;
    assert!(err.contains("ConflictException"), "{err}");

    // requests 2.34.2: Requires-Dist (markers kept, names normalised), the description as readme.
    let v = ["--package-version", "2.34.2"];
    let d = aws.ok(&args("describe-package-version", "app", "pypi", "Requests", &v)).await["packageVersion"].clone();
    assert_eq!(d["summary"], "Python HTTP for Humans.");
    assert_eq!(d["licenses"], json!([{"name": "Apache-2.0"}]));
    assert_eq!(d["sourceCodeRepository"], "https://github.com/psf/requests");
    let deps = aws.ok(&args("list-package-version-dependencies", "app", "pypi", "requests", &v)).await;
    let deps = deps["dependencies"].as_array().unwrap().clone();
    assert_eq!(deps.len(), 6, "{deps:?}");
    assert!(deps.contains(&json!({"package": "charset-normalizer", "versionRequirement": "<4,>=2"})), "{deps:?}");
    assert!(deps.contains(&json!({"package": "certifi", "versionRequirement": ">=2023.5.7"})), "{deps:?}");
    assert!(
        deps.contains(&json!({"package": "pysocks", "versionRequirement": "!=1.5.7,>=1.5.6; extra == \"socks\""})),
        "{deps:?}"
    );
    let r = aws.ok(&args("get-package-version-readme", "app", "pypi", "requests", &v)).await;
    assert!(r["readme"].as_str().unwrap().starts_with("# Requests"), "{r}");
    assert_eq!(r["package"], "requests");

    // A release only the upstream has (2.32.5 was never requested).
    let v = ["--package-version", "2.32.5"];
    for op in ["describe-package-version", "list-package-version-assets", "get-package-version-readme"] {
        let err = aws.err(&args(op, "app", "pypi", "requests", &v)).await;
        assert!(err.contains("ResourceNotFoundException"), "{op}: {err}");
    }
    let mut get = args("get-package-version-asset", "app", "pypi", "requests", &v);
    get.extend(["--asset", "requests-2.32.5-py3-none-any.whl", "/dev/null"]);
    assert!(aws.err(&get).await.contains("ResourceNotFoundException"));
    let err = aws.err(&args("describe-package", "app", "pypi", "urllib3", &[])).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}
