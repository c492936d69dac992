//! The upstream graph: the limits on upstreams, the check that a repository's upstream list
//! is valid (exist, distinct, at most ten, no cycle), and the search order a request walks
//! (the repository, then its upstreams depth-first in priority order, each once, at most 25),
//! cached per graph generation.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::domains::repo_missing;
use super::error::{EngineError, Result};
use super::{Engine, RepoCtx};
use crate::config::connection_format;
use crate::model::{DomainName, PackageFormat, RepositoryName, RepositoryRecord};
use crate::store::{catalog, ReadTxn};

/// Most direct upstreams a repository may have.
pub const MAX_UPSTREAMS: usize = 10;
/// Most repositories one request searches.
pub const MAX_SEARCH: usize = 25;

type SearchOrder = Arc<Vec<RepositoryRecord>>;

/// Search orders and repository records cached per graph generation (every repository or
/// domain change moves it), so a request resolves its repository without a store read.
#[derive(Default)]
pub(super) struct GraphCache {
    orders: Mutex<ByRepository<SearchOrder>>,
    repositories: Mutex<ByRepository<Arc<RepositoryRecord>>>,
}

/// domain → repository → (generation, value): looked up by `&str`, so a hit copies no name.
type ByRepository<V> = foldhash::HashMap<String, foldhash::HashMap<String, (u64, V)>>;

fn cached<V: Clone>(map: &Mutex<ByRepository<V>>, d: &DomainName, r: &RepositoryName, gen: u64) -> Option<V> {
    match map.lock().expect("graph cache").get(d.as_str()).and_then(|m| m.get(r.as_str())) {
        Some((g, v)) if *g == gen => Some(v.clone()),
        _ => None,
    }
}

fn remember<V>(map: &Mutex<ByRepository<V>>, d: &DomainName, r: &RepositoryName, gen: u64, v: V) {
    let mut map = map.lock().expect("graph cache");
    map.entry(d.to_string()).or_default().insert(r.to_string(), (gen, v));
}

impl GraphCache {
    /// The record of `r` if it was read under generation `gen`.
    pub(super) fn repository(&self, d: &DomainName, r: &RepositoryName, gen: u64) -> Option<Arc<RepositoryRecord>> {
        cached(&self.repositories, d, r, gen)
    }

    /// Remembers `rec`, read under generation `gen` (read before the store was).
    pub(super) fn remember_repository(&self, d: &DomainName, rec: &Arc<RepositoryRecord>, gen: u64) {
        remember(&self.repositories, d, &rec.name, gen, rec.clone());
    }
}

impl Engine {
    /// The external connection of `repo` for format `f`, if it has one.
    pub fn connection_for<'a>(&self, repo: &'a RepositoryRecord, f: PackageFormat) -> Option<&'a str> {
        repo.external_connections.iter().map(String::as_str).find(|c| connection_format(c) == Some(f))
    }

    /// The repositories a request to `ctx` searches, in priority order: the repository,
    /// then each upstream depth-first in its priority order, each once, at most 25.
    pub fn search_order(&self, ctx: &RepoCtx) -> Result<Arc<Vec<RepositoryRecord>>> {
        let gen = self.gens.graph();
        if let Some(order) = cached(&self.graph_cache.orders, &ctx.domain, &ctx.repo.name, gen) {
            return Ok(order);
        }
        let order = Arc::new(self.read(|tx| {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            let root = catalog::repository(tx, &ctx.domain, &ctx.repo.name)?.unwrap_or_else(|| (*ctx.repo).clone());
            visit(tx, &ctx.domain, root, &mut seen, &mut out)?;
            Ok(out)
        })?);
        remember(&self.graph_cache.orders, &ctx.domain, &ctx.repo.name, gen, order.clone());
        Ok(order)
    }
}

fn visit(
    tx: &dyn ReadTxn,
    d: &DomainName,
    repo: RepositoryRecord,
    seen: &mut HashSet<RepositoryName>,
    out: &mut Vec<RepositoryRecord>,
) -> Result<()> {
    if out.len() >= MAX_SEARCH || !seen.insert(repo.name.clone()) {
        return Ok(());
    }
    let ups = repo.upstreams.clone();
    out.push(repo);
    for u in ups {
        if let Some(up) = catalog::repository(tx, d, &u)? {
            visit(tx, d, up, seen, out)?;
        }
    }
    Ok(())
}

/// Upstreams must exist, be distinct, number at most 10, and not make a cycle.
pub(super) fn check_upstreams(tx: &dyn ReadTxn, rec: &RepositoryRecord) -> Result<()> {
    if rec.upstreams.len() > MAX_UPSTREAMS {
        return Err(EngineError::Validation(format!(
            "upstreams: a repository can have at most {MAX_UPSTREAMS} upstream repositories"
        )));
    }
    let mut seen = HashSet::new();
    for u in &rec.upstreams {
        if !seen.insert(u) {
            return Err(EngineError::Validation(format!("upstreams: {u} is listed more than once")));
        }
        if u == &rec.name {
            return Err(EngineError::Validation(format!("upstreams: repository {u} cannot be its own upstream")));
        }
        if catalog::repository(tx, &rec.domain, u)?.is_none() {
            return Err(repo_missing(&rec.domain, u));
        }
    }
    // A cycle exists when some upstream reaches back to this repository.
    let mut stack: Vec<RepositoryName> = rec.upstreams.clone();
    let mut visited = HashSet::new();
    while let Some(n) = stack.pop() {
        if n == rec.name {
            return Err(EngineError::Validation(format!(
                "upstreams: adding these upstreams to {} would create a cycle",
                rec.name
            )));
        }
        if !visited.insert(n.clone()) {
            continue;
        }
        if let Some(r) = catalog::repository(tx, &rec.domain, &n)? {
            stack.extend(r.upstreams);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Config, MapEnv};
    use crate::engine::Auth;
    use crate::store::{DirBlobStore, MemoryStore};

    fn engine(dir: &std::path::Path) -> Arc<Engine> {
        let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
        let auth = Auth::open(dir, vec![]).unwrap();
        let blobs = DirBlobStore::open(&dir.join("blobs")).unwrap();
        Engine::with_stores(cfg, Arc::new(MemoryStore::new()), Arc::new(blobs), auth, vec![]).unwrap()
    }

    fn names(order: &[RepositoryRecord]) -> Vec<&str> {
        order.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn search_order_is_depth_first_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let d = DomainName::new("dom").unwrap();
        e.create_domain(&d, None).unwrap();
        let r = |n: &str| RepositoryName::new(n).unwrap();
        // A chain of 30: r00 → r01 → … → r29, created from the far end.
        for i in (0..30).rev() {
            let ups = if i < 29 { vec![r(&format!("r{:02}", i + 1))] } else { vec![] };
            e.create_repository(&d, None, &r(&format!("r{i:02}")), None, ups).unwrap();
        }
        let order = e.search_order(&e.repo_ctx(&d, None, &r("r00")).unwrap()).unwrap();
        assert_eq!(order.len(), MAX_SEARCH);
        assert_eq!(order.last().unwrap().name.as_str(), "r24");
        // The guide's complex example, with a shared upstream visited once.
        for (n, ups) in
            [("ee", vec![]), ("cc", vec![]), ("dd", vec!["ee"]), ("bb", vec!["ee"]), ("aa", vec!["cc", "dd"])]
        {
            e.create_repository(&d, None, &r(n), None, ups.into_iter().map(r).collect()).unwrap();
        }
        e.create_repository(&d, None, &r("my_repo"), None, vec![r("aa"), r("bb")]).unwrap();
        let order = e.search_order(&e.repo_ctx(&d, None, &r("my_repo")).unwrap()).unwrap();
        assert_eq!(names(&order), ["my_repo", "aa", "cc", "dd", "ee", "bb"]);
        // The cached order follows a change.
        e.update_repository(&d, None, &r("my_repo"), None, Some(vec![r("bb"), r("aa")])).unwrap();
        let order = e.search_order(&e.repo_ctx(&d, None, &r("my_repo")).unwrap()).unwrap();
        assert_eq!(names(&order), ["my_repo", "bb", "ee", "aa", "cc", "dd"]);
        // And a cycle is refused.
        let err = e.update_repository(&d, None, &r("ee"), None, Some(vec![r("my_repo")])).unwrap_err();
        assert!(matches!(err, EngineError::Validation(m) if m.contains("cycle")));
    }
}
