//! Package-version events: a consumer reading the SigV4-signed feed sees every change (npm
//! publish, ingestion from the fake upstream, retention through an upstream, copy, status
//! change, delete, PyPI uploads) exactly once, in order, with the guide's fields; a webhook
//! target that is down while changes happen and Depot restarts still gets every event, in
//! order, once deduplicated by id; and the feed resumes from a cursor taken before the restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::clients::{fresh_home, npm_ok, write_npmrc, Aws};
use crate::support::depot::{TestDepot, AKID, SECRET};
use crate::support::fake_npm::FakeNpm;
use crate::support::webhook::WebhookReceiver;
use crate::support::{eventually, sigv4};

/// One page of the feed after `after` (the start when `None`): the events and `nextCursor`.
async fn feed(depot: &TestDepot, after: Option<&str>) -> (Vec<Value>, String) {
    let mut q = vec![("max-results", "1000".to_string())];
    if let Some(a) = after {
        q.push(("after", a.to_string()));
    }
    let r = sigv4::signed_get(&depot.url, "/v1/depot/events", &q, &depot.region, AKID, SECRET).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    (v["events"].as_array().unwrap().clone(), v["nextCursor"].as_str().unwrap().to_string())
}

/// An event in one line: repository, format, package, version, operation, state, sequence
/// number, assets added/removed/updated, metadata and status flags.
fn line(e: &Value) -> String {
    let d = &e["detail"];
    let c = &d["changes"];
    format!(
        "{} {} {} {} {} {} #{} +{}-{}~{} m={} s={}",
        d["repositoryName"].as_str().unwrap(),
        d["packageFormat"].as_str().unwrap(),
        d["packageName"].as_str().unwrap(),
        d["packageVersion"].as_str().unwrap(),
        d["operationType"].as_str().unwrap(),
        d["packageVersionState"].as_str().unwrap(),
        d["sequenceNumber"],
        c["assetsAdded"],
        c["assetsRemoved"],
        c["assetsUpdated"],
        c["metadataUpdated"],
        c["statusChanged"],
    )
}

fn package_dir(base: &Path, name: &str, version: &str) -> PathBuf {
    let dir = base.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), format!(r#"{{"name":"{name}","version":"{version}","main":"index.js"}}"#))
        .unwrap();
    std::fs::write(dir.join("index.js"), format!("module.exports = {version:?};")).unwrap();
    dir
}

async fn twine_upload(home: &Path, endpoint: &str, token: &str, file: &Path) {
    let dir = std::env::var("DEPOT_TEST_PYCLIENTS").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/depot-test-pyclients/bin")
    });
    let out = tokio::process::Command::new(dir.join("twine"))
        .args(["upload", "--disable-progress-bar", "--repository-url", endpoint, "-u", "aws", "-p", token])
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TWINE_NON_INTERACTIVE", "1")
        .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        .output()
        .await
        .expect("twine (DEPOT_TEST_PYCLIENTS)");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

async fn get_ok(url: String) {
    let r = reqwest::get(&url).await.unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
}

fn versions_args<'a>(op: &'a str, repo: &'a str, version: &'a str) -> Vec<&'a str> {
    vec![op, "--domain", "acme", "--repository", repo, "--format", "npm", "--package", "ev-pkg", "--versions", version]
}

async fn status(aws: &Aws, version: &str, target: &str) {
    let mut a = versions_args("update-package-versions-status", "app", version);
    a.extend(["--target-status", target]);
    let r = aws.ok(&a).await;
    assert_eq!(r["failedVersions"], serde_json::json!({}));
}

/// The receiver's events, deduplicated by id, in first-arrival order.
fn deduped(hook: &WebhookReceiver) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    hook.received().into_iter().filter(|e| seen.insert(e["id"].as_str().unwrap().to_string())).collect()
}

fn positions(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["depot"]["position"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_one_event_in_order_through_the_feed_and_a_webhook_across_an_outage_and_a_restart() {
    let hook = WebhookReceiver::start().await;
    let fake = FakeNpm::start().await;
    let config = format!(
        "[events]\nretry_base_secs = 0.05\nretry_max_secs = 0.4\npoll_secs = 5.0\n\
         [events.webhooks.ci]\nurl = {:?}\nsecret = {:?}\n",
        hook.url, hook.secret
    );
    let mut depot = TestDepot::builder().npm_upstream(&fake.url()).config(&config).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:npmjs")), ("dest", &[], None)]).await;
    let token = aws.token("acme").await;
    let home = fresh_home(&depot.scratch("ev"), "home");
    write_npmrc(&home, &depot.npm_endpoint("acme", "app"), &token);
    let base = depot.scratch("ev");
    let (npm_app, npm_store) = (depot.npm_endpoint("acme", "app"), depot.npm_endpoint("acme", "store"));

    // 1. publish, 2. ingestion into store, 3. retention into app, 4. ingestion through app
    // (store and app in one transaction), 5. copy, 6. status change, 7. delete, 8-9. two
    // files of one PyPI version.
    npm_ok(&package_dir(&base, "ev-pkg", "1.0.0"), &home, &["publish"]).await;
    get_ok(format!("{npm_store}depd/-/depd-2.0.0.tgz")).await;
    get_ok(format!("{npm_app}depd/-/depd-2.0.0.tgz")).await;
    get_ok(format!("{npm_app}vary/-/vary-1.1.2.tgz")).await;
    let mut copy = versions_args("copy-package-versions", "", "1.0.0");
    copy.splice(3..5, ["--source-repository", "app", "--destination-repository", "dest"]);
    assert_eq!(aws.ok(&copy).await["failedVersions"], serde_json::json!({}));
    status(&aws, "1.0.0", "Unlisted").await;
    aws.ok(&versions_args("delete-package-versions", "dest", "1.0.0")).await;
    let wheels = crate::support::fixtures().join("pypi/files");
    let pypi_app = depot.pypi_endpoint("acme", "app");
    twine_upload(&home, &pypi_app, &token, &wheels.join("charset_normalizer-3.5.2-py3-none-any.whl")).await;
    let second = "charset_normalizer-3.5.2-cp37-abi3-manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64.whl";
    twine_upload(&home, &pypi_app, &token, &wheels.join(second)).await;

    let expected = [
        "app npm ev-pkg 1.0.0 Created Published #1 +1-0~0 m=true s=true",
        "store npm depd 2.0.0 Created Published #1 +1-0~0 m=true s=true",
        "app npm depd 2.0.0 Created Published #1 +1-0~0 m=true s=true",
        "store npm vary 1.1.2 Created Published #1 +1-0~0 m=true s=true",
        "app npm vary 1.1.2 Created Published #1 +1-0~0 m=true s=true",
        "dest npm ev-pkg 1.0.0 Created Published #1 +1-0~0 m=true s=true",
        "app npm ev-pkg 1.0.0 Updated Unlisted #2 +0-0~0 m=false s=true",
        "dest npm ev-pkg 1.0.0 Deleted Published #2 +0-1~0 m=true s=true",
        "app pypi charset-normalizer 3.5.2 Created Published #1 +1-0~0 m=true s=true",
        "app pypi charset-normalizer 3.5.2 Updated Published #2 +1-0~0 m=false s=false",
    ];
    let (events, _) = feed(&depot, None).await;
    assert_eq!(events.iter().map(line).collect::<Vec<_>>(), expected);
    assert_eq!(positions(&events), (1..=10).collect::<Vec<_>>());
    let first = &events[0];
    assert_eq!(first["version"], "0");
    assert_eq!(first["detail-type"], "CodeArtifact Package Version State Change");
    assert_eq!(first["source"], "aws.codeartifact");
    assert_eq!(first["account"], depot.account.as_str());
    assert_eq!(first["region"], depot.region.as_str());
    let arn = format!("arn:aws:codeartifact:{}:{}:package/acme/app/npm//ev-pkg", depot.region, depot.account);
    assert_eq!(first["resources"], serde_json::json!([arn]));
    assert_eq!(first["detail"]["domainName"], "acme");
    assert_eq!(first["detail"]["domainOwner"], depot.account.as_str());
    assert_eq!(first["detail"]["packageNamespace"], Value::Null);
    let revision = aws
        .ok(&[
            "describe-package-version",
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "npm",
            "--package",
            "ev-pkg",
            "--package-version",
            "1.0.0",
        ])
        .await["packageVersion"]["revision"]
        .clone();
    assert_eq!(events[6]["detail"]["packageVersionRevision"], revision);
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let dedup: std::collections::HashSet<_> =
        events.iter().map(|e| e["detail"]["eventDeduplicationId"].as_str().unwrap()).collect();
    assert_eq!((ids.len(), dedup.len()), (10, 10));

    // A page at a time, resuming from each cursor: the same events, none twice.
    let (mut paged, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut q = vec![("max-results", "3".to_string())];
        if let Some(c) = &cursor {
            q.push(("after", c.clone()));
        }
        let r = sigv4::signed_get(&depot.url, "/v1/depot/events", &q, &depot.region, AKID, SECRET).await;
        let v: Value = r.json().await.unwrap();
        let page = v["events"].as_array().unwrap().clone();
        cursor = Some(v["nextCursor"].as_str().unwrap().to_string());
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, events);
    // Unsigned: refused. A domain's authorization token reads its own domain only.
    let unsigned = reqwest::get(format!("{}/v1/depot/events", depot.url)).await.unwrap();
    assert_eq!(unsigned.status(), 403);
    let c = reqwest::Client::new();
    let by_token =
        c.get(format!("{}/v1/depot/events?domain=acme", depot.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(by_token.status(), 200);
    assert_eq!(by_token.json::<Value>().await.unwrap()["events"].as_array().unwrap().len(), 10);
    let forged = c.get(format!("{}/v1/depot/events?domain=acme", depot.url)).bearer_auth("x.y").send().await.unwrap();
    assert!(forged.status().is_client_error(), "{}", forged.status());

    eventually(Duration::from_secs(20), "the webhook gets the first 10 events", || {
        let n = deduped(&hook).len();
        async move { n == 10 }
    })
    .await;

    let lags = hook.lags();
    let worst = lags.iter().max().unwrap();
    eprintln!("webhook lag after commit, first 10 events: max {worst:?}, all {lags:?}");
    assert!(*worst < Duration::from_secs(3), "woken at commit, not by the 5 s poll: {lags:?}");

    // The target goes down; changes keep coming; Depot restarts; one more change.
    hook.set_down(true);
    npm_ok(&package_dir(&base, "ev-pkg", "1.0.1"), &home, &["publish"]).await;
    status(&aws, "1.0.1", "Archived").await;
    aws.ok(&versions_args("dispose-package-versions", "app", "1.0.1")).await;
    let (all, before_restart) = feed(&depot, None).await;
    assert_eq!(all.len(), 13);
    eventually(Duration::from_secs(20), "delivery attempts fail while the target is down", || {
        let n = hook.refused();
        async move { n >= 2 }
    })
    .await;
    depot.restart().await;
    aws.ok(&["delete-package", "--domain", "acme", "--repository", "app", "--format", "npm", "--package", "ev-pkg"])
        .await;

    // The feed resumes after the cursor taken before the restart.
    let (after_restart, _) = feed(&depot, Some(&before_restart)).await;
    assert_eq!(
        after_restart.iter().map(line).collect::<Vec<_>>(),
        [
            "app npm ev-pkg 1.0.0 Deleted Unlisted #6 +0-1~0 m=true s=true",
            "app npm ev-pkg 1.0.1 Deleted Disposed #7 +0-0~0 m=true s=true",
        ]
    );
    assert_eq!(positions(&after_restart), [14, 15]);
    let (all, _) = feed(&depot, None).await;
    assert_eq!(
        all[10..13].iter().map(line).collect::<Vec<_>>(),
        [
            "app npm ev-pkg 1.0.1 Created Published #3 +1-0~0 m=true s=true",
            "app npm ev-pkg 1.0.1 Updated Archived #4 +0-0~0 m=false s=true",
            "app npm ev-pkg 1.0.1 Updated Disposed #5 +0-1~0 m=false s=true",
        ]
    );

    // The target comes back and loses its first answer: Depot sends that batch again.
    assert_eq!(deduped(&hook).len(), 10, "nothing delivered while down");
    hook.lose_next_answer();
    hook.set_down(false);
    eventually(Duration::from_secs(20), "the webhook catches up, the unanswered batch sent twice", || {
        let (n, all) = (deduped(&hook).len(), hook.received().len());
        async move { n == 15 && all > 15 }
    })
    .await;
    let got = deduped(&hook);
    assert_eq!(positions(&got), (1..=15).collect::<Vec<_>>(), "no gap, no reordering");
    assert_eq!(got, all, "the webhook gets the feed's events");
    assert_eq!(hook.bad_signatures(), 0);

    // Long poll: a feed request waiting after the last event returns as soon as a change
    // commits. Deleting a repository deletes its versions: one event each.
    let (_, last) = feed(&depot, None).await;
    let (url, region) = (depot.url.clone(), depot.region.clone());
    let started = std::time::Instant::now();
    let waiting = tokio::spawn(async move {
        let q = [("after", last), ("wait-seconds", "20".to_string())];
        let r = sigv4::signed_get(&url, "/v1/depot/events", &q, &region, AKID, SECRET).await;
        (r.json::<Value>().await.unwrap(), started.elapsed())
    });
    aws.ok(&["delete-repository", "--domain", "acme", "--repository", "store"]).await;
    let (page, waited) = waiting.await.unwrap();
    let lines: Vec<String> = page["events"].as_array().unwrap().iter().map(line).collect();
    assert_eq!(
        lines,
        [
            "store npm depd 2.0.0 Deleted Published #2 +0-1~0 m=true s=true",
            "store npm vary 1.1.2 Deleted Published #2 +0-1~0 m=true s=true",
        ]
    );
    assert!(waited < Duration::from_secs(15), "the long poll returned at the commit, not the deadline: {waited:?}");
    eprintln!("long poll answered {waited:?} after it started (including the aws CLI's start-up)");
}
