//! ListPackages' scan: the filters become key ranges, so a listing reads the packages it
//! returns (and one seek per namespace when a name prefix is given), not the whole repository.
//!
//! Package keys are `domain, repo, format, namespace, name`: a format and a namespace prefix
//! are plain key prefixes. A name prefix is one only inside a fixed (format, namespace), so
//! with a name prefix the scan visits each (format, namespace) group once and seeks straight
//! to `group + prefix` (a skip scan).

use super::{dec, key, split, ReadTxn, StoreError, Table};
use crate::model::{DomainName, Namespace, PackageFormat, PackageId, PackageName, PackageRecord, RepositoryName};

/// What ListPackages asks for. Every part narrows the scanned key range.
pub struct PackageQuery<'a> {
    /// Only this format.
    pub format: Option<PackageFormat>,
    /// Only namespaces starting with this (CodeArtifact's `namespace` is a prefix match).
    pub namespace_prefix: Option<&'a str>,
    /// Only names starting with the prefix this returns for a format (formats that normalise
    /// names normalise the prefix the same way).
    pub name_prefix: Option<&'a dyn Fn(PackageFormat) -> String>,
}

/// A package kept by the caller's predicate: its id and record.
pub type Listed = (PackageId, PackageRecord);

/// The caller's predicate on a matching package (it may read more in the same snapshot).
pub type Keep<'a> = dyn FnMut(&dyn ReadTxn, &PackageId, &PackageRecord) -> Result<bool, StoreError> + 'a;

/// Called with each row of a range; true stops the scan.
type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;

/// The packages matching `q` strictly after `after`, in key order, at most `limit` of those
/// `keep` accepts. `after` is a position, not a row: it need not exist any more, so a
/// listing resumed after concurrent deletes and inserts neither repeats nor skips a package
/// that was there all along.
pub fn packages_matching(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
    q: &PackageQuery<'_>,
    after: Option<&PackageId>,
    limit: usize,
    keep: &mut Keep<'_>,
) -> Result<Vec<Listed>, StoreError> {
    let mut outer = key(&[d.as_str(), r.as_str()]);
    if let Some(f) = q.format {
        outer.extend_from_slice(f.as_str().as_bytes());
        outer.push(0);
        if let Some(ns) = q.namespace_prefix {
            // No terminating NUL: every namespace that starts with `ns`.
            outer.extend_from_slice(ns.as_bytes());
        }
    }
    let mut cursor = after.map(|p| package_key(d, r, p));
    let mut out = Vec::new();
    let mut take = |tx: &dyn ReadTxn, k: &[u8], v: &[u8], out: &mut Vec<Listed>| -> Result<bool, StoreError> {
        let id = parse(k)?;
        let rec: PackageRecord = dec(v)?;
        if keep(tx, &id, &rec)? {
            out.push((id, rec));
        }
        Ok(out.len() >= limit)
    };
    let Some(name_prefix) = q.name_prefix else {
        scan_range(tx, &outer, &mut cursor, &mut |k, v| take(tx, k, v, &mut out))?;
        return Ok(out);
    };
    // Skip scan: find the next (format, namespace) group, scan its `name_prefix` range, jump
    // past the group.
    while let Some((k, _)) = tx.scan(Table::Packages, &outer, after_within(&outer, cursor.as_deref()), 1)?.pop() {
        let id = parse(&k)?;
        let mut group = key(&[d.as_str(), r.as_str(), id.format.as_str(), ns_str(&id.namespace)]);
        let mut range = group.clone();
        range.extend_from_slice(name_prefix(id.format).as_bytes());
        if scan_range(tx, &range, &mut cursor, &mut |k, v| take(tx, k, v, &mut out))? {
            return Ok(out);
        }
        // Names are UTF-8 (never 0xFF), so this sorts after every key of the group and
        // before the next group.
        group.push(0xFF);
        cursor = Some(group);
    }
    Ok(out)
}

/// Whether `(format, namespace, name)` has at least one stored version (one key read).
pub fn has_versions(tx: &dyn ReadTxn, d: &DomainName, r: &RepositoryName, p: &PackageId) -> Result<bool, StoreError> {
    let prefix = package_key(d, r, p);
    Ok(!tx.scan(Table::Versions, &prefix, None, 1)?.is_empty())
}

/// Scans `prefix` after `cursor` in batches, moving `cursor` to each row visited, until
/// `visit` says stop (→ true) or the range ends (→ false).
fn scan_range(
    tx: &dyn ReadTxn,
    prefix: &[u8],
    cursor: &mut Option<Vec<u8>>,
    visit: &mut Visit<'_>,
) -> Result<bool, StoreError> {
    loop {
        let rows = tx.scan(Table::Packages, prefix, after_within(prefix, cursor.as_deref()), 256)?;
        if rows.is_empty() {
            return Ok(false);
        }
        for (k, v) in rows {
            let stop = visit(&k, &v)?;
            *cursor = Some(k);
            if stop {
                return Ok(true);
            }
        }
    }
}

/// `scan` starts at `after` when given, so a cursor before the range must start it at the
/// range's first key instead (a cursor past the range correctly yields nothing).
fn after_within<'c>(prefix: &[u8], cursor: Option<&'c [u8]>) -> Option<&'c [u8]> {
    cursor.filter(|c| *c >= prefix)
}

fn ns_str(ns: &Option<Namespace>) -> &str {
    ns.as_ref().map_or("", |n| n.as_str())
}

fn package_key(d: &DomainName, r: &RepositoryName, p: &PackageId) -> Vec<u8> {
    key(&[d.as_str(), r.as_str(), p.format.as_str(), ns_str(&p.namespace), p.name.as_str()])
}

pub(super) fn parse(k: &[u8]) -> Result<PackageId, StoreError> {
    let segs = split(k);
    // d, r, format, namespace, name, "" (after the final NUL)
    let (Some(f), Some(ns), Some(n)) = (segs.get(2), segs.get(3), segs.get(4)) else {
        return Err(StoreError::Corrupt("package key".into()));
    };
    let format = PackageFormat::parse(f).ok_or_else(|| StoreError::Corrupt("package key format".into()))?;
    let namespace = if ns.is_empty() { None } else { Some(Namespace::new(*ns).map_err(|e| StoreError::Corrupt(e.0))?) };
    let name = PackageName::new(*n).map_err(|e| StoreError::Corrupt(e.0))?;
    Ok(PackageId { format, namespace, name })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::store::{read, write, Entry, MemoryStore, WriteTxn};

    /// Counts the rows scans return: what a listing costs.
    struct Counting<'a>(&'a dyn ReadTxn, Cell<usize>);

    impl ReadTxn for Counting<'_> {
        fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.get(table, key)
        }
        fn scan(&self, t: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, StoreError> {
            let rows = self.0.scan(t, prefix, after, limit)?;
            self.1.set(self.1.get() + rows.len());
            Ok(rows)
        }
    }

    fn id(format: PackageFormat, ns: Option<&str>, name: &str) -> PackageId {
        PackageId { format, namespace: ns.map(|n| Namespace::new(n).unwrap()), name: PackageName::new(name).unwrap() }
    }

    fn names(l: &[Listed]) -> Vec<String> {
        l.iter()
            .map(|(p, _)| format!("{}:{}/{}", p.format, p.namespace.as_ref().map_or("", |n| n.as_str()), p.name))
            .collect()
    }

    struct Repo {
        store: MemoryStore,
        d: DomainName,
        r: RepositoryName,
    }

    impl Repo {
        fn new() -> Self {
            Self {
                store: MemoryStore::new(),
                d: DomainName::new("dom").unwrap(),
                r: RepositoryName::new("repo").unwrap(),
            }
        }
        fn put(&self, ids: &[PackageId]) {
            write::<_, StoreError>(&self.store, |tx: &mut dyn WriteTxn| {
                ids.iter()
                    .try_for_each(|p| super::super::put_package(tx, &self.d, &self.r, p, &PackageRecord::default()))
            })
            .unwrap();
        }
        fn remove(&self, p: &PackageId) {
            write::<_, StoreError>(&self.store, |tx: &mut dyn WriteTxn| {
                super::super::delete_package(tx, &self.d, &self.r, p)
            })
            .unwrap();
        }
        /// The page and the rows read to build it.
        fn list(&self, q: &PackageQuery<'_>, after: Option<&PackageId>, limit: usize) -> (Vec<Listed>, usize) {
            read::<_, StoreError>(&self.store, |tx| {
                let c = Counting(tx, Cell::new(0));
                let out = packages_matching(&c, &self.d, &self.r, q, after, limit, &mut |_, _, _| Ok(true))?;
                Ok((out, c.1.get()))
            })
            .unwrap()
        }
    }

    const NPM: PackageFormat = PackageFormat::Npm;
    const PYPI: PackageFormat = PackageFormat::Pypi;

    fn seeded() -> Repo {
        let repo = Repo::new();
        let mut ids: Vec<PackageId> = (0..1000).map(|i| id(NPM, None, &format!("p{i:04}"))).collect();
        for ns in ["alpha", "alpine", "beta"] {
            ids.extend((0..5).map(|i| id(NPM, Some(ns), &format!("p01{i}"))));
        }
        ids.extend((0..20).map(|i| id(PYPI, None, &format!("p01-{i:02}"))));
        repo.put(&ids);
        repo
    }

    #[test]
    fn filters_scan_only_their_key_ranges() {
        let repo = seeded();
        let all = PackageQuery { format: None, namespace_prefix: None, name_prefix: None };
        assert_eq!(repo.list(&all, None, 5000).0.len(), 1035);

        let q = PackageQuery { format: Some(PYPI), namespace_prefix: None, name_prefix: None };
        let (l, rows) = repo.list(&q, None, 1000);
        assert_eq!((l.len(), rows), (20, 20), "format: only pypi rows read");

        let q = PackageQuery { format: Some(NPM), namespace_prefix: Some("alp"), name_prefix: None };
        let (l, rows) = repo.list(&q, None, 1000);
        assert_eq!(l.len(), 10, "namespace is a prefix: alpha and alpine, not beta: {:?}", names(&l));
        assert_eq!(rows, 10);

        // A name prefix: one seek per (format, namespace) group, then only matching rows.
        let p = |_: PackageFormat| "p010".to_string();
        let q = PackageQuery { format: Some(NPM), namespace_prefix: None, name_prefix: Some(&p) };
        let (l, rows) = repo.list(&q, None, 1000);
        assert_eq!(names(&l)[..3], ["npm:/p0100", "npm:/p0101", "npm:/p0102"]);
        assert_eq!(l.len(), 10 + 3, "p0100..p0109 and p010 in each scope: {:?}", names(&l));
        assert!(rows <= l.len() + 4 * 2, "read {rows} rows for {} results", l.len());

        let p01 = |_: PackageFormat| "p01".to_string();
        let q = PackageQuery { format: None, namespace_prefix: None, name_prefix: Some(&p01) };
        let (l, rows) = repo.list(&q, None, 1000);
        assert_eq!(l.len(), 100 + 15 + 20, "every format: {:?}", names(&l));
        assert!(rows <= l.len() + 5 * 2, "read {rows} rows for {} results", l.len());

        let q = PackageQuery { format: Some(NPM), namespace_prefix: Some("alpine"), name_prefix: Some(&p) };
        assert_eq!(names(&repo.list(&q, None, 1000).0), ["npm:alpine/p010"]);
    }

    #[test]
    fn a_cursor_is_a_position_that_survives_deletes_and_inserts() {
        let repo = seeded();
        let p = |_: PackageFormat| "p0".to_string();
        let q = PackageQuery { format: Some(NPM), namespace_prefix: None, name_prefix: Some(&p) };
        let before = repo.list(&q, None, 5000).0;
        let mut seen = Vec::new();
        let mut after: Option<PackageId> = None;
        let mut n = 0;
        loop {
            let (page, _) = repo.list(&q, after.as_ref(), 7);
            let Some((last, _)) = page.last().cloned() else { break };
            seen.extend(page.into_iter().map(|(p, _)| p));
            // The cursor's own package goes away, and packages appear before and after it.
            repo.remove(&last);
            n += 1;
            repo.put(&[id(NPM, None, &format!("p0000-new{n}")), id(NPM, None, &format!("p0999-new{n}"))]);
            after = Some(last);
        }
        for (p, _) in &before {
            assert_eq!(seen.iter().filter(|s| *s == p).count(), 1, "{p} listed once");
        }
        let mut sorted = seen.clone();
        sorted.sort_by_key(|p| package_key(&repo.d, &repo.r, p));
        assert_eq!(seen, sorted, "key order, no repeats");
    }
}
