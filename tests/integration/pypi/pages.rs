//! Depot's simple-index pages over HTTP: yanked files and `Requires-Python`, PEP 503 name
//! normalisation, PEP 691 negotiation with ready bytes (ETag, 304, gzip), an HTML-only upstream
//! with relative links, and the unsupported JSON API.

use std::io::Read as _;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{declared_sha256, depot_index, no_redirects, sha256_hex, JSON_TYPE, PIP_ACCEPT, YANK_REASON};
use crate::support::depot::TestDepot;
use crate::support::pypi_app_and_store;
use crate::support::python::Venv;

/// The `<a …>…</a>` element whose text is `filename`.
fn anchor<'a>(html: &'a str, filename: &str) -> &'a str {
    let end = html.find(&format!(">{filename}</a>")).unwrap_or_else(|| panic!("no link to {filename}:\n{html}"));
    let start = html[..end].rfind("<a ").expect("an anchor start");
    &html[start..end]
}

/// `requests` 2.32.0 is yanked upstream with a reason: the HTML page says so in `data-yanked`
/// on both its files and carries `data-requires-python` HTML-escaped; the JSON page has the
/// reason in `yanked`; `pip install 'requests<2.33'` skips the yanked 2.32.0 for 2.32.5,
/// pinning 2.32.0 shows pip's warning with the reason, and a download for Python 3.9 picks
/// 2.32.5 (2.34.2 requires `>=3.10`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yanked_files_and_requires_python_reach_pip() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let page_url = format!("{endpoint}simple/requests/");
    super::json_page(&endpoint, "requests").await;

    let r = reqwest::Client::new().get(&page_url).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for file in ["requests-2.32.0.tar.gz", "requests-2.32.0-py3-none-any.whl"] {
        assert!(anchor(&html, file).contains(&format!("data-yanked=\"{YANK_REASON}\"")), "{file}:\n{html}");
    }
    for file in ["requests-2.32.5.tar.gz", "requests-2.34.2-py3-none-any.whl"] {
        assert!(!anchor(&html, file).contains("data-yanked"), "{file} is not yanked:\n{html}");
    }
    let a = anchor(&html, "requests-2.34.2-py3-none-any.whl");
    assert!(a.contains("data-requires-python=\"&gt;=3.10\""), "escaped '>=3.10': {a}");
    let sha = declared_sha256("requests-2.34.2-py3-none-any.whl");
    assert!(a.contains(&format!("#sha256={sha}\"")), "{a}");

    let r = reqwest::Client::new().get(&page_url).header("Accept", JSON_TYPE).send().await.unwrap();
    let page: Value = r.json().await.unwrap();
    for f in page["files"].as_array().unwrap() {
        let name = f["filename"].as_str().unwrap();
        let expected = if name.starts_with("requests-2.32.0") { Value::from(YANK_REASON) } else { Value::from(false) };
        assert_eq!(f["yanked"], expected, "{name}");
    }

    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    venv.pip_ok(&["install", "--index-url", &index, "requests<2.33"]).await;
    assert!(venv.installed().await.contains(&"requests==2.32.5".to_string()));
    let dest = depot.scratch("dl");
    let out = venv
        .pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", dest.to_str().unwrap(), "requests==2.32.0"])
        .await;
    assert!(out.contains(YANK_REASON), "pip shows the yank reason:\n{out}");
    // Requires-Python reaches pip: for Python 3.9 the newest acceptable release is 2.32.5.
    let py39 = depot.scratch("py39");
    let args = ["download", "--no-deps", "--only-binary", ":all:", "--python-version", "3.9", "--index-url", &index];
    venv.pip_ok(&[&args[..], &["-d", py39.to_str().unwrap(), "requests"]].concat()).await;
    assert!(py39.join("requests-2.32.5-py3-none-any.whl").exists(), "2.34.2 requires Python >= 3.10");
}

/// PEP 503 URLs: `simple` → 301 `simple/`, `simple/requests` → 301 `simple/requests/`,
/// `simple/Charset_Normalizer/` → 301 `simple/charset-normalizer/` (relative or absolute
/// `Location`, resolved against the request); pip installs `Charset.Normalizer==3.5.2`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_names_are_normalised_with_redirects() {
    let (_fake, depot, aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    let c = no_redirects();
    for (from, to) in [
        ("simple", "simple/"),
        ("simple/requests", "simple/requests/"),
        ("simple/Charset_Normalizer/", "simple/charset-normalizer/"),
        ("simple/charset.normalizer", "simple/charset-normalizer/"),
    ] {
        let url = url::Url::parse(&format!("{endpoint}{from}")).unwrap();
        let r = c.get(url.clone()).send().await.unwrap();
        assert_eq!(r.status(), 301, "{from}");
        let location = r.headers()["location"].to_str().unwrap();
        assert_eq!(url.join(location).unwrap().as_str(), format!("{endpoint}{to}"), "{from} → {location}");
    }
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    venv.pip_ok(&["install", "--index-url", &index, "Charset.Normalizer==3.5.2"]).await;
    assert!(venv.installed().await.contains(&"charset-normalizer==3.5.2".to_string()));
}

/// `GET <path>` over a raw socket, so that no `Accept` header is sent (reqwest always adds
/// `*/*`): → (status, Content-Type).
async fn get_without_accept(depot: &TestDepot, path: &str) -> (u16, String) {
    let host = depot.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let ctype = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim()))
        .unwrap_or("")
        .to_string();
    (status, ctype)
}

/// PEP 691 negotiation on a project page: pip's `Accept` → JSON; `text/html` → HTML;
/// no `Accept` or `*/*` → HTML (`text/html` or the v1 HTML type); only `application/json` →
/// 406. Pages are ready bytes: a strong ETag answered 304 on `If-None-Match`, gzip on request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_negotiate_and_revalidate() {
    let (_fake, depot, _aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    super::json_page(&endpoint, "requests").await;
    let url = format!("{endpoint}simple/requests/");
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let get = |accept: &'static str| client.get(&url).header("Accept", accept).send();
    let ctype = |r: &reqwest::Response| r.headers()["content-type"].to_str().unwrap().to_string();
    let is_html = |t: &str| t.starts_with("text/html") || t.starts_with("application/vnd.pypi.simple.v1+html");

    let r = get(PIP_ACCEPT).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(ctype(&r).starts_with(JSON_TYPE), "{}", ctype(&r));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    let identity = r.bytes().await.unwrap();
    let page: Value = serde_json::from_slice(&identity).unwrap();
    assert!(page["meta"]["api-version"].as_str().unwrap().starts_with("1."), "{page}");
    assert_eq!(page["name"], "requests");

    let r = get("text/html").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(ctype(&r).starts_with("text/html"), "{}", ctype(&r));
    let r = get("*/*").await.unwrap();
    assert!(is_html(&ctype(&r)), "*/* gets HTML: {}", ctype(&r));
    let path = url.trim_start_matches(&depot.url);
    let (status, t) = get_without_accept(&depot, path).await;
    assert_eq!(status, 200);
    assert!(is_html(&t), "no Accept gets HTML: {t}");
    let r = get("application/json").await.unwrap();
    assert_eq!(r.status(), 406, "PEP 691: nothing acceptable");

    let r = client.get(&url).header("Accept", PIP_ACCEPT).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    let r = client.get(&url).header("Accept", PIP_ACCEPT).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&r.bytes().await.unwrap()[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, identity, "the gzip variant holds the same page");
}

/// An upstream that predates PEP 691 (HTML only) and links files relative to its pages, with
/// Depot configured with its `…/simple/` URL: Depot resolves the links, and pip downloads the
/// right bytes through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_only_upstream_with_relative_links() {
    let fake = crate::support::fake_pypi::FakePypi::start().await;
    fake.html_only(true);
    fake.relative_urls(true);
    let depot = TestDepot::builder().pypi_upstream(&fake.simple_url()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:pypi"))]).await;
    let index = depot_index(&depot, &aws, "app").await;
    let venv = Venv::create(&depot.scratch("pip"), "venv").await;
    let dest = depot.scratch("dl");
    venv.pip_ok(&["download", "--no-deps", "--index-url", &index, "-d", dest.to_str().unwrap(), "requests==2.34.2"])
        .await;
    let file = "requests-2.34.2-py3-none-any.whl";
    assert_eq!(sha256_hex(&std::fs::read(dest.join(file)).unwrap()), declared_sha256(file));
    assert_eq!(fake.hits(&format!("/files/{file}")), 1);
}

/// The PyPI JSON API (`pypi/<name>/json`) is not offered, as on CodeArtifact: 404 with a
/// message that says so, for the project and the versioned form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_is_not_supported() {
    let (_fake, depot, _aws) = pypi_app_and_store(|b| b).await;
    let endpoint = depot.pypi_endpoint("acme", "app");
    for path in ["pypi/requests/json", "pypi/requests/2.34.2/json"] {
        let r = reqwest::get(format!("{endpoint}{path}")).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body = r.text().await.unwrap().to_lowercase();
        assert!(body.contains("json api") && body.contains("not supported"), "{path}: {body}");
    }
}
