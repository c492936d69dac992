//! The Host header: validated, bounded, ignored once `public_url` is set, and replaced by the
//! bound address (with its port) when a request has none.

use super::{addr, exchange, json_body, status};
use crate::support::app_and_store;

/// `GET <path>` with the given Host line (or none), on its own connection.
async fn get(a: &str, path: &str, host: Option<&str>, version: &str) -> String {
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    exchange(a, &format!("GET {path} HTTP/{version}\r\n{host}Connection: close\r\n\r\n")).await
}

fn tarball(resp: &str) -> String {
    json_body(resp)["versions"]["2.1.3"]["dist"]["tarball"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_header_is_validated_and_bounded() {
    let (_fake, depot, _aws) = app_and_store(|b| b.env("DEPOT_MAX_HOSTS", "3")).await;
    let a = addr(&depot);
    let path = format!("{}ms", depot.npm_endpoint("acme", "app").trim_start_matches(&depot.url));

    for bad in ["attacker.example@evil.example", "evil.example/x", "a b", "127.0.0.1:99999", "[::1", "x..y", ""] {
        let resp = get(&a, &path, Some(bad), "1.1").await;
        assert_eq!(status(&resp), 400, "Host {bad:?}: {resp}");
        assert!(json_body(&resp)["error"].as_str().unwrap().contains("Host"), "{resp}");
    }

    // HTTP/1.0 without a Host: the bound address, port included.
    let resp = get(&a, &path, None, "1.0").await;
    assert_eq!(status(&resp), 200, "{resp}");
    assert!(tarball(&resp).starts_with(&format!("http://{a}/")), "{}", tarball(&resp));

    // Up to max_hosts distinct values (the bound address is one), normalized; then 421.
    let resp = get(&a, &path, Some("attacker.example"), "1.1").await;
    assert!(tarball(&resp).starts_with("http://attacker.example/acme-"), "{}", tarball(&resp));
    let resp = get(&a, &path, Some("Other.Example:8080"), "1.1").await;
    assert!(tarball(&resp).starts_with("http://other.example:8080/"), "{}", tarball(&resp));
    let resp = get(&a, &path, Some("third.example"), "1.1").await;
    assert_eq!(status(&resp), 421, "{resp}");
    assert!(json_body(&resp)["error"].as_str().unwrap().contains("server.public_url"), "{resp}");
    // Known ones keep working, each with its own URLs.
    for _ in 0..2 {
        for (host, base) in [("attacker.example", "http://attacker.example/"), (a.as_str(), "http://127.0.0.1:")] {
            let resp = get(&a, &path, Some(host), "1.1").await;
            assert_eq!(status(&resp), 200, "{resp}");
            assert!(tarball(&resp).starts_with(base), "{host}: {}", tarball(&resp));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_url_ignores_the_host_header() {
    let (_fake, depot, _aws) = app_and_store(|b| {
        b.env("DEPOT_PUBLIC_URL", "https://depot.example.internal/registry/").env("DEPOT_MAX_HOSTS", "1")
    })
    .await;
    let a = addr(&depot);
    let path = format!("{}ms", depot.npm_endpoint("acme", "app").trim_start_matches(&depot.url));
    for host in ["attacker.example", "second.example", "a b"] {
        let resp = get(&a, &path, Some(host), "1.1").await;
        assert_eq!(status(&resp), 200, "{host}: {resp}");
        assert!(tarball(&resp).starts_with("https://depot.example.internal/registry/acme-"), "{}", tarball(&resp));
    }
}
