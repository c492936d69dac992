//! Unlisted and Archived versions on the wire: both leave the flat container's version list
//! and the registration; an Unlisted `.nupkg` still downloads (a lock file may pin it), an
//! Archived one does not.

use super::{flat_versions, resource, Client, DOTNET};
use crate::support::nuget_app_and_store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_and_archived_versions_on_the_wire() {
    let (_fake, depot, aws) = nuget_app_and_store(|b| b).await;
    let c = Client::new(DOTNET, None);
    let flat = resource(&c, &depot, "app", "PackageBaseAddress/3.0.0").await;
    let url = |v: &str| format!("{flat}depot.fixture.core/{v}/depot.fixture.core.{v}.nupkg");
    for v in ["1.0.0", "1.1.0"] {
        assert_eq!(c.get(&url(v)).await.status(), 200);
    }
    for (v, status) in [("1.0.0", "Unlisted"), ("1.1.0", "Archived")] {
        aws.ok(&[
            "update-package-versions-status",
            "--domain",
            "acme",
            "--repository",
            "app",
            "--format",
            "nuget",
            "--package",
            "Depot.Fixture.Core",
            "--versions",
            v,
            "--target-status",
            status,
        ])
        .await;
    }
    assert!(flat_versions(&c, &depot, "app", "depot.fixture.core").await.is_empty());
    let reg = resource(&c, &depot, "app", "RegistrationsBaseUrl").await;
    let doc = c.json(&format!("{reg}depot.fixture.core/index.json")).await;
    assert_eq!(doc["items"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(c.get(&url("1.0.0")).await.status(), 200, "Unlisted still downloads");
    assert_ne!(c.get(&url("1.1.0")).await.status(), 200, "Archived does not");
    // The store still lists both.
    assert_eq!(flat_versions(&c, &depot, "store", "depot.fixture.core").await, ["1.0.0", "1.1.0"]);
}
