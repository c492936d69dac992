//! `npm ci` of the fixture project through a downstream repository, retention, prefetch and
//! upstream outage (also across a restart).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::app_and_store;
use crate::support::clients::{fresh_home, npm_ok, write_npmrc, Aws};
use crate::support::{fixtures, poll_until};

/// Copies the fixture project, pointing its lockfile at `endpoint`.
fn express_app(dir: &Path, endpoint: &str) {
    let src = fixtures().join("npm/projects/express-app");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(src.join("package.json"), dir.join("package.json")).unwrap();
    let lock = std::fs::read_to_string(src.join("package-lock.json")).unwrap();
    std::fs::write(dir.join("package-lock.json"), lock.replace("{{UPSTREAM}}", endpoint.trim_end_matches('/')))
        .unwrap();
}

/// Every (name, version) in the fixture project's lockfile.
fn lockfile_packages() -> BTreeSet<(String, String)> {
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("npm/projects/express-app/package-lock.json")).unwrap(),
    )
    .unwrap();
    lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| {
            let name = v["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| k.rsplit("node_modules/").next().unwrap().to_string());
            (name, v["version"].as_str().unwrap().to_string())
        })
        .collect()
}

async fn stored(aws: &Aws, domain: &str, repo: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for p in aws.package_names(domain, repo).await {
        for v in aws.versions(domain, repo, &p).await {
            out.insert((p.clone(), v));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_ci_through_downstream_then_outage_and_restart() {
    let (fake, mut depot, aws) = app_and_store(|b| b).await;
    let token = aws.token("acme").await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let home = fresh_home(&depot.scratch("ci"), "home");
    write_npmrc(&home, &endpoint, &token);
    let project = depot.scratch("ci").join("project");
    express_app(&project, &endpoint);
    npm_ok(&project, &home, &["ci"]).await;
    let out = tokio::process::Command::new("node")
        .args(["-e", "require('express'); require('ms'); console.log('ok')"])
        .current_dir(&project)
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");

    // Retention: the downstream repository holds exactly what npm fetched through it; the
    // repository with the external connection holds at least that (plus prefetches).
    let want = lockfile_packages();
    assert_eq!(want.len(), 77);
    let app = stored(&aws, "acme", "app").await;
    assert_eq!(app, want, "downstream repository holds exactly the installed versions");
    let store = stored(&aws, "acme", "store").await;
    assert!(want.is_subset(&store), "store lacks {:?}", want.difference(&store).collect::<Vec<_>>());
    let d = aws.ok(&["describe-domain", "--domain", "acme"]).await;
    assert_eq!(d["domain"]["repositoryCount"], 2);
    let tarballs: u64 = walk_size(&crate::support::fixtures().join("npm/tarballs"));
    let size = d["domain"]["assetSizeBytes"].as_u64().unwrap();
    assert!(size > 0 && size <= tarballs, "assets stored once: {size} of at most {tarballs}");

    // Outage: the upstream is gone; a clean install still works from what Depot has.
    fake.stop();
    let home2 = fresh_home(&depot.scratch("ci"), "home2");
    write_npmrc(&home2, &endpoint, &token);
    let project2 = depot.scratch("ci").join("project2");
    express_app(&project2, &endpoint);
    npm_ok(&project2, &home2, &["ci"]).await;
    let view = npm_ok(&project2, &home2, &["view", "express@4", "version", "--json"]).await;
    assert!(view.contains("4.22.3"), "{view}");

    // The outage outlasts a restart (a crash, even): cached metadata and tokens survive.
    depot.restart().await;
    let home3 = fresh_home(&depot.scratch("ci"), "home3");
    write_npmrc(&home3, &endpoint, &token);
    let project3 = depot.scratch("ci").join("project3");
    express_app(&project3, &endpoint);
    npm_ok(&project3, &home3, &["ci"]).await;
    let p = reqwest::get(format!("{endpoint}express")).await.unwrap();
    assert_eq!(p.status(), 200, "packument served stale during the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_stores_dependency_closure_without_client_requests() {
    let (fake, depot, aws) = app_and_store(|b| b).await;

    // What npm resolves for express@4 straight from the upstream: its dependency closure.
    let plain = fresh_home(&depot.scratch("pf"), "plain");
    std::fs::write(plain.join(".npmrc"), format!("registry={}/\n", fake.url())).unwrap();
    let proj = plain.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("package.json"), r#"{"name":"p","version":"1.0.0","dependencies":{"express":"4.22.3"}}"#)
        .unwrap();
    npm_ok(&proj, &plain, &["install", "--package-lock-only", "--ignore-scripts"]).await;
    let lock: Value = serde_json::from_str(&std::fs::read_to_string(proj.join("package-lock.json")).unwrap()).unwrap();
    let closure: BTreeSet<(String, String)> = lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| {
            (k.rsplit("node_modules/").next().unwrap().to_string(), v["version"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(closure.len() > 60, "{}", closure.len());

    // One client request: the express tarball. Nothing else is asked of Depot.
    let r = reqwest::get(format!("{}express/-/express-4.22.3.tgz", depot.npm_endpoint("acme", "app"))).await.unwrap();
    assert_eq!(r.status(), 200);
    // Each check costs an `aws` process per package, so what was seen stored is not asked again
    // and only packages already listed are asked for their versions.
    let missing = std::sync::Arc::new(std::sync::Mutex::new(closure.clone()));
    // Generous: background work takes its own, smaller share of the upstream rate, and every
    // poll runs `aws` processes; on a loaded 2-core machine the walk has taken over 2 minutes.
    let done = poll_until(Duration::from_secs(300), || {
        let (aws, missing) = (aws.clone(), missing.clone());
        async move {
            let todo = missing.lock().unwrap().clone();
            let names = aws.package_names("acme", "store").await;
            let mut asked: BTreeSet<String> = BTreeSet::new();
            let mut seen = BTreeSet::new();
            for (p, _) in &todo {
                if names.contains(p) && asked.insert(p.clone()) {
                    for v in aws.versions("acme", "store", p).await {
                        seen.insert((p.clone(), v));
                    }
                }
            }
            let mut m = missing.lock().unwrap();
            m.retain(|pv| !seen.contains(pv));
            m.is_empty()
        }
    })
    .await;
    if !done {
        panic!("still missing: {:?}\n{}", missing.lock().unwrap(), depot.log_tail(30));
    }
    // The downstream repository only retained what was requested through it.
    assert_eq!(aws.package_names("acme", "app").await, vec!["express".to_string()]);
    // The `latest` of a dependency is prefetched too (express's latest is 5.3.0; `depd` has one version).
    let ms = aws.versions("acme", "store", "ms").await;
    assert!(ms.contains(&"2.1.3".to_string()), "latest of ms prefetched: {ms:?}");
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| if e.file_type().unwrap().is_dir() { walk_size(&e.path()) } else { e.metadata().unwrap().len() })
        .sum()
}
