//! Small stored files kept in memory, by digest, so a warm download of a popular tarball or
//! wheel is a hash lookup and one write instead of an open, a read and a close. The bytes under
//! a digest never change, so an entry never goes stale: whether a request may have the file at
//! all is decided before (the asset index, stamped with the package generation), and a blob the
//! collector removed is unreachable from metadata by then. Bounded in bytes
//! (`cache.asset_max_bytes`; 0 turns it off); moka's admission keeps one-off downloads from
//! evicting the popular files.

use bytes::Bytes;

use crate::model::Sha256;

/// Files above this size are always read from the store (and streamed past 1 MiB).
pub(super) const HOT_MAX_FILE: u64 = 1024 * 1024;

pub(super) struct HotBlobs {
    files: Option<moka::sync::Cache<Sha256, Bytes>>,
}

impl HotBlobs {
    /// A cache of at most `max_bytes` of file bytes.
    pub(super) fn new(max_bytes: u64) -> Self {
        let files = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .weigher(|_: &Sha256, b: &Bytes| u32::try_from(b.len()).unwrap_or(u32::MAX))
                .max_capacity(max_bytes)
                .build()
        });
        Self { files }
    }

    pub(super) fn get(&self, sha: &Sha256) -> Option<Bytes> {
        self.files.as_ref()?.get(sha)
    }

    /// Keeps a whole file read from the store (a small one; larger ones are left to the store).
    pub(super) fn offer(&self, sha: &Sha256, bytes: &Bytes) {
        if let Some(files) = &self.files {
            if bytes.len() as u64 <= HOT_MAX_FILE {
                files.insert(*sha, bytes.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_small_files_within_its_budget_and_nothing_when_off() {
        let sha = Sha256::from_bytes([7; 32]);
        let hot = HotBlobs::new(1024 * 1024 * 4);
        hot.offer(&sha, &Bytes::from_static(b"tarball"));
        assert_eq!(hot.get(&sha).as_deref(), Some(&b"tarball"[..]));
        let big = Sha256::from_bytes([8; 32]);
        hot.offer(&big, &Bytes::from(vec![0u8; HOT_MAX_FILE as usize + 1]));
        assert!(hot.get(&big).is_none(), "files over HOT_MAX_FILE stay in the store");
        let off = HotBlobs::new(0);
        off.offer(&sha, &Bytes::from_static(b"tarball"));
        assert!(off.get(&sha).is_none());
    }
}
