//! Hot-path benchmark: Depot serving cached npm metadata and tarballs, measured against a
//! baseline that serves the very same bytes from disk in the same run (nginx when one is
//! installed, else a minimal in-process static file server).
//!
//! Run: `cargo bench --bench hot_paths` (BENCH_REQUESTS, BENCH_CONCURRENCY tune it). Everything
//! listens on 127.0.0.1; request counts are bounded and the run stops by itself.

#[path = "../tests/integration/support/fake_npm.rs"]
mod fake_npm;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Scenario {
    name: &'static str,
    url: String,
    headers: Vec<(&'static str, String)>,
    status: u16,
    len: Option<usize>,
}

struct Outcome {
    name: &'static str,
    requests: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn run(client: &reqwest::Client, s: &Scenario, total: usize, concurrency: usize) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, url, headers) = (client.clone(), next.clone(), s.url.clone(), s.headers.clone());
        let (status, len) = (s.status, s.len);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let mut req = client.get(&url);
                for (k, v) in &headers {
                    req = req.header(*k, v);
                }
                let resp = req.send().await.expect("request");
                assert_eq!(resp.status().as_u16(), status, "{url}");
                let body = resp.bytes().await.expect("body");
                if let Some(l) = len {
                    assert_eq!(body.len(), l, "{url}: body length");
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    Outcome { name: s.name, requests: all.len(), rps: all.len() as f64 / secs, p50_ms: pct(0.5), p99_ms: pct(0.99) }
}

/// Serves `dir` as static files: nginx when installed, else a small in-process server.
async fn start_baseline(dir: &Path, tmp: &Path) -> (String, &'static str, Option<std::process::Child>) {
    let port = free_port();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists());
    if let Some(nginx) = nginx {
        let conf = tmp.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log;\n\
                 events {{}}\nhttp {{ access_log off; sendfile on; keepalive_requests 1000000;\n\
                 server {{ listen 127.0.0.1:{port}; root {dir}; location / {{ default_type application/octet-stream; }} }} }}\n",
                tmp = tmp.display(),
                dir = dir.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new(nginx)
            .args(["-c", conf.to_str().unwrap(), "-p", tmp.to_str().unwrap()])
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        wait_up(&format!("{url}/packument.json")).await;
        return (url, "nginx (1 worker, sendfile)", Some(child));
    }
    let dir = dir.to_path_buf();
    let app = axum::Router::new().route(
        "/{file}",
        axum::routing::get(move |axum::extract::Path(file): axum::extract::Path<String>| {
            let dir = dir.clone();
            async move {
                match tokio::fs::read(dir.join(file)).await {
                    Ok(b) => (axum::http::StatusCode::OK, Bytes::from(b)),
                    Err(_) => (axum::http::StatusCode::NOT_FOUND, Bytes::new()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}"), "in-process static server (tokio::fs::read per request; no nginx found)", None)
}

async fn wait_up(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(url).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not come up");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let total = env_usize("BENCH_REQUESTS", 20_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_npm::FakeNpm::start().await;

    let port = free_port();
    let dead = "http://127.0.0.1:9/x";
    let mut depot = std::process::Command::new(env!("CARGO_BIN_EXE_depot"))
        .arg("serve")
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPOT_DATA_DIR", tmp.path().join("data"))
        .env("DEPOT_ADMIN_ACCESS_KEY_ID", "AKIDBENCH")
        .env("DEPOT_ADMIN_SECRET_ACCESS_KEY", "benchsecret")
        .env("DEPOT_UPSTREAM_PUBLIC_NPMJS", fake.url())
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL", dead)
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GOOGLEANDROID", dead)
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GRADLEPLUGINS", dead)
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_COMMONSWARE", dead)
        .env("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", dead)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start depot");
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&format!("{base}/healthz")).await;
    let endpoint = format!("{base}/default-000000000000/npm/main/");
    let client = reqwest::Client::builder().no_gzip().pool_max_idle_per_host(concurrency).build().unwrap();

    // Warm: the first requests fetch from the fake upstream and ingest the tarball.
    let tarball_url = format!("{endpoint}express/-/express-4.22.3.tgz");
    let abbrev = "application/vnd.npm.install-v1+json";
    let warm = |url: String, accept: &'static str| {
        let client = client.clone();
        async move {
            for _ in 0..100 {
                let r = client.get(&url).header("accept", accept).send().await.unwrap();
                if r.status() == 200 {
                    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
                    return (r.bytes().await.unwrap(), etag);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{url} never answered 200");
        }
    };
    let (full, _) = warm(format!("{endpoint}express"), "application/json").await;
    let (abbreviated, etag) = warm(format!("{endpoint}express"), abbrev).await;
    let (tarball, _) = warm(tarball_url.clone(), "*/*").await;

    let files = tmp.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("packument.json"), &full).unwrap();
    std::fs::write(files.join("express-4.22.3.tgz"), &tarball).unwrap();
    let (baseline, baseline_name, nginx) = start_baseline(&files, tmp.path()).await;

    let scenarios = [
        Scenario {
            name: "depot packument (full)",
            url: format!("{endpoint}express"),
            headers: vec![("accept", "application/json".into())],
            status: 200,
            len: Some(full.len()),
        },
        Scenario {
            name: "depot packument (abbreviated)",
            url: format!("{endpoint}express"),
            headers: vec![("accept", abbrev.into())],
            status: 200,
            len: Some(abbreviated.len()),
        },
        Scenario {
            name: "depot packument (304)",
            url: format!("{endpoint}express"),
            headers: vec![("accept", abbrev.into()), ("if-none-match", etag.unwrap())],
            status: 304,
            len: Some(0),
        },
        Scenario { name: "depot tarball", url: tarball_url, headers: vec![], status: 200, len: Some(tarball.len()) },
        Scenario {
            name: "baseline packument bytes",
            url: format!("{baseline}/packument.json"),
            headers: vec![],
            status: 200,
            len: Some(full.len()),
        },
        Scenario {
            name: "baseline tarball bytes",
            url: format!("{baseline}/express-4.22.3.tgz"),
            headers: vec![],
            status: 200,
            len: Some(tarball.len()),
        },
    ];
    println!("baseline: {baseline_name}; {total} requests per scenario, {concurrency} concurrent connections");
    println!("packument {} bytes, tarball {} bytes", full.len(), tarball.len());
    let mut results = Vec::new();
    for s in &scenarios {
        let _ = run(&client, s, total / 10, concurrency).await; // warm-up round
        results.push(run(&client, s, total, concurrency).await);
    }
    println!("{:<32} {:>9} {:>10} {:>8} {:>8}", "scenario", "requests", "req/s", "p50 ms", "p99 ms");
    for r in &results {
        println!("{:<32} {:>9} {:>10.0} {:>8.2} {:>8.2}", r.name, r.requests, r.rps, r.p50_ms, r.p99_ms);
    }
    let ratio = |a: usize, b: usize| 100.0 * results[a].rps / results[b].rps;
    println!("packument: depot {:.1}% of baseline", ratio(0, 4));
    println!("tarball:   depot {:.1}% of baseline", ratio(3, 5));
    let json = serde_json::json!({
        "baseline": baseline_name,
        "requests": total, "concurrency": concurrency,
        "results": results.iter().map(|r| serde_json::json!({"scenario": r.name, "rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms})).collect::<Vec<_>>(),
        "packument_ratio_pct": ratio(0, 4), "tarball_ratio_pct": ratio(3, 5),
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-hot-paths.json");
    let _ = std::fs::write(out, serde_json::to_vec_pretty(&json).unwrap());
    let _ = depot.kill();
    let _ = depot.wait();
    if let Some(mut n) = nginx {
        let _ = n.kill();
        let _ = n.wait();
    }
}
