use std::collections::BTreeMap;

use super::*;
use crate::model::{Asset, AssetName, Origin, PackageFormat, PackageName, PackageVersionStatus, Sha256, Version};
use crate::store::MemoryStore;

fn asset(name: &str, byte: u8) -> Asset {
    Asset {
        name: AssetName::new(name).unwrap(),
        size: 1,
        sha256: Sha256::from_bytes([byte; 32]),
        hashes: BTreeMap::new(),
        attributes: Default::default(),
    }
}

fn rec(assets: Vec<Asset>, meta: serde_json::Value, status: PackageVersionStatus) -> PackageVersionRecord {
    PackageVersionRecord {
        version: Version::new("1.0.0").unwrap(),
        status,
        revision: format!("rev-{}-{meta}", assets.len()),
        assets,
        metadata: meta,
        published_time: "2026-01-01T00:00:00Z".into(),
        origin: Origin::Internal { repository: RepositoryName::new("repo").unwrap() },
    }
}

#[test]
fn changes_are_derived_from_asset_names_digests_metadata_and_status() {
    use PackageVersionStatus::*;
    let one = rec(vec![asset("a.whl", 1)], serde_json::json!({"x": 1}), Published);
    let (op, c) = derive(None, Some(&one)).unwrap();
    assert_eq!(op, EventOperation::Created);
    assert_eq!((c.assets_added, c.assets_removed, c.metadata_updated, c.status_changed), (1, 0, true, true));

    // A file added to an existing version: Updated, one asset added, nothing else.
    let two = rec(vec![asset("a.whl", 1), asset("a.tar.gz", 2)], serde_json::json!({"x": 1}), Published);
    let (op, c) = derive(Some(&one), Some(&two)).unwrap();
    assert_eq!(op, EventOperation::Updated);
    assert_eq!(c, EventChanges { assets_added: 1, ..Default::default() });

    // Same name, other bytes; one name gone; metadata and status changed.
    let three = rec(vec![asset("a.whl", 9)], serde_json::json!({"x": 2}), Unlisted);
    let (_, c) = derive(Some(&two), Some(&three)).unwrap();
    assert_eq!(
        c,
        EventChanges {
            assets_added: 0,
            assets_removed: 1,
            assets_updated: 1,
            metadata_updated: true,
            status_changed: true
        }
    );

    let (op, c) = derive(Some(&three), None).unwrap();
    assert_eq!(op, EventOperation::Deleted);
    assert_eq!(c.assets_removed, 1);
    // Nothing changed: no event.
    assert!(derive(Some(&three), Some(&three.clone())).is_none());
    assert!(derive(None, None).is_none());
}

#[test]
fn events_get_gap_free_positions_and_per_package_sequence_numbers() {
    let store = MemoryStore::new();
    let d = DomainName::new("dom").unwrap();
    let owner = AccountId::new("111122223333").unwrap();
    let (ra, rb) = (RepositoryName::new("ra").unwrap(), RepositoryName::new("rb").unwrap());
    let pkg = |n: &str| PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(n).unwrap() };
    let v1 = rec(vec![asset("p-1.0.0.tgz", 1)], serde_json::json!({}), PackageVersionStatus::Published);
    let mut v1u = v1.clone();
    v1u.status = PackageVersionStatus::Archived;
    let src_a = EventSource { domain: &d, owner: &owner, repository: &ra };
    let src_b = EventSource { domain: &d, owner: &owner, repository: &rb };
    let t = "2026-01-02T03:04:05Z";
    crate::store::write::<_, StoreError>(&store, |tx| {
        assert_eq!(record(tx, &src_a, &pkg("p"), None, Some(&v1), t)?, Some(1));
        assert_eq!(record(tx, &src_a, &pkg("q"), None, Some(&v1), t)?, Some(2));
        assert_eq!(record(tx, &src_b, &pkg("p"), None, Some(&v1), t)?, Some(3));
        // No change, no event, no position used.
        assert_eq!(record(tx, &src_a, &pkg("p"), Some(&v1), Some(&v1), t)?, None);
        assert_eq!(record(tx, &src_a, &pkg("p"), Some(&v1), Some(&v1u), t)?, Some(4));
        assert_eq!(record(tx, &src_a, &pkg("p"), Some(&v1u), None, t)?, Some(5));
        Ok(())
    })
    .unwrap();
    let all = crate::store::read::<_, StoreError>(&store, |tx| catalog::events_after(tx, 0, 100)).unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // Sequence numbers count per (repository, package): p in ra goes 1, 2, 3.
    assert_eq!(all.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 1, 1, 2, 3]);
    let deleted = &all[4];
    assert_eq!(deleted.operation, EventOperation::Deleted);
    assert_eq!(deleted.state, PackageVersionStatus::Archived, "a deletion reports the last state");
    let ids: std::collections::HashSet<_> = all.iter().map(|e| &e.id).collect();
    let dedups: std::collections::HashSet<_> = all.iter().map(|e| &e.dedup_id).collect();
    assert_eq!((ids.len(), dedups.len()), (5, 5));
    let after = crate::store::read::<_, StoreError>(&store, |tx| catalog::events_after(tx, 3, 1)).unwrap();
    assert_eq!(after.iter().map(|e| e.position).collect::<Vec<_>>(), [4]);

    let j = render(&all[0], "us-west-2");
    assert_eq!(j["detail-type"], DETAIL_TYPE);
    assert_eq!(j["source"], "aws.codeartifact");
    assert_eq!(j["account"], "111122223333");
    assert_eq!(j["resources"][0], "arn:aws:codeartifact:us-west-2:111122223333:package/dom/ra/npm//p");
    assert_eq!(j["detail"]["packageNamespace"], serde_json::Value::Null);
    assert_eq!(j["detail"]["changes"]["assetsAdded"], 1);
    assert_eq!(j["detail"]["operationType"], "Created");
    assert_eq!(j["detail"]["sequenceNumber"], 1);
    assert_eq!(j["time"], t);
}

#[test]
fn an_append_out_of_order_is_refused() {
    let store = MemoryStore::new();
    let v1 = rec(vec![], serde_json::json!({}), PackageVersionStatus::Published);
    let d = DomainName::new("dom").unwrap();
    let owner = AccountId::new("111122223333").unwrap();
    let r = RepositoryName::new("ra").unwrap();
    let pkg = PackageId { format: PackageFormat::Pypi, namespace: None, name: PackageName::new("p").unwrap() };
    let err = crate::store::write::<_, StoreError>(&store, |tx| {
        record(tx, &EventSource { domain: &d, owner: &owner, repository: &r }, &pkg, None, Some(&v1), "t")?;
        let mut e = catalog::events_after(tx, 0, 1)?.remove(0);
        e.position = 5;
        catalog::append_event(tx, &e)
    });
    assert!(matches!(err, Err(StoreError::Corrupt(_))));
}

#[test]
fn deleting_a_repository_records_a_deletion_per_version() {
    use crate::config::{Config, MapEnv};
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
    let auth = crate::engine::Auth::open(dir.path(), vec![]).unwrap();
    let blobs = crate::store::DirBlobStore::open(&dir.path().join("blobs")).unwrap();
    let e = Engine::with_stores(cfg, std::sync::Arc::new(MemoryStore::new()), std::sync::Arc::new(blobs), auth, vec![])
        .unwrap();
    let (d, r) = (DomainName::new("dom").unwrap(), RepositoryName::new("repo").unwrap());
    e.create_domain(&d, None).unwrap();
    e.create_repository(&d, None, &r, None, vec![]).unwrap();
    let ctx = e.repo_ctx(&d, None, &r).unwrap();
    let v1 = rec(vec![asset("p-1.0.0.tgz", 1)], serde_json::json!({}), PackageVersionStatus::Published);
    for n in ["a", "b"] {
        let pkg = PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(n).unwrap() };
        e.write(|tx| {
            e.ensure_package(tx, &d, &r, &pkg, crate::engine::origin::Entry::Publish)?;
            catalog::put_version(tx, &d, &r, &pkg, &v1)?;
            record(tx, &EventSource::of(&ctx), &pkg, None, Some(&v1), "t")?;
            Ok(())
        })
        .unwrap();
    }
    e.delete_repository(&d, None, &r).unwrap();
    let all = e.events_after(0, 10).unwrap();
    let ops: Vec<_> = all.iter().map(|x| (x.package.name.as_str().to_string(), x.operation)).collect();
    assert_eq!(
        ops,
        [
            ("a".to_string(), EventOperation::Created),
            ("b".to_string(), EventOperation::Created),
            ("a".to_string(), EventOperation::Deleted),
            ("b".to_string(), EventOperation::Deleted),
        ]
    );
}
