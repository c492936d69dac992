//! Request bodies on the npm routes: refused before they are read when the request is not
//! authorized or the method takes none, bounded per route (413 naming the limit, nothing
//! stored), memory that does not follow what anonymous clients send, and one dist-tag
//! validation for publish bodies and the dist-tag endpoint.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::depot::TestDepot;

const MIB: usize = 1024 * 1024;

/// Reads one HTTP response (head and `Content-Length` body) within `wait`; panics naming `what`.
async fn read_response(r: &mut (impl AsyncReadExt + Unpin), wait: Duration, what: &str) -> (u16, String) {
    try_read_response(r, wait).await.unwrap_or_else(|| panic!("no response within {wait:?}: {what}"))
}

/// Reads one HTTP response within `wait`, `None` when none came.
async fn try_read_response(r: &mut (impl AsyncReadExt + Unpin), wait: Duration) -> Option<(u16, String)> {
    let read = async {
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if status != 100 && buf.len() >= end + 4 + len {
                    return (status, String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string());
                }
                if status == 100 {
                    buf.drain(..end + 4);
                    continue;
                }
            }
            let n = r.read(&mut tmp).await.unwrap_or(0);
            if n == 0 {
                return (0, format!("connection closed after {} bytes", buf.len()));
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    };
    tokio::time::timeout(wait, read).await.ok()
}

/// Sends a request head (and `body` bytes, possibly fewer than announced) and reads the answer.
async fn raw(depot: &TestDepot, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(depot.url.trim_start_matches("http://")).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    read_response(&mut s, Duration::from_secs(5), head.lines().next().unwrap_or_default()).await
}

/// `VmRSS` / `VmHWM` of a process, in bytes.
pub(crate) fn proc_mem(pid: u32, field: &str) -> usize {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc status"));
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

/// A publish body for `name@version` carrying `tarball`, with `dist-tags` as given.
pub(crate) fn publish_body(name: &str, version: &str, tarball: &[u8], tags: serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    use sha2::Digest;
    let integrity =
        format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(tarball)));
    let head = serde_json::json!({
        "name": name,
        "versions": {version: {"name": name, "version": version, "dist": {"integrity": integrity}}},
        "dist-tags": tags,
    })
    .to_string();
    // Built by hand so a large tarball is not copied into a JSON value first.
    let mut body = head.into_bytes();
    body.pop();
    body.extend_from_slice(
        format!(r#","_attachments":{{"{name}-{version}.tgz":{{"length":{},"data":""#, tarball.len()).as_bytes(),
    );
    body.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(tarball).as_bytes());
    body.extend_from_slice(b"\"}}}");
    body
}

/// Files under `dir`, recursively.
pub(crate) fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut v);
    v
}

async fn small_depot() -> (TestDepot, String, String) {
    let depot = TestDepot::builder().env("DEPOT_MAX_PACKAGE_BYTES", &MIB.to_string()).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &[], None)]).await;
    let token = aws.token("acme").await;
    let path = format!("/acme-{}/npm/app/", depot.account);
    (depot, token, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_refused_before_they_are_read_and_bounded_per_route() {
    let (depot, token, path) = small_depot().await;
    let aws = depot.aws();

    // Anonymous: 401 from the headers alone, with no body sent at all.
    let head = format!(
        "PUT {path}thing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        200 * MIB
    );
    let (status, text) = raw(&depot, &head, b"{").await;
    assert_eq!(status, 401, "{text}");
    // Not even a 100 Continue invites the body.
    let head = head.replace("Content-Type", "Expect: 100-continue\r\nContent-Type");
    assert_eq!(raw(&depot, &head, b"").await.0, 401);

    // Methods that take no body refuse one, whether sized or chunked.
    let r = reqwest::Client::new().get(format!("{}{path}thing", depot.url)).body("hello").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("GET requests take no body"));
    let head = format!("DELETE {path}-/package/thing/dist-tags/beta HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n");
    let (status, text) = raw(&depot, &head, b"").await;
    assert_eq!(status, 400, "{text}");

    // With a token, an announced size over the publish limit is refused before reading:
    // 1 MiB packages → at most 4/3 MiB of base64 plus 8 MiB of metadata.
    let limit = MIB.div_ceil(3) * 4 + 8 * MIB;
    let head = format!(
        "PUT {path}thing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    );
    let (status, text) = raw(&depot, &head, b"").await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains(&limit.to_string()), "the limit is named: {text}");

    // A body within that size whose package is over 1 MiB: 413 while streaming, nothing stored.
    let client = reqwest::Client::new();
    let put = |body: Vec<u8>| client.put(format!("{}{path}thing", depot.url)).bearer_auth(&token).body(body).send();
    let r = put(publish_body("thing", "1.0.0", &random_bytes(2 * MIB), serde_json::json!({}))).await.unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains(&format!("package file exceeds the limit of {MIB} bytes")));
    assert!(aws.versions("acme", "app", "thing").await.is_empty());
    assert_eq!(count_files(&depot.data_dir().join("blobs")), 0, "no blob and no temp file");

    // Within the limit: published.
    let r = put(publish_body("thing", "1.0.0", &random_bytes(MIB / 2), serde_json::json!({"latest": "1.0.0"})))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // A dist-tag body has its own small limit.
    let r = client
        .put(format!("{}{path}-/package/thing/dist-tags/beta", depot.url))
        .bearer_auth(&token)
        .body(format!("\"{}\"", "1".repeat(70_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("65536"));

    // A client that goes away in the middle of its attachment leaves no temp file behind.
    let blobs = depot.data_dir().join("blobs");
    let stored = count_files(&blobs);
    let head = format!(
        "PUT {path}thing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        MIB
    );
    let mut s = TcpStream::connect(depot.url.trim_start_matches("http://")).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(br#"{"name":"thing","_attachments":{"thing-2.0.0.tgz":{"data":""#).await.unwrap();
    s.write_all(&b"QUJD".repeat(MIB / 8)).await.unwrap();
    let tmp = blobs.join("tmp");
    crate::support::eventually(Duration::from_secs(10), "the upload's temp file", || async { count_files(&tmp) == 1 })
        .await;
    drop(s);
    crate::support::eventually(Duration::from_secs(10), "the temp file removed", || async { count_files(&tmp) == 0 })
        .await;
    assert_eq!(count_files(&blobs), stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_anonymous_large_puts_do_not_raise_memory() {
    let depot = TestDepot::builder().start().await;
    depot.aws().setup("acme", &[("app", &[], None)]).await;
    let pid = depot.pid();
    let base = proc_mem(pid, "VmRSS").max(proc_mem(pid, "VmHWM"));
    let addr = depot.url.trim_start_matches("http://").to_string();
    let head = format!(
        "PUT /acme-{}/npm/app/thing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        depot.account,
        200 * MIB
    );
    // Each client pushes up to 48 MiB as fast as Depot takes it, while reading the answer.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, head) = (addr.clone(), head.clone());
            tokio::spawn(async move {
                let s = TcpStream::connect(addr).await.unwrap();
                let (mut rd, mut wr) = s.into_split();
                wr.write_all(head.as_bytes()).await.unwrap();
                let reader =
                    tokio::spawn(async move { try_read_response(&mut rd, Duration::from_secs(20)).await.map(|r| r.0) });
                let chunk = vec![b'A'; 64 * 1024];
                let mut sent = 0;
                while sent < 48 * MIB {
                    match tokio::time::timeout(Duration::from_secs(2), wr.write_all(&chunk)).await {
                        Ok(Ok(())) => sent += chunk.len(),
                        _ => break,
                    }
                }
                (reader.await.unwrap(), sent)
            })
        })
        .collect();
    let mut results = Vec::new();
    for c in clients {
        results.push(c.await.unwrap());
    }
    let peak = proc_mem(pid, "VmHWM");
    let sent: usize = results.iter().map(|r| r.1).sum();
    eprintln!("anonymous PUTs: base {} MiB, peak {} MiB, {} MiB sent", base / MIB, peak / MIB, sent / MIB);
    assert!(peak < base + 16 * MIB, "peak RSS {} MiB over a base of {} MiB", peak / MIB, base / MIB);
    assert!(results.iter().all(|r| r.0 == Some(401)), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dist_tags_are_validated_on_every_path() {
    let (depot, token, path) = small_depot().await;
    let aws = depot.aws();
    let client = reqwest::Client::new();
    let tgz = random_bytes(1000);
    let put = |tags: serde_json::Value| {
        client
            .put(format!("{}{path}thing", depot.url))
            .bearer_auth(&token)
            .body(publish_body("thing", "1.0.0", &tgz, tags))
            .send()
    };
    for (tag, why) in
        [("1.0.0", "semver"), ("1.x", "semver"), ("be\u{7}ta", "may only contain"), (" beta", "may only contain")]
    {
        let r = put(serde_json::json!({"latest": "1.0.0", tag: "1.0.0"})).await.unwrap();
        assert_eq!(r.status(), 400, "{tag:?}");
        let v: serde_json::Value = r.json().await.unwrap();
        let err = v["error"].as_str().unwrap_or_default();
        assert!(err.contains(why) && err.contains(&format!("{tag:?}")), "the error names {tag:?}: {err}");
    }
    assert!(aws.versions("acme", "app", "thing").await.is_empty(), "nothing stored");
    assert_eq!(count_files(&depot.data_dir().join("blobs")), 0);
    assert_eq!(put(serde_json::json!({"latest": "1.0.0"})).await.unwrap().status(), 201);

    let tag_put = |tag: &str| {
        client
            .put(format!("{}{path}-/package/thing/dist-tags/{tag}", depot.url))
            .bearer_auth(&token)
            .body("\"1.0.0\"")
            .send()
    };
    for tag in ["1.x", "v1", "be%07ta", "1.0.0"] {
        let r = tag_put(tag).await.unwrap();
        assert_eq!(r.status(), 400, "{tag}");
    }
    assert_eq!(tag_put("beta").await.unwrap().status(), 200);
    let tags: serde_json::Value =
        client.get(format!("{}{path}-/package/thing/dist-tags", depot.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(tags, serde_json::json!({"latest": "1.0.0", "beta": "1.0.0"}));
}
