//! Upstream timing and trust for PyPI: the page max age ("3-hour rule", shortened), the client
//! wait ("40-second rule", shortened) and upstream bytes that do not match their hash.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{declared_sha256, file_url, json_page, sha256_hex, PIP_ACCEPT};
use crate::support::eventually;
use crate::support::pypi_app_and_store;

const IN_PROGRESS: &str = "Ingestion is in progress";

fn versions(page: &Value) -> Vec<String> {
    page["versions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// With `DEPOT_METADATA_MAX_AGE_PYPI_SECS=2`: a version published upstream stays invisible
/// while the cached page is fresh; the first request after expiry still gets the old page
/// (stale-while-revalidate) and starts one refresh; a later request shows the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_pages_follow_the_max_age() {
    let (fake, depot, _aws) = pypi_app_and_store(|b| b.env("DEPOT_METADATA_MAX_AGE_PYPI_SECS", "2")).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let page = json_page(&endpoint, "requests").await;
    let fetched = Instant::now();
    assert_eq!(versions(&page).last().map(String::as_str), Some("2.34.2"), "newest last: {page}");
    assert_eq!(fake.hits("/simple/requests/"), 1);

    fake.publish_file("requests", "2.99.0", "requests-2.99.0-py3-none-any.whl", b"new upstream file".to_vec(), None);
    let url = format!("{endpoint}simple/requests/");
    let get = || async {
        let r = reqwest::Client::new().get(&url).header("Accept", PIP_ACCEPT).send().await.unwrap();
        assert_eq!(r.status(), 200);
        versions(&r.json::<Value>().await.unwrap())
    };
    let within = get().await;
    if fetched.elapsed() < Duration::from_secs(2) {
        assert!(!within.contains(&"2.99.0".to_string()), "within the max age the cached page answers");
        assert_eq!(fake.hits("/simple/requests/"), 1, "no upstream request within the max age");
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!get().await.contains(&"2.99.0".to_string()), "the first request after expiry gets the stale page");
    eventually(Duration::from_secs(10), "2.99.0 on the refreshed page", || async {
        get().await.contains(&"2.99.0".to_string())
    })
    .await;
    assert_eq!(fake.hits("/simple/requests/"), 2, "one refresh");
}

/// With `DEPOT_INGESTION_WAIT_SECS=1` and a 3 s upstream: the first download of a file answers
/// 404 "Ingestion is in progress" after the wait; the ingestion goes on, and the same GET later
/// answers 200 with the upstream's bytes; the file was fetched upstream exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_file_download_answers_in_progress_then_the_file() {
    let (fake, depot, _aws) = pypi_app_and_store(|b| b.env("DEPOT_INGESTION_WAIT_SECS", "1")).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let file = "idna-3.20-py3-none-any.whl";
    let page = json_page(&endpoint, "idna").await;
    let url = file_url(&endpoint, "idna", &page, file);
    fake.set_latency(Duration::from_secs(3));

    let started = Instant::now();
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(started.elapsed() < Duration::from_millis(2900), "answered after the wait, not after the fetch");
    let body = r.text().await.unwrap();
    assert!(body.contains(IN_PROGRESS), "{body}");

    let bytes = std::sync::Mutex::new(Vec::new());
    eventually(Duration::from_secs(30), "the file once ingested", || async {
        let r = reqwest::get(&url).await.unwrap();
        if r.status() != 200 {
            return false;
        }
        *bytes.lock().unwrap() = r.bytes().await.unwrap().to_vec();
        true
    })
    .await;
    assert_eq!(sha256_hex(&bytes.into_inner().unwrap()), declared_sha256(file));
    assert_eq!(fake.hits(&format!("/files/{file}")), 1, "fetched upstream exactly once");
}

/// Upstream bytes that do not match the page's SHA-256 are refused: 502, no version stored in
/// either repository, no blob committed or left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_upstream_files_are_refused() {
    let (fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let file = "urllib3-2.8.0-py3-none-any.whl";
    fake.replace_file(file, b"these are not the bytes the index declares".to_vec());
    let page = json_page(&endpoint, "urllib3").await;
    let r = reqwest::get(file_url(&endpoint, "urllib3", &page, file)).await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(aws.pypi_versions("acme", "store", "urllib3").await.is_empty(), "nothing stored");
    assert!(aws.pypi_versions("acme", "app", "urllib3").await.is_empty());
    let blobs = walk_files(&depot.data_dir().join("blobs"));
    assert!(blobs.is_empty(), "no blob committed or left behind: {blobs:?}");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk_files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
