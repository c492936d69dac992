//! The upstream cache's byte budget.

use serde_json::value::RawValue;

use super::*;
use crate::engine::format::UpstreamAsset;
use crate::engine::VersionMetadata;
use crate::model::{AssetName, PackageFormat, PackageName, Version};

fn package(versions: usize, manifest_bytes: usize) -> UpstreamPackage {
    let text = format!("{{\"description\":\"{}\"}}", "x".repeat(manifest_bytes));
    UpstreamPackage {
        versions: (0..versions)
            .map(|i| UpstreamVersion {
                version: Version::new(format!("1.0.{i}")).unwrap(),
                metadata: VersionMetadata::raw(RawValue::from_string(text.clone()).unwrap()),
                assets: vec![UpstreamAsset {
                    name: AssetName::new(format!("p-1.0.{i}.tgz")).unwrap(),
                    url: format!("http://up/p/-/p-1.0.{i}.tgz"),
                    sha1: None,
                    sha256: None,
                    sha512: None,
                    size: None,
                    attributes: Default::default(),
                }],
                published_time: None,
            })
            .collect(),
        tags: Default::default(),
    }
}

fn entry(p: UpstreamPackage) -> Arc<CachedUpstream> {
    Arc::new(CachedUpstream { fetched_at: 0.0, fetch_started: None, package: Some(Arc::new(p)), stamp: 1, etag: None })
}

#[test]
fn weight_follows_the_metadata_text() {
    let big = entry(package(3_800, 5_000));
    // The text (19 MB) plus a few hundred bytes per version, never a multiple of it.
    let w = u64::from(big.weight());
    assert!((19_000_000..21_000_000).contains(&w), "weight {w}");
    assert!(entry(package(1, 10)).weight() < 1_000);
}

#[test]
fn cache_stays_within_its_byte_budget() {
    let budget = 4 * 1024 * 1024;
    let cache = UpstreamCache::new(budget);
    for i in 0..50 {
        let name = PackageName::new(format!("p{i}")).unwrap();
        let pkg = PackageId { format: PackageFormat::Npm, namespace: None, name };
        cache.put("public:npmjs", &pkg, entry(package(100, 1_000)));
    }
    let (weight, count) = cache.entries.settled_size();
    assert!(weight <= budget, "{weight} > {budget}");
    assert!(count > 0, "entries that fit are kept");
}
