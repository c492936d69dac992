//! Child processes (the `depot` under test, nginx), readiness, and their memory from `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";
pub const AKID: &str = "AKIDBENCH";
pub const SECRET: &str = "benchsecret";

pub use crate::common::{depot_binary, free_port, log_tail, target_dir};

/// A client for set-up and correctness requests: no proxy from the environment, no
/// transparent gzip (the bytes compared and saved are the ones on the wire).
pub fn plain_client(timeout: Duration) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().no_gzip().http1_only().timeout(timeout).build()?)
}

/// A child process killed (and reaped) when dropped, so failures leave nothing running.
pub struct ChildGuard {
    pub name: &'static str,
    pub child: std::process::Child,
}

impl ChildGuard {
    /// Fails if the process has already exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("{} exited unexpectedly ({status})", self.name),
            None => Ok(()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `url` until it answers 200, while `child` is still running.
pub async fn wait_ready(url: &str, child: &mut ChildGuard) -> Result<()> {
    let client = plain_client(Duration::from_secs(2))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        child.check_alive()?;
        ensure!(Instant::now() < deadline, "{url} did not answer 200 within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `depot serve` on a loopback port with its own data directory.
pub struct Depot {
    pub guard: ChildGuard,
    pub base: String,
    pub log: PathBuf,
}

impl Depot {
    /// Starts `binary` with no external connection but those in `env`, and waits
    /// for `/healthz`. Metadata from connections stays fresh for a day: the warm path is
    /// what is measured, and a refresh would be an upstream request during the rounds.
    pub async fn start(binary: &Path, dir: &Path, env: &[(&str, String)]) -> Result<Depot> {
        std::fs::create_dir_all(dir)?;
        let port = free_port()?;
        let log = dir.join("depot.log");
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = std::process::Command::new(binary);
        cmd.arg("serve")
            .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPOT_DATA_DIR", dir.join("data"))
            .env("DEPOT_ACCOUNT_ID", ACCOUNT)
            .env("DEPOT_REGION", REGION)
            .env("DEPOT_ADMIN_ACCESS_KEY_ID", AKID)
            .env("DEPOT_ADMIN_SECRET_ACCESS_KEY", SECRET);
        // Depot's own log filter (info: each request gets its span) unless BENCH_DEPOT_LOG
        // names another: what a user runs is what is measured.
        match std::env::var("BENCH_DEPOT_LOG") {
            Ok(filter) => cmd.env("RUST_LOG", filter),
            Err(_) => cmd.env_remove("RUST_LOG"),
        };
        // An empty URL leaves a connection unconfigured, so `main` has no store for it and
        // never tries it (a dead URL would be retried on every metadata merge).
        for conn in ["NPMJS", "PYPI", "MAVEN_CENTRAL", "MAVEN_GOOGLEANDROID", "MAVEN_GRADLEPLUGINS"] {
            cmd.env(format!("DEPOT_UPSTREAM_PUBLIC_{conn}"), "");
        }
        cmd.env("DEPOT_UPSTREAM_PUBLIC_MAVEN_COMMONSWARE", "");
        cmd.env("DEPOT_UPSTREAM_PUBLIC_NUGET_ORG", "");
        for f in ["NPM", "PYPI", "MAVEN", "NUGET"] {
            cmd.env(format!("DEPOT_METADATA_MAX_AGE_{f}_SECS"), "86400");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut guard = ChildGuard { name: "depot", child };
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&format!("{base}/healthz"), &mut guard)
            .await
            .with_context(|| format!("depot log:\n{}", log_tail(&log, 30)))?;
        Ok(Depot { guard, base, log })
    }

    /// The endpoint of repository `repo` for `format`, ending in `/`.
    pub fn endpoint(&self, format: &str, repo: &str) -> String {
        format!("{}/default-{ACCOUNT}/{format}/{repo}/", self.base)
    }
}

/// A field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn proc_status_bytes(pid: u32, field: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = text.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field} for {pid}"))?;
    let kb: u64 = line.split_whitespace().nth(1).context("bad /proc status line")?.parse()?;
    Ok(kb * 1024)
}

/// Peak resident memory of a process over a stretch of time: `VmHWM` after resetting it
/// (`clear_refs` 5) where the kernel lets us, and the highest `VmRSS` sampled every 10 ms,
/// whichever is higher (sampling alone misses short spikes).
pub struct RssPeak {
    pid: u32,
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    hwm_reset: bool,
}

impl RssPeak {
    pub fn start(pid: u32) -> RssPeak {
        let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(proc_status_bytes(pid, "VmRSS").unwrap_or(0)));
        let (s, m) = (stop.clone(), max.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Ok(rss) = proc_status_bytes(pid, "VmRSS") {
                    m.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        RssPeak { pid, stop, max, task, hwm_reset }
    }

    /// The peak in bytes.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let sampled = self.max.load(Ordering::Relaxed);
        let hwm = if self.hwm_reset { proc_status_bytes(self.pid, "VmHWM").unwrap_or(0) } else { 0 };
        sampled.max(hwm)
    }
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
