//! Hot-path benchmark: Depot serving cached npm metadata and tarballs, measured as ratios
//! against a baseline that serves **the very same bytes from disk** in the same run.
//!
//! What runs, all on 127.0.0.1:
//!
//! - the fake npm upstream of the integration tests (`tests/integration/support/fake_npm.rs`);
//! - a real `depot serve` child process (the `depot` binary of the same profile, next to this
//!   bench's executable; built with `cargo build --bin depot` if missing), with its npm
//!   connection pointed at the fake and every other connection at a dead loopback port;
//! - the baseline: nginx (`master_process off`, i.e. one process serving, `sendfile on`) when an
//!   `nginx` executable is on `PATH` or at `/usr/sbin/nginx`, else a minimal in-process static
//!   server on its own single-threaded runtime that reads the file per request
//!   (`tokio::fs::read`). `BENCH_BASELINE=builtin|nginx` forces one.
//!
//! After warming Depot's cache through repository `main` (full and abbreviated `express`
//! packument, `express-4.22.3.tgz`) and letting its background dependency prefetch finish, the
//! bytes Depot served are written to a temp dir for the baseline. Then each scenario runs a
//! bounded number of GETs from `BENCH_CONCURRENCY` workers, each with its own keep-alive
//! connection: Depot full packument, abbreviated packument, `If-None-Match` revalidation (304),
//! tarball; baseline packument bytes, baseline tarball bytes. The six scenarios run
//! `BENCH_ROUNDS` times, interleaved, so that noise from the rest of the machine hits Depot and
//! the baseline alike. Every answer's status and body length is checked; a wrong answer fails the
//! run (non-zero exit). Printed: the median round's requests/s, p50 and p99 latency (pooled over
//! the rounds) per scenario, and Depot's throughput as a percentage of the baseline's for the
//! packument and the tarball, with the per-round range. Results also go to
//! `target/bench-hot-paths.json`. The load generator shares the machine with both servers, so
//! absolute figures depend on it; compare the ratios.
//!
//! Run: `cargo bench --bench hot_paths`. Knobs: `BENCH_REQUESTS` (per scenario and round, default
//! 20000), `BENCH_CONCURRENCY` (default 32), `BENCH_ROUNDS` (default 3), `BENCH_BASELINE`,
//! `BENCH_SCENARIO_TIMEOUT_SECS` (default 300), `BENCH_TIMEOUT_SECS` (whole run, default 900).
//! Without `--bench` (`cargo test --bench hot_paths`) it runs as a quick smoke test: one round of
//! 300 requests per scenario, no JSON written. Child processes and temp dirs are removed at the
//! end, on failure too.

#[path = "../tests/integration/support/fake_npm.rs"]
mod fake_npm;

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, ETAG, IF_NONE_MATCH};
use serde::Serialize;

const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";
const PACKAGE: &str = "express";
const TARBALL: &str = "express-4.22.3.tgz";
/// Every external connection but npm points here: nothing listens on the discard port.
const DEAD_UPSTREAM: &str = "http://127.0.0.1:9/x";

fn main() -> ExitCode {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let timeout = Duration::from_secs(env_num("BENCH_TIMEOUT_SECS", 900));
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hot_paths: cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(async { tokio::time::timeout(timeout, bench(bench_mode)).await });
    // Children and temp dirs went with `bench`'s future (their guards kill and remove on drop);
    // whatever tasks are left go now.
    rt.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("hot_paths: FAILED: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("hot_paths: FAILED: did not finish within {timeout:?} (BENCH_TIMEOUT_SECS)");
            ExitCode::FAILURE
        }
    }
}

fn env_num<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A client for set-up requests: no proxy from the environment, no transparent gzip (the bytes
/// compared and saved are the uncompressed ones), bounded per request.
fn plain_client(timeout: Duration) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().no_gzip().http1_only().timeout(timeout).build()?)
}

// ---------------------------------------------------------------------------------------------
// Child processes.

/// A child process killed (and reaped) when dropped, so failures leave nothing running.
struct ChildGuard {
    name: &'static str,
    child: std::process::Child,
}

impl ChildGuard {
    /// Fails if the process has already exited.
    fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("{} exited unexpectedly ({status})", self.name),
            None => Ok(()),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `depot` binary of the profile this bench was built with: `<target>/<profile>/depot`, the
/// bench itself being `<target>/<profile>/deps/hot_paths-<hash>`. Built if missing.
async fn depot_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    let profile_dir = exe.parent().and_then(Path::parent).context("bench executable has no <profile>/deps parent")?;
    let beside = profile_dir.join(format!("depot{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Ok(beside);
    }
    // Cargo also tells benches where it built the binary; normally the same file.
    if let Some(p) = option_env!("CARGO_BIN_EXE_depot").map(PathBuf::from).filter(|p| p.is_file()) {
        return Ok(p);
    }
    let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("release");
    let profile_args: Vec<&str> = match profile {
        "release" => vec!["--release"],
        "debug" => vec![],
        other => vec!["--profile", other],
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("{} not found; building it: cargo build {} --bin depot", beside.display(), profile_args.join(" "));
    let status = tokio::process::Command::new(cargo)
        .args(["build", "--bin", "depot"])
        .args(&profile_args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .status()
        .await
        .context("running cargo build")?;
    ensure!(status.success(), "cargo build --bin depot failed ({status})");
    ensure!(beside.is_file(), "cargo build succeeded but {} is still missing", beside.display());
    Ok(beside)
}

/// Where `bench-hot-paths.json` goes: the target dir holding this bench's profile dir.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The last `n` lines of a log file, for failure messages.
fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `url` until it answers 200, while `child` (if any) is still running.
async fn wait_ready(url: &str, mut child: Option<&mut ChildGuard>) -> Result<()> {
    let client = plain_client(Duration::from_secs(2))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(c) = child.as_deref_mut() {
            c.check_alive()?;
        }
        ensure!(Instant::now() < deadline, "{url} did not answer 200 within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Baselines.

enum Baseline {
    Nginx(ChildGuard),
    Builtin(BuiltinServer),
}

impl Baseline {
    fn short_name(&self) -> &'static str {
        match self {
            Baseline::Nginx(_) => "nginx",
            Baseline::Builtin(_) => "in-process baseline",
        }
    }

    fn description(&self) -> &'static str {
        match self {
            Baseline::Nginx(_) => "nginx (one serving process: master_process off, sendfile on, access_log off)",
            Baseline::Builtin(_) => {
                "in-process static server (axum on one thread, tokio::fs::read per request; no nginx found)"
            }
        }
    }

    /// Fails if the baseline server has stopped.
    fn check_alive(&mut self) -> Result<()> {
        match self {
            Baseline::Nginx(child) => child.check_alive(),
            Baseline::Builtin(server) => {
                ensure!(!server.thread.as_ref().is_some_and(|t| t.is_finished()), "the in-process baseline stopped");
                Ok(())
            }
        }
    }
}

fn find_nginx() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nginx")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/nginx")]).find(|p| p.is_file())
}

/// Serves `dir` on `127.0.0.1:<port>`: nginx if available (unless `BENCH_BASELINE=builtin`),
/// else the in-process server.
async fn start_baseline(dir: &Path, scratch: &Path, port: u16) -> Result<Baseline> {
    let choice = std::env::var("BENCH_BASELINE").unwrap_or_default();
    let nginx = if choice == "builtin" { None } else { find_nginx() };
    if choice == "nginx" && nginx.is_none() {
        bail!("BENCH_BASELINE=nginx but no nginx executable on PATH or at /usr/sbin/nginx");
    }
    let probe = format!("http://127.0.0.1:{port}/packument.json");
    match nginx {
        Some(nginx) => {
            // `master_process off`: the process we start is the one serving (the single worker),
            // so killing it leaves no orphaned worker behind (a killed master does); it also
            // never switches user, so it can read our 0700 temp dir.
            let conf = scratch.join("nginx.conf");
            std::fs::write(
                &conf,
                format!(
                    "daemon off;\nmaster_process off;\nworker_processes 1;\npid {s}/nginx.pid;\n\
                     error_log {s}/error.log;\nevents {{}}\n\
                     http {{\n  access_log off;\n  sendfile on;\n  keepalive_requests 1000000;\n\
                     \x20 server {{\n    listen 127.0.0.1:{port};\n    root {root};\n\
                     \x20   location / {{ default_type application/json; }}\n  }}\n}}\n",
                    s = scratch.display(),
                    root = dir.display(),
                ),
            )?;
            let child = std::process::Command::new(&nginx)
                .arg("-p")
                .arg(scratch)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(scratch.join("error.log"))
                .stdin(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", nginx.display()))?;
            let mut guard = ChildGuard { name: "nginx", child };
            wait_ready(&probe, Some(&mut guard))
                .await
                .with_context(|| format!("nginx error.log:\n{}", log_tail(&scratch.join("error.log"), 20)))?;
            Ok(Baseline::Nginx(guard))
        }
        None => {
            let server = BuiltinServer::start(dir.to_path_buf(), port)?;
            wait_ready(&probe, None).await?;
            Ok(Baseline::Builtin(server))
        }
    }
}

/// The fallback baseline: axum on a dedicated current-thread runtime (the counterpart of nginx's
/// single worker), reading the requested file from disk on every request.
struct BuiltinServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BuiltinServer {
    fn start(dir: PathBuf, port: u16) -> Result<BuiltinServer> {
        use axum::extract::Path as UrlPath;
        use axum::http::{header, StatusCode};
        use axum::response::IntoResponse;

        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new().route(
            "/{file}",
            axum::routing::get(move |UrlPath(file): UrlPath<String>| {
                let dir = dir.clone();
                async move {
                    if file.starts_with('.') {
                        return StatusCode::NOT_FOUND.into_response();
                    }
                    match tokio::fs::read(dir.join(file)).await {
                        Ok(b) => ([(header::CONTENT_TYPE, "application/json")], Bytes::from(b)).into_response(),
                        Err(_) => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        );
        let thread = std::thread::Builder::new().name("baseline".into()).spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        })?;
        Ok(BuiltinServer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for BuiltinServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Load generation.

struct Scenario {
    name: &'static str,
    url: String,
    headers: HeaderMap,
    status: u16,
    body_len: usize,
}

/// One measured run of one scenario.
struct Run {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Run {
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

/// A scenario over every round: the median round's throughput, latencies pooled over the rounds.
#[derive(Serialize)]
struct Outcome {
    scenario: &'static str,
    requests: usize,
    rps: f64,
    rps_per_round: Vec<f64>,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Outcome {
    fn new(scenario: &'static str, runs: &[Run]) -> Outcome {
        let rps_per_round: Vec<f64> = runs.iter().map(Run::rps).collect();
        let mut lat: Vec<Duration> = runs.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        lat.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        // Nearest-rank percentile.
        let pct = |p: f64| ms(lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1]);
        Outcome {
            scenario,
            requests: lat.len(),
            rps: median(&rps_per_round),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            max_ms: ms(lat[lat.len() - 1]),
            rps_per_round,
        }
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One worker's client: its own pool, so its own keep-alive connection.
fn worker_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(10))
        .build()?)
}

/// Issues `total` GETs from one task per client; returns each request's latency and the wall
/// time. The first wrong answer stops every worker and is returned.
async fn drive(clients: &[reqwest::Client], s: &Scenario, total: usize) -> Result<(Vec<Duration>, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
        let (url, headers, status, body_len) = (s.url.clone(), s.headers.clone(), s.status, s.body_len);
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(total / 16 + 1);
            while !failed.load(Ordering::Relaxed) && next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let answer = async {
                    let resp = client.get(&url).headers(headers.clone()).send().await?;
                    let got = resp.status().as_u16();
                    let body = resp.bytes().await?;
                    ensure!(got == status, "{url}: status {got}, expected {status}");
                    ensure!(body.len() == body_len, "{url}: body of {} bytes, expected {body_len}", body.len());
                    Ok(())
                }
                .await;
                if let Err(e) = answer {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                latencies.push(t.elapsed());
            }
            Ok(latencies)
        });
    }
    let mut all = Vec::with_capacity(total);
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok(l) => all.extend(l),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let wall = started.elapsed();
    if let Some(e) = first_error {
        return Err(e);
    }
    ensure!(all.len() == total, "{}: {} of {total} requests completed", s.name, all.len());
    Ok((all, wall))
}

/// Warm-up (a tenth of the requests, which also opens every connection), then the measured run.
async fn run_scenario(s: &Scenario, total: usize, concurrency: usize) -> Result<Run> {
    let clients = (0..concurrency).map(|_| worker_client()).collect::<Result<Vec<_>>>()?;
    let limit = Duration::from_secs(env_num("BENCH_SCENARIO_TIMEOUT_SECS", 300));
    let timed = async {
        drive(&clients, s, (total / 10).max(concurrency)).await?;
        drive(&clients, s, total).await
    };
    let (latencies, wall) = tokio::time::timeout(limit, timed)
        .await
        .with_context(|| format!("{}: not done within {limit:?} (BENCH_SCENARIO_TIMEOUT_SECS)", s.name))?
        .with_context(|| s.name.to_string())?;
    Ok(Run { latencies, wall })
}

fn headers(pairs: &[(HeaderName, &str)]) -> Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(k.clone(), HeaderValue::from_str(v)?);
    }
    Ok(h)
}

/// GETs `url` until it answers 200 (a cold Depot fetches and ingests on the first requests);
/// returns the body and the ETag.
async fn warm(client: &reqwest::Client, url: &str, h: HeaderMap) -> Result<(Bytes, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.get(url).headers(h.clone()).send().await {
            Ok(r) if r.status() == 200 => {
                ensure!(r.headers().get("content-encoding").is_none(), "{url}: answered with a content-encoding");
                let etag = r.headers().get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
                return Ok((r.bytes().await?, etag));
            }
            Ok(r) => last = format!("status {}: {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{url} never answered 200 (last: {last})")
}

/// Waits (at most 60 s) until the fake upstream has seen no request for 1.5 s; returns how many
/// it has seen in all.
async fn settle_upstream(fake: &fake_npm::FakeNpm) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut seen, mut quiet_since) = (fake.total_hits(), Instant::now());
    while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = fake.total_hits();
        if now != seen {
            (seen, quiet_since) = (now, Instant::now());
        }
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// The run.

/// How much load each scenario gets.
#[derive(Clone, Copy)]
struct Load {
    /// Measured requests per scenario and round.
    total: usize,
    /// Workers, each with its own connection.
    concurrency: usize,
    /// Times the whole set of scenarios runs, interleaved, so that noise from the rest of the
    /// machine hits Depot and the baseline alike; each scenario reports its median round.
    rounds: usize,
}

async fn bench(bench_mode: bool) -> Result<()> {
    let total: usize = env_num("BENCH_REQUESTS", if bench_mode { 20_000 } else { 300 });
    let concurrency: usize = env_num("BENCH_CONCURRENCY", 32);
    let rounds: usize = env_num("BENCH_ROUNDS", if bench_mode { 3 } else { 1 });
    ensure!(total > 0 && concurrency > 0 && rounds > 0, "BENCH_REQUESTS, _CONCURRENCY and _ROUNDS must be positive");
    if !bench_mode {
        println!("hot_paths: smoke mode (no --bench): {total} requests per scenario, no JSON written");
    }

    let tmp = tempfile::Builder::new().prefix("depot-bench-").tempdir()?;
    let binary = depot_binary().await?;
    let fake = fake_npm::FakeNpm::start().await;

    let port = free_port()?;
    let log = tmp.path().join("depot.log");
    let log_file = std::fs::File::create(&log)?;
    let child = std::process::Command::new(&binary)
        .arg("serve")
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPOT_DATA_DIR", tmp.path().join("data"))
        .env("DEPOT_ADMIN_ACCESS_KEY_ID", "AKIDBENCH")
        .env("DEPOT_ADMIN_SECRET_ACCESS_KEY", "benchsecret")
        .env("DEPOT_UPSTREAM_PUBLIC_NPMJS", fake.url())
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL", DEAD_UPSTREAM)
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GOOGLEANDROID", DEAD_UPSTREAM)
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GRADLEPLUGINS", DEAD_UPSTREAM)
        .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_COMMONSWARE", DEAD_UPSTREAM)
        .env("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", DEAD_UPSTREAM)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut depot = ChildGuard { name: "depot", child };
    let load = Load { total, concurrency, rounds };
    let result = measure(&mut depot, port, &fake, tmp.path(), load, bench_mode).await;
    let result = result.with_context(|| format!("depot log (last lines):\n{}", log_tail(&log, 30)));
    drop(depot);
    drop(fake);
    tmp.close().context("removing the temp dir")?;
    result
}

async fn measure(
    depot: &mut ChildGuard,
    port: u16,
    fake: &fake_npm::FakeNpm,
    scratch: &Path,
    load: Load,
    bench_mode: bool,
) -> Result<()> {
    let Load { total, concurrency, rounds } = load;
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/healthz"), Some(depot)).await?;
    let endpoint = format!("{base}/default-000000000000/npm/main/");
    let packument_url = format!("{endpoint}{PACKAGE}");
    let tarball_url = format!("{endpoint}{PACKAGE}/-/{TARBALL}");

    // Warm Depot's cache; keep exactly the bytes it serves.
    let client = plain_client(Duration::from_secs(60))?;
    let (full, full_etag) = warm(&client, &packument_url, headers(&[(ACCEPT, "application/json")])?).await?;
    let (abbreviated, _) = warm(&client, &packument_url, headers(&[(ACCEPT, ABBREVIATED)])?).await?;
    let (tarball, _) = warm(&client, &tarball_url, HeaderMap::new()).await?;
    let full_etag = full_etag.context("full packument answered without an ETag")?;

    let doc: serde_json::Value = serde_json::from_slice(&full).context("full packument is not JSON")?;
    ensure!(doc["name"] == PACKAGE, "full packument names {:?}", doc["name"]);
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../shared/fixtures/npm/tarballs/{PACKAGE}/-/{TARBALL}"));
    ensure!(tarball == std::fs::read(&fixture)?, "Depot's {TARBALL} differs from {}", fixture.display());

    // Ingesting the tarball starts Depot's background prefetch of express's dependencies from
    // the upstream; let it finish so it does not compete with the measured runs.
    let settled = settle_upstream(fake).await;
    println!("warm-up: Depot made {settled} upstream requests (packuments, tarball, dependency prefetch)");

    let files = scratch.join("files");
    std::fs::create_dir_all(&files)?;
    std::fs::write(files.join("packument.json"), &full)?;
    std::fs::write(files.join(TARBALL), &tarball)?;
    let baseline_port = free_port()?;
    let mut baseline = start_baseline(&files, scratch, baseline_port).await?;
    let bname = baseline.short_name();
    let base_url = format!("http://127.0.0.1:{baseline_port}");

    let scenarios = [
        Scenario {
            name: "depot packument (full)",
            url: packument_url.clone(),
            headers: headers(&[(ACCEPT, "application/json")])?,
            status: 200,
            body_len: full.len(),
        },
        Scenario {
            name: "depot packument (abbreviated)",
            url: packument_url.clone(),
            headers: headers(&[(ACCEPT, ABBREVIATED)])?,
            status: 200,
            body_len: abbreviated.len(),
        },
        Scenario {
            name: "depot packument (304)",
            url: packument_url.clone(),
            headers: headers(&[(ACCEPT, "application/json"), (IF_NONE_MATCH, &full_etag)])?,
            status: 304,
            body_len: 0,
        },
        Scenario {
            name: "depot tarball",
            url: tarball_url,
            headers: HeaderMap::new(),
            status: 200,
            body_len: tarball.len(),
        },
        Scenario {
            name: "baseline packument bytes",
            url: format!("{base_url}/packument.json"),
            headers: HeaderMap::new(),
            status: 200,
            body_len: full.len(),
        },
        Scenario {
            name: "baseline tarball bytes",
            url: format!("{base_url}/{TARBALL}"),
            headers: HeaderMap::new(),
            status: 200,
            body_len: tarball.len(),
        },
    ];

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("baseline: {}", baseline.description());
    println!(
        "{rounds} round(s) of {total} requests per scenario (each after {} warm-up), {concurrency} workers each on \
         its own keep-alive connection; {cpus} CPUs; full packument {} B, abbreviated {} B, tarball {} B",
        (total / 10).max(concurrency),
        full.len(),
        abbreviated.len(),
        tarball.len()
    );
    let upstream_before = fake.total_hits();
    let mut runs: Vec<Vec<Run>> = scenarios.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for (s, runs) in scenarios.iter().zip(&mut runs) {
            let run = run_scenario(s, total, concurrency).await?;
            depot.check_alive()?;
            baseline.check_alive()?;
            runs.push(run);
        }
        if rounds > 1 {
            let r = |i: usize| runs[i][round - 1].rps();
            println!(
                "round {round}/{rounds}: packument {:.1}%, tarball {:.1}% of {bname}",
                100.0 * r(0) / r(4),
                100.0 * r(3) / r(5)
            );
        }
    }
    let upstream_during = fake.requests().split_off(upstream_before);
    let results: Vec<Outcome> = scenarios.iter().zip(&runs).map(|(s, r)| Outcome::new(s.name, r)).collect();

    println!();
    println!(
        "{:<32} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "scenario", "requests", "med req/s", "p50 ms", "p99 ms", "max ms"
    );
    for r in &results {
        println!(
            "{:<32} {:>9} {:>10.0} {:>8.3} {:>8.3} {:>8.2}",
            r.scenario, r.requests, r.rps, r.p50_ms, r.p99_ms, r.max_ms
        );
    }
    let pct = |a: usize, b: usize| 100.0 * results[a].rps / results[b].rps;
    let (packument, abbreviated_pct, revalidate, tarball_pct) = (pct(0, 4), pct(1, 4), pct(2, 4), pct(3, 5));
    println!();
    println!(
        "packument: depot {packument:.1}% of {bname} (abbreviated {abbreviated_pct:.1}%, 304 revalidation \
         {revalidate:.1}%, against the full packument bytes)"
    );
    println!("tarball:   depot {tarball_pct:.1}% of {bname}");
    if rounds > 1 {
        let spread = |a: usize, b: usize| {
            let per: Vec<f64> = runs[a].iter().zip(&runs[b]).map(|(x, y)| 100.0 * x.rps() / y.rps()).collect();
            let (lo, hi) = per.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            format!("{lo:.1}-{hi:.1}%")
        };
        println!("per-round range: packument {}, tarball {}", spread(0, 4), spread(3, 5));
    }
    println!("upstream requests during the measured runs: {}", upstream_during.len());
    for path in upstream_during.iter().take(5) {
        println!("  {path}");
    }

    if bench_mode {
        let json = serde_json::json!({
            "baseline": baseline.description(),
            "requests_per_scenario_and_round": total,
            "rounds": rounds,
            "concurrency": concurrency,
            "cpus": cpus,
            "bytes": { "packument_full": full.len(), "packument_abbreviated": abbreviated.len(), "tarball": tarball.len() },
            "results": results,
            "depot_pct_of_baseline": {
                "packument": packument,
                "packument_abbreviated": abbreviated_pct,
                "packument_304": revalidate,
                "tarball": tarball_pct,
            },
            "upstream_requests_during_measurement": upstream_during.len(),
        });
        let out = target_dir().join("bench-hot-paths.json");
        std::fs::write(&out, serde_json::to_vec_pretty(&json)?)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("results written to {}", out.display());
    }
    drop(baseline);
    Ok(())
}
