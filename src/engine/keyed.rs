//! A moka cache looked up by a *borrowed* key. Every warm request consults several caches
//! keyed by names (domain, repository, package, version, file); building owned keys for each
//! lookup cost more allocations than the lookups themselves. Here an entry is filed under a
//! 64-bit hash of the key's borrowed form and carries the owned key, which each hit compares,
//! so a hit copies nothing and a hash collision is only a miss.

use std::hash::{BuildHasher, Hash};

use foldhash::fast::RandomState;
use std::sync::Arc;

/// Slots are hashed with foldhash, seeded per cache; moka hashes a slot again with the same
/// kind of hasher (SipHash, the standard one, was a tenth of a warm request's time). A slot an
/// attacker made collide is only a miss.
pub(super) struct Keyed<K, V> {
    entries: moka::sync::Cache<u64, Arc<(K, V)>, RandomState>,
    hasher: RandomState,
}

impl<K: Send + Sync + 'static, V: Clone + Send + Sync + 'static> Keyed<K, V> {
    /// At most `max` entries.
    pub(super) fn with_capacity(max: u64) -> Self {
        let entries = moka::sync::Cache::builder().max_capacity(max).build_with_hasher(RandomState::default());
        Self { entries, hasher: RandomState::default() }
    }

    /// At most `max` by `weigh`.
    pub(super) fn weighed(max: u64, weigh: fn(&V) -> u32) -> Self {
        let entries = moka::sync::Cache::builder()
            .weigher(move |_: &u64, e: &Arc<(K, V)>| weigh(&e.1))
            .max_capacity(max)
            .build_with_hasher(RandomState::default());
        Self { entries, hasher: RandomState::default() }
    }

    /// Where the key lives: hash its borrowed form, the same way at every call site.
    pub(super) fn slot(&self, borrowed: &impl Hash) -> u64 {
        self.hasher.hash_one(borrowed)
    }

    /// The value at `slot` whose owned key `is_key` accepts.
    pub(super) fn get(&self, slot: u64, is_key: impl FnOnce(&K) -> bool) -> Option<V> {
        let e = self.entries.get(&slot)?;
        is_key(&e.0).then(|| e.1.clone())
    }

    pub(super) fn insert(&self, slot: u64, key: K, value: V) {
        self.entries.insert(slot, Arc::new((key, value)));
    }

    /// (weight held, entries) once pending evictions have run.
    #[cfg(test)]
    pub(super) fn settled_size(&self) -> (u64, u64) {
        self.entries.run_pending_tasks();
        (self.entries.weighted_size(), self.entries.entry_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_the_same_key_not_only_the_same_slot() {
        let c: Keyed<(String, String), u32> = Keyed::with_capacity(10);
        let slot = c.slot(&("a", "b"));
        c.insert(slot, ("a".into(), "b".into()), 7);
        assert_eq!(c.get(c.slot(&("a", "b")), |k| k.0 == "a" && k.1 == "b"), Some(7));
        // Another key that landed in the same slot (a collision) is a miss, never a wrong hit.
        assert_eq!(c.get(slot, |k| k.0 == "a" && k.1 == "c"), None);
        assert_eq!(c.get(c.slot(&("a", "c")), |k| k.0 == "a" && k.1 == "c"), None);
    }
}
