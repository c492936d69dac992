//! Depot beside the proxies people use today (`BENCH_PEERS`; `benches/peers/`): each peer
//! fronts the same fake upstream as Depot, is warmed with the requests of Depot's scenarios it
//! can answer, and then each of those scenarios runs wrk against Depot, nginx and the peer, in
//! that order within every round, at `BENCH_PEER_CONNECTIONS` (default 64). A peer's answer is
//! its own (Verdaccio rewrites tarball URLs to itself): it is checked for status and length as
//! Depot's is. A peer's failed run (errors, timeouts) is reported beside the figures, not fatal.

use std::path::Path;

use anyhow::{ensure, Context as _, Result};
use serde::Serialize;

use crate::measure::{self, Load};
use crate::nginx::Nginx;
use crate::peers::{tree_peak, tree_rss, Peer, PeerKind};
use crate::procs::{mb, Depot};
use crate::report::{median, Figure, Sample};
use crate::scenarios::{check, hdrs, warm, Scenario, Target, ABBREVIATED, PYPI_JSON};
use crate::wrk;

/// What a peer is asked, mirroring one of Depot's scenarios.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// The packument as JSON (`Accept: application/json`).
    Full,
    Abbreviated,
    Gzip,
    /// `If-None-Match` with the peer's own ETag.
    NotModified,
    /// The tarball of this version, at the URL the peer's packument gives.
    Tarball(&'static str),
    Html,
    Json,
    /// This file, at the URL the peer's HTML page links.
    File(&'static str),
}

/// Depot's scenarios a peer of `kind` is set beside, by name.
pub fn shapes(kind: PeerKind) -> &'static [(&'static str, Shape)] {
    match kind {
        PeerKind::Verdaccio => &[
            ("npm packument full", Shape::Full),
            ("npm packument abbreviated", Shape::Abbreviated),
            ("npm packument gzip", Shape::Gzip),
            ("npm packument 304", Shape::NotModified),
            ("npm tarball", Shape::Tarball("4.22.3")),
        ],
        PeerKind::Devpi | PeerKind::Proxpi => &[
            ("pypi simple page html", Shape::Html),
            ("pypi simple page json", Shape::Json),
            ("pypi wheel", Shape::File("requests-2.34.2-py3-none-any.whl")),
        ],
    }
}

/// One of Depot's scenarios and the peer's request for the same thing.
pub struct PeerTarget {
    pub scenario: Scenario,
    pub peer: Target,
    /// How the peer's answer differs from Depot's, when it does.
    pub note: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PeerRow {
    pub scenario: String,
    pub peer: &'static str,
    pub connections: usize,
    /// Rounds in which the peer's run succeeded (the figures are their medians).
    pub rounds: usize,
    pub depot_rps: f64,
    pub nginx_rps: f64,
    pub peer_rps: f64,
    /// Median over those rounds of Depot's req/s over the peer's in the same round.
    pub depot_over_peer: f64,
    pub peer_over_nginx: f64,
    pub depot_p99_ms: f64,
    pub peer_p99_ms: f64,
    pub depot_peak_rss_mb: f64,
    pub peer_peak_rss_mb: f64,
    pub note: String,
    /// The first failed run of the peer, if any.
    pub error: Option<String>,
}

/// Warms the peer with each shape whose Depot scenario is in `scenarios` (named in `names`)
/// and returns what to measure. `doc` is the peer's URL of the packument or project page.
/// Twice, keeping the second: a peer's document may change once it has fetched a file
/// (Verdaccio's packument does), and what is measured is the settled one.
pub async fn targets(
    client: &reqwest::Client,
    doc: &str,
    scenarios: &[Scenario],
    names: &[(&str, Shape)],
) -> Result<Vec<PeerTarget>> {
    targets_once(client, doc, scenarios, names).await?;
    targets_once(client, doc, scenarios, names).await
}

async fn targets_once(
    client: &reqwest::Client,
    doc: &str,
    scenarios: &[Scenario],
    names: &[(&str, Shape)],
) -> Result<Vec<PeerTarget>> {
    let mut out = Vec::new();
    let json = hdrs(&[("accept", "application/json")]);
    for (name, shape) in names {
        let Some(scenario) = scenarios.iter().find(|s| s.name == *name) else { continue };
        let mut note = String::new();
        let (url, headers, status) = match *shape {
            Shape::Full => (doc.to_string(), json.clone(), 200),
            Shape::Abbreviated => (doc.to_string(), hdrs(&[("accept", ABBREVIATED)]), 200),
            Shape::Gzip => (doc.to_string(), hdrs(&[("accept", "application/json"), ("accept-encoding", "gzip")]), 200),
            Shape::NotModified => {
                let (_, h) = warm(client, doc, &json).await?;
                let Some(etag) = h.get("etag").and_then(|v| v.to_str().ok()) else {
                    println!("  {name}: the peer's packument has no ETag; not measured");
                    continue;
                };
                let headers = hdrs(&[("accept", "application/json"), ("if-none-match", etag)]);
                (doc.to_string(), headers, 304)
            }
            Shape::Tarball(version) => {
                let (body, _) = warm(client, doc, &json).await?;
                let parsed: serde_json::Value = serde_json::from_slice(&body).context("the peer's packument")?;
                let tarball = parsed["versions"][version]["dist"]["tarball"]
                    .as_str()
                    .with_context(|| format!("{doc}: no tarball for {version}"))?;
                (tarball.to_string(), vec![], 200)
            }
            Shape::Html => (doc.to_string(), hdrs(&[("accept", "text/html")]), 200),
            Shape::Json => (doc.to_string(), hdrs(&[("accept", PYPI_JSON)]), 200),
            Shape::File(filename) => {
                let (body, _) = warm(client, doc, &hdrs(&[("accept", "text/html")])).await?;
                (file_link(doc, &String::from_utf8_lossy(&body), filename)?, vec![], 200)
            }
        };
        // A 304 is of the document already warmed; anything else is asked twice: a peer may
        // stream the first download while it stores it.
        let (body, answered) = if status == 304 {
            (Default::default(), reqwest::header::HeaderMap::new())
        } else {
            warm(client, &url, &headers).await?;
            warm(client, &url, &headers).await?
        };
        let content_type = answered.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut expect = vec![];
        match shape {
            Shape::Gzip if answered.get("content-encoding").is_none() => note = "answered without gzip".into(),
            Shape::Gzip => expect.push(("content-encoding", Some("gzip".to_string()))),
            Shape::Abbreviated if !content_type.contains("install-v1") => {
                note = format!("answered {content_type}, {} bytes", body.len())
            }
            Shape::Json if !content_type.contains("json") => note = format!("answered {content_type}"),
            _ => {}
        }
        let peer = Target { url, headers, status, body_len: body.len(), expect };
        check(client, &peer).await.with_context(|| format!("{name}: the peer's answer"))?;
        out.push(PeerTarget { scenario: scenario.clone(), peer, note });
    }
    Ok(out)
}

/// The `href` of the link to `filename` in a PEP 503 page, resolved against the page's URL.
pub fn file_link(page_url: &str, html: &str, filename: &str) -> Result<String> {
    let href = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|h| h.split(['#', '?']).next().is_some_and(|u| u.rsplit('/').next() == Some(filename)))
        .with_context(|| format!("{page_url} links no {filename}"))?;
    let href = href.replace("&amp;", "&");
    Ok(url::Url::parse(page_url)?.join(&href)?.to_string())
}

/// `file_link` against the link shapes devpi and proxpi write: what `cargo test --bench
/// hot_paths` runs (no servers).
pub fn self_check() -> Result<()> {
    let page = "http://127.0.0.1:1/root/fake/+simple/requests/";
    let html = "<a href=\"../../+f/abc/requests-1.0.tar.gz#sha256=00\">requests-1.0.tar.gz</a>\n\
        <a href=\"../../+f/d3f/requests-2.34.2-py3-none-any.whl?x=1&amp;y=2#sha256=11\" \
        data-requires-python=\"&gt;=3.9\">requests-2.34.2-py3-none-any.whl</a>";
    let got = file_link(page, html, "requests-2.34.2-py3-none-any.whl");
    let got = got.ok().filter(|u| u.ends_with("/root/fake/+f/d3f/requests-2.34.2-py3-none-any.whl?x=1&y=2#sha256=11"));
    ensure!(got.is_some(), "file_link did not resolve the wheel's link");
    ensure!(file_link(page, html, "requests-9.whl").is_err(), "file_link found a file the page does not link");
    Ok(())
}

/// The interleaved rounds of Depot, nginx and `peer` on `targets`.
pub async fn measure(
    client: &reqwest::Client,
    depot: &mut Depot,
    nginx: &mut Nginx,
    peer: &Peer,
    targets: &[PeerTarget],
    load: &Load,
) -> Result<Vec<PeerRow>> {
    let name = peer.kind.name();
    let mut rows = Vec::new();
    for &c in &load.connections {
        let mut per: Vec<Vec<(Sample, wrk::WrkRun, u64)>> = targets.iter().map(|_| Vec::new()).collect();
        let mut errors: Vec<Option<String>> = targets.iter().map(|_| None).collect();
        for round in 1..=load.rounds {
            for ((t, out), error) in targets.iter().zip(&mut per).zip(&mut errors) {
                let s = &t.scenario;
                let sample = measure::one(client, depot, nginx, s, c, load.duration)
                    .await
                    .with_context(|| format!("{} at {c} connections, round {round}", s.name))?;
                let (run, peak) = match check(client, &t.peer).await.context("its answer before the run") {
                    Ok(()) => tree_peak(peer.pid(), wrk::run(&t.peer.url, &t.peer.headers, c, load.duration)).await,
                    Err(e) => (Err(e), 0),
                };
                let run = run.and_then(|r| {
                    ensure!(r.requests > 0, "no request finished within the {:?} run", load.duration);
                    Ok(r)
                });
                match run {
                    Ok(run) => {
                        println!(
                            "  c={c:<3} round {round}/{}  {:<27} depot {:>9.0}  nginx {:>9.0}  {name} {:>8.0} req/s  \
                             depot÷{name} {:>6.1}  {name} RSS {:.1} MB",
                            load.rounds,
                            s.name,
                            sample.depot.rps,
                            sample.nginx.rps,
                            run.rps,
                            sample.depot.rps / run.rps,
                            mb(peak)
                        );
                        out.push((sample, run, peak));
                    }
                    Err(e) => {
                        println!("  c={c:<3} round {round}/{}  {:<27} {name} run failed: {e:#}", load.rounds, s.name);
                        error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
        }
        for ((t, samples), error) in targets.iter().zip(per).zip(errors) {
            let m = |f: &dyn Fn(&(Sample, wrk::WrkRun, u64)) -> f64| median(samples.iter().map(f).collect());
            rows.push(PeerRow {
                scenario: t.scenario.name.clone(),
                peer: name,
                connections: c,
                rounds: samples.len(),
                depot_rps: m(&|x| x.0.depot.rps),
                nginx_rps: m(&|x| x.0.nginx.rps),
                peer_rps: m(&|x| x.1.rps),
                depot_over_peer: m(&|x| x.0.depot.rps / x.1.rps),
                peer_over_nginx: m(&|x| x.1.rps / x.0.nginx.rps),
                depot_p99_ms: m(&|x| x.0.depot.p99_ms),
                peer_p99_ms: m(&|x| x.1.p99_ms),
                depot_peak_rss_mb: mb(samples.iter().map(|x| x.0.depot_peak_rss).max().unwrap_or(0)),
                peer_peak_rss_mb: mb(samples.iter().map(|x| x.2).max().unwrap_or(0)),
                note: t.note.clone(),
                error,
            });
        }
    }
    Ok(rows)
}

/// Every selected peer beside Depot on the format's scenarios; the upstream requests each peer
/// made during its rounds and its resident memory once warm are figures.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &reqwest::Client,
    depot: &mut Depot,
    nginx: &mut Nginx,
    scenarios: &[Scenario],
    fakes: &crate::Fakes,
    kinds: &[PeerKind],
    scratch: &Path,
    load: &Load,
) -> Result<(Vec<PeerRow>, Vec<Figure>)> {
    let (mut rows, mut figures) = (Vec::new(), Vec::new());
    let target = crate::procs::target_dir();
    for &kind in kinds {
        let names = shapes(kind);
        if !names.iter().any(|(n, _)| scenarios.iter().any(|s| s.name == *n)) {
            continue;
        }
        let (upstream, doc_path) = match kind.format() {
            "npm" => (fakes.npm.url(), "express"),
            _ => (fakes.pypi.simple_url(), "requests/"),
        };
        let peer = Peer::start(kind, &target, &scratch.join(kind.name()), &upstream).await?;
        let doc = format!("{}{doc_path}", peer.registry);
        let ts = targets(client, &doc, scenarios, names).await.with_context(|| format!("warming {}", kind.name()))?;
        fakes.settle().await;
        let warm_rss = tree_rss(peer.pid());
        let before = fakes.hits();
        println!("{}: {} scenario(s) beside Depot and nginx", kind.name(), ts.len());
        rows.extend(measure(client, depot, nginx, &peer, &ts, load).await?);
        let during = fakes.hits() - before;
        figures.push(Figure::new(&format!("{} RSS once warm", kind.name()), mb(warm_rss), "MB", "", None));
        figures.push(Figure::new(
            &format!("{} upstream requests during its rounds", kind.name()),
            during as f64,
            "",
            "",
            None,
        ));
        depot.guard.check_alive()?;
    }
    Ok((rows, figures))
}

pub fn print_table(rows: &[PeerRow]) {
    if rows.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<27} {:<9} {:>5} {:>10} {:>9} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9}  note",
        "scenario",
        "peer",
        "conns",
        "depot r/s",
        "peer r/s",
        "depot÷peer",
        "peer÷nginx",
        "p99 dep",
        "p99 peer",
        "RSS dep",
        "RSS peer"
    );
    for r in rows {
        let note = match &r.error {
            Some(e) => format!("{} {}", r.note, e.lines().next().unwrap_or("")).trim().to_string(),
            None => r.note.clone(),
        };
        println!(
            "{:<27} {:<9} {:>5} {:>10.0} {:>9.1} {:>10.1} {:>10.3} {:>8.2} {:>9.2} {:>9.1} {:>9.1}  {note}",
            r.scenario,
            r.peer,
            r.connections,
            r.depot_rps,
            r.peer_rps,
            r.depot_over_peer,
            r.peer_over_nginx,
            r.depot_p99_ms,
            r.peer_p99_ms,
            r.depot_peak_rss_mb,
            r.peer_peak_rss_mb
        );
    }
}
