//! Package views: what a repository shows of a package — its own versions, then its
//! upstreams' and their external connections' in search order, the closest copy of a version
//! shadowing farther ones — with tags merged as the guide says.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{EngineError, Result};
use super::metadata::{CachedUpstream, Freshness};
use super::packages::package_missing;
use super::upstream::Priority;
use super::{Engine, RepoCtx};
use crate::model::{
    Asset, AssetAttributes, AssetName, PackageId, PackageVersionStatus, RepositoryName, RepositoryRecord, Version,
};
use crate::store::catalog;

/// One version as a repository shows it.
#[derive(Debug, Clone)]
pub struct ViewVersion {
    /// The version.
    pub version: Version,
    /// The format's per-version metadata (parsed for stored versions, text for upstream ones).
    pub metadata: super::VersionMetadata,
    /// Its files.
    pub assets: Vec<ViewAsset>,
    /// Status (always listed here).
    pub status: PackageVersionStatus,
    /// Publication time, when known.
    pub published_time: Option<String>,
}

/// One file of a version as a repository shows it.
#[derive(Debug, Clone)]
pub struct ViewAsset {
    /// File name.
    pub name: AssetName,
    /// The digests clients check (`sha1`, `sha512` hex, `sha256`), stored or declared.
    pub hashes: BTreeMap<String, String>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// What the format's index says about the file.
    pub attributes: AssetAttributes,
}

/// What a repository shows of a package.
#[derive(Debug, Clone)]
pub struct PackageView {
    /// The package.
    pub package: PackageId,
    /// Listed versions, highest priority source first.
    pub versions: Vec<ViewVersion>,
    /// Merged tags (an upstream's value wins a conflict).
    pub tags: BTreeMap<String, String>,
}

/// Inputs of a view, gathered asynchronously; building from them is synchronous.
pub struct ViewInputs {
    order: Arc<Vec<RepositoryRecord>>,
    /// Each repository's connection answer, by position in `order`.
    upstream: Vec<Option<Arc<CachedUpstream>>>,
    /// Identifies these inputs: equal stamps mean an equal view.
    pub stamp: u64,
    /// When the oldest upstream answer among them is due for a refresh (`None`: no upstream
    /// answer; already past when one could not be had).
    pub fresh_until: Option<Instant>,
}

impl Engine {
    /// Gathers what a view of `pkg` in `ctx` depends on, fetching upstream metadata as needed
    /// (bounded by the client wait). Cheap when everything is cached.
    pub async fn view_inputs(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId) -> Result<ViewInputs> {
        let order = self.search_order(ctx)?;
        // Connections the package's origin configuration shuts out are not even asked.
        let reach = self.reach_of(ctx, &order, pkg)?;
        let mut upstream = vec![None; order.len()];
        let mut first_err = None;
        for ((repo, reach), slot) in order.iter().zip(reach.iter()).zip(upstream.iter_mut()) {
            if let Some(conn) = self.connection_for(repo, pkg.format).filter(|_| reach.connection) {
                match self.upstream_package(conn, pkg, Freshness::Cached, Priority::Client).await {
                    Ok(c) => *slot = Some(c),
                    Err(e) => {
                        tracing::debug!(repo.name = %repo.name, pkg.name = %pkg, error = %e, "upstream metadata unavailable");
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.gens.graph().hash(&mut h);
        self.gens.package(ctx.domain.as_str(), pkg).hash(&mut h);
        for (repo, c) in order.iter().zip(&upstream) {
            repo.name.hash(&mut h);
            c.as_ref().map(|c| c.stamp).hash(&mut h);
        }
        let max_age = self.cfg.cache.max_age(pkg.format).as_secs_f64();
        let (now, now_epoch) = (Instant::now(), crate::model::now_epoch());
        let fresh_until = if first_err.is_some() {
            Some(now)
        } else {
            upstream
                .iter()
                .flatten()
                .map(|c| now + Duration::from_secs_f64((c.fetched_at + max_age - now_epoch).max(0.0)))
                .min()
        };
        let inputs = ViewInputs { order, upstream, stamp: h.finish(), fresh_until };
        if let Some(e) = first_err {
            // Serve what Depot has; fail only when it has nothing for this package.
            let has_any = inputs.upstream.iter().flatten().any(|c| c.package.is_some())
                || self.read(|tx| {
                    for r in inputs.order.iter() {
                        if catalog::package(tx, &ctx.domain, &r.name, pkg)?.is_some() {
                            return Ok(true);
                        }
                    }
                    Ok::<_, EngineError>(false)
                })?;
            if !has_any {
                return Err(e);
            }
        }
        Ok(inputs)
    }

    /// Builds the view from gathered inputs. `NotFound` when no source knows the package.
    pub fn build_view(&self, ctx: &RepoCtx, pkg: &PackageId, inputs: &ViewInputs) -> Result<PackageView> {
        let mut versions: Vec<ViewVersion> = Vec::new();
        let mut seen: HashSet<Version> = HashSet::new();
        let mut known = false;
        let mut own_tags: HashMap<RepositoryName, BTreeMap<String, String>> = HashMap::new();
        let mut upstream: HashMap<RepositoryName, Arc<CachedUpstream>> = HashMap::new();
        self.read(|tx| {
            // Upstream versions (and tags) the origin configuration blocks are left out.
            let reach = super::origin::reach(tx, &ctx.domain, &inputs.order, pkg, None)?;
            for ((repo, reach), c) in inputs.order.iter().zip(reach).zip(&inputs.upstream) {
                if !reach.stored {
                    continue;
                }
                if let Some(c) = c.as_ref().filter(|_| reach.connection) {
                    upstream.insert(repo.name.clone(), c.clone());
                }
                if let Some(p) = catalog::package(tx, &ctx.domain, &repo.name, pkg)? {
                    known = true;
                    own_tags.insert(repo.name.clone(), p.tags);
                }
                for rec in catalog::versions(tx, &ctx.domain, &repo.name, pkg)? {
                    // A version present in a closer repository shadows upstream copies even
                    // when its status hides it.
                    if !seen.insert(rec.version.clone()) || !rec.status.is_listed() {
                        continue;
                    }
                    versions.push(ViewVersion {
                        assets: rec
                            .assets
                            .iter()
                            .map(|a| ViewAsset {
                                name: a.name.clone(),
                                hashes: asset_hashes(a),
                                size: Some(a.size),
                                attributes: a.attributes.clone(),
                            })
                            .collect(),
                        version: rec.version,
                        metadata: rec.metadata.into(),
                        status: rec.status,
                        published_time: Some(rec.published_time),
                    });
                }
                if let Some(up) = upstream.get(&repo.name).and_then(|c| c.package.as_ref()) {
                    known = true;
                    for uv in &up.versions {
                        if !seen.insert(uv.version.clone()) {
                            continue;
                        }
                        versions.push(ViewVersion {
                            version: uv.version.clone(),
                            metadata: uv.metadata.clone(),
                            assets: uv
                                .assets
                                .iter()
                                .map(|a| {
                                    let mut h = BTreeMap::new();
                                    if let Some(s) = &a.sha1 {
                                        h.insert("sha1".into(), s.clone());
                                    }
                                    if let Some(s) = &a.sha512 {
                                        h.insert("sha512".into(), hex::encode(s));
                                    }
                                    if let Some(s) = &a.sha256 {
                                        h.insert("sha256".into(), s.clone());
                                    }
                                    ViewAsset {
                                        name: a.name.clone(),
                                        hashes: h,
                                        size: a.size,
                                        attributes: a.attributes.clone(),
                                    }
                                })
                                .collect(),
                            status: PackageVersionStatus::Published,
                            published_time: uv.published_time.clone(),
                        });
                    }
                }
            }
            Ok::<_, EngineError>(())
        })?;
        if !known {
            return Err(self.with_hint(package_missing(ctx, pkg), &inputs.order, pkg));
        }
        let by_name: HashMap<&RepositoryName, &RepositoryRecord> = inputs.order.iter().map(|r| (&r.name, r)).collect();
        let mut tags = merged_tags(&inputs.order[0], &by_name, &own_tags, &upstream, &mut HashSet::new());
        tags.retain(|_, v| versions.iter().any(|x| x.version.as_str() == v));
        Ok(PackageView { package: pkg.clone(), versions, tags })
    }

    /// The view of `pkg` in `ctx` (gather, then build).
    pub async fn package_view(self: &Arc<Self>, ctx: &RepoCtx, pkg: &PackageId) -> Result<PackageView> {
        let inputs = self.view_inputs(ctx, pkg).await?;
        self.build_view(ctx, pkg, &inputs)
    }

    /// The documents the reachable external connections returned for `pkg`, byte for byte,
    /// closest repository first. They are the cache entries `view_inputs` gathered (same max
    /// age, stale-while-revalidate and outage fallback), so a format that must pass an
    /// upstream document through instead of rendering one (Maven's group-level plugin
    /// metadata) costs no request of its own.
    pub fn upstream_documents(&self, pkg: &PackageId, inputs: &ViewInputs) -> Result<Vec<bytes::Bytes>> {
        self.read(|tx| {
            let mut docs = Vec::new();
            for (repo, c) in inputs.order.iter().zip(&inputs.upstream) {
                // Only connections `view_inputs` reached and that have the document.
                if c.as_ref().is_none_or(|c| c.package.is_none()) {
                    continue;
                }
                let Some(conn) = self.connection_for(repo, pkg.format) else { continue };
                if let Some(body) = catalog::upstream_doc(tx, conn, pkg)?.and_then(|d| d.body) {
                    docs.push(body);
                }
            }
            Ok::<_, EngineError>(docs)
        })
    }
}

fn asset_hashes(a: &Asset) -> BTreeMap<String, String> {
    let mut h = a.hashes.clone();
    h.insert("sha256".into(), a.sha256.hex());
    h
}

/// Tags as the guide merges them: a repository's own, overridden by its external connection's
/// and by its upstreams' merged tags (a higher-priority upstream wins among siblings).
fn merged_tags(
    repo: &RepositoryRecord,
    by_name: &HashMap<&RepositoryName, &RepositoryRecord>,
    own: &HashMap<RepositoryName, BTreeMap<String, String>>,
    upstream: &HashMap<RepositoryName, Arc<CachedUpstream>>,
    visited: &mut HashSet<RepositoryName>,
) -> BTreeMap<String, String> {
    visited.insert(repo.name.clone());
    let mut tags = own.get(&repo.name).cloned().unwrap_or_default();
    if let Some(p) = upstream.get(&repo.name).and_then(|c| c.package.as_ref()) {
        tags.extend(p.tags.clone());
    }
    let mut from_ups = BTreeMap::new();
    for u in &repo.upstreams {
        if visited.contains(u) {
            continue;
        }
        if let Some(up) = by_name.get(u) {
            for (k, v) in merged_tags(up, by_name, own, upstream, visited) {
                from_ups.entry(k).or_insert(v);
            }
        }
    }
    tags.extend(from_ups);
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DomainName;

    fn repo(name: &str, ups: &[&str]) -> RepositoryRecord {
        RepositoryRecord {
            domain: DomainName::new("d1").unwrap(),
            name: RepositoryName::new(name).unwrap(),
            description: None,
            upstreams: ups.iter().map(|u| RepositoryName::new(*u).unwrap()).collect(),
            external_connections: vec![],
            created: 0.0,
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn merge(repos: &[RepositoryRecord], own: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, String> {
        let by_name = repos.iter().map(|r| (&r.name, r)).collect();
        let own = own.iter().map(|(r, t)| (RepositoryName::new(*r).unwrap(), tags(t))).collect();
        merged_tags(&repos[0], &by_name, &own, &HashMap::new(), &mut HashSet::new())
    }

    #[test]
    fn tags_merge_as_the_guide_says() {
        let repos = [repo("r1", &["u1"]), repo("u1", &[])];
        // Different tags: both are visible.
        let t = merge(&repos, &[("r1", &[("latest", "1.0.0")]), ("u1", &[("alpha", "1.0.1")])]);
        assert_eq!(t, tags(&[("latest", "1.0.0"), ("alpha", "1.0.1")]));
        // The same tag: the upstream's value wins.
        let t = merge(&repos, &[("r1", &[("latest", "1.0.2")]), ("u1", &[("latest", "1.0.1")])]);
        assert_eq!(t, tags(&[("latest", "1.0.1")]));
    }

    #[test]
    fn higher_priority_upstream_wins_among_siblings() {
        let repos = [repo("r1", &["a1", "b1"]), repo("a1", &[]), repo("b1", &[])];
        let t = merge(&repos, &[("a1", &[("next", "2.0.0")]), ("b1", &[("next", "3.0.0"), ("beta", "3.0.0")])]);
        assert_eq!(t, tags(&[("next", "2.0.0"), ("beta", "3.0.0")]));
    }
}
