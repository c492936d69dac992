//! Change counters that stamp cached views and asset-index entries: a cached answer is
//! rebuilt when any input's counter moved.
//!
//! Package counters are striped: a fixed table of slots indexed by a hash of (domain,
//! package), so the table's size never grows with the number of packages and a lookup is one
//! atomic load with no lock and no allocation. Two packages sharing a slot only cost each
//! other a spurious rebuild; a write is never missed, because every bump stores a value the
//! slot never held before (one global counter).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::PackageId;

/// Slots in the package table (64 KiB); a power of two so the hash is masked.
const SLOTS: usize = 8192;

pub(super) struct Generations {
    next: AtomicU64,
    /// Bumped by any repository or domain change (upstreams, connections, deletions).
    graph: AtomicU64,
    /// Bumped by any write to a package in a domain, in the slot of (domain, package).
    packages: Box<[AtomicU64]>,
}

impl Default for Generations {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            graph: AtomicU64::new(0),
            packages: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Generations {
    fn slot(&self, domain: &str, p: &PackageId) -> &AtomicU64 {
        // A fixed-key hasher: slots only need spreading, and nothing outside the process sees them.
        let h = foldhash::fast::FixedState::default().hash_one((domain, p));
        &self.packages[(h as usize) & (SLOTS - 1)]
    }

    /// A value no counter held before (stamps of upstream entries share the sequence).
    pub(super) fn next_stamp(&self) -> u64 {
        self.next.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub(super) fn bump_graph(&self) {
        let n = self.next_stamp();
        self.graph.store(n, Ordering::Release);
    }

    pub(super) fn bump_package(&self, domain: &str, p: &PackageId) {
        let n = self.next_stamp();
        self.slot(domain, p).store(n, Ordering::Release);
    }

    /// Moves with every change any counter records, and with every new upstream entry: while
    /// it stands still, every stamped answer stays what it was.
    pub(super) fn world(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }

    pub(super) fn graph(&self) -> u64 {
        self.graph.load(Ordering::Acquire)
    }

    pub(super) fn package(&self, domain: &str, p: &PackageId) -> u64 {
        self.slot(domain, p).load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PackageFormat, PackageName};

    fn pkg(name: &str) -> PackageId {
        PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(name).unwrap() }
    }

    /// Every bump of a package moves its counter, whatever else shares its slot, and a package
    /// bumped in one domain keeps its counter in another (unless they happen to share a slot).
    #[test]
    fn every_bump_moves_the_package_counter() {
        let g = Generations::default();
        let names: Vec<PackageId> = (0..20_000).map(|i| pkg(&format!("p{i}"))).collect();
        let mut seen = std::collections::HashSet::new();
        for p in &names {
            let before = g.package("d", p);
            g.bump_package("d", p);
            let after = g.package("d", p);
            assert_ne!(before, after);
            assert!(seen.insert(after), "a counter value was reused");
        }
        let quiet = pkg("quiet");
        let before = g.package("other", &quiet);
        g.bump_graph();
        assert_eq!(g.package("other", &quiet), before, "a graph bump moved a package counter");
    }
}
