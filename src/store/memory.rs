//! In-memory [`MetaStore`] for tests: the whole map is copied for each write transaction,
//! which keeps rollback trivial and is fine at test sizes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Entry, MetaStore, ReadTxn, StoreError, Table, WriteTxn};

type Map = BTreeMap<(Table, Vec<u8>), Vec<u8>>;

/// A [`MetaStore`] that lives in memory.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<Map>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

struct Snapshot<'a>(&'a Map);
struct Staged(Map);

fn scan_map(map: &Map, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Vec<Entry> {
    let start = (table, after.map(<[u8]>::to_vec).unwrap_or_else(|| prefix.to_vec()));
    map.range(start..)
        .filter(|((_, k), _)| after.is_none_or(|a| k.as_slice() != a))
        .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
        .take(limit)
        .map(|((_, k), v)| (k.clone(), v.clone()))
        .collect()
}

impl ReadTxn for Snapshot<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(&(table, key.to_vec())).cloned())
    }
    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, StoreError> {
        Ok(scan_map(self.0, table, prefix, after, limit))
    }
}

impl ReadTxn for Staged {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(&(table, key.to_vec())).cloned())
    }
    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, StoreError> {
        Ok(scan_map(&self.0, table, prefix, after, limit))
    }
}

impl WriteTxn for Staged {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0.insert((table, key.to_vec()), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.0.remove(&(table, key.to_vec())).is_some())
    }
}

impl MetaStore for MemoryStore {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let guard = self.map.lock().map_err(|_| StoreError::Backend("poisoned".into()))?;
        f(&Snapshot(&guard))
    }
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut guard = self.map.lock().map_err(|_| StoreError::Backend("poisoned".into()))?;
        let mut staged = Staged(guard.clone());
        f(&mut staged)?;
        *guard = staged.0;
        Ok(())
    }
}
