//! The 20 MB / 3,800-version packument: generated here (realistic manifests of about 5 KB),
//! served by a fake npm upstream of its own to a Depot of its own (so its idle memory is
//! measured before anything is cached), then plain and gzip throughput against nginx at 16
//! connections with Depot's peak RSS, and the time to publish one more version into it
//! against publishing into a 1-version package.

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::beside::{self, PeerRow, Shape};
use crate::measure::{self, Load};
use crate::nginx::Nginx;
use crate::peers::{Peer, PeerKind};
use crate::procs::{mb, proc_status_bytes, Depot};
use crate::report::{Figure, Row};
use crate::scenarios::{self, Builder, Kind, Scenario};
use crate::support::fake_npm::{make_tarball, FakeNpm};
use crate::token::authorization_token;

pub const BIG: &str = "big-pkg";
const SMALL: &str = "small-pkg";
pub const VERSIONS: usize = 3800;
/// Publishes timed per package; the median is reported.
const PUBLISHES: usize = 5;

/// A version manifest shaped like a real one (scripts, dependency lists, dist with
/// signatures, maintainers), about 5 KB of JSON.
pub fn manifest(name: &str, version: &str, i: usize) -> Value {
    let h = |s: &str| hex::encode(sha2::Sha256::digest(format!("{name}{version}{s}")));
    let deps: Map<String, Value> =
        (0..20).map(|d| (format!("dependency-number-{d:02}"), json!(format!("^{}.{}.0", d % 7 + 1, i % 13)))).collect();
    let dev: Map<String, Value> = (0..80)
        .map(|d| (format!("@scope-{}/dev-tool-{d:02}", d % 5), json!(format!("~{}.{}.{}", d % 4 + 1, d % 9, i % 11))))
        .collect();
    json!({
        "name": name, "version": version,
        "description": format!("A synthetic package used to measure large packuments; release {version} of a long history. {}", h("d")),
        "keywords": ["benchmark", "synthetic", "registry", "packument", "depot", "large", "versions", "npm"],
        "homepage": format!("https://example.invalid/{name}#readme"),
        "bugs": {"url": format!("https://example.invalid/{name}/issues")},
        "repository": {"type": "git", "url": format!("git+https://example.invalid/{name}.git")},
        "license": "MIT",
        "author": {"name": "Bench Author", "email": "author@example.invalid", "url": "https://example.invalid"},
        "contributors": (0..4).map(|c| json!({"name": format!("Contributor {c}"), "email": format!("c{c}@example.invalid")})).collect::<Vec<_>>(),
        "main": "lib/index.js", "types": "lib/index.d.ts",
        "files": ["lib/", "bin/", "README.md", "LICENSE"],
        "engines": {"node": ">= 14"},
        "scripts": {"test": "mocha --reporter spec test/", "lint": "eslint .", "build": "tsc -p .", "prepare": "npm run build",
                    "coverage": "nyc npm test", "bench": "node bench/index.js", "docs": "typedoc src", "release": "np"},
        "dependencies": deps, "devDependencies": dev,
        "gitHead": h("g")[..40],
        "_id": format!("{name}@{version}"), "_nodeVersion": "20.11.1", "_npmVersion": "10.2.4",
        "dist": {
            "integrity": format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(version.as_bytes()))),
            "shasum": h("s")[..40], "tarball": format!("{{{{UPSTREAM}}}}/{name}/-/{name}-{version}.tgz"),
            "fileCount": 42 + i % 7, "unpackedSize": 123_456 + i,
            "signatures": [{"keyid": "SHA256:benchkeybenchkeybenchkeybenchkeybenchkey00", "sig": format!("MEUCIQ{}", h("x"))}]
        },
        "_npmUser": {"name": "bench-publisher", "email": "publisher@example.invalid"},
        "maintainers": (0..3).map(|m| json!({"name": format!("maintainer-{m}"), "email": format!("m{m}@example.invalid")})).collect::<Vec<_>>(),
        "directories": {}, "_hasShrinkwrap": false,
        "_npmOperationalInternal": {"host": "s3://npm-registry-packages", "tmp": format!("tmp/{name}_{version}_{}", 1_600_000_000 + i)},
    })
}

fn packument(name: &str, n: usize) -> Value {
    let versions: Vec<String> = (0..n).map(|i| format!("1.{}.{}", i / 100, i % 100)).collect();
    let docs: Map<String, Value> =
        versions.iter().enumerate().map(|(i, v)| (v.clone(), manifest(name, v, i))).collect();
    let mut time: Map<String, Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (v.clone(), json!(format!("20{:02}-{:02}-{:02}T12:00:00.000Z", 10 + i / 400, i % 12 + 1, i % 28 + 1)))
        })
        .collect();
    time.insert("created".into(), json!("2010-01-01T00:00:00.000Z"));
    time.insert("modified".into(), json!("2026-01-01T00:00:00.000Z"));
    json!({
        "_id": name, "name": name, "description": "A synthetic package with a long history",
        "dist-tags": {"latest": versions.last()}, "versions": docs, "time": time,
        "readme": "# big-pkg\n\nA synthetic package.\n", "license": "MIT",
    })
}

/// Writes the corpus `FakeNpm::start_with_root` serves: the big package and a 1-version one.
fn write_corpus(root: &Path) -> Result<usize> {
    let dir = root.join("packuments");
    std::fs::create_dir_all(&dir)?;
    std::fs::create_dir_all(root.join("tarballs"))?;
    let big = serde_json::to_vec(&packument(BIG, VERSIONS))?;
    std::fs::write(dir.join(format!("{BIG}.json")), &big)?;
    std::fs::write(dir.join(format!("{SMALL}.json")), serde_json::to_vec(&packument(SMALL, 1))?)?;
    Ok(big.len())
}

/// An npm publish body for `name@version` (what `npm publish` PUTs).
fn publish_body(name: &str, version: &str) -> Vec<u8> {
    let tgz = make_tarball(name, version, &[]);
    let b64 = base64::engine::general_purpose::STANDARD;
    let integrity = format!("sha512-{}", b64.encode(sha2::Sha512::digest(&tgz)));
    serde_json::to_vec(&json!({
        "_id": name, "name": name,
        "versions": {version: {"name": name, "version": version, "dist": {"integrity": integrity}}},
        "dist-tags": {"latest": version},
        "_attachments": {format!("{name}-{version}.tgz"): {"content_type": "application/octet-stream", "data": b64.encode(&tgz), "length": tgz.len()}},
    }))
    .unwrap_or_default()
}

/// Median wall time of `PUBLISHES` sequential publishes of new versions of `name`.
pub async fn publish_ms(client: &reqwest::Client, endpoint: &str, token: &str, name: &str) -> Result<(f64, f64)> {
    let mut times = Vec::new();
    for k in 0..PUBLISHES {
        let body = publish_body(name, &format!("9.0.{k}"));
        let started = Instant::now();
        let resp = client
            .put(format!("{endpoint}{name}"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        ensure!(status.is_success(), "publish {name}@9.0.{k}: {status} {text}");
    }
    println!("  publishes into {name}: {}", times.iter().map(|t| format!("{t:.1} ms")).collect::<Vec<_>>().join(", "));
    let first = times[0];
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], first))
}

/// What the large-packument part measured.
pub struct Outcome {
    pub rows: Vec<Row>,
    pub figures: Vec<Figure>,
    /// Verdaccio on the same packument, when it is among the peers.
    pub peer_rows: Vec<PeerRow>,
}

pub async fn run(
    binary: &Path,
    scratch: &Path,
    nginx: &mut Nginx,
    nginx_root: &Path,
    load: &Load,
    peers: &[PeerKind],
) -> Result<Outcome> {
    let corpus = scratch.join("big-npm");
    let bytes = tokio::task::spawn_blocking({
        let c = corpus.clone();
        move || write_corpus(&c)
    })
    .await??;
    println!("large packument: {VERSIONS} versions, {:.1} MB of upstream JSON", mb(bytes as u64));
    let fake = FakeNpm::start_with_root(&corpus).await;
    let env = [("DEPOT_UPSTREAM_PUBLIC_NPMJS", fake.url()), ("DEPOT_PACKAGES_ORIGIN_DEFAULTS", "open".to_string())];
    let mut depot = Depot::start(binary, &scratch.join("big-depot"), &env).await?;
    let idle = proc_status_bytes(depot.guard.pid(), "VmRSS")?;
    let mut figures = vec![Figure::new(
        "depot idle RSS before the large packument is cached",
        mb(idle),
        "MB",
        "≤30 MB",
        Some(mb(idle) <= 30.0),
    )];

    let client = crate::procs::plain_client(std::time::Duration::from_secs(120))?;
    let mut b = Builder { client: client.clone(), root: nginx_root, nginx_base: nginx.base.clone(), out: Vec::new() };
    let url = format!("{}{BIG}", depot.endpoint("npm", "main"));
    b.plain("large packument plain", Kind::Large, &url, &[("accept", "application/json")], "big/big.json").await?;
    b.gzip("large packument gzip", Kind::Large, &url, "application/json", "big/big.json").await?;
    let scenarios: Vec<Scenario> = b.out;
    let hits_before = fake.total_hits();
    let large_load = Load { connections: vec![16], ..load.clone() };
    let rows = measure::run(&client, &mut depot, nginx, &scenarios, &large_load).await?;
    let upstream = fake.total_hits() - hits_before;
    ensure!(upstream == 0, "the fake npm upstream saw {upstream} requests during the large-packument runs");
    let mut peer_rows = Vec::new();
    if peers.contains(&PeerKind::Verdaccio) {
        let target = crate::procs::target_dir();
        let peer = Peer::start(PeerKind::Verdaccio, &target, &scratch.join("big-verdaccio"), &fake.url()).await?;
        let shapes = [("large packument plain", Shape::Full), ("large packument gzip", Shape::Gzip)];
        let doc = format!("{}{BIG}", peer.registry);
        let ts = beside::targets(&client, &doc, &scenarios, &shapes).await.context("warming Verdaccio")?;
        figures.push(Figure::new(
            "verdaccio RSS once the large packument is cached",
            mb(crate::peers::tree_rss(peer.pid())),
            "MB",
            "",
            None,
        ));
        // Verdaccio takes seconds per answer here: at 16 connections none would finish within
        // a run, so both are measured with `BENCH_PEER_LARGE_CONNECTIONS` (default one client).
        let peer_load = Load { connections: crate::connections("BENCH_PEER_LARGE_CONNECTIONS", "1")?, ..load.clone() };
        peer_rows = beside::measure(&client, &mut depot, nginx, &peer, &ts, &peer_load).await?;
    }

    let endpoint = depot.endpoint("npm", "main");
    scenarios::warm(&client, &format!("{endpoint}{SMALL}"), &[]).await?;
    let token = authorization_token(&client, &depot.base).await.context("token for the publish timing")?;
    let (big_ms, big_first) = publish_ms(&client, &endpoint, &token, BIG).await?;
    let (small_ms, small_first) = publish_ms(&client, &endpoint, &token, SMALL).await?;
    figures.push(Figure::new(
        "publish one version into the 3,800-version package (median)",
        big_ms,
        "ms",
        "<50 ms",
        Some(big_ms < 50.0),
    ));
    figures.push(Figure::new("  the first of those publishes", big_first, "ms", "", None));
    figures.push(Figure::new("publish one version into a 1-version package (median)", small_ms, "ms", "", None));
    figures.push(Figure::new("  the first of those publishes", small_first, "ms", "", None));
    depot.guard.check_alive()?;
    Ok(Outcome { rows, figures, peer_rows })
}
