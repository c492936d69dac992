//! Versions as NuGet writes them upstream (`1.0`, `1.0.0.0`, `1.0.0-Beta`, SemVer 2 build
//! metadata) served normalised, in NuGet order; and registrations nuget.org pages (more than
//! 128 versions) read page by page and served paged again.

use super::{body, flat_versions, resource, stored, Client, DOTNET, NUGET_EXE};
use crate::support::nuget_app_and_store;

const CORE: &str = "packages/depot.fixture.core.1.0.0.nupkg";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_normalised_and_ordered_by_nuget_rules() {
    let (fake, depot, aws) = nuget_app_and_store(|b| b).await;
    for v in ["1.0", "2.0.0.0", "1.0.0.1", "2.1.0-Beta", "2.1.0-beta.10", "2.1.0-beta.2", "3.0.0+build.5", "10.0.0"] {
        fake.add_version("Norm.Pkg", v, CORE);
    }
    let c = Client::new(DOTNET, None);
    assert_eq!(
        flat_versions(&c, &depot, "app", "Norm.Pkg").await,
        ["1.0.0", "1.0.0.1", "2.0.0", "2.1.0-beta", "2.1.0-beta.2", "2.1.0-beta.10", "3.0.0", "10.0.0"]
    );
    let flat = resource(&c, &depot, "app", "PackageBaseAddress/3.0.0").await;
    for (asked, stored_as) in [("2.1.0-beta", "2.1.0-beta"), ("2.0.0.0", "2.0.0"), ("3.0.0", "3.0.0")] {
        let r = c.get(&format!("{flat}norm.pkg/{asked}/norm.pkg.{asked}.nupkg")).await;
        assert_eq!(r.status(), 200, "{asked}: {}", depot.log_tail(20));
        assert!(stored(&aws, "app", "norm.pkg").await.contains(&stored_as.to_string()));
    }
    // The registration shows the version as written, minus build metadata.
    let reg = resource(&c, &depot, "app", "RegistrationsBaseUrl/3.6.0").await;
    let doc = c.json(&format!("{reg}norm.pkg/index.json")).await;
    let shown: Vec<&str> = doc["items"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["catalogEntry"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["1.0", "1.0.0.1", "2.0.0.0", "2.1.0-Beta", "2.1.0-beta.2", "2.1.0-beta.10", "3.0.0", "10.0.0"]);
    // DescribePackageVersion accepts any spelling of the id and version.
    let v = aws
        .ok(&[
            "describe-package-version",
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "nuget",
            "--package",
            "Norm.Pkg",
            "--package-version",
            "2.1.0-BETA",
        ])
        .await;
    assert_eq!(v["packageVersion"]["version"], "2.1.0-beta");
}

/// 150 versions: nuget.org's index leaves its pages out; Depot fetches every page once (one
/// coalesced multi-document fetch), lists every version, and pages its own registration (the
/// pages are documents of their own beyond 128 versions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_beyond_128_versions_are_paged_both_ways() {
    let (fake, depot, _aws) = nuget_app_and_store(|b| b).await;
    fake.set_paged(true);
    fake.synthesize("Depot.Paged", 150, CORE);
    let c = Client::new(NUGET_EXE, None);
    // Concurrent first reads share one upstream fetch.
    let (a, b) =
        tokio::join!(flat_versions(&c, &depot, "app", "depot.paged"), flat_versions(&c, &depot, "app", "depot.paged"));
    assert_eq!(a.len(), 150);
    assert_eq!(a, b);
    assert_eq!(a[149], "1.0.149");
    let pages: Vec<String> = fake.requests().into_iter().filter(|p| p.contains("depot.paged/page/")).collect();
    assert_eq!(pages.len(), 3, "each page fetched once: {pages:?}");
    assert_eq!(fake.hits("v3/registration/depot.paged/index.json"), 1);

    let reg = resource(&c, &depot, "app", "RegistrationsBaseUrl/3.6.0").await;
    let index = c.json(&format!("{reg}depot.paged/index.json")).await;
    let items = index["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "64 + 64 + 22");
    assert!(items.iter().all(|p| p.get("items").is_none()), "pages not inlined beyond 128 versions");
    let mut leaves = 0;
    for p in items {
        let r = c.get(p["@id"].as_str().unwrap()).await;
        assert_eq!(r.status(), 200);
        let page: serde_json::Value = serde_json::from_slice(&body(r).await).unwrap();
        leaves += page["items"].as_array().unwrap().len();
    }
    assert_eq!(leaves, 150);
    let flat = resource(&c, &depot, "app", "PackageBaseAddress/3.0.0").await;
    let r = c.get(&format!("{flat}depot.paged/1.0.149/depot.paged.1.0.149.nupkg")).await;
    assert_eq!(r.status(), 200, "{}", depot.log_tail(20));
}

/// All or nothing: a registration page the upstream cannot serve fails the package's fetch
/// (no partial version list is cached); once it can, the merged document is stored, and after
/// a restart with the upstream gone it is reparsed from the store alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_page_fails_the_fetch_and_the_merged_document_survives_a_restart() {
    let (fake, mut depot, _aws) = nuget_app_and_store(|b| b).await;
    fake.set_paged(true);
    fake.synthesize("Depot.Gap", 150, CORE);
    let page = "v3/registration/depot.gap/page/1.0.64/1.0.127.json";
    fake.set_missing(page, true);
    let c = Client::new(DOTNET, None);
    let url = format!("{}v3-flatcontainer/depot.gap/index.json", depot.nuget_endpoint("acme", "app"));
    let r = c.get(&url).await;
    assert_eq!(r.status(), 502, "a partial list is not served");
    assert!(r.text().await.unwrap().contains("public:nuget-org"));
    fake.set_missing(page, false);
    assert_eq!(flat_versions(&c, &depot, "app", "depot.gap").await.len(), 150);
    fake.stop();
    depot.restart().await;
    assert_eq!(flat_versions(&c, &depot, "app", "depot.gap").await.len(), 150, "reparsed from the store");
}
