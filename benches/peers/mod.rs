//! The proxies people run today, which the benchmarks set beside Depot (issue #13): Verdaccio in
//! front of the fake npm upstream, devpi-server and proxpi in front of the fake PyPI. They are
//! installed once by `benches/peers/install` into `<target>/bench-peers` (or `BENCH_PEERS_DIR`);
//! a benchmark runs them only when `BENCH_PEERS` asks for them and never installs anything.
//!
//! Each peer runs on a loopback port with its own scratch state, its metadata kept fresh for a
//! day (as Depot's is in the warm benchmark), and in its own process group, killed whole when
//! dropped (gunicorn's worker with its master).

use std::future::Future;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use base64::Engine as _;

use crate::common::{free_port, log_tail};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    Verdaccio,
    Devpi,
    Proxpi,
}

impl PeerKind {
    pub const ALL: [PeerKind; 3] = [PeerKind::Verdaccio, PeerKind::Devpi, PeerKind::Proxpi];

    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Verdaccio => "verdaccio",
            PeerKind::Devpi => "devpi",
            PeerKind::Proxpi => "proxpi",
        }
    }

    /// The format it proxies: `npm` or `pypi`.
    pub fn format(self) -> &'static str {
        match self {
            PeerKind::Verdaccio => "npm",
            PeerKind::Devpi | PeerKind::Proxpi => "pypi",
        }
    }

    /// The program `benches/peers/install` puts under the peers' directory.
    fn program(self, dir: &Path) -> PathBuf {
        match self {
            PeerKind::Verdaccio => dir.join("verdaccio/node_modules/.bin/verdaccio"),
            PeerKind::Devpi => dir.join("venv/bin/devpi-server"),
            PeerKind::Proxpi => dir.join("venv/bin/gunicorn"),
        }
    }
}

/// Where `benches/peers/install` put the peers.
pub fn install_dir(target: &Path) -> PathBuf {
    std::env::var_os("BENCH_PEERS_DIR").map(PathBuf::from).unwrap_or_else(|| target.join("bench-peers"))
}

/// The peers this run sets beside Depot: `BENCH_PEERS=1` (or `all`) names every one, else a
/// comma-separated list of names; unset or `0`, none. A named peer that is not installed is
/// skipped with a line saying how to install it; asking for peers and finding none fails.
pub fn selected(target: &Path) -> Result<Vec<PeerKind>> {
    let wanted = std::env::var("BENCH_PEERS").unwrap_or_default();
    let wanted = wanted.trim();
    if wanted.is_empty() || wanted == "0" {
        return Ok(Vec::new());
    }
    let kinds: Vec<PeerKind> = if wanted == "1" || wanted == "all" {
        PeerKind::ALL.to_vec()
    } else {
        wanted
            .split(',')
            .map(|n| {
                PeerKind::ALL
                    .into_iter()
                    .find(|k| k.name() == n.trim())
                    .with_context(|| format!("BENCH_PEERS: unknown peer {n:?} (verdaccio, devpi, proxpi)"))
            })
            .collect::<Result<_>>()?
    };
    let dir = install_dir(target);
    let (found, missing): (Vec<_>, Vec<_>) = kinds.into_iter().partition(|k| k.program(&dir).is_file());
    for k in &missing {
        println!(
            "peer {} is not installed under {} (benches/peers/install puts it there); skipped",
            k.name(),
            dir.display()
        );
    }
    ensure!(
        !found.is_empty(),
        "BENCH_PEERS={wanted}: no peer is installed under {}; run benches/peers/install",
        dir.display()
    );
    Ok(found)
}

/// A running peer, killed with its whole process group when dropped.
pub struct Peer {
    pub kind: PeerKind,
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// What a client is pointed at, ending in `/`: the npm registry, or the PyPI simple index.
    pub registry: String,
    pub log: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The group id is the child's pid (`process_group(0)`).
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// Starts `kind` from the install under `target`, with its state in `scratch` (created),
    /// proxying `upstream`: the fake npm's base URL, or the fake PyPI's simple index URL.
    pub async fn start(kind: PeerKind, target: &Path, scratch: &Path, upstream: &str) -> Result<Peer> {
        std::fs::create_dir_all(scratch)?;
        let scratch = scratch.canonicalize()?;
        let program = kind.program(&install_dir(target));
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let log = scratch.join(format!("{}.log", kind.name()));
        let mut cmd = std::process::Command::new(&program);
        let registry = match kind {
            PeerKind::Verdaccio => {
                let conf = scratch.join("config.yaml");
                std::fs::write(&conf, verdaccio_config(&scratch, upstream))?;
                cmd.arg("--config").arg(&conf).arg("--listen").arg(format!("127.0.0.1:{port}"));
                format!("{base}/")
            }
            PeerKind::Devpi => {
                devpi_init(&program, &scratch).await?;
                cmd.arg("--serverdir")
                    .arg(scratch.join("server"))
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{port}"))
                    .arg("--mirror-cache-expiry")
                    .arg("86400");
                format!("{base}/root/fake/+simple/")
            }
            PeerKind::Proxpi => {
                // One worker with threads, as proxpi's README asks (its cache is per process).
                cmd.args(["--workers", "1", "--threads", "4", "--bind", &format!("127.0.0.1:{port}")])
                    .arg("proxpi.server:app")
                    .env("PROXPI_INDEX_URL", upstream)
                    .env("PROXPI_INDEX_TTL", "86400")
                    .env("PROXPI_CACHE_DIR", scratch.join("cache"));
                format!("{base}/index/")
            }
        };
        let out = std::fs::File::create(&log)?;
        let child = cmd
            .current_dir(&scratch)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let mut peer = Peer { kind, child, base, registry, log };
        peer.wait_ready().await.with_context(|| format!("{} log:\n{}", kind.name(), log_tail(&peer.log, 20)))?;
        if kind == PeerKind::Devpi {
            devpi_mirror(&peer.base, upstream).await.context("creating devpi's mirror index")?;
        }
        Ok(peer)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Until the peer answers HTTP at all (any status): each has its own health path or none.
    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.get(format!("{}/", self.base)).send().await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status})", self.kind.name());
            }
            ensure!(Instant::now() < deadline, "{} did not answer within 60 s", self.kind.name());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn verdaccio_config(scratch: &Path, upstream: &str) -> String {
    // `maxage`: packuments stay fresh for a day, as Depot's metadata does in the benchmark.
    format!(
        "storage: {storage}\nweb:\n  enable: false\nuplinks:\n  fake:\n    url: {upstream}/\n    maxage: 1d\n    \
         timeout: 60s\n    cache: true\npackages:\n  '**':\n    access: $all\n    publish: $all\n    proxy: fake\n\
         server:\n  keepAliveTimeout: 120\nlog: {{ type: stdout, format: pretty, level: warn }}\n",
        storage = scratch.join("storage").display(),
        upstream = upstream.trim_end_matches('/'),
    )
}

const DEVPI_ROOT_PASSWORD: &str = "bench";

async fn devpi_init(server: &Path, scratch: &Path) -> Result<()> {
    let init = server.with_file_name("devpi-init");
    let out = tokio::process::Command::new(&init)
        .arg("--serverdir")
        .arg(scratch.join("server"))
        .args(["--no-root-pypi", "--root-passwd", DEVPI_ROOT_PASSWORD])
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("running {}", init.display()))?;
    ensure!(out.status.success(), "devpi-init failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Creates `root/fake`, a mirror index of `upstream`, through devpi's JSON API (what
/// `devpi index -c fake type=mirror mirror_url=…` does).
async fn devpi_mirror(base: &str, upstream: &str) -> Result<()> {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?;
    let login: serde_json::Value = client
        .post(format!("{base}/+login"))
        .header("accept", "application/json")
        .json(&serde_json::json!({"user": "root", "password": DEVPI_ROOT_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["result"]["password"].as_str().context("devpi login answered no token")?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("root:{token}"));
    client
        .put(format!("{base}/root/fake"))
        .header("accept", "application/json")
        .header("x-devpi-auth", auth)
        .json(&serde_json::json!({"type": "mirror", "mirror_url": upstream}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// `VmRSS` of `pid` and every descendant (from `/proc/<pid>/task/*/children`), in bytes.
pub fn tree_rss(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else { continue };
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        total += kb * 1024;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for t in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                stack.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    total
}

/// `fut`'s output and the highest resident memory of `pid`'s process tree while it ran
/// (sampled every 10 ms: peers are process trees, so there is no one `VmHWM` to read).
pub async fn tree_peak<T>(pid: u32, fut: impl Future<Output = T>) -> (T, u64) {
    let mut peak = tree_rss(pid);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return (out, peak.max(tree_rss(pid))),
            _ = tick.tick() => peak = peak.max(tree_rss(pid)),
        }
    }
}
