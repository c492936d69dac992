//! Content-addressed asset bytes.
//!
//! A write goes temp file → hash while streaming → [`PendingBlob`] (fsynced, digests known)
//! → the caller compares digests with what the upstream declared → [`PendingBlob::commit`]
//! (rename into `sha256/ab/cd/<hex>`, fsync the directory). Only after that may metadata
//! point at the blob, so a crash at any instant leaves at worst an orphan temp file, which is
//! swept at start-up. Blob paths derive from the digest alone, never from a client's name.
//! Bytes leave only through [`BlobStore::remove`], which the garbage collector calls once it
//! has re-checked that no version record references them (`engine/gc.rs`).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha512};
use tokio::io::AsyncWriteExt;

use super::StoreError;
use crate::model::Sha256;

/// Blobs up to this size are read whole in one blocking call; larger ones are streamed.
const SMALL_BLOB: u64 = 1024 * 1024;
/// Blobs up to this size are read on the calling worker (see `DirBlobStore::open`).
const INLINE_BLOB: u64 = 256 * 1024;

/// A blob opened by `DirBlobStore::open`: read whole, or open for streaming.
enum Opened {
    Small(Bytes),
    Large(std::fs::File, u64, PathBuf),
}

/// All digests of a blob, computed while it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobDigests {
    /// The key.
    pub sha256: Sha256,
    /// Size in bytes.
    pub size: u64,
    /// SHA-1 (npm's `shasum`), hex.
    pub sha1: String,
    /// SHA-512, raw bytes (npm's `integrity`).
    pub sha512: Vec<u8>,
    /// MD5, hex.
    pub md5: String,
}

/// A stream of blob bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// An open blob: its size and its bytes.
pub struct BlobBody {
    /// Size in bytes.
    pub size: u64,
    /// The bytes.
    pub bytes: BlobBytes,
}

/// A blob's bytes: read whole (small ones: one buffer the response sends as is, and the
/// engine may keep) or a stream (large ones, files still arriving).
pub enum BlobBytes {
    /// All of the bytes.
    Whole(Bytes),
    /// The bytes as they are read.
    Stream(ByteStream),
}

impl BlobBytes {
    /// The bytes as a stream, whichever way they were read.
    pub fn into_stream(self) -> ByteStream {
        match self {
            Self::Whole(b) => Box::pin(futures::stream::once(async move { Ok(b) })),
            Self::Stream(s) => s,
        }
    }
}

/// Streams bytes into a blob that is not visible yet.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends a chunk.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError>;
    /// Makes the bytes durable and reports their digests; still invisible.
    async fn finish(self: Box<Self>) -> Result<Box<dyn PendingBlob>, StoreError>;
}

/// A durable blob awaiting verification; dropping it discards it.
#[async_trait]
pub trait PendingBlob: Send {
    /// Digests of the written bytes.
    fn digests(&self) -> &BlobDigests;
    /// Reads the written bytes back (blocking I/O: call it off the async workers), so a format
    /// can look inside a file before it is accepted.
    fn reader(&self) -> Result<Box<dyn ReadSeek>, StoreError>;
    /// Makes the blob visible under its SHA-256. Blocking I/O: callers run it off the async
    /// workers, together with the metadata write that references the blob (the GC gate is
    /// held across both, see `engine/gc.rs`).
    fn commit(self: Box<Self>) -> Result<BlobDigests, StoreError>;
}

/// A blocking reader that can seek (zip archives are read from their end).
pub trait ReadSeek: std::io::Read + std::io::Seek + Send {}
impl<T: std::io::Read + std::io::Seek + Send> ReadSeek for T {}

/// Content-addressed blob storage (a directory by default; S3-compatible storage later).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing a new blob.
    async fn begin(&self) -> Result<Box<dyn BlobWriter>, StoreError>;
    /// Opens a blob for reading, `None` when absent.
    async fn open(&self, sha: &Sha256) -> Result<Option<BlobBody>, StoreError>;
    /// Whether the blob exists.
    async fn contains(&self, sha: &Sha256) -> Result<bool, StoreError>;
    /// Removes a blob; a missing one is fine (a collection redone after a crash). Blocking
    /// I/O: only the garbage collector calls it, off the async workers.
    fn remove(&self, sha: &Sha256) -> Result<(), StoreError>;
}

fn io_err(e: io::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Blobs as files under a directory.
pub struct DirBlobStore {
    root: PathBuf,
}

impl DirBlobStore {
    /// Opens (creating) the directory and removes temp files left by a crash.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let tmp = root.join("tmp");
        for d in [root.to_path_buf(), tmp.clone(), root.join("sha256")] {
            super::private::private_dir(&d).map_err(io_err)?;
        }
        for e in std::fs::read_dir(&tmp).map_err(io_err)?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        Ok(Self { root: root.to_path_buf() })
    }

    fn path_of(&self, sha: &Sha256) -> PathBuf {
        let h = sha.hex();
        self.root.join("sha256").join(&h[0..2]).join(&h[2..4]).join(h)
    }
}

struct Hashers {
    sha256: sha2::Sha256,
    sha1: Sha1,
    sha512: Sha512,
    md5: Md5,
    size: u64,
}

impl Hashers {
    fn new() -> Self {
        Self { sha256: sha2::Sha256::new(), sha1: Sha1::new(), sha512: Sha512::new(), md5: Md5::new(), size: 0 }
    }
    fn update(&mut self, b: &[u8]) {
        self.sha256.update(b);
        self.sha1.update(b);
        self.sha512.update(b);
        self.md5.update(b);
        self.size += b.len() as u64;
    }
    fn finish(self) -> BlobDigests {
        BlobDigests {
            sha256: Sha256::from_bytes(self.sha256.finalize().into()),
            size: self.size,
            sha1: hex::encode(self.sha1.finalize()),
            sha512: self.sha512.finalize().to_vec(),
            md5: hex::encode(self.md5.finalize()),
        }
    }
}

struct DirWriter {
    file: tokio::fs::File,
    // A writer dropped before `finish` (a refused or abandoned upload) removes its temp file.
    tmp: TempGuard,
    hashers: Hashers,
    dest_root: PathBuf,
}

/// Removes the temp file unless the blob was committed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct DirPending {
    tmp: TempGuard,
    digests: BlobDigests,
    dest_root: PathBuf,
}

#[async_trait]
impl BlobWriter for DirWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.hashers.update(chunk);
        self.file.write_all(chunk).await.map_err(io_err)
    }
    async fn finish(self: Box<Self>) -> Result<Box<dyn PendingBlob>, StoreError> {
        let DirWriter { mut file, tmp: guard, hashers, dest_root } = *self;
        file.flush().await.map_err(io_err)?;
        file.sync_all().await.map_err(io_err)?;
        drop(file);
        Ok(Box::new(DirPending { tmp: guard, digests: hashers.finish(), dest_root }))
    }
}

#[async_trait]
impl PendingBlob for DirPending {
    fn digests(&self) -> &BlobDigests {
        &self.digests
    }
    fn reader(&self) -> Result<Box<dyn ReadSeek>, StoreError> {
        let path = self.tmp.0.as_ref().ok_or_else(|| StoreError::Backend("pending blob has no file".into()))?;
        Ok(Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(io_err)?)))
    }
    fn commit(mut self: Box<Self>) -> Result<BlobDigests, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        let h = self.digests.sha256.hex();
        let dir = self.dest_root.join("sha256").join(&h[0..2]).join(&h[2..4]);
        let dest = dir.join(&h);
        let tmp = self.tmp.0.take().ok_or_else(|| StoreError::Backend("pending blob has no file".into()))?;
        let res = (|| {
            std::fs::DirBuilder::new().recursive(true).mode(super::private::DIR_MODE).create(&dir)?;
            if dest.try_exists()? {
                // Same digest, same bytes: the earlier copy serves.
                std::fs::remove_file(&tmp)?;
                return Ok(());
            }
            std::fs::rename(&tmp, &dest)?;
            // The rename is only durable once the directory entry is.
            std::fs::File::open(&dir)?.sync_all()
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res.map_err(io_err)?;
        Ok(self.digests.clone())
    }
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn begin(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        let tmp = self.root.join("tmp").join(format!("{:032x}.part", rand::random::<u128>()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(super::private::FILE_MODE)
            .open(&tmp)
            .await
            .map_err(io_err)?;
        Ok(Box::new(DirWriter {
            file,
            tmp: TempGuard(Some(tmp)),
            hashers: Hashers::new(),
            dest_root: self.root.clone(),
        }))
    }

    async fn open(&self, sha: &Sha256) -> Result<Option<BlobBody>, StoreError> {
        let path = self.path_of(sha);
        // Most packages are small: open, size and read them in one go; stream only the large
        // ones. Without a size to go by, the first try is right here on the worker, as a static
        // file server's worker reads: from the page cache a file up to `INLINE_BLOB` takes
        // microseconds, less than the round trip to the blocking pool and back, which dominated
        // a warm download. A larger one goes to the blocking pool.
        let read = |path: PathBuf, limit: u64| -> io::Result<Opened> {
            use std::io::Read;
            let mut file = std::fs::File::open(&path)?;
            let size = file.metadata()?.len();
            if size > limit {
                return Ok(Opened::Large(file, size, path));
            }
            let mut buf = Vec::with_capacity(size as usize);
            file.read_to_end(&mut buf)?;
            Ok(Opened::Small(Bytes::from(buf)))
        };
        let mut opened = read(path, INLINE_BLOB);
        if let Ok(Opened::Large(_, size, path)) = &opened {
            if *size <= SMALL_BLOB {
                let path = path.clone();
                opened = tokio::task::spawn_blocking(move || read(path, SMALL_BLOB))
                    .await
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
            }
        }
        match opened {
            Ok(Opened::Small(bytes)) => {
                let size = bytes.len() as u64;
                Ok(Some(BlobBody { size, bytes: BlobBytes::Whole(bytes) }))
            }
            Ok(Opened::Large(file, size, _)) => {
                let stream = tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024);
                Ok(Some(BlobBody { size, bytes: BlobBytes::Stream(Box::pin(stream)) }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn contains(&self, sha: &Sha256) -> Result<bool, StoreError> {
        tokio::fs::try_exists(self.path_of(sha)).await.map_err(io_err)
    }

    fn remove(&self, sha: &Sha256) -> Result<(), StoreError> {
        let path = self.path_of(sha);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(e)),
        }
        // Like a commit, a removal is durable only once the directory entry is.
        match path.parent().map(std::fs::File::open) {
            Some(Ok(d)) => d.sync_all().map_err(io_err),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn write_verify_commit_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::open(dir.path()).unwrap();
        let mut w = store.begin().await.unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"world").await.unwrap();
        let pending = w.finish().await.unwrap();
        let d = pending.digests().clone();
        assert_eq!(d.sha1, "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
        assert!(!store.contains(&d.sha256).await.unwrap(), "invisible before commit");
        pending.commit().unwrap();
        let body = store.open(&d.sha256).await.unwrap().unwrap();
        assert_eq!(body.size, 11);
        let bytes: Vec<Bytes> = body.bytes.into_stream().try_collect().await.unwrap();
        assert_eq!(bytes.concat(), b"hello world");
    }

    #[tokio::test]
    async fn large_blobs_stream_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..(SMALL_BLOB as usize * 3 / 2)).map(|i| (i % 251) as u8).collect();
        let mut w = store.begin().await.unwrap();
        for chunk in data.chunks(100_000) {
            w.write(chunk).await.unwrap();
        }
        let d = w.finish().await.unwrap().commit().unwrap();
        let body = store.open(&d.sha256).await.unwrap().unwrap();
        assert_eq!(body.size, data.len() as u64);
        let bytes: Vec<Bytes> = body.bytes.into_stream().try_collect().await.unwrap();
        assert!(bytes.len() > 1, "streamed in chunks");
        assert_eq!(bytes.concat(), data);
        assert!(store.open(&Sha256::from_bytes([0; 32])).await.unwrap().is_none());
        store.remove(&d.sha256).unwrap();
        assert!(!store.contains(&d.sha256).await.unwrap());
        store.remove(&d.sha256).unwrap();
    }

    #[tokio::test]
    async fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::open(dir.path()).unwrap();
        let mut w = store.begin().await.unwrap();
        w.write(b"partial").await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 1);
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn dropped_pending_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::open(dir.path()).unwrap();
        let mut w = store.begin().await.unwrap();
        w.write(b"x").await.unwrap();
        let pending = w.finish().await.unwrap();
        let sha = pending.digests().sha256;
        drop(pending);
        assert!(!store.contains(&sha).await.unwrap());
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
