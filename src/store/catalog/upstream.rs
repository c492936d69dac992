//! More of the `UpstreamMeta` table: each connection's discovery document (NuGet: its
//! service index) and the names of packages a connection has documents for (NuGet search).

use super::{dec, key, split, ReadTxn, StoreError, Table, UpstreamDoc, WriteTxn};
use crate::model::PackageFormat;

/// The empty format segment keeps a discovery document apart from every package's.
fn discovery_key(connection: &str) -> Vec<u8> {
    key(&[connection, "", "discovery"])
}

fn decode(raw: &[u8]) -> Result<UpstreamDoc, StoreError> {
    let nl = raw.iter().position(|b| *b == b'\n').ok_or_else(|| StoreError::Corrupt("upstream doc".into()))?;
    let mut doc: UpstreamDoc = dec(&raw[..nl])?;
    if doc.found {
        doc.body = Some(bytes::Bytes::copy_from_slice(&raw[nl + 1..]));
    }
    Ok(doc)
}

/// A connection's cached discovery document.
pub fn discovery_doc(tx: &dyn ReadTxn, connection: &str) -> Result<Option<UpstreamDoc>, StoreError> {
    tx.get(Table::UpstreamMeta, &discovery_key(connection))?.map(|raw| decode(&raw)).transpose()
}

/// Stores a connection's discovery document.
pub fn put_discovery_doc(tx: &mut dyn WriteTxn, connection: &str, doc: &UpstreamDoc) -> Result<(), StoreError> {
    let mut raw = super::enc(doc)?;
    raw.push(b'\n');
    if let Some(b) = &doc.body {
        raw.extend_from_slice(b);
    }
    tx.put(Table::UpstreamMeta, &discovery_key(connection), &raw)
}

/// Names (without namespace) of packages of `format` that `connection` has a document for
/// (not "not found" answers), in key order, at most `limit`.
pub fn upstream_package_names(
    tx: &dyn ReadTxn,
    connection: &str,
    format: PackageFormat,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let prefix = key(&[connection, format.as_str()]);
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    while out.len() < limit {
        let rows = tx.scan(Table::UpstreamMeta, &prefix, after.as_deref(), 256)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (k, v) in &rows {
            let nl = v.iter().position(|b| *b == b'\n').unwrap_or(v.len());
            let found = dec::<UpstreamDoc>(&v[..nl]).map(|d| d.found).unwrap_or(false);
            // Keys are connection, format, namespace, name (NUL-terminated).
            if let (true, Some(name)) = (found, split(k).get(3)) {
                out.push(name.to_string());
            }
        }
    }
    out.truncate(limit);
    Ok(out)
}
