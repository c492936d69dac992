//! The load generator: `wrk` (Debian package `wrk`), two threads, keep-alive connections,
//! `--latency` for the percentiles. A run that saw non-2xx/3xx answers or socket errors fails.

use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use serde::Serialize;

/// One wrk run's figures.
#[derive(Clone, Debug, Serialize)]
pub struct WrkRun {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
}

/// `GET url` with `headers` from `connections` connections for `duration`.
pub async fn run(url: &str, headers: &[(String, String)], connections: usize, duration: Duration) -> Result<WrkRun> {
    let secs = duration.as_secs().max(1);
    let mut cmd = tokio::process::Command::new(wrk_path());
    // wrk wants at least one connection per thread.
    cmd.arg(format!("-t{}", connections.clamp(1, 2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency");
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    cmd.arg(url).kill_on_drop(true);
    let out = tokio::time::timeout(duration + Duration::from_secs(30), cmd.output())
        .await
        .with_context(|| format!("wrk on {url} did not finish"))?
        .context("running wrk (Debian: apt-get install nginx-light wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "wrk failed ({}): {text}{}", out.status, String::from_utf8_lossy(&out.stderr));
    parse(&text).with_context(|| format!("wrk on {url}:\n{text}"))
}

fn wrk_path() -> &'static str {
    if std::path::Path::new("/usr/bin/wrk").is_file() {
        "/usr/bin/wrk"
    } else {
        "wrk"
    }
}

/// Reads wrk's report; a bad answer or a socket error is an error, not a figure.
pub fn parse(text: &str) -> Result<WrkRun> {
    let mut rps = None;
    let (mut p50, mut p99, mut requests) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = Some(v.trim().parse::<f64>()?);
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = Some(duration_ms(v.trim())?);
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = Some(duration_ms(v.trim())?);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            bail!("{} answers were not 2xx/3xx", v.trim());
        } else if line.starts_with("Socket errors:") {
            bail!("{line}");
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            requests = Some(n.trim().parse::<u64>()?);
        }
    }
    Ok(WrkRun {
        rps: rps.context("no Requests/sec")?,
        p50_ms: p50.context("no 50% latency")?,
        p99_ms: p99.context("no 99% latency")?,
        requests: requests.context("no request count")?,
    })
}

/// `635.91us`, `1.20ms`, `2.01s`, `1.02m` → milliseconds.
fn duration_ms(s: &str) -> Result<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).context("latency without a unit")?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        other => bail!("unknown latency unit {other:?}"),
    })
}

/// The parser against a known report: what `cargo test --bench hot_paths` runs (no servers).
pub fn self_check() -> Result<()> {
    let text = "Running 1s test @ http://127.0.0.1:1/x\n  2 threads and 64 connections\n\
        \x20 Latency Distribution\n     50%  635.91us\n     75%    1.00ms\n     90%    1.50ms\n\
        \x20    99%    2.01s\n  1234 requests in 1.00s, 2.00MB read\nRequests/sec:   1230.50\n";
    let r = parse(text)?;
    ensure!(r.requests == 1234 && r.rps == 1230.5, "wrk parse: {r:?}");
    ensure!((r.p50_ms - 0.63591).abs() < 1e-9 && (r.p99_ms - 2010.0).abs() < 1e-9, "wrk parse: {r:?}");
    ensure!(parse(&format!("{text}  Non-2xx or 3xx responses: 3\n")).is_err(), "non-2xx not caught");
    let socket = format!("{text}  Socket errors: connect 0, read 1, write 0, timeout 0\n");
    ensure!(parse(&socket).is_err(), "socket errors not caught");
    Ok(())
}
