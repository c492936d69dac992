//! The engine's rules for NuGet: outage tolerance (also across a restart), the client wait
//! (40 s, configured short here) and the metadata max age (10 minutes,
//! `DEPOT_METADATA_MAX_AGE_NUGET_SECS` short here).

use std::time::Duration;

use super::{flat_versions, resource, Client, DOTNET};
use crate::support::{eventually, nuget_app_and_store};

/// Stored `.nupkg`s and cached metadata (registration and service index, persisted) keep
/// serving while the upstream is down, also after Depot restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_and_stored_packages_survive_an_outage_and_a_restart() {
    let (fake, mut depot, _aws) = nuget_app_and_store(|b| b.env("DEPOT_METADATA_MAX_AGE_NUGET_SECS", "0")).await;
    let c = Client::new(DOTNET, None);
    let flat = resource(&c, &depot, "app", "PackageBaseAddress/3.0.0").await;
    let nupkg = format!("{flat}depot.fixture.core/1.0.0/depot.fixture.core.1.0.0.nupkg");
    assert_eq!(c.get(&nupkg).await.status(), 200);
    assert_eq!(flat_versions(&c, &depot, "app", "newtonsoft.json").await, ["6.0.8"]);
    fake.stop();
    depot.restart().await;
    // Max age 0: every read finds its entry stale and refreshes it (service index first),
    // which fails; the cached documents are served all the same.
    assert_eq!(flat_versions(&c, &depot, "app", "depot.fixture.core").await, ["1.0.0", "1.1.0"]);
    assert_eq!(
        flat_versions(&c, &depot, "app", "newtonsoft.json").await,
        ["6.0.8"],
        "metadata cached before the restart"
    );
    assert_eq!(c.get(&nupkg).await.status(), 200, "stored bytes");
    let unknown = c.get(&format!("{flat}nunit/index.json")).await;
    assert_eq!(unknown.status(), 404, "never cached: the connection is unreachable");
    assert!(unknown.text().await.unwrap().contains("public:nuget-org"));
}

/// The 40-second rule: with the upstream slower than the configured wait, the first request
/// answers "in progress" after the wait; the ingestion goes on and a retry is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_answers_in_progress_then_serves_from_the_store() {
    let (fake, depot, _aws) = nuget_app_and_store(|b| b.env("DEPOT_INGESTION_WAIT_SECS", "1")).await;
    fake.set_latency(Duration::from_millis(1500));
    let c = Client::new(DOTNET, None);
    let nupkg = format!("{}v3-flatcontainer/nunit/2.6.4/nunit.2.6.4.nupkg", depot.nuget_endpoint("acme", "app"));
    let started = std::time::Instant::now();
    let r = c.get(&nupkg).await;
    assert_eq!(r.status(), 404);
    assert!(started.elapsed() < Duration::from_millis(2900), "answered after the wait, not after the fetch");
    assert!(r.text().await.unwrap().contains("Ingestion is in progress"));
    eventually(Duration::from_secs(40), "the .nupkg is served", || async { c.get(&nupkg).await.status() == 200 }).await;
    assert_eq!(fake.hits("v3-flatcontainer/nunit/2.6.4/nunit.2.6.4.nupkg"), 1, "one upstream download");
}

/// The 10-minute rule (3 s here): a version added upstream is not listed while the cached
/// registration is fresh, and appears after a background refresh once it is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_added_upstream_appears_after_the_max_age() {
    let (fake, depot, _aws) = nuget_app_and_store(|b| b.env("DEPOT_METADATA_MAX_AGE_NUGET_SECS", "3")).await;
    let c = Client::new(DOTNET, None);
    assert_eq!(flat_versions(&c, &depot, "app", "depot.fixture.core").await, ["1.0.0", "1.1.0"]);
    fake.add_version("Depot.Fixture.Core", "1.2.0", "packages/depot.fixture.core.1.1.0.nupkg");
    assert_eq!(flat_versions(&c, &depot, "app", "depot.fixture.core").await, ["1.0.0", "1.1.0"], "still fresh");
    assert_eq!(fake.hits("v3/registration/depot.fixture.core/index.json"), 1);
    eventually(Duration::from_secs(20), "1.2.0 listed", || async {
        flat_versions(&c, &depot, "app", "depot.fixture.core").await.contains(&"1.2.0".to_string())
    })
    .await;
}

/// A `.nupkg` whose bytes do not match the registration's `packageHash` is never stored: the
/// client gets a 502 naming the connection, no version is written, and once the upstream
/// serves the right bytes the same request stores and serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nupkg_failing_its_package_hash_is_never_stored() {
    let (fake, depot, aws) = nuget_app_and_store(|b| b).await;
    let path = "v3-flatcontainer/nunit/2.6.4/nunit.2.6.4.nupkg";
    fake.set_corrupt(path, true);
    let c = Client::new(DOTNET, None);
    let nupkg = format!("{}{path}", depot.nuget_endpoint("acme", "app"));
    let r = c.get(&nupkg).await;
    match r.status().as_u16() {
        502 => assert!(r.text().await.unwrap().contains("public:nuget-org")),
        // Teed (engine/tee.rs): the bytes began to flow before the hash check ended, and the
        // failed check cut the body short of its Content-Length.
        200 => {
            let announced = r.content_length();
            if let Ok(body) = r.bytes().await {
                assert_ne!(Some(body.len() as u64), announced, "a corrupt .nupkg was delivered whole");
            }
        }
        s => panic!("a corrupt .nupkg answered {s}"),
    }
    for repo in ["app", "store"] {
        let args = ["list-package-versions", "--domain", "acme", "--repository", repo, "--format", "nuget"];
        let out = aws.run(&[&args[..], &["--package", "nunit", "--status", "Published"]].concat()).await;
        assert!(!String::from_utf8_lossy(&out.stdout).contains("2.6.4"), "nothing stored in {repo}");
    }
    fake.set_corrupt(path, false);
    let r = c.get(&nupkg).await;
    assert_eq!(r.status(), 200);
    let want = crate::support::fake_nuget::fixture_bytes("packages/nunit.2.6.4.nupkg");
    assert_eq!(r.bytes().await.unwrap(), want);
}
