//! Keys and records of the blob garbage collector's candidate table (`Table::BlobGc`): one
//! row per digest, the value a random token that changes whenever a change releases the
//! blob again.

use std::collections::HashSet;

use super::{dec, enc, get, key, split};
use crate::model::{PackageVersionRecord, Sha256};
use crate::store::{ReadTxn, StoreError, Table, WriteTxn};

/// Every blob a version record references: its files and their companion blobs.
pub fn record_blobs(rec: &PackageVersionRecord) -> impl Iterator<Item = Sha256> + '_ {
    rec.assets.iter().flat_map(|a| std::iter::once(a.sha256).chain(a.attributes.core_metadata))
}

/// Records blobs the caller's transaction stops referencing (usually
/// [`record_blobs`] of a record it rewrites or deletes) as collection candidates. Each row gets
/// a fresh token, so a collector that read an older row does not delete this one (see
/// [`drop_gc_candidate`]).
pub fn release_blobs(tx: &mut dyn WriteTxn, digests: impl IntoIterator<Item = Sha256>) -> Result<(), StoreError> {
    for sha in digests {
        tx.put(Table::BlobGc, &key(&[&sha.hex()]), &enc(&rand::random::<u64>())?)?;
    }
    Ok(())
}

/// Collection candidates in digest order after `after`, at most `limit`, with their tokens.
pub fn gc_candidates(tx: &dyn ReadTxn, after: Option<&Sha256>, limit: usize) -> Result<Vec<(Sha256, u64)>, StoreError> {
    let after = after.map(|a| key(&[&a.hex()]));
    let rows = tx.scan(Table::BlobGc, b"", after.as_deref(), limit)?;
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        let hex = split(&k).first().copied().unwrap_or("");
        let sha = Sha256::from_hex(hex).map_err(|e| StoreError::Corrupt(e.0))?;
        out.push((sha, dec(&v)?));
    }
    Ok(out)
}

/// Removes a candidate if its token is still `token` (no change released the blob again
/// since the collector read it); true when removed.
pub fn drop_gc_candidate(tx: &mut dyn WriteTxn, sha: &Sha256, token: u64) -> Result<bool, StoreError> {
    let k = key(&[&sha.hex()]);
    if get::<u64>(tx, Table::BlobGc, &k)? != Some(token) {
        return Ok(false);
    }
    tx.delete(Table::BlobGc, &k)
}

/// Which of `among` some version record in any domain still references (a full scan of the
/// version table, in batches).
pub fn referenced_blobs(tx: &dyn ReadTxn, among: &HashSet<Sha256>) -> Result<HashSet<Sha256>, StoreError> {
    let mut found = HashSet::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = tx.scan(Table::Versions, b"", after.as_deref(), 1024)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (_, v) in &rows {
            let rec: PackageVersionRecord = dec(v)?;
            found.extend(record_blobs(&rec).filter(|s| among.contains(s)));
        }
        if found.len() == among.len() {
            break;
        }
    }
    Ok(found)
}
