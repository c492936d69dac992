//! Cold-install benchmark: the real `npm ci` (and `pip install`) of a fixture project, directly
//! against a loopback fake upstream and through a fresh, empty Depot in front of the same fake,
//! reported as the ratio Depot / direct measured in the same run.
//!
//! Per upstream latency (`BENCH_COLD_LATENCIES_MS`, default `0,20`; the fake delays every
//! response by it) and per client, `BENCH_COLD_ROUNDS` rounds (default 3) run interleaved:
//! direct, Depot, direct, Depot, … so that noise from the rest of the machine hits both alike.
//! Every run has a fresh client cache and HOME; every Depot round a new data dir (Depot is
//! started, waited for, and only then is the client timed). Per round: both wall times, their
//! ratio, Depot's peak RSS (`VmHWM`) and the upstream requests each side made, with the
//! package files the upstream served more than once during the Depot round (each should be
//! fetched once). Printed and written to `target/bench-cold-install.json`: the median ratio
//! per (client, latency) with its per-round range.
//!
//! Clients: `npm ci` of `../shared/fixtures/npm/projects/express-app` (77 packages; its lockfile
//! rewritten to the registry under test), then `pip install -r` of the PyPI fixture
//! `requests-app` into a fresh venv (`BENCH_COLD_PIP=0` skips it).
//!
//! With `BENCH_PEERS=1` (`benches/peers/`), every round also runs the install through each peer
//! of the client's format (Verdaccio for npm, devpi and proxpi for pip), started fresh and empty
//! before the clock, with its ratio to the same round's direct install and its peak RSS.
//!
//! Run: `cargo bench --bench cold_install`. Without `--bench` (`cargo test --bench
//! cold_install`) it is a smoke test: one round at 0 ms, no JSON. `BENCH_COLD_LOG=info` keeps
//! Depot's per-request and per-job timings in each round's `depot.log`, and
//! `BENCH_COLD_KEEP=1` keeps the scratch dir (its path is printed) to read them.

// The fakes are loaded as the integration tests load them (not by a `#[path]` on each file), so
// `fake_pypi.rs` finds its own `fake_pypi/index.rs` and its `super::fake_npm`.
#[path = "../tests/integration/support"]
mod support {
    pub mod fake_npm;
    pub mod fake_pypi;
    pub mod killable;
}

#[path = "cold_install/clients.rs"]
mod clients;
#[path = "common.rs"]
mod common;
#[path = "peers/mod.rs"]
mod peers;
#[path = "cold_install/procs.rs"]
mod procs;

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use serde::Serialize;

use peers::{Peer, PeerKind};
use procs::{depot_binary, env_num, log_tail, target_dir, Depot};
use support::{fake_npm, fake_pypi};

fn main() -> ExitCode {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let timeout = Duration::from_secs(env_num("BENCH_TIMEOUT_SECS", 1800));
    common::run_main("cold_install", timeout, bench(bench_mode))
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Client {
    Npm,
    Pip,
}

/// One interleaved pair of runs.
#[derive(Serialize)]
struct Round {
    direct_secs: f64,
    depot_secs: f64,
    ratio: f64,
    depot_peak_rss_bytes: u64,
    upstream_requests_direct: usize,
    upstream_requests_depot: usize,
    /// Package files the upstream served more than once while Depot ran.
    files_fetched_twice: Vec<String>,
    /// The same install through each selected peer (`BENCH_PEERS`), fresh and empty too.
    peers: Vec<PeerRun>,
}

#[derive(Serialize)]
struct PeerRun {
    peer: PeerKind,
    secs: f64,
    /// Through the peer / direct.
    ratio: f64,
    /// Of the peer's whole process tree, sampled every 10 ms.
    peak_rss_bytes: u64,
    upstream_requests: usize,
}

#[derive(Serialize)]
struct PeerOutcome {
    peer: PeerKind,
    median_ratio: f64,
    min_ratio: f64,
    max_ratio: f64,
    median_peak_rss_bytes: u64,
}

#[derive(Serialize)]
struct Outcome {
    client: Client,
    latency_ms: u64,
    median_ratio: f64,
    min_ratio: f64,
    max_ratio: f64,
    median_depot_peak_rss_bytes: u64,
    peers: Vec<PeerOutcome>,
    rounds: Vec<Round>,
}

/// Both fakes; the client picks the one it installs from.
struct Fakes {
    npm: fake_npm::FakeNpm,
    pypi: fake_pypi::FakePypi,
}

impl Fakes {
    fn set_latency(&self, d: Duration) {
        self.npm.set_latency(d);
        self.pypi.set_latency(d);
    }

    /// Requests the client's fake has seen so far, by path.
    fn requests(&self, client: Client) -> Vec<String> {
        match client {
            Client::Npm => self.npm.requests(),
            Client::Pip => self.pypi.requests(),
        }
    }
}

fn is_package_file(path: &str) -> bool {
    [".tgz", ".whl", ".tar.gz", ".zip"].iter().any(|ext| path.ends_with(ext))
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

async fn run_client(client: Client, scratch: &Path, npm_base: &str, pypi_index: &str) -> Result<Duration> {
    // Before the clock: the previous run's dirty pages (a node_modules, a registry's files) are
    // written back now, not during this run, where they would slow every fsync it makes.
    let synced = tokio::process::Command::new("sync").status().await.context("running sync")?;
    ensure!(synced.success(), "sync failed ({synced})");
    match client {
        Client::Npm => clients::npm_ci(scratch, npm_base).await,
        Client::Pip => clients::pip_install(scratch, pypi_index).await,
    }
}

async fn round(fakes: &Fakes, client: Client, binary: &Path, scratch: &Path, peers: &[PeerKind]) -> Result<Round> {
    let before = fakes.requests(client).len();
    let direct = run_client(client, &scratch.join("direct"), &fakes.npm.url(), &fakes.pypi.simple_url())
        .await
        .context("direct install")?;
    let mid = fakes.requests(client).len();

    let dir = scratch.join("depot");
    let _ = std::fs::remove_dir_all(&dir);
    let depot = Depot::start(binary, &dir, &fakes.npm.url(), &fakes.pypi.simple_url()).await?;
    let started = fakes.requests(client).len();
    ensure!(started == mid, "Depot asked the upstream before any client did");
    let npm = depot.endpoint("npm");
    let through = run_client(
        client,
        &scratch.join("via"),
        npm.trim_end_matches('/'),
        &format!("{}simple/", depot.endpoint("pypi")),
    )
    .await
    .with_context(|| format!("install through Depot; depot log:\n{}", log_tail(&depot.log, 30)))?;
    let rss = depot.peak_rss()?;
    let seen = fakes.requests(client);
    drop(depot);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in seen[started..].iter().filter(|p| is_package_file(p)) {
        *counts.entry(p.as_str()).or_default() += 1;
    }
    let mut twice: Vec<String> = counts.into_iter().filter(|(_, n)| *n > 1).map(|(p, n)| format!("{p} ×{n}")).collect();
    twice.sort();
    let mut peer_runs = Vec::new();
    for &kind in peers.iter().filter(|k| k.format() == format_of(client)) {
        peer_runs.push(peer_round(fakes, client, kind, scratch, direct).await.with_context(|| kind.name())?);
    }
    Ok(Round {
        peers: peer_runs,
        direct_secs: direct.as_secs_f64(),
        depot_secs: through.as_secs_f64(),
        ratio: through.as_secs_f64() / direct.as_secs_f64(),
        depot_peak_rss_bytes: rss,
        upstream_requests_direct: mid - before,
        upstream_requests_depot: seen.len() - started,
        files_fetched_twice: twice,
    })
}

fn format_of(client: Client) -> &'static str {
    match client {
        Client::Npm => "npm",
        Client::Pip => "pypi",
    }
}

/// The install through a fresh `kind` in front of the same fake, started before the clock.
async fn peer_round(
    fakes: &Fakes,
    client: Client,
    kind: PeerKind,
    scratch: &Path,
    direct: Duration,
) -> Result<PeerRun> {
    let upstream = match client {
        Client::Npm => fakes.npm.url(),
        Client::Pip => fakes.pypi.simple_url(),
    };
    let peer = Peer::start(kind, &target_dir(), &scratch.join(kind.name()), &upstream).await?;
    let before = fakes.requests(client).len();
    let registry = peer.registry.clone();
    let dir = scratch.join(format!("via-{}", kind.name()));
    let run = run_client(client, &dir, registry.trim_end_matches('/'), &registry);
    let (took, peak) = peers::tree_peak(peer.pid(), run).await;
    let took =
        took.with_context(|| format!("install through {}; its log:\n{}", kind.name(), log_tail(&peer.log, 30)))?;
    Ok(PeerRun {
        peer: kind,
        secs: took.as_secs_f64(),
        ratio: took.as_secs_f64() / direct.as_secs_f64(),
        peak_rss_bytes: peak,
        upstream_requests: fakes.requests(client).len() - before,
    })
}

async fn bench(bench_mode: bool) -> Result<()> {
    let rounds: usize = env_num("BENCH_COLD_ROUNDS", if bench_mode { 3 } else { 1 });
    let latencies: Vec<u64> = if bench_mode {
        std::env::var("BENCH_COLD_LATENCIES_MS")
            .unwrap_or_else(|_| "0,20".into())
            .split(',')
            .map(|s| s.trim().parse().context("BENCH_COLD_LATENCIES_MS: comma-separated milliseconds"))
            .collect::<Result<_>>()?
    } else {
        vec![0]
    };
    ensure!(rounds > 0 && !latencies.is_empty(), "BENCH_COLD_ROUNDS and BENCH_COLD_LATENCIES_MS must not be empty");
    let mut client_list = vec![Client::Npm];
    if std::env::var("BENCH_COLD_PIP").map_or(bench_mode, |v| v != "0") {
        client_list.push(Client::Pip);
    }

    let peer_kinds = peers::selected(&target_dir())?;
    let tmp = tempfile::Builder::new().prefix("depot-cold-").tempdir()?;
    let binary = depot_binary().await?;
    let fakes = Fakes { npm: fake_npm::FakeNpm::start().await, pypi: fake_pypi::FakePypi::start().await };
    let mut outcomes = Vec::new();
    for &client in &client_list {
        for &ms in &latencies {
            fakes.set_latency(Duration::from_millis(ms));
            let mut rs = Vec::with_capacity(rounds);
            for i in 0..rounds {
                let scratch = tmp.path().join(format!("{client:?}-{ms}-{i}"));
                let r = round(&fakes, client, &binary, &scratch, &peer_kinds).await?;
                println!(
                    "{client:?} {ms:>3} ms round {}: direct {:.2} s, depot {:.2} s, ratio {:.3}; depot peak RSS {:.1} MB; \
                     upstream requests direct {} / depot {}{}",
                    i + 1,
                    r.direct_secs,
                    r.depot_secs,
                    r.ratio,
                    r.depot_peak_rss_bytes as f64 / 1e6,
                    r.upstream_requests_direct,
                    r.upstream_requests_depot,
                    if r.files_fetched_twice.is_empty() {
                        String::new()
                    } else {
                        format!("; FETCHED MORE THAN ONCE: {}", r.files_fetched_twice.join(", "))
                    }
                );
                for p in &r.peers {
                    println!(
                        "{client:?} {ms:>3} ms round {}: through {} {:.2} s, ratio {:.3}; its peak RSS {:.1} MB; \
                         upstream requests {}",
                        i + 1,
                        p.peer.name(),
                        p.secs,
                        p.ratio,
                        p.peak_rss_bytes as f64 / 1e6,
                        p.upstream_requests
                    );
                }
                rs.push(r);
            }
            let peers = peer_kinds
                .iter()
                .filter(|k| k.format() == format_of(client))
                .map(|&peer| {
                    let runs: Vec<&PeerRun> = rs.iter().flat_map(|r| &r.peers).filter(|p| p.peer == peer).collect();
                    let ratios: Vec<f64> = runs.iter().map(|p| p.ratio).collect();
                    let rss: Vec<f64> = runs.iter().map(|p| p.peak_rss_bytes as f64).collect();
                    PeerOutcome {
                        peer,
                        median_ratio: median(&ratios),
                        min_ratio: ratios.iter().copied().fold(f64::INFINITY, f64::min),
                        max_ratio: ratios.iter().copied().fold(0.0, f64::max),
                        median_peak_rss_bytes: median(&rss) as u64,
                    }
                })
                .collect();
            let ratios: Vec<f64> = rs.iter().map(|r| r.ratio).collect();
            let rss: Vec<f64> = rs.iter().map(|r| r.depot_peak_rss_bytes as f64).collect();
            outcomes.push(Outcome {
                client,
                latency_ms: ms,
                median_ratio: median(&ratios),
                min_ratio: ratios.iter().copied().fold(f64::INFINITY, f64::min),
                max_ratio: ratios.iter().copied().fold(0.0, f64::max),
                median_depot_peak_rss_bytes: median(&rss) as u64,
                peers,
                rounds: rs,
            });
        }
    }
    println!("\ncold install through an empty Depot / direct from the fake upstream (median of {rounds} rounds):");
    for o in &outcomes {
        println!(
            "  {:?} at {:>3} ms upstream latency: {:.3}× (rounds {:.3}–{:.3}), Depot peak RSS {:.1} MB",
            o.client,
            o.latency_ms,
            o.median_ratio,
            o.min_ratio,
            o.max_ratio,
            o.median_depot_peak_rss_bytes as f64 / 1e6
        );
        for p in &o.peers {
            println!(
                "  {:?} at {:>3} ms through {}: {:.3}× (rounds {:.3}–{:.3}), its peak RSS {:.1} MB",
                o.client,
                o.latency_ms,
                p.peer.name(),
                p.median_ratio,
                p.min_ratio,
                p.max_ratio,
                p.median_peak_rss_bytes as f64 / 1e6
            );
        }
    }
    if bench_mode {
        let path = target_dir().join("bench-cold-install.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&outcomes)?)?;
        println!("written: {}", path.display());
    }
    if std::env::var("BENCH_COLD_KEEP").is_ok_and(|v| v == "1") {
        println!("scratch kept: {}", tmp.keep().display());
    }
    Ok(())
}
