//! Package operations on NuGet versions (issue #12): no namespace, the package name as the
//! nuspec spells it and matched case-insensitively. Listings, describe (nuspec data), assets,
//! dependencies, readme, copy, status, dispose and delete through the real `aws` CLI, each
//! checked on the wire (flat container `index.json`, registration index, `.nupkg` GET), and
//! one feed event per change.

use serde_json::Value;

use super::{flat_versions, resource, Client, DOTNET};
use crate::support::clients::Aws;
use crate::support::depot::{TestDepot, AKID, SECRET};
use crate::support::nuget_client::Nupkg;
use crate::support::{nuget_app_and_store, sigv4};

const CORE: &str = "depot.fixture.core";

/// `op --domain acme --repository <repo> --format nuget --package <name>` + `rest`.
async fn op(aws: &Aws, repo: &str, name: &str, package: &str, rest: &[&str]) -> Value {
    let mut a = vec![name, "--domain", "acme", "--repository", repo, "--format", "nuget", "--package", package];
    a.extend(rest);
    aws.ok(&a).await
}

fn versions(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["version"].as_str().unwrap().to_string(), x["status"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

async fn set_status(aws: &Aws, version: &str, target: &str) {
    let r = op(
        aws,
        "app",
        "update-package-versions-status",
        "Depot.Fixture.Core",
        &["--versions", version, "--target-status", target],
    )
    .await;
    assert_eq!(r["failedVersions"], serde_json::json!({}), "{r}");
}

/// The `.nupkg` URL of `id` `v` in `repo`'s flat container.
fn nupkg(depot: &TestDepot, repo: &str, id: &str, v: &str) -> String {
    format!("{}v3-flatcontainer/{id}/{v}/{id}.{v}.nupkg", depot.nuget_endpoint("acme", repo))
}

async fn status_of(c: &Client, url: &str) -> u16 {
    c.get(url).await.status().as_u16()
}

/// The versions the registration index lists (inlined leaves) with their `listed` flag.
async fn registration(c: &Client, depot: &TestDepot, repo: &str, id: &str) -> Vec<(String, Option<bool>)> {
    let reg = resource(c, depot, repo, "RegistrationsBaseUrl").await;
    let r = c.get(&format!("{reg}{id}/index.json")).await;
    if r.status() == 404 {
        return Vec::new();
    }
    assert_eq!(r.status(), 200);
    let doc: Value = serde_json::from_slice(&super::body(r).await).unwrap();
    let mut out = Vec::new();
    for page in doc["items"].as_array().unwrap() {
        for leaf in page["items"].as_array().unwrap() {
            let e = &leaf["catalogEntry"];
            out.push((e["version"].as_str().unwrap().to_string(), e["listed"].as_bool()));
        }
    }
    out
}

/// Flat container versions, empty on 404 (no version left).
async fn flat(c: &Client, depot: &TestDepot, repo: &str, id: &str) -> Vec<String> {
    let url = format!("{}v3-flatcontainer/{id}/index.json", depot.nuget_endpoint("acme", repo));
    if c.get(&url).await.status() == 404 {
        return Vec::new();
    }
    flat_versions(c, depot, repo, id).await
}

/// `PUT <endpoint>v2/package/` as NuGet.exe sends it, with Basic `aws:<token>`.
async fn push(endpoint: &str, token: &str, package: &[u8]) -> u16 {
    let boundary = "0f6c1d7e-5b0a-4f47-9a7e-2b7c61b3c9d1";
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; \
         filename=package.nupkg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(package);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    reqwest::Client::new()
        .put(format!("{endpoint}v2/package/"))
        .header("Content-Type", format!("multipart/form-data; boundary=\"{boundary}\""))
        .header("X-NuGet-ApiKey", "placeholder")
        .basic_auth("aws", Some(token))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_package_operations_and_events_match_names_case_insensitively() {
    let (_fake, depot, aws) = nuget_app_and_store(|b| b.env("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "open")).await;
    aws.ok(&["create-repository", "--domain", "acme", "--repository", "dest"]).await;
    let token = aws.token("acme").await;
    let c = Client::new(DOTNET, Some(&token));
    for (id, v) in [(CORE, "1.0.0"), (CORE, "1.1.0"), ("depot.fixture.client", "1.0.0")] {
        assert_eq!(status_of(&c, &nupkg(&depot, "app", id, v)).await, 200, "{id} {v}: {}", depot.log_tail(20));
    }
    // One version pushed, with a readme.
    let pushed = Nupkg::new("Acme.Pushed", "2.0.0").readme("# Acme.Pushed\nPushed here.").build();
    assert_eq!(push(&depot.nuget_endpoint("acme", "app"), &token, &pushed).await, 201, "{}", depot.log_tail(20));
    assert_eq!(c.get(&nupkg(&depot, "app", "acme.pushed", "2.0.0")).await.bytes().await.unwrap(), pushed);

    // Listings: no namespace; the prefix matches in any case.
    let base = ["--domain", "acme", "--repository", "app", "--format", "nuget"];
    let list = |prefix: &'static str| {
        let mut a = vec!["list-packages"];
        a.extend(base);
        a.extend(["--package-prefix", prefix]);
        let aws = &aws;
        async move { aws.ok(&a).await }
    };
    for prefix in ["depot.FIXTURE", "Depot.Fixture.", "depot.fixture.c"] {
        let l = list(prefix).await;
        let mut names: Vec<String> =
            l["packages"].as_array().unwrap().iter().map(|p| p["package"].as_str().unwrap().to_string()).collect();
        names.sort();
        assert_eq!(names, ["depot.fixture.client", CORE], "{prefix}: {l}");
        for p in l["packages"].as_array().unwrap() {
            assert!(p.get("namespace").is_none_or(|n| n.is_null()), "{p}");
            assert_eq!(p["format"], "nuget");
        }
    }
    // Without --format the prefix still matches NuGet names in any case.
    let l = aws
        .ok(&["list-packages", "--domain", "acme", "--repository", "app", "--package-prefix", "Depot.Fixture.Co"])
        .await;
    assert_eq!(l["packages"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(l["packages"][0]["package"], CORE, "{l}");
    for name in ["Depot.Fixture.Core", CORE, "DEPOT.FIXTURE.CORE"] {
        let d = op(&aws, "app", "describe-package", name, &[]).await;
        assert_eq!(d["package"]["name"], CORE, "{d}");
        assert_eq!(d["package"]["format"], "nuget", "{d}");
    }
    let published = |vs: &[&str]| vs.iter().map(|v| (v.to_string(), "Published".to_string())).collect::<Vec<_>>();
    let v = op(&aws, "app", "list-package-versions", CORE, &[]).await;
    assert_eq!(versions(&v), published(&["1.0.0", "1.1.0"]), "{v}");
    assert_eq!(v["package"], CORE, "{v}");
    let d = op(&aws, "app", "describe-package-version", "Depot.Fixture.Core", &["--package-version", "1.1.0"]).await;
    let pv = &d["packageVersion"];
    assert_eq!(pv["packageName"], CORE, "{d}");
    assert_eq!(pv["displayName"], "Depot.Fixture.Core", "{d}");
    assert!(pv["summary"].as_str().unwrap_or_default().starts_with("SYNTHETIC fixture package"), "{d}");
    assert_eq!(pv["licenses"][0]["name"], "MIT", "{d}");
    // A pushed version's comes from its nuspec.
    let d = op(&aws, "app", "describe-package-version", "ACME.pushed", &["--package-version", "2.0.0"]).await;
    assert_eq!(d["packageVersion"]["licenses"][0]["name"], "MIT", "{d}");
    assert_eq!(d["packageVersion"]["displayName"], "Acme.Pushed", "{d}");
    assert_eq!(d["packageVersion"]["origin"]["originType"], "INTERNAL", "{d}");
    assert_eq!(pv["status"], "Published", "{d}");
    // A version as NuGet writes it unnormalized (`1.1`) names the stored 1.1.0.
    let d = op(&aws, "app", "describe-package-version", CORE, &["--package-version", "1.1"]).await;
    assert_eq!(d["packageVersion"]["version"], "1.1.0", "{d}");
    let assets = op(&aws, "app", "list-package-version-assets", CORE, &["--package-version", "1.1.0"]).await;
    let names: Vec<&str> = assets["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["depot.fixture.core.1.1.0.nupkg"], "{assets}");
    let deps =
        op(&aws, "app", "list-package-version-dependencies", "Depot.Fixture.Client", &["--package-version", "1.0.0"])
            .await;
    let ds = deps["dependencies"].as_array().unwrap();
    assert_eq!(ds.len(), 1, "{deps}");
    assert_eq!(ds[0]["package"], "Depot.Fixture.Core", "{deps}");
    assert_eq!(ds[0]["versionRequirement"], "[1.0.0, )", "{deps}");
    assert!(ds[0].get("namespace").is_none_or(|n| n.is_null()), "{deps}");
    eprintln!("dependency: {}", ds[0]);
    let out = depot.scratch("ops").join("asset.nupkg");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut a = vec!["get-package-version-asset"];
    a.extend(base);
    a.extend(["--package", "DEPOT.fixture.Core", "--package-version", "1.1.0"]);
    a.extend(["--asset", "depot.fixture.core.1.1.0.nupkg", out.to_str().unwrap()]);
    aws.ok(&a).await;
    let fixture = crate::support::fixtures().join("nuget/packages/depot.fixture.core.1.1.0.nupkg");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(fixture).unwrap());
    let r = op(&aws, "app", "get-package-version-readme", "Acme.Pushed", &["--package-version", "2.0.0"]).await;
    assert_eq!(r["readme"], "# Acme.Pushed\nPushed here.", "{r}");
    assert_eq!(r["package"], "acme.pushed", "{r}");

    // Copy to dest (names in another case): served there and in dest's index.
    let r = aws
        .ok(&[
            "copy-package-versions",
            "--domain",
            "acme",
            "--source-repository",
            "app",
            "--destination-repository",
            "dest",
            "--format",
            "nuget",
            "--package",
            "depot.FIXTURE.core",
            "--versions",
            "1.1.0",
        ])
        .await;
    assert_eq!(r["failedVersions"], serde_json::json!({}), "{r}");
    assert_eq!(r["successfulVersions"]["1.1.0"]["status"], "Published", "{r}");
    assert_eq!(flat(&c, &depot, "dest", CORE).await, ["1.1.0"]);
    assert_eq!(registration(&c, &depot, "dest", CORE).await, [("1.1.0".to_string(), Some(true))]);
    let got = c.get(&nupkg(&depot, "dest", CORE, "1.1.0")).await.bytes().await.unwrap();
    assert_eq!(
        got,
        std::fs::read(crate::support::fixtures().join("nuget/packages/depot.fixture.core.1.1.0.nupkg")).unwrap()
    );

    // Status: Unlisted leaves the index and the registration but still downloads; Archived
    // is not served; Published again.
    let core_1 = nupkg(&depot, "app", CORE, "1.0.0");
    set_status(&aws, "1.0.0", "Unlisted").await;
    assert_eq!(flat(&c, &depot, "app", CORE).await, ["1.1.0"]);
    assert_eq!(registration(&c, &depot, "app", CORE).await, [("1.1.0".to_string(), Some(true))]);
    assert_eq!(status_of(&c, &core_1).await, 200, "Unlisted still downloads");
    set_status(&aws, "1.0.0", "Archived").await;
    assert_eq!(status_of(&c, &core_1).await, 404, "Archived is not served");
    set_status(&aws, "1.0.0", "Published").await;
    assert_eq!(flat(&c, &depot, "app", CORE).await, ["1.0.0", "1.1.0"]);
    assert_eq!(registration(&c, &depot, "app", CORE).await.len(), 2);
    assert_eq!(status_of(&c, &core_1).await, 200);

    // Dispose: .nupkg 404, record kept as Disposed with no assets, out of the index.
    let r = op(&aws, "app", "dispose-package-versions", "DEPOT.FIXTURE.CORE", &["--versions", "1.0.0"]).await;
    assert_eq!(r["failedVersions"], serde_json::json!({}), "{r}");
    assert_eq!(status_of(&c, &core_1).await, 404);
    let v = op(&aws, "app", "list-package-versions", CORE, &["--status", "Disposed"]).await;
    assert_eq!(versions(&v), [("1.0.0".to_string(), "Disposed".to_string())], "{v}");
    let assets = op(&aws, "app", "list-package-version-assets", CORE, &["--package-version", "1.0.0"]).await;
    assert_eq!(assets["assets"], serde_json::json!([]), "{assets}");
    assert_eq!(flat(&c, &depot, "app", CORE).await, ["1.1.0"]);
    assert_eq!(registration(&c, &depot, "app", CORE).await, [("1.1.0".to_string(), Some(true))]);

    // Delete a version (dest), then the whole pushed package (app): gone from the wire.
    op(&aws, "dest", "delete-package-versions", "Depot.Fixture.Core", &["--versions", "1.1.0"]).await;
    assert_eq!(status_of(&c, &nupkg(&depot, "dest", CORE, "1.1.0")).await, 404);
    assert!(flat(&c, &depot, "dest", CORE).await.is_empty());
    assert!(registration(&c, &depot, "dest", CORE).await.is_empty());
    op(&aws, "app", "delete-package", "acme.PUSHED", &[]).await;
    assert_eq!(status_of(&c, &nupkg(&depot, "app", "acme.pushed", "2.0.0")).await, 404);
    assert!(flat(&c, &depot, "app", "acme.pushed").await.is_empty());
    assert!(list("acme.").await["packages"].as_array().unwrap().is_empty());

    // The feed: one event per change, with the package name as in the nuspec and no namespace.
    let r = sigv4::signed_get(
        &depot.url,
        "/v1/depot/events",
        &[("max-results", "1000".into())],
        &depot.region,
        AKID,
        SECRET,
    )
    .await;
    assert_eq!(r.status(), 200);
    let feed: Value = r.json().await.unwrap();
    let lines: Vec<String> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let d = &e["detail"];
            format!(
                "{} {} {}{} {} {} {}",
                d["repositoryName"].as_str().unwrap(),
                d["packageFormat"].as_str().unwrap(),
                d["packageNamespace"].as_str().map_or(String::new(), |n| format!("{n}:")),
                d["packageName"].as_str().unwrap(),
                d["packageVersion"].as_str().unwrap(),
                d["operationType"].as_str().unwrap(),
                d["packageVersionState"].as_str().unwrap(),
            )
        })
        .collect();
    let q = "nuget depot.fixture.core";
    let expected = [
        format!("store {q} 1.0.0 Created Published"),
        format!("app {q} 1.0.0 Created Published"),
        format!("store {q} 1.1.0 Created Published"),
        format!("app {q} 1.1.0 Created Published"),
        "store nuget depot.fixture.client 1.0.0 Created Published".into(),
        "app nuget depot.fixture.client 1.0.0 Created Published".into(),
        "app nuget acme.pushed 2.0.0 Created Published".into(),
        format!("dest {q} 1.1.0 Created Published"),
        format!("app {q} 1.0.0 Updated Unlisted"),
        format!("app {q} 1.0.0 Updated Archived"),
        format!("app {q} 1.0.0 Updated Published"),
        format!("app {q} 1.0.0 Updated Disposed"),
        format!("dest {q} 1.1.0 Deleted Published"),
        "app nuget acme.pushed 2.0.0 Deleted Published".into(),
    ];
    assert_eq!(lines, expected);
}
