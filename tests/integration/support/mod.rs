//! Test harness: a real `depot` process per test ([`depot::TestDepot`]), a fake npm upstream
//! built from `../shared/fixtures/npm` ([`fake_npm::FakeNpm`]), and runners for the real
//! `aws` and `npm` clients ([`clients`]). Everything listens on 127.0.0.1 with ephemeral
//! ports; nothing leaves the machine.
//!
//! A scenario reads: start a fake upstream, start Depot pointed at it, drive clients.
//! ```ignore
//! let fake = FakeNpm::start().await;
//! let depot = TestDepot::builder().npm_upstream(&fake.url()).start().await;
//! let aws = depot.aws();
//! aws.ok(&["create-domain", "--domain", "d"]).await;
//! ```

#![allow(dead_code)]

pub mod clients;
pub mod depot;
pub mod fake_maven;
pub mod fake_npm;
pub mod fake_nuget;
pub mod fake_pypi;
pub mod fake_server;
pub mod killable;
pub mod nuget_client;
pub mod python;
pub mod sigv4;
pub mod webhook;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns true or `timeout` passes; panics with `what` on timeout.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    if !poll_until(timeout, check).await {
        panic!("timed out waiting for: {what}");
    }
}

/// Polls `check` until it returns true (→ true) or `timeout` passes (→ false).
pub async fn poll_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The most common scenario: a fake npm upstream, Depot in front of it (`configure` adds
/// settings), and domain `acme` with `app` → `store`, `store` having `public:npmjs`.
pub async fn app_and_store(
    configure: impl FnOnce(depot::DepotBuilder) -> depot::DepotBuilder,
) -> (fake_npm::FakeNpm, depot::TestDepot, clients::Aws) {
    let fake = fake_npm::FakeNpm::start().await;
    let depot = configure(depot::TestDepot::builder().npm_upstream(&fake.url())).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:npmjs"))]).await;
    (fake, depot, aws)
}

/// `len` bytes that gzip and deflate cannot shrink (xorshift), for files that must stay large.
pub fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The shared fixtures directory.
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

/// The PyPI twin of [`app_and_store`]: a fake PyPI upstream, Depot in front of it, and domain
/// `acme` with `app` → `store`, `store` having `public:pypi`.
pub async fn pypi_app_and_store(
    configure: impl FnOnce(depot::DepotBuilder) -> depot::DepotBuilder,
) -> (fake_pypi::FakePypi, depot::TestDepot, clients::Aws) {
    let fake = fake_pypi::FakePypi::start().await;
    let depot = configure(depot::TestDepot::builder().pypi_upstream(&fake.url())).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:pypi"))]).await;
    (fake, depot, aws)
}

/// The Maven twin of [`app_and_store`]: a fake Maven repository serving
/// `../shared/fixtures/maven/repo`, Depot in front of it, and domain `acme` with `app` →
/// `store`, `store` having `public:maven-central`.
pub async fn maven_app_and_store(
    configure: impl FnOnce(depot::DepotBuilder) -> depot::DepotBuilder,
) -> (fake_maven::FakeMaven, depot::TestDepot, clients::Aws) {
    let fake = fake_maven::FakeMaven::start().await;
    let depot = configure(depot::TestDepot::builder().maven_upstream(&fake.url())).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:maven-central"))]).await;
    (fake, depot, aws)
}

/// The NuGet twin of [`app_and_store`]: a fake NuGet V3 feed serving `../shared/fixtures/nuget`,
/// Depot in front of it, and domain `acme` with `app` → `store`, `store` having
/// `public:nuget-org`.
pub async fn nuget_app_and_store(
    configure: impl FnOnce(depot::DepotBuilder) -> depot::DepotBuilder,
) -> (fake_nuget::FakeNuget, depot::TestDepot, clients::Aws) {
    let fake = fake_nuget::FakeNuget::start().await;
    let depot = configure(depot::TestDepot::builder().nuget_upstream(&fake.url())).start().await;
    let aws = depot.aws();
    aws.setup("acme", &[("app", &["store"], None), ("store", &[], Some("public:nuget-org"))]).await;
    (fake, depot, aws)
}
