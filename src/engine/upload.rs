//! Publish uploads: a format streams a package file into an [`Upload`] as it decodes the
//! request, and gets a [`StagedBlob`] back: durable, hashed, and invisible until
//! [`Engine::publish`] has decided every rule and commits it. Dropping a staged blob (a refused
//! publish, a failed request, a client that went away) deletes its temp file, so nothing a
//! publish refuses is ever stored.

use crate::store::blobs::BlobWriter;
use crate::store::{BlobDigests, PendingBlob};

use super::error::Result;
use super::Engine;

/// A package file being written; its bytes are hashed as they arrive.
pub struct Upload {
    writer: Box<dyn BlobWriter>,
    written: u64,
}

impl Upload {
    /// Appends decoded bytes.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.writer.write(chunk).await?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the bytes durable and reports their digests; still invisible.
    pub async fn finish(self) -> Result<StagedBlob> {
        Ok(StagedBlob { pending: self.writer.finish().await? })
    }
}

/// A complete, durable package file awaiting the publish decision.
pub struct StagedBlob {
    pending: Box<dyn PendingBlob>,
}

impl StagedBlob {
    /// Digests of the staged bytes (size, SHA-256, SHA-1, SHA-512, MD5).
    pub fn digests(&self) -> &BlobDigests {
        self.pending.digests()
    }

    /// Reads the staged bytes back (blocking I/O), so a format can validate the file.
    pub fn reader(&self) -> Result<Box<dyn crate::store::ReadSeek>> {
        Ok(self.pending.reader()?)
    }

    /// The blob to commit; only `Engine::publish` does this, under the GC gate.
    pub(super) fn into_pending(self) -> Box<dyn PendingBlob> {
        self.pending
    }
}

impl Engine {
    /// Starts a publish upload in the blob store.
    pub async fn begin_upload(&self) -> Result<Upload> {
        Ok(Upload { writer: self.blobs.begin().await?, written: 0 })
    }
}
