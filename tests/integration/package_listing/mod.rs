//! ListPackages and ListPackageVersions through the real `aws codeartifact`: 2,500 packages
//! seeded over HTTP by a small concurrent publisher, pages and walks (the CLI's own
//! pagination and raw `nextToken` pages, also while packages come and go), every filter
//! combination, the limits; and version listings: pages whose last version is deleted,
//! statuses, `sortBy`, `originType`, `defaultDisplayVersion` for npm and PyPI.

mod packages;
mod versions;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest;

use crate::support::clients::Aws;

/// `<op> --domain acme --repository app` then `extra`.
fn args<'a>(op: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![op, "--domain", "acme", "--repository", "app"];
    a.extend_from_slice(extra);
    a
}

/// An npm publish by HTTP (`@scope/name` accepted) with the given dist-tags; returns the status.
async fn publish_npm(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    name: &str,
    version: &str,
    tags: Value,
) -> u16 {
    let tgz = crate::support::fake_npm::make_tarball(name, version, &[]);
    let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap_or(name));
    let body = json!({
        "name": name, "versions": {version: {"name": name, "version": version, "dist": {}}},
        "dist-tags": tags,
        "_attachments": {file: {"data": base64::engine::general_purpose::STANDARD.encode(&tgz), "length": tgz.len()}}
    });
    let path = name.replacen('/', "%2f", 1);
    let r = client.put(format!("{endpoint}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
    r.status().as_u16()
}

/// `publish_npm` with `latest` pointing at the new version, as `npm publish` does.
async fn publish_latest(client: &reqwest::Client, endpoint: &str, token: &str, name: &str, version: &str) -> u16 {
    publish_npm(client, endpoint, token, name, version, json!({ "latest": version })).await
}

/// Publishes `names` (version 1.0.0 each) with `workers` concurrent requests.
async fn publish_all(endpoint: &str, token: &str, names: Vec<String>, workers: usize) {
    let names = Arc::new(names);
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (names, next, endpoint, token) = (names.clone(), next.clone(), endpoint.to_string(), token.to_string());
        set.spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                let status = publish_latest(&client, &endpoint, &token, name, "1.0.0").await;
                assert_eq!(status, 201, "publish {name}");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

/// A PyPI upload the way twine sends it: a wheel whose METADATA names the project.
async fn upload_pypi(endpoint: &str, token: &str, name: &str, version: &str) -> u16 {
    let dist = name.replace('-', "_");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file(format!("{dist}/__init__.py"), opts).unwrap();
    w.start_file(format!("{dist}-{version}.dist-info/METADATA"), opts).unwrap();
    std::io::Write::write_all(&mut w, metadata.as_bytes()).unwrap();
    let wheel = w.finish().unwrap().into_inner();
    let boundary = "listing-test-boundary";
    let mut body = Vec::new();
    let digest = hex::encode(sha2::Sha256::digest(&wheel));
    for (k, v) in [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", name),
        ("version", version),
        ("filetype", "bdist_wheel"),
        ("sha256_digest", &digest),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    let file = format!("{dist}-{version}-py3-none-any.whl");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{file}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&wheel);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(endpoint)
        .basic_auth("aws", Some(token))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// `list-packages` entries as `format:namespace/name` (namespace empty when none).
fn keys(v: &Value) -> Vec<String> {
    v["packages"]
        .as_array()
        .unwrap_or_else(|| panic!("no packages in {v}"))
        .iter()
        .map(|p| {
            format!(
                "{}:{}/{}",
                p["format"].as_str().unwrap(),
                p["namespace"].as_str().unwrap_or(""),
                p["package"].as_str().unwrap()
            )
        })
        .collect()
}

/// The versions of a `list-package-versions` answer, in its order.
fn versions_of(v: &Value) -> Vec<String> {
    v["versions"].as_array().unwrap().iter().map(|x| x["version"].as_str().unwrap().to_string()).collect()
}

/// An `aws` runner whose botocore skips client-side parameter checks, so Depot's own
/// validation of out-of-range values (such as `--max-results 0`) is what answers.
fn unchecked(depot: &crate::support::depot::TestDepot) -> Aws {
    let aws = depot.aws();
    std::fs::create_dir_all(aws.home.join(".aws")).unwrap();
    std::fs::write(aws.home.join(".aws/config"), "[default]\nparameter_validation = false\n").unwrap();
    aws
}
