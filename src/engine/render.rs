//! Ready-to-send metadata documents: rendered once per change, kept as bytes (plain and
//! gzip) with a strong ETag, so a cached packument costs a hash lookup and a memcpy.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::error::Result;
use super::{Engine, RepoCtx};
use crate::model::PackageId;

/// A rendered document.
#[derive(Debug)]
pub struct Rendered {
    /// The document.
    pub body: Bytes,
    /// The same, gzip-compressed.
    pub gzip: Bytes,
    /// Strong ETag (quoted).
    pub etag: String,
}

impl Rendered {
    /// Wraps a document: computes its ETag and compressed form.
    pub fn new(body: Vec<u8>) -> Self {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..40]);
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::new(6));
        let gzip = match gz.write_all(&body).and_then(|_| gz.finish()) {
            Ok(v) => Bytes::from(v),
            Err(_) => Bytes::new(),
        };
        Self { body: Bytes::from(body), gzip, etag }
    }
}

/// (domain, repository, package, variant, Host slot)
type Key = (String, String, PackageId, &'static str, u32);

pub(super) struct RenderCache {
    docs: moka::sync::Cache<Key, (u64, Arc<Rendered>)>,
}

impl RenderCache {
    pub(super) fn new() -> Self {
        Self {
            docs: moka::sync::Cache::builder()
                .weigher(|_k: &Key, v: &(u64, Arc<Rendered>)| {
                    u32::try_from(v.1.body.len() + v.1.gzip.len()).unwrap_or(u32::MAX)
                })
                // 512 MiB of ready documents.
                .max_capacity(512 * 1024 * 1024)
                .build(),
        }
    }
}

impl Engine {
    /// The rendered document `variant` of `pkg` in `ctx` for the inputs stamped `stamp`,
    /// rendering it with `render` only when the cached one is older.
    pub fn rendered(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        variant: &'static str,
        stamp: u64,
        render: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<Rendered>> {
        self.rendered_for_host(ctx, pkg, variant, 0, stamp, render)
    }

    /// [`Engine::rendered`] for documents holding URLs: each Host slot (`host_slot`) has its
    /// own entry, so alternating Host values do not evict each other's copy.
    pub fn rendered_for_host(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        variant: &'static str,
        host_slot: u32,
        stamp: u64,
        render: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<Rendered>> {
        let key = (ctx.domain.to_string(), ctx.repo.name.to_string(), pkg.clone(), variant, host_slot);
        if let Some((s, doc)) = self.rendered.docs.get(&key) {
            if s == stamp {
                return Ok(doc);
            }
        }
        let doc = Arc::new(Rendered::new(render()?));
        self.rendered.docs.insert(key, (stamp, doc.clone()));
        Ok(doc)
    }
}
