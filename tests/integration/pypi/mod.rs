//! PyPI through Depot (issue #9), with the real pip 23.2.1 in fresh venvs and the fake PyPI
//! upstream (`support/fake_pypi.rs`) serving `../shared/fixtures/pypi`. Domain `acme`, repository
//! `app` with upstream `store`, `store` with `public:pypi` (`support::pypi_app_and_store`).
//!
//! Only [`fake_upstream_serves_pip_directly`] runs without Depot: it proves the fake is a
//! faithful index for pip, so a failure elsewhere is Depot's.

mod freshness;
mod install;
mod pages;
mod upload;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use sha2::Digest as _;

use crate::support::clients::Aws;
use crate::support::depot::TestDepot;
use crate::support::fake_pypi::FakePypi;
use crate::support::python::{index_url_with_token, requests_app, Venv};

/// The real reason the corpus carries for requests 2.32.0.
const YANK_REASON: &str = "Yanked due to conflicts with CVE-2024-35195 mitigation";
/// What pip 23.2 sends for an index page (`index/collector.py`).
const PIP_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
/// The pins of `requests-app/requirements.txt`, normalised.
const PINNED: [(&str, &str); 6] = [
    ("certifi", "2026.10.18"),
    ("charset-normalizer", "3.5.2"),
    ("docopt", "0.6.2"),
    ("idna", "3.20"),
    ("requests", "2.34.2"),
    ("urllib3", "2.8.0"),
];
/// What pip's isolated build of docopt's sdist installs.
const BUILD_DEPS: [(&str, &str); 3] = [("packaging", "26.3"), ("setuptools", "84.2.1"), ("wheel", "0.48.0")];

/// `index.json` of the corpus: normalised name → project.
fn corpus() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(crate::support::fixtures().join("pypi/index.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The SHA-256 `index.json` declares for a file.
fn declared_sha256(filename: &str) -> String {
    corpus()
        .values()
        .flat_map(|p| p["files"].as_array().unwrap().clone())
        .find(|f| f["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} not in the corpus"))["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn requirements(file: &str) -> String {
    requests_app().join(file).display().to_string()
}

/// pip's index URL for a Depot repository, with `aws:<token>` credentials in it as
/// `aws codeartifact login --tool pip` configures.
async fn depot_index(depot: &TestDepot, aws: &Aws, repo: &str) -> String {
    let simple = format!("{}simple/", depot.pypi_endpoint("acme", repo));
    index_url_with_token(&simple, &aws.token("acme").await)
}

/// A reqwest client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Depot's JSON page of a project, retried while Depot is still fetching it (404 "in progress").
async fn json_page(endpoint: &str, project: &str) -> Value {
    let url = format!("{endpoint}simple/{project}/");
    let page = std::sync::Mutex::new(Value::Null);
    crate::support::eventually(Duration::from_secs(30), &format!("the JSON page of {project}"), || async {
        let r = reqwest::Client::new().get(&url).header("Accept", PIP_ACCEPT).send().await.unwrap();
        if r.status() != 200 {
            return false;
        }
        *page.lock().unwrap() = r.json().await.unwrap();
        true
    })
    .await;
    page.into_inner().unwrap()
}

/// The absolute URL of `filename` on a JSON page served at `<endpoint>simple/<project>/`
/// (relative URLs resolved against the page, as pip does).
fn file_url(endpoint: &str, project: &str, page: &Value, filename: &str) -> String {
    let file = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} not on the page: {page}"));
    let base = url::Url::parse(&format!("{endpoint}simple/{project}/")).unwrap();
    let mut u = base.join(file["url"].as_str().unwrap()).unwrap();
    u.set_fragment(None);
    u.to_string()
}

/// The fixture project installs straight from the fake (no Depot): pip reads its JSON pages,
/// its HTML pages with relative links, builds docopt's sdist with setuptools/wheel from it,
/// and accepts every declared hash. If this fails, the fake (not Depot) is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_upstream_serves_pip_directly() {
    let fake = FakePypi::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let index = fake.simple_url();

    let venv = Venv::create(scratch.path(), "plain").await;
    venv.pip_ok(&["install", "--index-url", &index, "-r", &requirements("requirements.txt")]).await;
    let v = venv.python_ok("import requests, docopt; print(requests.__version__, docopt.__version__)").await;
    assert_eq!(v.trim(), "2.34.2 0.6.2");
    assert!(fake.hits("/simple/setuptools/") >= 1, "the isolated build read the index: {:?}", fake.requests());
    assert!(fake.accepts().iter().flatten().any(|a| a.starts_with(JSON_TYPE)), "pip asked for JSON");

    let venv = Venv::create(scratch.path(), "hashes").await;
    venv.pip_ok(&[
        "install",
        "--index-url",
        &index,
        "--require-hashes",
        "-r",
        &requirements("requirements-hashes.txt"),
    ])
    .await;
    venv.python_ok("import requests, docopt").await;

    // What the Depot tests expect of pip itself, checked here against a plain index.
    let dest = scratch.path().join("pins");
    let d = dest.to_str().unwrap();
    let out = venv.pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", d, "requests<2.33"]).await;
    assert!(dest.join("requests-2.32.5-py3-none-any.whl").exists(), "not the yanked 2.32.0:\n{out}");
    let out = venv.pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", d, "requests==2.32.0"]).await;
    assert!(out.contains(YANK_REASON), "pip shows the yank reason:\n{out}");
    venv.pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", d, "Charset.Normalizer==3.5.2"]).await;
    let py39 = scratch.path().join("py39");
    let args = ["download", "--no-deps", "--only-binary", ":all:", "--python-version", "3.9", "--index-url", &index];
    venv.pip_ok(&[&args[..], &["-d", py39.to_str().unwrap(), "requests"]].concat()).await;
    assert!(py39.join("requests-2.32.5-py3-none-any.whl").exists(), "2.34.2 requires Python >= 3.10");

    // HTML-only pages with relative links: pip resolves them against the page URL.
    fake.html_only(true);
    fake.relative_urls(true);
    let dest = scratch.path().join("dl");
    venv.pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", dest.to_str().unwrap(), "requests==2.32.5"])
        .await;
    let bytes = std::fs::read(dest.join("requests-2.32.5-py3-none-any.whl")).unwrap();
    assert_eq!(sha256_hex(&bytes), declared_sha256("requests-2.32.5-py3-none-any.whl"));
    assert!(fake.hits("/files/requests-2.32.5-py3-none-any.whl") >= 1);

    // The HTTP surface Depot relies on.
    let c = no_redirects();
    let r = c.get(format!("{}/simple/Charset_Normalizer/", fake.url())).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/simple/charset-normalizer/");
    fake.html_only(false);
    let r = c.get(format!("{}/simple/requests/", fake.url())).header("Accept", "text/html").send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("data-yanked=\"{YANK_REASON}\"")), "{html}");
    assert!(html.contains("data-requires-python=\"&gt;=3.10\""), "{html}");
    let r = c
        .get(format!("{}/simple/requests/", fake.url()))
        .header("Accept", "text/html")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(fake.not_modified(), 1);
}

/// The fake's knobs do what the Depot tests rely on (plain HTTP, no Depot, no pip): injected
/// 503s and 502s, a real stop and restart on the same port, a new release, corrupted bytes
/// under the declared hash, yanking, and relative links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_upstream_knobs_behave() {
    let fake = FakePypi::start().await;
    let c = no_redirects();
    let page = format!("{}/simple/idna/", fake.url());
    let get_json = || c.get(&page).header("Accept", PIP_ACCEPT).send();

    fake.fail_next(2);
    assert_eq!(get_json().await.unwrap().status(), 503);
    assert_eq!(get_json().await.unwrap().status(), 503);
    let r = get_json().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with(JSON_TYPE));
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["versions"], serde_json::json!(["3.20"]));
    assert_eq!(json["files"][1]["url"], format!("{}/files/idna-3.20-py3-none-any.whl", fake.url()));
    assert!(json["files"][1].get("upload-time").is_none());

    fake.set_outage(true);
    assert_eq!(get_json().await.unwrap().status(), 502);
    fake.set_outage(false);
    fake.stop();
    assert!(get_json().await.is_err(), "port closed");
    fake.restart().await;
    assert_eq!(get_json().await.unwrap().status(), 200);

    fake.publish_file("idna", "3.21", "idna-3.21-py3-none-any.whl", b"wheel bytes".to_vec(), Some(">=3.8"));
    fake.set_yanked("idna-3.20.tar.gz", Some("broken"));
    fake.relative_urls(true);
    let json: Value = get_json().await.unwrap().json().await.unwrap();
    assert_eq!(json["versions"], serde_json::json!(["3.20", "3.21"]));
    let new = &json["files"][2];
    assert_eq!(new["url"], "../../files/idna-3.21-py3-none-any.whl");
    assert_eq!(new["hashes"]["sha256"], sha256_hex(b"wheel bytes"));
    assert_eq!(new["requires-python"], ">=3.8");
    assert_eq!(json["files"][0]["yanked"], "broken");
    let r = c.get(format!("{}/files/idna-3.21-py3-none-any.whl", fake.url())).send().await.unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..], b"wheel bytes");

    fake.replace_file("idna-3.20-py3-none-any.whl", b"corrupt".to_vec());
    let json: Value = get_json().await.unwrap().json().await.unwrap();
    assert_eq!(json["files"][1]["hashes"]["sha256"], declared_sha256("idna-3.20-py3-none-any.whl"));
    let r = c.get(format!("{}/files/idna-3.20-py3-none-any.whl", fake.url())).send().await.unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..], b"corrupt");

    fake.html_only(true);
    let r = get_json().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("href=\"../../files/idna-3.21-py3-none-any.whl#sha256="));
    let r = c.get(format!("{}/simple", fake.url())).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (301, "/simple/"));
    let r = c.get(format!("{}/simple/", fake.url())).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("<a href=\"/simple/charset-normalizer/\">"));
    assert_eq!(fake.hits("/simple/idna/"), 8, "every request counted, failures included, none while stopped");
    assert_eq!(c.get(format!("{}/simple/nope/", fake.url())).send().await.unwrap().status(), 404);
}
