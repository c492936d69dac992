//! Figures per scenario (medians over the interleaved rounds), the targets beside
//! them, the JSON written to `target/bench-hot-paths.json`, and the CI check against
//! `benches/baseline.json` (ratios only: absolute times depend on the machine).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::procs::mb;
use crate::scenarios::{Kind, Scenario};
use crate::wrk::WrkRun;

/// One round of one scenario.
pub struct Sample {
    pub depot: WrkRun,
    pub nginx: WrkRun,
    pub depot_peak_rss: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub connections: usize,
    pub rounds: usize,
    pub depot_rps: f64,
    pub nginx_rps: f64,
    /// Median of the per-round ratios (each round's Depot run beside its nginx run).
    pub ratio: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    pub depot_p50_ms: f64,
    pub nginx_p50_ms: f64,
    pub depot_p99_ms: f64,
    pub nginx_p99_ms: f64,
    pub p99_ratio: f64,
    /// The highest over the rounds.
    pub depot_peak_rss_mb: f64,
    pub target: String,
    pub meets_target: bool,
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Resident memory Depot must stay under while 16 clients read the 20 MB packument.
pub const LARGE_RSS_TARGET_MB: f64 = 150.0;

impl Row {
    pub fn new(s: &Scenario, connections: usize, samples: &[Sample]) -> Row {
        let m = |f: &dyn Fn(&Sample) -> f64| median(samples.iter().map(f).collect());
        let ratios: Vec<f64> = samples.iter().map(|x| x.depot.rps / x.nginx.rps).collect();
        let (depot_p99_ms, nginx_p99_ms) = (m(&|x| x.depot.p99_ms), m(&|x| x.nginx.p99_ms));
        let peak = samples.iter().map(|x| x.depot_peak_rss).max().unwrap_or(0);
        let ratio = median(ratios.clone());
        let p99_ratio = depot_p99_ms / nginx_p99_ms;
        let (target, meets_target) = match s.kind {
            Kind::Asset if connections >= 256 => ("≥0.8×, p99 ≤1.5×".into(), ratio >= 0.8 && p99_ratio <= 1.5),
            Kind::Asset => ("≥0.8×".into(), ratio >= 0.8),
            Kind::Metadata => ("≥0.9×".into(), ratio >= 0.9),
            Kind::Large => {
                (format!("≥1.0×, RSS ≤{LARGE_RSS_TARGET_MB:.0} MB"), ratio >= 1.0 && mb(peak) <= LARGE_RSS_TARGET_MB)
            }
        };
        Row {
            scenario: s.name.clone(),
            connections,
            rounds: samples.len(),
            depot_rps: m(&|x| x.depot.rps),
            nginx_rps: m(&|x| x.nginx.rps),
            ratio,
            ratio_min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratio_max: ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            depot_p50_ms: m(&|x| x.depot.p50_ms),
            nginx_p50_ms: m(&|x| x.nginx.p50_ms),
            depot_p99_ms,
            nginx_p99_ms,
            p99_ratio,
            depot_peak_rss_mb: mb(peak),
            target,
            meets_target,
        }
    }

    /// The name a ratio has in `benches/baseline.json`.
    pub fn key(&self) -> String {
        format!("{} @{}", self.scenario, self.connections)
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

pub fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<30} {:>5} {:>10} {:>10} {:>6} {:>11}  {:<20} {:>8} {:>8} {:>6} {:>9}",
        "scenario",
        "conns",
        "depot r/s",
        "nginx r/s",
        "ratio",
        "(rounds)",
        "target",
        "p99 dep",
        "p99 ngx",
        "p99 ×",
        "RSS MB"
    );
    for r in rows {
        println!(
            "{:<30} {:>5} {:>10.0} {:>10.0} {:>6.2} {:>11}  {:<20} {:>8.2} {:>8.2} {:>6.2} {:>9.1}",
            r.scenario,
            r.connections,
            r.depot_rps,
            r.nginx_rps,
            r.ratio,
            format!("{:.2}-{:.2}", r.ratio_min, r.ratio_max),
            format!("{} {}", mark(r.meets_target), r.target),
            r.depot_p99_ms,
            r.nginx_p99_ms,
            r.p99_ratio,
            r.depot_peak_rss_mb
        );
    }
}

/// A figure beside its target, printed and kept in the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub target: String,
    pub meets_target: Option<bool>,
}

impl Figure {
    pub fn new(name: &str, value: f64, unit: &'static str, target: &str, meets: Option<bool>) -> Figure {
        Figure { name: name.into(), value, unit, target: target.into(), meets_target: meets }
    }
}

pub fn print_figures(figures: &[Figure]) {
    if figures.is_empty() {
        return;
    }
    println!();
    for f in figures {
        let mark = f.meets_target.map(mark).unwrap_or(" ");
        println!("{:<58} {:>10.1} {:<3} {mark} {}", f.name, f.value, f.unit, f.target);
    }
}

/// `benches/baseline.json`: the warm ratios of a full run, by `Row::key`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Baseline {
    pub machine: String,
    pub ratios: BTreeMap<String, f64>,
}

pub fn baseline_path() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baseline.json"))
}

pub fn read_baseline() -> Result<Baseline> {
    let p = baseline_path();
    let text = std::fs::read_to_string(p).with_context(|| p.display().to_string())?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a baseline", p.display()))
}

pub fn write_baseline(rows: &[Row], machine: &str) -> Result<()> {
    let ratios = rows.iter().filter(|r| r.connections != 16).map(|r| (r.key(), round2(r.ratio))).collect();
    let b = Baseline { machine: machine.into(), ratios };
    std::fs::write(baseline_path(), serde_json::to_string_pretty(&b)? + "\n")?;
    println!("ratios recorded in {}", baseline_path().display());
    Ok(())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Prints each measured ratio beside half its recorded value; returns the keys below it.
pub fn compare(rows: &[Row], baseline: &Baseline) -> Result<Vec<String>> {
    let mut compared = 0;
    let mut low = Vec::new();
    println!();
    for r in rows {
        let Some(&recorded) = baseline.ratios.get(&r.key()) else { continue };
        compared += 1;
        let ok = r.ratio >= recorded / 2.0;
        println!(
            "check {:<38} ratio {:.2}, recorded {:.2}, floor {:.2} {}",
            r.key(),
            r.ratio,
            recorded,
            recorded / 2.0,
            mark(ok)
        );
        if !ok {
            low.push(r.key());
        }
    }
    if compared == 0 {
        bail!("no measured scenario has a ratio in {}", baseline_path().display());
    }
    Ok(low)
}

/// The ratios below half their recorded value, described.
pub fn failures(rows: &[Row], baseline: &Baseline) -> Vec<String> {
    rows.iter()
        .filter_map(|r| {
            let recorded = *baseline.ratios.get(&r.key())?;
            (r.ratio < recorded / 2.0).then(|| format!("{}: {:.2} < half of {:.2}", r.key(), r.ratio, recorded))
        })
        .collect()
}
