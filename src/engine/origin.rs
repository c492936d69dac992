//! Package origin controls (dependency-substitution protection): per repository and package,
//! whether new versions may be published directly (`publish`) and whether they may come from
//! upstream repositories or external connections (`upstream`).
//!
//! The rules live here, once: what a package starts with when its first version enters a
//! repository (`[packages] origin_defaults`), and which sources of a search order a
//! repository may take a package from (`reach`). Publish, retention, ingestion, views and the
//! publish-conflict check all ask these functions; the store only keeps the record.

use std::collections::HashSet;
use std::sync::Arc;

use super::error::{EngineError, Result};
use super::{Engine, RepoCtx};
use crate::config::OriginDefaults;
use crate::model::{
    DomainName, Origin, OriginRestriction, OriginRestrictions, PackageId, PackageRecord, RepositoryName,
    RepositoryRecord,
};
use crate::store::{catalog, ReadTxn, WriteTxn};

/// How a version enters a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    /// A direct publish.
    Publish,
    /// Retention from an upstream repository or ingestion from an external connection.
    Upstream,
}

impl Entry {
    /// A copied version counts as it first entered the domain: published inside it, or
    /// ingested from an external connection.
    pub(super) fn of(origin: &Origin) -> Self {
        match origin {
            Origin::Internal { .. } => Self::Publish,
            Origin::External { .. } => Self::Upstream,
        }
    }
}

/// Which parts of one repository in a search order a package may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reach {
    /// The versions the repository stores.
    pub(super) stored: bool,
    /// What its external connection has.
    pub(super) connection: bool,
}

/// The restrictions in force for `pkg` in `r` (none stored: nothing restricted).
pub(super) fn restrictions(
    tx: &dyn ReadTxn,
    d: &DomainName,
    r: &RepositoryName,
    pkg: &PackageId,
) -> Result<OriginRestrictions> {
    Ok(catalog::package(tx, d, r, pkg)?.map(|p| p.restrictions()).unwrap_or(OriginRestrictions::OPEN))
}

/// For each repository of `order` (`order[0]` is the one asked), whether `pkg` may come from
/// its stored versions and from its external connection. A repository whose `upstream` is
/// BLOCK takes nothing from its upstreams or its connection, so its upstreams count only when
/// another path reaches them. `root` overrides the first repository's restrictions (a publish
/// decides with the restrictions the package is about to get).
pub(super) fn reach(
    tx: &dyn ReadTxn,
    d: &DomainName,
    order: &[RepositoryRecord],
    pkg: &PackageId,
    root: Option<OriginRestrictions>,
) -> Result<Vec<Reach>> {
    let mut open = Vec::with_capacity(order.len());
    for (i, repo) in order.iter().enumerate() {
        let r = match (i, root) {
            (0, Some(r)) => r,
            _ => restrictions(tx, d, &repo.name, pkg)?,
        };
        open.push(r.allows_upstream());
    }
    let mut reached: HashSet<&RepositoryName> = order.first().map(|r| &r.name).into_iter().collect();
    let mut out = vec![Reach { stored: false, connection: false }; order.len()];
    // A shared upstream is listed once, after the first repository that names it, which may
    // be a blocking one: repeat until no pass reaches anything new (at most 25 repositories).
    loop {
        let before = reached.len();
        for (i, repo) in order.iter().enumerate() {
            if reached.contains(&repo.name) {
                out[i] = Reach { stored: true, connection: open[i] };
                if open[i] {
                    reached.extend(repo.upstreams.iter());
                }
            }
        }
        if reached.len() == before {
            return Ok(out);
        }
    }
}

impl Engine {
    /// What a package gets when its first version enters a repository `how`.
    fn first_restrictions(&self, how: Entry) -> OriginRestrictions {
        use OriginRestriction::{Allow, Block};
        match (self.cfg.packages.origin_defaults(), how) {
            (OriginDefaults::Open, _) => OriginRestrictions::OPEN,
            (OriginDefaults::FirstOrigin, Entry::Publish) => OriginRestrictions { publish: Allow, upstream: Block },
            (OriginDefaults::FirstOrigin, Entry::Upstream) => OriginRestrictions { publish: Block, upstream: Allow },
        }
    }

    /// The package record as it is once a version entered `r` `how`: the stored one, given
    /// the default restrictions when this is the package's first version there and none were
    /// set (a package record made by a tag change has none).
    pub(super) fn package_for_entry(
        &self,
        tx: &dyn ReadTxn,
        d: &DomainName,
        r: &RepositoryName,
        pkg: &PackageId,
        how: Entry,
    ) -> Result<PackageRecord> {
        let mut rec = catalog::package(tx, d, r, pkg)?.unwrap_or_default();
        if rec.origin.is_none() && !catalog::has_versions(tx, d, r, pkg)? {
            rec.origin = Some(self.first_restrictions(how));
        }
        Ok(rec)
    }

    /// Writes the package record a version entering `r` `how` needs, when it differs from
    /// the stored one (call before `catalog::put_version`, in the same transaction).
    pub(super) fn ensure_package(
        &self,
        tx: &mut dyn WriteTxn,
        d: &DomainName,
        r: &RepositoryName,
        pkg: &PackageId,
        how: Entry,
    ) -> Result<()> {
        let stored = catalog::package(tx, d, r, pkg)?;
        let rec = self.package_for_entry(tx, d, r, pkg, how)?;
        if stored.as_ref() != Some(&rec) {
            catalog::put_package(tx, d, r, pkg, &rec)?;
        }
        Ok(())
    }

    /// Refuses a direct publish the restrictions (stored, or about to be set) block.
    pub(super) fn check_publish_allowed(&self, tx: &dyn ReadTxn, ctx: &RepoCtx, pkg: &PackageId) -> Result<()> {
        let rec = self.package_for_entry(tx, &ctx.domain, &ctx.repo.name, pkg, Entry::Publish)?;
        if rec.restrictions().allows_publish() {
            return Ok(());
        }
        Err(EngineError::Forbidden(format!(
            "package {pkg} cannot be published to repository {}: its origin configuration blocks direct publishing \
             (publish=BLOCK; change it with put-package-origin-configuration)",
            ctx.repo.name
        )))
    }

    /// PutPackageOriginConfiguration: sets the restrictions of `pkg` in `ctx`'s repository,
    /// creating the package record (with no versions) when it has none. Views of the package
    /// are rebuilt: the sources they may show changed.
    pub fn put_origin_configuration(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        restrictions: OriginRestrictions,
    ) -> Result<OriginRestrictions> {
        self.write(|tx| {
            let mut rec = catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.unwrap_or_default();
            rec.origin = Some(restrictions);
            catalog::put_package(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
            Ok(())
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, publish = restrictions.publish.as_str(),
            upstream = restrictions.upstream.as_str(), "origin configuration set");
        Ok(restrictions)
    }

    /// `reach` for `pkg` in `ctx`'s search order, as stored now: from [`ReachCache`] when
    /// neither the graph nor the package changed since it was read.
    pub(super) fn reach_of(&self, ctx: &RepoCtx, order: &[RepositoryRecord], pkg: &PackageId) -> Result<Arc<[Reach]>> {
        // Read before the store: a write landing meanwhile moves a counter past this stamp.
        let stamp = (self.gens.graph(), self.gens.package(ctx.domain.as_str(), pkg));
        let slot = self.reach_cache.entries.slot(&(ctx.domain.as_str(), ctx.repo.name.as_str(), pkg));
        let is_key = |k: &ReachKey| k.0 == ctx.domain && k.1 == ctx.repo.name && &k.2 == pkg;
        if let Some((s, r)) = self.reach_cache.entries.get(slot, is_key) {
            if s == stamp {
                return Ok(r);
            }
        }
        let r: Arc<[Reach]> = self.read(|tx| reach(tx, &ctx.domain, order, pkg, None))?.into();
        self.reach_cache.entries.insert(
            slot,
            (ctx.domain.clone(), ctx.repo.name.clone(), pkg.clone()),
            (stamp, r.clone()),
        );
        Ok(r)
    }
}

/// `reach` results per (domain, repository asked, package), stamped with the graph and
/// package generations they were read under (origin restrictions are package writes), so a
/// warm view or download reads no origin record.
pub(super) struct ReachCache {
    entries: super::keyed::Keyed<ReachKey, (Stamp, Arc<[Reach]>)>,
}

/// The (graph, package) generations an entry was read under.
type Stamp = (u64, u64);

/// (domain, repository asked, package)
type ReachKey = (DomainName, RepositoryName, PackageId);

impl Default for ReachCache {
    fn default() -> Self {
        // Entries are a few dozen bytes; this bounds the cache to a few MiB.
        Self { entries: super::keyed::Keyed::with_capacity(20_000) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DomainName, PackageFormat, PackageName};
    use crate::store::{MemoryStore, MetaStore};

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

    /// A copy into a repository without the package gives it the defaults of how the copied
    /// version first entered the domain; `open` gives both ALLOW.
    #[test]
    fn copies_take_the_defaults_of_the_copied_versions_origin() {
        use crate::config::{Config, MapEnv};
        use crate::engine::{Auth, CopyOptions};
        use crate::model::{PackageVersionRecord, PackageVersionStatus, Version};
        use std::sync::Arc;
        let (allow, block) = (OriginRestriction::Allow, OriginRestriction::Block);
        for (defaults, internal, external) in [
            (
                "first-origin",
                OriginRestrictions { publish: allow, upstream: block },
                OriginRestrictions { publish: block, upstream: allow },
            ),
            ("open", OriginRestrictions::OPEN, OriginRestrictions::OPEN),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let toml = format!("bootstrap = []\n[packages]\norigin_defaults = \"{defaults}\"\n");
            let cfg = Config::load(Some(&toml), &MapEnv::default()).unwrap();
            let auth = Auth::open(dir.path(), vec![]).unwrap();
            let blobs = crate::store::DirBlobStore::open(&dir.path().join("blobs")).unwrap();
            let e = Engine::with_stores(cfg, Arc::new(MemoryStore::new()), Arc::new(blobs), auth, vec![]).unwrap();
            let d = DomainName::new("dom").unwrap();
            let repo = |n: &str| RepositoryName::new(n).unwrap();
            e.create_domain(&d, None).unwrap();
            for r in ["src", "dst"] {
                e.create_repository(&d, None, &repo(r), None, vec![]).unwrap();
            }
            let (src, dst) = (e.repo_ctx(&d, None, &repo("src")).unwrap(), e.repo_ctx(&d, None, &repo("dst")).unwrap());
            for (name, origin, want) in [
                ("mine", Origin::Internal { repository: repo("src") }, internal),
                ("theirs", Origin::External { connection: "public:npmjs".into() }, external),
            ] {
                let pkg =
                    PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new(name).unwrap() };
                let rec = PackageVersionRecord {
                    version: Version::new("1.0.0").unwrap(),
                    status: PackageVersionStatus::Published,
                    revision: "r".into(),
                    assets: vec![],
                    metadata: serde_json::json!({}),
                    published_time: "2026-01-01T00:00:00Z".into(),
                    origin,
                };
                e.write(|tx| {
                    catalog::put_package(tx, &d, &repo("src"), &pkg, &PackageRecord::default())?;
                    Ok(catalog::put_version(tx, &d, &repo("src"), &pkg, &rec)?)
                })
                .unwrap();
                let sel = vec![(rec.version.clone(), None)];
                e.copy_versions(&src, &dst, &pkg, &sel, CopyOptions::default()).unwrap();
                assert_eq!(e.describe_package(&dst, &pkg).unwrap().restrictions(), want, "{defaults} {name}");
            }
        }
    }

    #[test]
    fn a_blocking_repository_cuts_off_its_upstreams_only() {
        let store = MemoryStore::default();
        let d = DomainName::new("d1").unwrap();
        let pkg = PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("levn").unwrap() };
        // app → (mid → store), other → store: mid blocks, so store is reached through other only.
        let order = [repo("app", &["mid", "other"]), repo("mid", &["deep"]), repo("deep", &[]), repo("other", &[])];
        let block = OriginRestrictions { publish: OriginRestriction::Allow, upstream: OriginRestriction::Block };
        crate::store::write::<_, crate::store::StoreError>(&store as &dyn MetaStore, |tx| {
            let rec = PackageRecord { origin: Some(block), ..Default::default() };
            catalog::put_package(tx, &d, &RepositoryName::new("mid").unwrap(), &pkg, &rec)
        })
        .unwrap();
        let got =
            crate::store::read::<_, EngineError>(&store as &dyn MetaStore, |tx| reach(tx, &d, &order, &pkg, None))
                .unwrap();
        let r = |stored, connection| Reach { stored, connection };
        assert_eq!(got, [r(true, true), r(true, false), r(false, false), r(true, true)]);
        // The asked repository blocking: only its own versions.
        let got = crate::store::read::<_, EngineError>(&store as &dyn MetaStore, |tx| {
            reach(tx, &d, &order, &pkg, Some(block))
        })
        .unwrap();
        assert_eq!(got, [r(true, false), r(false, false), r(false, false), r(false, false)]);
    }
}
