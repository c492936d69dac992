//! Persistence: metadata ([`MetaStore`]) and asset bytes ([`BlobStore`]).
//!
//! `MetaStore` is a deliberately small transactional key-value interface over a fixed set of
//! tables; [`catalog`] derives every key from typed values in one place and (de)serializes the
//! records of [`crate::model`]. A PostgreSQL backend is one more implementation of the same
//! four-method trait (a `(table, key, value)` relation), with no change above this module.
//! `BlobStore` is content-addressed by SHA-256; a blob is fully written, hashed and verified
//! before anything may point at it. This module knows nothing of formats or CodeArtifact rules.

pub mod blobs;
pub mod catalog;
mod memory;
pub mod private;
mod redb_store;

pub use blobs::{BlobDigests, BlobStore, DirBlobStore, PendingBlob, ReadSeek};
pub use memory::MemoryStore;
pub use redb_store::RedbStore;

/// The tables of the metadata store. Keys are built only by [`catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Domains by name.
    Domains,
    /// Repositories by (domain, name).
    Repositories,
    /// Per-repository package state (npm dist-tags, …).
    Packages,
    /// Package versions by (domain, repository, package, version).
    Versions,
    /// Cached upstream metadata documents by (connection, package).
    UpstreamMeta,
    /// Unfinished ingestion jobs, resumed at start-up.
    Jobs,
    /// Small settings (schema version, …).
    Settings,
    /// Package-version events by global position.
    Events,
    /// Event counters: the last global position, per-package sequence numbers, webhook cursors.
    EventState,
    /// Blobs that a committed change stopped referencing, by SHA-256: garbage-collection
    /// candidates (`engine/gc.rs`), re-checked before anything is removed.
    BlobGc,
}

impl Table {
    /// Every table, created at open.
    pub const ALL: [Table; 10] = [
        Table::Domains,
        Table::Repositories,
        Table::Packages,
        Table::Versions,
        Table::UpstreamMeta,
        Table::Jobs,
        Table::Settings,
        Table::Events,
        Table::EventState,
        Table::BlobGc,
    ];
    fn name(self) -> &'static str {
        match self {
            Table::Domains => "domains",
            Table::Repositories => "repositories",
            Table::Packages => "packages",
            Table::Versions => "versions",
            Table::UpstreamMeta => "upstream_meta",
            Table::Jobs => "jobs",
            Table::Settings => "settings",
            Table::Events => "events",
            Table::EventState => "event_state",
            Table::BlobGc => "blob_gc",
        }
    }
}

/// Storage failures. `Aborted` is how a transaction closure asks for a rollback.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, corruption, …).
    #[error("storage backend error: {0}")]
    Backend(String),
    /// A stored record did not decode.
    #[error("stored record does not decode: {0}")]
    Corrupt(String),
    /// The transaction closure returned an error; nothing was written.
    #[error("transaction aborted")]
    Aborted,
}

/// A key-value pair read from a table.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Reads inside a transaction.
pub trait ReadTxn {
    /// The value at `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` entries whose key starts with `prefix`, in key order, starting after
    /// `after` when given (pagination cursor).
    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>, StoreError>;
}

/// Writes inside a transaction; all of them land together or none do.
pub trait WriteTxn: ReadTxn {
    /// Inserts or replaces.
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes; true when something was there.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError>;
}

/// Transactional metadata storage. The closures run synchronously and may be retried by a
/// backend, so they must not have side effects besides the transaction.
pub trait MetaStore: Send + Sync + 'static {
    /// Runs `f` in a consistent snapshot.
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTxn) -> Result<(), StoreError>) -> Result<(), StoreError>;
    /// Runs `f` in a serializable write transaction; commits (durably) when it returns `Ok`.
    fn write(&self, f: &mut dyn FnMut(&mut dyn WriteTxn) -> Result<(), StoreError>) -> Result<(), StoreError>;
}

/// Runs a read closure that returns a value and a caller-defined error.
pub fn read<R, E: From<StoreError>>(
    store: &dyn MetaStore,
    mut f: impl FnMut(&dyn ReadTxn) -> Result<R, E>,
) -> Result<R, E> {
    let mut out = None;
    let res = store.read(&mut |tx| match f(tx) {
        Ok(r) => {
            out = Some(Ok(r));
            Ok(())
        }
        Err(e) => {
            out = Some(Err(e));
            Err(StoreError::Aborted)
        }
    });
    finish(res, out)
}

/// Runs a write closure that returns a value and a caller-defined error; an `Err` rolls back.
pub fn write<R, E: From<StoreError>>(
    store: &dyn MetaStore,
    mut f: impl FnMut(&mut dyn WriteTxn) -> Result<R, E>,
) -> Result<R, E> {
    let mut out = None;
    let res = store.write(&mut |tx| match f(tx) {
        Ok(r) => {
            out = Some(Ok(r));
            Ok(())
        }
        Err(e) => {
            out = Some(Err(e));
            Err(StoreError::Aborted)
        }
    });
    finish(res, out)
}

fn finish<R, E: From<StoreError>>(res: Result<(), StoreError>, out: Option<Result<R, E>>) -> Result<R, E> {
    match (res, out) {
        (Ok(()), Some(r)) => r,
        (Err(StoreError::Aborted), Some(Err(e))) => Err(e),
        (Err(e), _) => Err(e.into()),
        (Ok(()), None) => Err(StoreError::Backend("transaction closure did not run".into()).into()),
    }
}

#[cfg(test)]
mod suite;
