//! The real NuGet.exe 5.8.0 (mono) installing from the upstream through a downstream
//! repository: `app` → `store` (`public:nuget-org`, the fake feed), credentials from
//! `nuget sources add` (sent after the 401). The packages and their dependencies land
//! byte for byte, and are then retained in both repositories.

use super::stored;
use crate::support::fake_nuget::fixture_bytes;
use crate::support::nuget_app_and_store;
use crate::support::nuget_client::{output_text, NuGet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_installs_packages_with_dependencies_through_a_downstream_repository() {
    let (fake, depot, aws) = nuget_app_and_store(|b| b.env("DEPOT_ANONYMOUS_READS", "false")).await;
    let nuget = NuGet::new(&depot.nuget_endpoint("acme", "app"));
    nuget.sources_add(&aws.token("acme").await).await;
    let dir = depot.scratch("installed");
    // A grouped dependency with a range, and an ungrouped one without a version (`(, )`).
    for (id, version) in [("Depot.Fixture.Client", "1.0.0"), ("NUnit.Mocks", "2.6.4")] {
        let out = nuget.install(id, version, &dir).await;
        assert!(out.status.success(), "{}\n{}", output_text(&out), depot.log_tail(30));
    }
    for (folder, file) in [
        ("Depot.Fixture.Client.1.0.0", "packages/depot.fixture.client.1.0.0.nupkg"),
        ("Depot.Fixture.Core.1.0.0", "packages/depot.fixture.core.1.0.0.nupkg"),
        ("NUnit.Mocks.2.6.4", "packages/nunit.mocks.2.6.4.nupkg"),
        ("NUnit.2.6.4", "packages/nunit.2.6.4.nupkg"),
    ] {
        let path = dir.join(folder).join(format!("{folder}.nupkg"));
        let got = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got, fixture_bytes(file).to_vec(), "{folder}");
    }
    for repo in ["app", "store"] {
        assert_eq!(stored(&aws, repo, "depot.fixture.core").await, ["1.0.0"], "{repo}");
        assert_eq!(stored(&aws, repo, "nunit").await, ["2.6.4"], "{repo}");
    }
    assert_eq!(fake.hits("v3/index.json"), 1, "{:?}", fake.requests());
}
