//! Measurement helper (not part of the product): writes N stored npm versions into an existing
//! data dir's metadata store, so start-up time and idle memory can be measured against it.
//! `cargo run --release --example seed_versions -- <data_dir> <packages> <versions_each>`

use std::collections::BTreeMap;

use depot::model::*;
use depot::store::{catalog, RedbStore, StoreError};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(&args[1]);
    let (packages, each): (usize, usize) = (args[2].parse()?, args[3].parse()?);
    let store = RedbStore::open(&dir.join("meta.redb"))?;
    let d = DomainName::new("default")?;
    let r = RepositoryName::new("main")?;
    let desc = "y".repeat(1500);
    for p in 0..packages {
        let pkg =
            PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(format!("seed{p}"))? };
        depot::store::write(&store, |tx| {
            catalog::put_package(tx, &d, &r, &pkg, &PackageRecord { tags: BTreeMap::new(), origin: None })?;
            for i in 0..each {
                let v = format!("1.{}.{}", i / 100, i % 100);
                let sha = Sha256::from_hex(&format!("{:064x}", p * 1_000_000 + i)).expect("hex");
                let rec = PackageVersionRecord {
                    version: Version::new(v.clone()).expect("v"),
                    status: PackageVersionStatus::Published,
                    revision: format!("{:032x}", i),
                    assets: vec![Asset {
                        name: AssetName::new(format!("seed{p}-{v}.tgz")).expect("a"),
                        size: 2000,
                        sha256: sha,
                        hashes: BTreeMap::new(),
                        attributes: Default::default(),
                    }],
                    metadata: serde_json::json!({"name": format!("seed{p}"), "version": v, "description": desc,
                        "dependencies": {"a": "^1", "b": "^2", "c": "~3"}}),
                    published_time: "2024-01-01T00:00:00Z".into(),
                    origin: Origin::Internal { repository: r.clone() },
                };
                catalog::put_version(tx, &d, &r, &pkg, &rec)?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    println!("seeded {} versions", packages * each);
    Ok(())
}
