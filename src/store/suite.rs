//! One behaviour suite run against every `MetaStore` implementation.

use super::{catalog, read, write, MemoryStore, MetaStore, RedbStore, StoreError, Table};
use crate::model::*;

fn stores() -> Vec<(Box<dyn MetaStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(&dir.path().join("meta.redb")).unwrap();
    vec![(Box::new(MemoryStore::new()), None), (Box::new(redb), Some(dir))]
}

fn pkg(name: &str) -> PackageId {
    PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(name).unwrap() }
}

fn ver(v: &str) -> PackageVersionRecord {
    PackageVersionRecord {
        version: Version::new(v).unwrap(),
        status: PackageVersionStatus::Published,
        revision: "r".into(),
        assets: vec![],
        metadata: serde_json::json!({}),
        published_time: now_rfc3339(),
        origin: Origin::External { connection: "public:npmjs".into() },
    }
}

#[test]
fn rollback_and_scan_boundaries() {
    for (s, _dir) in stores() {
        let s = s.as_ref();
        let d = DomainName::new("dom").unwrap();
        let r = RepositoryName::new("repo").unwrap();
        write::<_, StoreError>(s, |tx| {
            catalog::put_package(tx, &d, &r, &pkg("a"), &Default::default())?;
            catalog::put_package(tx, &d, &r, &pkg("ab"), &Default::default())?;
            catalog::put_version(tx, &d, &r, &pkg("a"), &ver("1.0.0"))?;
            catalog::put_version(tx, &d, &r, &pkg("a"), &ver("1.1.0"))?;
            catalog::put_version(tx, &d, &r, &pkg("ab"), &ver("2.0.0"))
        })
        .unwrap();
        // A failing closure leaves nothing behind.
        let res = write::<(), StoreError>(s, |tx| {
            catalog::put_package(tx, &d, &r, &pkg("zzz"), &Default::default())?;
            catalog::put_version(tx, &d, &r, &pkg("zzz"), &ver("1.0.0"))?;
            Err(StoreError::Backend("boom".into()))
        });
        assert!(res.is_err());
        let (a, ab, zzz, pkgs) = read::<_, StoreError>(s, |tx| {
            Ok((
                catalog::versions(tx, &d, &r, &pkg("a"))?,
                catalog::versions(tx, &d, &r, &pkg("ab"))?,
                catalog::versions(tx, &d, &r, &pkg("zzz"))?,
                catalog::packages(tx, &d, &r, None, 100)?,
            ))
        })
        .unwrap();
        assert_eq!(a.len(), 2, "prefix scan of 'a' must not include 'ab'");
        assert_eq!(ab.len(), 1);
        assert!(zzz.is_empty());
        assert_eq!(pkgs.len(), 2);
        // Pagination resumes after the cursor.
        let next = read::<_, StoreError>(s, |tx| catalog::packages(tx, &d, &r, Some(&pkgs[0].1), 100)).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].0.name.as_str(), "ab");
        // Deleting a repository removes what it stored.
        write::<_, StoreError>(s, |tx| catalog::delete_repository(tx, &d, &r)).unwrap();
        let left = read::<_, StoreError>(s, |tx| tx.scan(Table::Versions, b"", None, 10)).unwrap();
        assert!(left.is_empty());
    }
}

#[test]
fn upstream_docs_keep_raw_bodies() {
    for (s, _dir) in stores() {
        let s = s.as_ref();
        let doc = catalog::UpstreamDoc {
            fetched_at: 1.0,
            etag: Some("\"x\"".into()),
            body: Some(bytes::Bytes::from_static(b"{\"a\":\n1}")),
            found: true,
            content_type: Some("application/vnd.pypi.simple.v1+json".into()),
            url: Some("http://127.0.0.1:9/simple/a/".into()),
        };
        write::<_, StoreError>(s, |tx| catalog::put_upstream_doc(tx, "public:npmjs", &pkg("a"), &doc)).unwrap();
        let got = read::<_, StoreError>(s, |tx| catalog::upstream_doc(tx, "public:npmjs", &pkg("a"))).unwrap().unwrap();
        assert_eq!(got.body.as_deref(), Some(&b"{\"a\":\n1}"[..]));
        assert_eq!(got.etag.as_deref(), Some("\"x\""));
        assert_eq!(got.content_type, doc.content_type);
        assert_eq!(got.url, doc.url);
    }
}
