//! What both benchmarks need to run Depot: their `main` (a runtime and a whole-run timeout),
//! knobs from the environment, a free port, the `depot` binary of the bench's profile, where
//! results go, and log tails for failures.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context as _, Result};

/// Runs a benchmark to completion within `timeout` (`BENCH_TIMEOUT_SECS`), naming it in failures.
pub fn run_main(
    name: &str,
    timeout: std::time::Duration,
    bench: impl std::future::Future<Output = Result<()>>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(async { tokio::time::timeout(timeout, bench).await });
    // Children and temp dirs went with the bench's future (their guards kill and remove on drop).
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("{name}: FAILED: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("{name}: FAILED: did not finish within {timeout:?} (BENCH_TIMEOUT_SECS)");
            ExitCode::FAILURE
        }
    }
}

/// An environment knob, `default` when unset or unparsable.
pub fn env_num<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// A port nothing listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `depot` binary of the profile this bench was built with: `<target>/<profile>/depot`, the
/// bench itself being `<target>/<profile>/deps/<bench>-<hash>`. Built if missing (`scripts/test`
/// builds it first, so a whole run never measures a stale one).
pub async fn depot_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    let profile_dir = exe.parent().and_then(Path::parent).context("bench executable has no <profile>/deps parent")?;
    let beside = profile_dir.join(format!("depot{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Ok(beside);
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

/// Where a bench's JSON goes: the target dir holding this bench's profile dir.
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The last `n` lines of a log file, for failure messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
