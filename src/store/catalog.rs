//! Typed access to the metadata tables: every key is derived here from validated values,
//! and every record is (de)serialized here. Keys are NUL-terminated segments, so a prefix
//! scan of one package never matches another whose name merely starts the same way.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{ReadTxn, StoreError, Table, WriteTxn};

mod gc;
use crate::model::{
    DomainName, DomainRecord, PackageId, PackageRecord, PackageVersionRecord, RepositoryName, RepositoryRecord, Version,
};
pub use gc::{drop_gc_candidate, gc_candidates, record_blobs, referenced_blobs, release_blobs};

fn key(segs: &[&str]) -> Vec<u8> {
    let mut k = Vec::with_capacity(segs.iter().map(|s| s.len() + 1).sum());
    for s in segs {
        k.extend_from_slice(s.as_bytes());
        k.push(0);
    }
    k
}

fn split(k: &[u8]) -> Vec<&str> {
    k.split(|b| *b == 0).map(|s| std::str::from_utf8(s).unwrap_or("")).collect()
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn get<T: DeserializeOwned>(tx: &dyn ReadTxn, t: Table, k: &[u8]) -> Result<Option<T>, StoreError> {
    tx.get(t, k)?.map(|b| dec(&b)).transpose()
}

fn pkg_segs(p: &PackageId) -> [&str; 3] {
    [p.format.as_str(), p.namespace.as_ref().map_or("", |n| n.as_str()), p.name.as_str()]
}

// === domains ===

/// The domain record, if it exists.
pub fn domain(tx: &dyn ReadTxn, d: &DomainName) -> Result<Option<DomainRecord>, StoreError> {
    get(tx, Table::Domains, &key(&[d.as_str()]))
}

/// Inserts or replaces a domain.
pub fn put_domain(tx: &mut dyn WriteTxn, r: &DomainRecord) -> Result<(), StoreError> {
    tx.put(Table::Domains, &key(&[r.name.as_str()]), &enc(r)?)
}

/// Removes a domain record (its repositories must be gone).
pub fn delete_domain(tx: &mut dyn WriteTxn, d: &DomainName) -> Result<bool, StoreError> {
    tx.delete(Table::Domains, &key(&[d.as_str()]))
}

/// Domains in name order after `after`, at most `limit`.
pub fn domains(tx: &dyn ReadTxn, after: Option<&DomainName>, limit: usize) -> Result<Vec<DomainRecord>, StoreError> {
    let after = after.map(|a| key(&[a.as_str()]));
    tx.scan(Table::Domains, b"", after.as_deref(), limit)?.iter().map(|(_, v)| dec(v)).collect()
}

// === repositories ===

/// The repository record, if it exists.
pub fn repository(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
) -> Result<Option<RepositoryRecord>, StoreError> {
    get(tx, Table::Repositories, &key(&[d.as_str(), r.as_str()]))
}

/// Inserts or replaces a repository.
pub fn put_repository(tx: &mut dyn WriteTxn, r: &RepositoryRecord) -> Result<(), StoreError> {
    tx.put(Table::Repositories, &key(&[r.domain.as_str(), r.name.as_str()]), &enc(r)?)
}

/// Removes a repository record and everything stored in it (versions, package state).
pub fn delete_repository(tx: &mut dyn WriteTxn, d: &DomainName, r: &RepositoryName) -> Result<bool, StoreError> {
    let prefix = key(&[d.as_str(), r.as_str()]);
    for t in [Table::Versions, Table::Packages] {
        loop {
            let batch = tx.scan(t, &prefix, None, 512)?;
            if batch.is_empty() {
                break;
            }
            for (k, v) in batch {
                if t == Table::Versions {
                    release_blobs(tx, record_blobs(&dec::<PackageVersionRecord>(&v)?))?;
                }
                tx.delete(t, &k)?;
            }
        }
    }
    tx.delete(Table::Repositories, &prefix)
}

/// Repositories of a domain in name order, after `after`, at most `limit`.
pub fn repositories(
    tx: &dyn ReadTxn,
    d: &DomainName,
    after: Option<&RepositoryName>,
    limit: usize,
) -> Result<Vec<RepositoryRecord>, StoreError> {
    let prefix = key(&[d.as_str()]);
    let after = after.map(|a| key(&[d.as_str(), a.as_str()]));
    tx.scan(Table::Repositories, &prefix, after.as_deref(), limit)?.iter().map(|(_, v)| dec(v)).collect()
}

// === packages and versions ===

/// A package's per-repository state, if the repository holds the package.
pub fn package(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
) -> Result<Option<PackageRecord>, StoreError> {
    let [f, ns, n] = pkg_segs(p);
    get(tx, Table::Packages, &key(&[d.as_str(), r.as_str(), f, ns, n]))
}

/// Inserts or replaces a package's per-repository state.
pub fn put_package(
    tx: &mut dyn WriteTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
    rec: &PackageRecord,
) -> Result<(), StoreError> {
    let [f, ns, n] = pkg_segs(p);
    tx.put(Table::Packages, &key(&[d.as_str(), r.as_str(), f, ns, n]), &enc(rec)?)
}

/// Removes a package's per-repository state.
pub fn delete_package(
    tx: &mut dyn WriteTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
) -> Result<bool, StoreError> {
    let [f, ns, n] = pkg_segs(p);
    tx.delete(Table::Packages, &key(&[d.as_str(), r.as_str(), f, ns, n]))
}

/// An opaque, resumable position in a repository's package list.
pub type PackageCursor = Vec<u8>;

/// Packages of a repository in (format, namespace, name) order, starting after `after`.
/// Returns the ids and the cursor of the last one.
pub fn packages(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(PackageId, PackageCursor)>, StoreError> {
    let prefix = key(&[d.as_str(), r.as_str()]);
    let rows = tx.scan(Table::Packages, &prefix, after, limit)?;
    let mut out = Vec::with_capacity(rows.len());
    for (k, _) in rows {
        out.push((listing::parse(&k)?, k));
    }
    Ok(out)
}

/// One stored version.
pub fn version(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
    v: &Version,
) -> Result<Option<PackageVersionRecord>, StoreError> {
    let [f, ns, n] = pkg_segs(p);
    get(tx, Table::Versions, &key(&[d.as_str(), r.as_str(), f, ns, n, v.as_str()]))
}

/// Every stored version of a package in a repository, in key order.
pub fn versions(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
) -> Result<Vec<PackageVersionRecord>, StoreError> {
    let [f, ns, n] = pkg_segs(p);
    scan_all(tx, Table::Versions, &key(&[d.as_str(), r.as_str(), f, ns, n]))
}

/// Every record under `prefix`, read in batches so no single scan is unbounded.
fn scan_all<T: DeserializeOwned>(tx: &dyn ReadTxn, table: Table, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = tx.scan(table, prefix, after.as_deref(), 1024)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (_, v) in &rows {
            out.push(dec(v)?);
        }
    }
    Ok(out)
}

/// Stores a version. The package's per-repository state must be written by the caller
/// (`put_package`) when the package is new there: what it starts with (its origin controls)
/// is a CodeArtifact rule, decided by the engine.
pub fn put_version(
    tx: &mut dyn WriteTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
    rec: &PackageVersionRecord,
) -> Result<(), StoreError> {
    let [f, ns, n] = pkg_segs(p);
    tx.put(Table::Versions, &key(&[d.as_str(), r.as_str(), f, ns, n, rec.version.as_str()]), &enc(rec)?)
}

/// Every version stored anywhere in a domain (for domain-wide accounting).
pub fn domain_versions(tx: &dyn ReadTxn, d: &DomainName) -> Result<Vec<PackageVersionRecord>, StoreError> {
    scan_all(tx, Table::Versions, &key(&[d.as_str()]))
}

// === cached upstream metadata ===

/// What Depot last got from an external connection for one package.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamDoc {
    /// When it was fetched, seconds since the epoch.
    pub fetched_at: f64,
    /// The upstream's ETag, for conditional refreshes.
    pub etag: Option<String>,
    /// The document, or `None` when the upstream said the package does not exist.
    #[serde(skip)]
    pub body: Option<bytes::Bytes>,
    /// Whether `body` is present (the body itself is stored raw after the header).
    pub found: bool,
    /// The document's media type, when the upstream said (PyPI: PEP 691 JSON or HTML).
    #[serde(default)]
    pub content_type: Option<String>,
    /// The URL the document came from after redirects: the base of its relative links.
    #[serde(default)]
    pub url: Option<String>,
}

fn upstream_key(connection: &str, p: &PackageId) -> Vec<u8> {
    let [f, ns, n] = pkg_segs(p);
    key(&[connection, f, ns, n])
}

/// The cached upstream document of a package, if any.
pub fn upstream_doc(tx: &dyn ReadTxn, connection: &str, p: &PackageId) -> Result<Option<UpstreamDoc>, StoreError> {
    read_upstream_doc(tx, connection, p, true)
}

/// The header of a cached upstream document (fetch time, ETag), without its body.
pub fn upstream_doc_header(
    tx: &dyn ReadTxn,
    connection: &str,
    p: &PackageId,
) -> Result<Option<UpstreamDoc>, StoreError> {
    read_upstream_doc(tx, connection, p, false)
}

fn read_upstream_doc(
    tx: &dyn ReadTxn,
    connection: &str,
    p: &PackageId,
    with_body: bool,
) -> Result<Option<UpstreamDoc>, StoreError> {
    let Some(raw) = tx.get(Table::UpstreamMeta, &upstream_key(connection, p))? else {
        return Ok(None);
    };
    // Header JSON, a newline, then the raw body: large documents are not re-encoded.
    let nl = raw.iter().position(|b| *b == b'\n').ok_or_else(|| StoreError::Corrupt("upstream doc".into()))?;
    let mut doc: UpstreamDoc = dec(&raw[..nl])?;
    if with_body && doc.found {
        doc.body = Some(bytes::Bytes::copy_from_slice(&raw[nl + 1..]));
    }
    Ok(Some(doc))
}

/// Stores an upstream document.
pub fn put_upstream_doc(
    tx: &mut dyn WriteTxn,
    connection: &str,
    p: &PackageId,
    doc: &UpstreamDoc,
) -> Result<(), StoreError> {
    let mut raw = enc(doc)?;
    raw.push(b'\n');
    if let Some(b) = &doc.body {
        raw.extend_from_slice(b);
    }
    tx.put(Table::UpstreamMeta, &upstream_key(connection, p), &raw)
}

// === jobs and settings ===

/// Stores a job under its id.
pub fn put_job<T: Serialize>(tx: &mut dyn WriteTxn, id: &str, job: &T) -> Result<(), StoreError> {
    tx.put(Table::Jobs, &key(&[id]), &enc(job)?)
}

/// Removes a finished job.
pub fn delete_job(tx: &mut dyn WriteTxn, id: &str) -> Result<bool, StoreError> {
    tx.delete(Table::Jobs, &key(&[id]))
}

/// Every unfinished job.
pub fn jobs<T: DeserializeOwned>(tx: &dyn ReadTxn) -> Result<Vec<T>, StoreError> {
    tx.scan(Table::Jobs, b"", None, usize::MAX)?.iter().map(|(_, v)| dec(v)).collect()
}

/// A small setting.
pub fn setting(tx: &dyn ReadTxn, name: &str) -> Result<Option<String>, StoreError> {
    get(tx, Table::Settings, &key(&[name]))
}

/// Sets a small setting.
pub fn put_setting(tx: &mut dyn WriteTxn, name: &str, value: &str) -> Result<(), StoreError> {
    tx.put(Table::Settings, &key(&[name]), &enc(&value)?)
}

/// Removes one stored version. Its blobs stay until the garbage collector finds them
/// unreferenced: callers record them with [`release_blobs`] in the same transaction.
pub fn delete_version(
    tx: &mut dyn WriteTxn,
    d: &DomainName,
    r: &RepositoryName,
    p: &PackageId,
    v: &Version,
) -> Result<bool, StoreError> {
    let [f, ns, n] = pkg_segs(p);
    tx.delete(Table::Versions, &key(&[d.as_str(), r.as_str(), f, ns, n, v.as_str()]))
}

// === events ===

mod events;
pub use events::{
    append_event, events_after, last_event_position, next_event_sequence, put_webhook_cursor, webhook_cursor,
};

// === package listings (ListPackages' key-range scans) ===

mod listing;
pub use listing::{has_versions, packages_matching, Keep, Listed, PackageQuery};

mod upstream;
pub use upstream::{discovery_doc, put_discovery_doc, upstream_package_names};
