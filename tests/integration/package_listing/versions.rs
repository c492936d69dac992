//! ListPackageVersions: pages, statuses, order, origin, default display version.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{args, publish_latest, publish_npm, unchecked, upload_pypi, versions_of};
use crate::support::app_and_store;

/// `list-package-versions --format <f> --package <p>` then `extra`.
fn lpv<'a>(format: &'a str, pkg: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = args("list-package-versions", &["--format", format, "--package", pkg]);
    a.extend_from_slice(extra);
    a
}

/// Sixty versions of an npm package published in shuffled order: default pages of 50 whose
/// token survives deleting the page's last version, version and time order, the limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_package_versions_pages_survive_a_deleted_cursor_and_sort_by_time() {
    let (_fake, depot, aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let client = reqwest::Client::new();
    // Publish order differs from version order: 37 is coprime with 60.
    let published: Vec<String> = (0..60).map(|i| format!("1.0.{}", i * 37 % 60)).collect();
    for v in &published {
        assert_eq!(publish_latest(&client, &endpoint, &token, "lv-demo", v).await, 201, "publish {v}");
    }
    let by_version: Vec<String> = (0..60).rev().map(|i| format!("1.0.{i}")).collect();

    // Default page: 50, highest version first, exactly the spec's fields.
    let page = aws.ok(&lpv("npm", "lv-demo", &["--no-paginate"])).await;
    assert_eq!(versions_of(&page), by_version[..50]);
    let fields: BTreeSet<&str> = page.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, BTreeSet::from(["defaultDisplayVersion", "format", "package", "versions", "nextToken"]));
    let v0 = &page["versions"][0];
    assert_eq!(
        v0.as_object().unwrap().keys().collect::<BTreeSet<_>>(),
        BTreeSet::from([&"origin".into(), &"revision".into(), &"status".into(), &"version".into()])
    );
    assert_eq!(v0["origin"], json!({"domainEntryPoint": {"repositoryName": "app"}, "originType": "INTERNAL"}));
    assert_eq!((page["format"].as_str(), page["package"].as_str()), (Some("npm"), Some("lv-demo")));
    assert_eq!(page["defaultDisplayVersion"], published[59].as_str(), "latest = the last published");

    // The page's last version is deleted before the next page: the listing goes on.
    let token1 = page["nextToken"].as_str().unwrap().to_string();
    let last = by_version[49].clone();
    aws.ok(&args("delete-package-versions", &["--format", "npm", "--package", "lv-demo", "--versions", &last])).await;
    let page2 = aws.ok(&lpv("npm", "lv-demo", &["--next-token", &token1])).await;
    assert_eq!(versions_of(&page2), by_version[50..], "the rest, after a deleted cursor version");
    assert!(page2.get("nextToken").is_none());
    let remaining: Vec<String> = by_version.iter().filter(|v| **v != last).cloned().collect();
    // The CLI's own pagination sees all of them once.
    let all = aws.ok(&lpv("npm", "lv-demo", &["--page-size", "20"])).await;
    assert_eq!(versions_of(&all), remaining);

    // Most recently published first, also across pages.
    let by_time: Vec<String> = published.iter().rev().filter(|v| **v != last).cloned().collect();
    let v = aws.ok(&lpv("npm", "lv-demo", &["--sort-by", "PUBLISHED_TIME", "--max-results", "1000"])).await;
    assert_eq!(versions_of(&v), by_time);
    let mut paged = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut a = lpv("npm", "lv-demo", &["--sort-by", "PUBLISHED_TIME", "--max-results", "25"]);
        if let Some(t) = &next {
            a.extend(["--next-token", t.as_str()]);
        }
        let v = aws.ok(&a).await;
        paged.extend(versions_of(&v));
        match v["nextToken"].as_str() {
            Some(t) => next = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, by_time);

    // Limits and bad values.
    for bad in [vec!["--max-results", "1001"], vec!["--sort-by", "NAME"], vec!["--next-token", "bm90LWEtdG9rZW4"]] {
        let err = aws.err(&lpv("npm", "lv-demo", &bad)).await;
        assert!(err.contains("ValidationException") || err.contains("Invalid choice"), "{bad:?}: {err}");
    }
    let err = unchecked(&depot).err(&lpv("npm", "lv-demo", &["--max-results", "0"])).await;
    assert!(err.contains("ValidationException"), "{err}");
}

/// Statuses, origins and the default display version (npm: the `latest` tag when it names a
/// listed version, else the most recently published), on eight versions published in
/// shuffled order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_package_versions_statuses_origins_and_default_display() {
    let (_fake, depot, aws) = app_and_store(|b| b).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let client = reqwest::Client::new();
    let published: Vec<String> = (0..8).map(|i| format!("1.0.{}", i * 3 % 8)).collect();
    for v in &published {
        assert_eq!(publish_latest(&client, &endpoint, &token, "lv-demo", v).await, 201, "publish {v}");
    }
    let remaining: Vec<String> = (0..8).rev().map(|i| format!("1.0.{i}")).collect();
    let by_time: Vec<String> = published.iter().rev().cloned().collect();
    let v = aws.ok(&lpv("npm", "lv-demo", &[])).await;
    assert_eq!(v["defaultDisplayVersion"], published[7].as_str(), "latest: the last published");

    // latest moved to an older version: that one is the default display version.
    let r = client
        .put(format!("{endpoint}-/package/lv-demo/dist-tags/latest"))
        .bearer_auth(&token)
        .json(&"1.0.3")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(aws.ok(&lpv("npm", "lv-demo", &[])).await["defaultDisplayVersion"], "1.0.3");

    // Statuses: the default shows Published only; --status finds the others. The default
    // display version is the package's, whatever the filter: with `latest` unlisted it is
    // the most recently published listed version.
    let status = |vs: &'static [&'static str], target: &'static str| {
        let mut a = args("update-package-versions-status", &["--format", "npm", "--package", "lv-demo", "--versions"]);
        a.extend_from_slice(vs);
        a.extend(["--target-status", target]);
        a
    };
    aws.ok(&status(&["1.0.3", "1.0.4"], "Unlisted")).await;
    aws.ok(&status(&["1.0.5"], "Archived")).await;
    let listed: Vec<String> =
        remaining.iter().filter(|v| !["1.0.3", "1.0.4", "1.0.5"].contains(&v.as_str())).cloned().collect();
    let newest_listed = by_time.iter().find(|v| listed.contains(v)).unwrap().clone();
    let v = aws.ok(&lpv("npm", "lv-demo", &[])).await;
    assert_eq!(versions_of(&v), listed);
    assert_eq!(v["defaultDisplayVersion"], newest_listed.as_str(), "latest (1.0.3) is unlisted");
    let v = aws.ok(&lpv("npm", "lv-demo", &["--status", "Unlisted"])).await;
    assert_eq!(versions_of(&v), ["1.0.4", "1.0.3"]);
    assert_eq!(v["versions"][0]["status"], "Unlisted");
    assert_eq!(v["defaultDisplayVersion"], newest_listed.as_str(), "not chosen among the filtered versions");
    let v = aws.ok(&lpv("npm", "lv-demo", &["--status", "Archived"])).await;
    assert_eq!(versions_of(&v), ["1.0.5"]);
    let v = aws.ok(&lpv("npm", "lv-demo", &["--status", "Published", "--max-results", "3"])).await;
    assert_eq!(versions_of(&v), listed[..3]);

    // Origins: published here (INTERNAL) and ingested from the fake upstream (EXTERNAL).
    let r = client.get(format!("{endpoint}ms/-/ms-2.1.3.tgz")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for (pkg, origin, want) in [
        ("lv-demo", "INTERNAL", listed.len()),
        ("lv-demo", "EXTERNAL", 0),
        ("lv-demo", "UNKNOWN", 0),
        ("ms", "EXTERNAL", 1),
        ("ms", "INTERNAL", 0),
    ] {
        let v = aws.ok(&lpv("npm", pkg, &["--origin-type", origin])).await;
        assert_eq!(v["versions"].as_array().unwrap().len(), want, "{pkg} {origin}: {v}");
    }
    let v = aws.ok(&lpv("npm", "ms", &["--origin-type", "EXTERNAL"])).await;
    assert_eq!(v["versions"][0]["origin"]["originType"], "EXTERNAL");
    assert_eq!(v["versions"][0]["origin"]["domainEntryPoint"], json!({"externalConnectionName": "public:npmjs"}));

    // No `latest` tag: the most recently published, not the highest.
    for v in ["2.0.0", "1.5.0"] {
        assert_eq!(publish_npm(&client, &endpoint, &token, "lv-notag", v, json!({ "next": v })).await, 201);
    }
    let v = aws.ok(&lpv("npm", "lv-notag", &[])).await;
    assert_eq!((versions_of(&v), &v["defaultDisplayVersion"]), (vec!["2.0.0".into(), "1.5.0".into()], &json!("1.5.0")));
    // A scoped package names its namespace.
    assert_eq!(publish_latest(&client, &endpoint, &token, "@team/lv-scoped", "1.0.0").await, 201);
    let v = aws.ok(&lpv("npm", "lv-scoped", &["--namespace", "team"])).await;
    assert_eq!((v["namespace"].as_str(), v["package"].as_str()), (Some("team"), Some("lv-scoped")));
}

/// PyPI: the default display version is the most recently published, not the highest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_default_display_version_is_the_most_recently_published() {
    let (_fake, depot, aws) = crate::support::pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let token = aws.token("acme").await;
    for v in ["2.0", "1.0", "1.5"] {
        let status = upload_pypi(&endpoint, &token, "LV_Py", v).await;
        assert!((200..300).contains(&status), "upload {v}: {status}");
    }
    let v: Value = aws.ok(&lpv("pypi", "lv-py", &[])).await;
    assert_eq!(versions_of(&v), ["2.0", "1.5", "1.0"]);
    assert_eq!(v["defaultDisplayVersion"], "1.5");
    let v = aws.ok(&lpv("pypi", "LV.Py", &["--sort-by", "PUBLISHED_TIME"])).await;
    assert_eq!(versions_of(&v), ["1.5", "1.0", "2.0"]);
    assert_eq!(v["package"], "lv-py");
    let raw = aws.ok(&lpv("pypi", "lv-py", &["--no-paginate"])).await;
    assert!(raw.get("namespace").is_none(), "{raw}");
}
