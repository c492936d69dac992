//! The measured rounds: for each connection count and round, each scenario runs wrk against
//! Depot, then against nginx (interleaved, so noise from the rest of the machine hits both),
//! each preceded by one checked request; Depot's peak RSS is taken during its run.

use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::nginx::Nginx;
use crate::procs::{mb, Depot, RssPeak};
use crate::report::{Row, Sample};
use crate::scenarios::{check, Scenario};
use crate::wrk;

#[derive(Clone, Debug)]
pub struct Load {
    pub duration: Duration,
    pub rounds: usize,
    pub connections: Vec<usize>,
}

pub async fn run(
    client: &reqwest::Client,
    depot: &mut Depot,
    nginx: &mut Nginx,
    scenarios: &[Scenario],
    load: &Load,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &c in &load.connections {
        let mut samples: Vec<Vec<Sample>> = scenarios.iter().map(|_| Vec::new()).collect();
        for round in 1..=load.rounds {
            for (s, out) in scenarios.iter().zip(&mut samples) {
                let sample = one(client, depot, nginx, s, c, load.duration)
                    .await
                    .with_context(|| format!("{} at {c} connections, round {round}", s.name))?;
                println!(
                    "  c={c:<3} round {round}/{}  {:<30} depot {:>9.0} req/s  nginx {:>9.0} req/s  ratio {:.2}  \
                     depot peak RSS {:.1} MB",
                    load.rounds,
                    s.name,
                    sample.depot.rps,
                    sample.nginx.rps,
                    sample.depot.rps / sample.nginx.rps,
                    mb(sample.depot_peak_rss)
                );
                out.push(sample);
            }
        }
        rows.extend(scenarios.iter().zip(&samples).map(|(s, smp)| Row::new(s, c, smp)));
    }
    Ok(rows)
}

pub async fn one(
    client: &reqwest::Client,
    depot: &mut Depot,
    nginx: &mut Nginx,
    s: &Scenario,
    connections: usize,
    duration: Duration,
) -> Result<Sample> {
    check(client, &s.depot).await.context("depot answer before the run")?;
    let peak = RssPeak::start(depot.guard.pid());
    let d = wrk::run(&s.depot.url, &s.depot.headers, connections, duration).await;
    let depot_peak_rss = peak.finish().await;
    let d = d.context("depot")?;
    depot.guard.check_alive()?;
    check(client, &s.nginx).await.context("nginx answer before the run")?;
    let n = wrk::run(&s.nginx.url, &s.nginx.headers, connections, duration).await.context("nginx")?;
    nginx.guard.check_alive()?;
    Ok(Sample { depot: d, nginx: n, depot_peak_rss })
}
