//! Warm-path benchmark (issue #13): Depot serving cached metadata and package files of every
//! format, measured with `wrk` against nginx serving **the very same bytes from disk** in the
//! same run, with Depot's peak resident memory per scenario. See `benches/README.md`.
//!
//! Everything runs on 127.0.0.1: the fake upstreams of the integration tests
//! (`tests/integration/support/`), a real `depot serve` (the release binary next to this
//! bench; built if missing) with `main`'s connections pointed at them, nginx
//! (`/usr/sbin/nginx`, required) and `wrk` (required).
//!
//! Modes: `cargo bench --bench hot_paths` (full run); `cargo bench --bench hot_paths --
//! --check` or `BENCH_CHECK=1` (the CI check: a short run whose ratios must stay at or above
//! half of `benches/baseline.json`'s); `cargo test --bench hot_paths` (no servers: checks the
//! wrk report parser and that the baseline file reads). Knobs: `BENCH_DURATION_SECS`,
//! `BENCH_ROUNDS`, `BENCH_CONNECTIONS`, `BENCH_LARGE_CONNECTIONS`, `BENCH_LARGE`,
//! `BENCH_STARTUP`, `BENCH_ONLY`, `BENCH_WRITE_BASELINE`, `BENCH_TIMEOUT_SECS`,
//! `BENCH_DEPOT_LOG`; with `BENCH_PEERS` (Verdaccio, devpi, proxpi beside Depot; `beside.rs`),
//! `BENCH_PEER_CONNECTIONS`, `BENCH_PEER_LARGE_CONNECTIONS`, `BENCH_PEERS_DIR`.

#[path = "../common.rs"]
mod common;
#[path = "../peers/mod.rs"]
mod peers;
#[path = "../../tests/integration/support/mod.rs"]
mod support;

mod beside;
mod big;
mod measure;
mod nginx;
mod procs;
use common::env_num;
mod report;
mod scenarios;
mod startup;
mod token;
mod wrk;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};

use measure::Load;
use procs::{mb, proc_status_bytes, Depot};
use report::Figure;
use scenarios::Builder;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    Check,
    SelfTest,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mode = if args.iter().any(|a| a == "--check") || std::env::var("BENCH_CHECK").is_ok_and(|v| v == "1") {
        Mode::Check
    } else if args.iter().any(|a| a == "--bench") {
        Mode::Full
    } else {
        Mode::SelfTest
    };
    if mode == Mode::SelfTest {
        let r = wrk::self_check().and_then(|_| beside::self_check()).and_then(|_| report::read_baseline().map(|_| ()));
        return match r {
            Ok(()) => {
                println!("hot_paths: self-test passed (the measured run is `cargo bench --bench hot_paths`)");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hot_paths: self-test FAILED: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let timeout = Duration::from_secs(env_num("BENCH_TIMEOUT_SECS", 3600));
    common::run_main("hot_paths", timeout, bench(mode))
}

/// A comma-separated list of connection counts from `key`, `default` when unset.
fn connections(key: &str, default: &str) -> Result<Vec<usize>> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|c| c.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{key}: comma-separated numbers"))
}

fn load_for(mode: Mode) -> Result<Load> {
    let check = mode == Mode::Check;
    let connections = connections("BENCH_CONNECTIONS", if check { "64" } else { "64,256" })?;
    let load = Load {
        duration: Duration::from_secs(env_num("BENCH_DURATION_SECS", if check { 1 } else { 5 })),
        rounds: env_num("BENCH_ROUNDS", 3),
        connections,
    };
    ensure!(load.rounds > 0 && load.connections.iter().all(|&c| c >= 2), "BENCH_ROUNDS > 0, BENCH_CONNECTIONS ≥ 2");
    Ok(load)
}

/// Total requests the fake upstreams have seen.
struct Fakes {
    npm: support::fake_npm::FakeNpm,
    pypi: support::fake_pypi::FakePypi,
    maven: support::fake_maven::FakeMaven,
    nuget: support::fake_nuget::FakeNuget,
}

impl Fakes {
    fn hits(&self) -> usize {
        self.npm.total_hits() + self.pypi.total_hits() + self.maven.requests().len() + self.nuget.requests().len()
    }

    /// Waits (at most 60 s) until no upstream has seen a request for 1.5 s: ingestion and
    /// npm's dependency prefetch are done and do not compete with the measured runs.
    async fn settle(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut seen, mut quiet_since) = (self.hits(), Instant::now());
        while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_millis(1500) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.hits();
            if now != seen {
                (seen, quiet_since) = (now, Instant::now());
            }
        }
        seen
    }
}

async fn bench(mode: Mode) -> Result<()> {
    let load = load_for(mode)?;
    let tmp = tempfile::Builder::new().prefix("depot-bench-").tempdir()?;
    let binary = procs::depot_binary().await?;
    let fakes = Fakes {
        npm: support::fake_npm::FakeNpm::start().await,
        pypi: support::fake_pypi::FakePypi::start().await,
        maven: support::fake_maven::FakeMaven::start().await,
        nuget: support::fake_nuget::FakeNuget::start().await,
    };
    let env = [
        ("DEPOT_UPSTREAM_PUBLIC_NPMJS", fakes.npm.url()),
        ("DEPOT_UPSTREAM_PUBLIC_PYPI", fakes.pypi.url()),
        ("DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL", fakes.maven.url()),
        ("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", fakes.nuget.url()),
    ];
    let mut depot = Depot::start(&binary, &tmp.path().join("depot"), &env).await?;
    let result = measure_all(mode, &load, &binary, tmp.path(), &mut depot, &fakes).await;
    let tail = procs::log_tail(&depot.log, 30);
    let result =
        if tail.is_empty() { result } else { result.with_context(|| format!("depot log (last lines):\n{tail}")) };
    drop(depot);
    drop(fakes);
    tmp.close().context("removing the temp dir")?;
    result
}

async fn measure_all(
    mode: Mode,
    load: &Load,
    binary: &std::path::Path,
    scratch: &std::path::Path,
    depot: &mut Depot,
    fakes: &Fakes,
) -> Result<()> {
    let idle = proc_status_bytes(depot.guard.pid(), "VmRSS")?;
    let mut figures = vec![Figure::new("depot idle RSS after start-up", mb(idle), "MB", "", None)];
    let root = scratch.join("www");
    std::fs::create_dir_all(&root)?;
    let mut nginx = nginx::start(&root, &scratch.join("nginx")).await?;

    let client = procs::plain_client(Duration::from_secs(60))?;
    // Twice: documents change while the first requests' ingestion finishes (a PyPI page gains
    // its files' core-metadata hashes), so the bytes nginx gets are taken once all is settled.
    let mut scenarios = Vec::new();
    for pass in ["warm-up", "settled"] {
        let mut b = Builder { client: client.clone(), root: &root, nginx_base: nginx.base.clone(), out: Vec::new() };
        scenarios::npm(&mut b, depot).await.context("warming npm")?;
        scenarios::pypi(&mut b, depot).await.context("warming PyPI")?;
        scenarios::maven(&mut b, depot).await.context("warming Maven")?;
        scenarios::nuget(&mut b, depot).await.context("warming NuGet")?;
        scenarios = b.out;
        let settled = fakes.settle().await;
        println!("{pass}: Depot has made {settled} upstream requests (metadata, files, npm dependency prefetch)");
    }
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        scenarios.retain(|s| s.name.contains(only.as_str()));
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "{} scenarios × connections {:?} × {} round(s) of {:?} per server (wrk -t2), interleaved; {cpus} CPUs",
        scenarios.len(),
        load.connections,
        load.rounds,
        load.duration
    );

    let before = fakes.hits();
    let mut rows = measure::run(&client, depot, &mut nginx, &scenarios, load).await?;
    let mut check_failures = Vec::new();
    if mode == Mode::Check {
        let baseline = report::read_baseline()?;
        let low = report::compare(&rows, &baseline)?;
        if !low.is_empty() {
            // One busy moment on a shared machine can halve a short run's ratio: what is
            // still low when measured again is a regression.
            println!("re-measuring the {} scenario(s) below their floor once", low.len());
            let again: Vec<_> = scenarios
                .iter()
                .filter(|s| low.iter().any(|k| k.rsplit_once(" @").is_some_and(|(n, _)| n == s.name)))
                .cloned()
                .collect();
            let fresh = measure::run(&client, depot, &mut nginx, &again, load).await?;
            rows.retain(|r| !fresh.iter().any(|f| f.key() == r.key()));
            rows.extend(fresh);
            report::compare(&rows, &baseline)?;
            check_failures = report::failures(&rows, &baseline);
        }
    }
    let upstream_during = fakes.hits() - before;
    ensure!(upstream_during == 0, "the fake upstreams saw {upstream_during} requests during the measured rounds");
    println!("upstream requests during the measured rounds: 0");

    // The proxies people use today, beside Depot and nginx on the same scenarios.
    let peer_kinds = peers::selected(&procs::target_dir())?;
    let mut peer_rows = Vec::new();
    if !peer_kinds.is_empty() {
        let peer_load = Load { connections: connections("BENCH_PEER_CONNECTIONS", "64")?, ..load.clone() };
        let (r, f) =
            beside::run(&client, depot, &mut nginx, &scenarios, fakes, &peer_kinds, scratch, &peer_load).await?;
        peer_rows.extend(r);
        figures.extend(f);
    }

    let large = env_num("BENCH_LARGE", u8::from(mode == Mode::Full)) != 0;
    if large {
        let large_load = Load { connections: vec![env_num("BENCH_LARGE_CONNECTIONS", 16)], ..load.clone() };
        let big = big::run(binary, scratch, &mut nginx, &root, &large_load, &peer_kinds).await?;
        rows.extend(big.rows);
        figures.extend(big.figures);
        peer_rows.extend(big.peer_rows);
    }

    if env_num("BENCH_STARTUP", u8::from(mode == Mode::Full)) != 0 {
        figures.extend(startup::run(binary, scratch).await.context("start-up with 100,000 versions")?);
    }

    report::print_table(&rows);
    beside::print_table(&peer_rows);
    report::print_figures(&figures);
    let machine = format!("{cpus} CPUs, {}", std::env::consts::ARCH);
    let json = serde_json::json!({
        "mode": if mode == Mode::Check { "check" } else { "full" },
        "baseline_server": "nginx (one serving process, sendfile, gzip_static) on the same bytes",
        "load_generator": "wrk -t2 --latency",
        "machine": machine,
        "duration_secs": load.duration.as_secs(),
        "rounds": load.rounds,
        "connections": load.connections,
        "rows": rows,
        "figures": figures,
        "upstream_requests_during_measurement": upstream_during,
        "peers": peer_rows,
    });
    let out = procs::target_dir().join("bench-hot-paths.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&json)?).with_context(|| format!("writing {}", out.display()))?;
    println!("results written to {}", out.display());
    if std::env::var("BENCH_WRITE_BASELINE").is_ok_and(|v| v == "1") {
        report::write_baseline(&rows, &machine)?;
    }
    ensure!(
        check_failures.is_empty(),
        "warm-path ratios below half their recorded value (twice):\n  {}",
        check_failures.join("\n  ")
    );
    if mode == Mode::Check {
        println!("check: every warm-path ratio is at or above half its value in benches/baseline.json");
    }
    Ok(())
}
