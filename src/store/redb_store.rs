//! The embedded default [`MetaStore`]: one redb file. redb commits are durable (fsync) and
//! atomic, which is what lets a crash at any instant leave a consistent catalog.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use super::{Entry, MetaStore, ReadTxn, StoreError, Table, WriteTxn};

/// A [`MetaStore`] in a redb database file.
pub struct RedbStore {
    db: Database,
}

fn def(t: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(t.name())
}

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RedbStore {
    /// Opens (creating if needed) the database at `path` and makes sure every table exists.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // redb would create the file under the umask; it must be private.
        super::private::private_file(path).map_err(be)?;
        let db = Database::create(path).map_err(be)?;
        let tx = db.begin_write().map_err(be)?;
        for t in Table::ALL {
            tx.open_table(def(t)).map_err(be)?;
        }
        tx.commit().map_err(be)?;
        Ok(Self { db })
    }
}

fn scan_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    let start = after.unwrap_or(prefix);
    let mut out = Vec::new();
    for item in table.range::<&[u8]>(start..).map_err(be)? {
        let (k, v) = item.map_err(be)?;
        let k = k.value();
        if after == Some(k) {
            continue;
        }
        if !k.starts_with(prefix) || out.len() >= limit {
            break;
        }
        out.push((k.to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

struct Reader(redb::ReadTransaction);

impl ReadTxn for Reader {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.0.open_table(def(table)).map_err(be)?;
        Ok(t.get(key).map_err(be)?.map(|v| v.value().to_vec()))
    }
    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let t = self.0.open_table(def(table)).map_err(be)?;
        scan_table(&t, prefix, after, limit)
    }
}

struct Writer(redb::WriteTransaction);

impl ReadTxn for Writer {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.0.open_table(def(table)).map_err(be)?;
        let v = t.get(key).map_err(be)?.map(|v| v.value().to_vec());
        Ok(v)
    }
    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let t = self.0.open_table(def(table)).map_err(be)?;
        scan_table(&t, prefix, after, limit)
    }
}

impl WriteTxn for Writer {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut t = self.0.open_table(def(table)).map_err(be)?;
        t.insert(key, value).map_err(be)?;
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        let mut t = self.0.open_table(def(table)).map_err(be)?;
        let existed = t.remove(key).map_err(be)?.is_some();
        Ok(existed)
    }
}

impl MetaStore for RedbStore {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(be)?;
        f(&Reader(tx))
    }
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(be)?;
        let mut w = Writer(tx);
        match f(&mut w) {
            Ok(()) => w.0.commit().map_err(be),
            Err(e) => {
                let _ = w.0.abort();
                Err(e)
            }
        }
    }
}
