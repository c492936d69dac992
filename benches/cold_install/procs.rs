//! Child processes of the cold-install benchmark: a fresh `depot serve` per round (its peak RSS
//! read from `/proc`), and the helpers the clients share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};

/// Every external connection the benchmark does not use points here: nothing listens on the
/// discard port.
const DEAD_UPSTREAM: &str = "http://127.0.0.1:9/x";

pub use crate::common::{depot_binary, env_num, free_port, log_tail, target_dir};

/// A `depot serve` on a fresh data dir, killed (and reaped) when dropped.
pub struct Depot {
    child: std::process::Child,
    pub base: String,
    pub log: PathBuf,
}

impl Depot {
    /// Starts Depot with its npm and PyPI connections on the fakes and waits for `/healthz`.
    pub async fn start(binary: &Path, dir: &Path, npm: &str, pypi: &str) -> Result<Depot> {
        let port = free_port()?;
        std::fs::create_dir_all(dir)?;
        let log = dir.join("depot.log");
        let log_file = std::fs::File::create(&log)?;
        // `BENCH_COLD_LOG=info` keeps Depot's per-request and per-job timings in the log.
        let filter = std::env::var("BENCH_COLD_LOG").unwrap_or_else(|_| "warn".into());
        let child = std::process::Command::new(binary)
            .arg("serve")
            .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPOT_DATA_DIR", dir.join("data"))
            .env("DEPOT_ADMIN_ACCESS_KEY_ID", "AKIDBENCH")
            .env("DEPOT_ADMIN_SECRET_ACCESS_KEY", "benchsecret")
            .env("DEPOT_UPSTREAM_PUBLIC_NPMJS", npm)
            .env("DEPOT_UPSTREAM_PUBLIC_PYPI", pypi)
            .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL", DEAD_UPSTREAM)
            .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GOOGLEANDROID", DEAD_UPSTREAM)
            .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_GRADLEPLUGINS", DEAD_UPSTREAM)
            .env("DEPOT_UPSTREAM_PUBLIC_MAVEN_COMMONSWARE", DEAD_UPSTREAM)
            .env("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", DEAD_UPSTREAM)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut depot = Depot { child, base: format!("http://127.0.0.1:{port}"), log };
        depot.wait_ready().await.with_context(|| format!("depot log:\n{}", log_tail(&depot.log, 20)))?;
        Ok(depot)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/healthz", self.base);
        loop {
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("depot exited during start-up ({status})");
            }
            ensure!(Instant::now() < deadline, "depot did not answer /healthz within 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The repository endpoint of `main` (every store as an upstream) for `format`.
    pub fn endpoint(&self, format: &str) -> String {
        format!("{}/default-000000000000/{format}/main/", self.base)
    }

    /// Peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(kb * 1024)
    }
}

impl Drop for Depot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
