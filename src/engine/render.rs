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
            Ok(v) => exact(v),
            Err(_) => Bytes::new(),
        };
        Self { body: exact(body), gzip, etag }
    }

    /// Bytes held (the cache's weight).
    pub fn weight(&self) -> u32 {
        u32::try_from(self.body.len() + self.gzip.len() + self.etag.len()).unwrap_or(u32::MAX)
    }
}

/// `Bytes` over exactly the vector's contents: a grown vector's spare capacity (up to its
/// size again, for a 20 MB packument 12 MB) would otherwise live as long as the document.
fn exact(mut v: Vec<u8>) -> Bytes {
    v.shrink_to_fit();
    Bytes::from(v)
}

/// (domain, repository, package, variant, Host slot)
type Key = (String, String, PackageId, &'static str, u32);

pub(super) struct RenderCache {
    docs: super::keyed::Keyed<Key, (u64, Arc<Rendered>)>,
}

impl RenderCache {
    /// A cache holding at most `max_bytes` of documents (`cache.rendered_max_bytes`).
    pub(super) fn new(max_bytes: u64) -> Self {
        Self { docs: super::keyed::Keyed::weighed(max_bytes, |v: &(u64, Arc<Rendered>)| v.1.weight()) }
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
        let (d, r) = (ctx.domain.as_str(), ctx.repo.name.as_str());
        let slot = self.rendered.docs.slot(&(d, r, pkg, variant, host_slot));
        let is_key = |k: &Key| k.0 == d && k.1 == r && &k.2 == pkg && k.3 == variant && k.4 == host_slot;
        if let Some((s, doc)) = self.rendered.docs.get(slot, is_key) {
            if s == stamp {
                return Ok(doc);
            }
        }
        let doc = Arc::new(Rendered::new(render()?));
        self.rendered.docs.insert(
            slot,
            (d.to_string(), r.to_string(), pkg.clone(), variant, host_slot),
            (stamp, doc.clone()),
        );
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PackageFormat, PackageName};

    #[test]
    fn documents_stay_within_the_byte_budget() {
        let budget = 2 * 1024 * 1024;
        let cache = RenderCache::new(budget);
        for i in 0..20u32 {
            let pkg = PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("p").unwrap() };
            // Incompressible-ish bodies, 300 KB each.
            let body: Vec<u8> = (0..300_000u32).map(|j| (j.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
            let slot = cache.docs.slot(&("d", "r", &pkg, "full", i));
            cache.docs.insert(slot, ("d".into(), "r".into(), pkg, "full", i), (1, Arc::new(Rendered::new(body))));
        }
        let (weight, count) = cache.docs.settled_size();
        assert!(weight <= budget, "{weight} > {budget}");
        assert!(count > 0);
    }
}
