//! The request sequences `dotnet restore` and `nuget install` make, replayed with their
//! headers against `app` (downstream) → `store` (`public:nuget-org`): the versions end up in
//! both repositories, byte for byte the upstream's.

use super::{body, flat_versions, resource, stored, Client, DOTNET, NUGET_EXE};
use crate::support::fake_nuget::{fixture_bytes, package_hash};
use crate::support::nuget_app_and_store;

/// `dotnet restore` of a project referencing Depot.Fixture.Client (PackageReference): the
/// service index, then per package the flat container's version list and the `.nupkg`; the
/// dependency (Depot.Fixture.Core `[1.0.0, )`, read from the downloaded nuspec) resolves to
/// its lowest version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotnet_restore_sequence_through_a_downstream_repository() {
    let (fake, depot, aws) = nuget_app_and_store(|b| b).await;
    let c = Client::new(DOTNET, None);
    let flat = resource(&c, &depot, "app", "PackageBaseAddress/3.0.0").await;
    assert_eq!(flat, format!("{}v3-flatcontainer/", depot.nuget_endpoint("acme", "app")));
    for (id, want, file) in [
        ("depot.fixture.client", vec!["1.0.0"], "packages/depot.fixture.client.1.0.0.nupkg"),
        ("depot.fixture.core", vec!["1.0.0", "1.1.0"], "packages/depot.fixture.core.1.0.0.nupkg"),
    ] {
        assert_eq!(flat_versions(&c, &depot, "app", id).await, want);
        let r = c.get(&format!("{flat}{id}/1.0.0/{id}.1.0.0.nupkg")).await;
        assert_eq!(r.status(), 200, "{}", depot.log_tail(30));
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(package_hash(&bytes), package_hash(&fixture_bytes(file)), "the upstream's bytes");
    }
    for repo in ["app", "store"] {
        assert_eq!(stored(&aws, repo, "depot.fixture.client").await, ["1.0.0"], "retained in {repo}");
        assert_eq!(stored(&aws, repo, "depot.fixture.core").await, ["1.0.0"], "retained in {repo}");
    }
    assert_eq!(fake.hits("v3/index.json"), 1, "one service index fetch: {:?}", fake.requests());
    assert_eq!(fake.hits("v3/registration/depot.fixture.core/index.json"), 1, "{:?}", fake.requests());
    // A second restore (another machine) is served from the store: no upstream download.
    let again = Client::new(DOTNET, None);
    let r = again.get(&format!("{flat}depot.fixture.core/1.0.0/depot.fixture.core.1.0.0.nupkg")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(fake.hits("v3-flatcontainer/depot.fixture.core/1.0.0/depot.fixture.core.1.0.0.nupkg"), 1);
}

/// `nuget install Depot.Fixture.Client` with a token-protected source, as NuGet.exe 5.8 makes
/// it: every request first without credentials (401 with a Basic challenge), then with Basic
/// `aws:<token>`; the service index, the registration (RegistrationsBaseUrl/3.4.0, gzip) of
/// the package and of its dependency, then both `.nupkg`s from the flat container. Beyond
/// the sequence: the `.nuspec` route, Bearer tokens, search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_install_sequence_with_the_basic_challenge() {
    let (_fake, depot, aws) = nuget_app_and_store(|b| b.env("DEPOT_ANONYMOUS_READS", "false")).await;
    let index = format!("{}v3/index.json", depot.nuget_endpoint("acme", "app"));
    let anonymous = Client::new(NUGET_EXE, None).get(&index).await;
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm="));
    let token = aws.token("acme").await;
    let c = Client::new(NUGET_EXE, Some(&token));
    let reg = resource(&c, &depot, "app", "RegistrationsBaseUrl/3.4.0").await;
    assert!(reg.ends_with("/v3/registration-gz/"), "{reg}");
    let r = c.get(&format!("{reg}depot.fixture.client/index.json")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip", "the 3.4.0 hive is gzip-encoded for a client that accepts it");
    let doc: serde_json::Value = serde_json::from_slice(&body(r).await).unwrap();
    let entry = &doc["items"][0]["items"][0]["catalogEntry"];
    assert_eq!(entry["id"], "Depot.Fixture.Client");
    assert_eq!(entry["version"], "1.0.0");
    assert_eq!(entry["listed"], true);
    assert!(entry["description"].as_str().unwrap().starts_with("SYNTHETIC"));
    assert_eq!(entry["authors"], "Depot fixtures");
    let group = &entry["dependencyGroups"][0];
    assert_eq!(group["targetFramework"], ".NETStandard2.0");
    assert_eq!(group["dependencies"][0]["id"], "Depot.Fixture.Core");
    assert_eq!(group["dependencies"][0]["range"], "[1.0.0, )");
    assert!(group["dependencies"][0].get("registration").is_none(), "no upstream URL leaks: {entry}");
    let content = entry["packageContent"].as_str().unwrap().to_string();
    assert!(content.starts_with(&depot.nuget_endpoint("acme", "app")), "{content}");
    let core = c.json(&format!("{reg}depot.fixture.core/index.json")).await;
    assert_eq!(core["items"][0]["count"], 2);
    let core_content = core["items"][0]["items"][0]["packageContent"].as_str().unwrap().to_string();
    for url in [core_content, content] {
        let r = c.get(&url).await;
        assert_eq!(r.status(), 200, "{url}: {}", depot.log_tail(30));
    }
    let flat = resource(&c, &depot, "app", "PackageBaseAddress/3.0.0").await;
    let nuspec = c.get(&format!("{flat}depot.fixture.client/1.0.0/depot.fixture.client.nuspec")).await;
    assert_eq!(nuspec.status(), 200);
    assert!(String::from_utf8(body(nuspec).await).unwrap().contains("<id>Depot.Fixture.Client</id>"));
    // Bearer works too; a bad token does not.
    let bearer = reqwest::Client::new().get(&index).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    assert_eq!(Client::new(NUGET_EXE, Some("nope")).get(&index).await.status(), 401);
    // Search sees what the repository knows.
    let search = resource(&c, &depot, "app", "SearchQueryService/3.5.0").await;
    let hits = c.json(&format!("{search}?q=fixture&skip=0&take=20&prerelease=true&semVerLevel=2.0.0")).await;
    let ids: Vec<&str> = hits["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"Depot.Fixture.Client") && ids.contains(&"Depot.Fixture.Core"), "{hits}");
    // A package only cached from the connection (nothing stored) is found too.
    assert_eq!(super::flat_versions(&c, &depot, "app", "newtonsoft.json").await, ["6.0.8"]);
    assert!(stored(&aws, "store", "newtonsoft.json").await.is_empty());
    let hits = c.json(&format!("{search}?q=NEWTONSOFT&take=5")).await;
    assert_eq!(hits["totalHits"], 1, "{hits}");
    assert_eq!(hits["data"][0]["id"], "Newtonsoft.Json");
    assert_eq!(hits["data"][0]["version"], "6.0.8");
}
