//! CopyPackageVersions: stored versions of one package copied from a source repository (or,
//! with `include_from_upstream`, its upstream repositories) to a destination repository of
//! the same domain. One transaction, all-or-nothing as the guide's examples show. The copy
//! shares blobs: the destination record names the same assets, so no byte is written. A
//! Disposed source is refused (NOT_ALLOWED): its blobs may already be collected.

use super::error::{EngineError, Result};
use super::events::{self, EventSource};
use super::origin::Entry;
use super::status::{VersionFailure, VersionOutcome, VersionSelection, VersionsResult};
use super::{Engine, RepoCtx};
use crate::model::{PackageId, PackageVersionRecord, PackageVersionStatus, RepositoryName};
use crate::store::catalog;

/// What a CopyPackageVersions request asks for besides the versions.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// Replace a different version already in the destination instead of failing.
    pub allow_overwrite: bool,
    /// Look through the source's upstream repositories too (stored versions only).
    pub include_from_upstream: bool,
}

/// The same package version as far as the guide's idempotence rule goes: equal revision, or
/// equal assets and metadata.
fn identical(a: &PackageVersionRecord, b: &PackageVersionRecord) -> bool {
    if a.revision == b.revision {
        return true;
    }
    let digests = |r: &PackageVersionRecord| r.assets.iter().map(|x| (x.name.clone(), x.sha256)).collect::<Vec<_>>();
    digests(a) == digests(b) && a.metadata == b.metadata
}

impl Engine {
    /// Copies the named versions of `pkg` from `src` to `dst`. Identical versions already in
    /// `dst` succeed silently and are left out of the result; npm tags on copied versions
    /// replace the destination's tags of the same name.
    pub fn copy_versions(
        &self,
        src: &RepoCtx,
        dst: &RepoCtx,
        pkg: &PackageId,
        versions: &VersionSelection,
        opts: CopyOptions,
    ) -> Result<VersionsResult> {
        if versions.is_empty() {
            return Err(EngineError::Validation("versions: at least one version is required".into()));
        }
        if src.domain != dst.domain {
            return Err(EngineError::Validation("source and destination must be in the same domain".into()));
        }
        if src.repo.name == dst.repo.name {
            return Err(EngineError::Validation("sourceRepository and destinationRepository must differ".into()));
        }
        // The search order is read before the transaction: it is a cached snapshot of the
        // upstream graph, and a copy racing a graph change may use either side of it.
        let sources: Vec<RepositoryName> = if opts.include_from_upstream {
            self.search_order(src)?.iter().map(|r| r.name.clone()).collect()
        } else {
            vec![src.repo.name.clone()]
        };
        let d = &dst.domain;
        let now = crate::model::now_rfc3339();
        let mut released = false;
        let out = self.write(|tx| {
            released = false;
            let mut res = VersionsResult::default();
            // (record to write, repository it came from, what it replaces)
            let mut todo: Vec<(PackageVersionRecord, RepositoryName, Option<PackageVersionRecord>)> = Vec::new();
            for (v, rev) in versions {
                let mut found = None;
                for r in &sources {
                    if let Some(rec) = catalog::version(tx, d, r, pkg, v)? {
                        found = Some((rec, r.clone()));
                        break;
                    }
                }
                let Some((rec, from)) = found else {
                    res.failed.insert(v.to_string(), (VersionFailure::NotFound, format!("Could not find version {v}")));
                    continue;
                };
                if res.revision_mismatch(&rec, rev.as_ref()) {
                    continue;
                }
                // A disposed version has no bytes left (they may already be collected).
                if rec.status == PackageVersionStatus::Disposed {
                    let msg = format!("Version {v} is disposed and cannot be copied");
                    res.failed.insert(v.to_string(), (VersionFailure::NotAllowed, msg));
                    continue;
                }
                match catalog::version(tx, d, &dst.repo.name, pkg, v)? {
                    // Disposal is irreversible (it keeps the revision, so it would pass as identical).
                    Some(existing) if existing.status == PackageVersionStatus::Disposed => {
                        let msg = format!("Version {v} is disposed in repository {}; delete it first", dst.repo.name);
                        res.failed.insert(v.to_string(), (VersionFailure::NotAllowed, msg));
                    }
                    Some(existing) if identical(&existing, &rec) => {}
                    Some(_) if !opts.allow_overwrite => {
                        res.failed.insert(
                            v.to_string(),
                            (
                                VersionFailure::AlreadyExists,
                                format!("Version {v} already exists in repository {}", dst.repo.name),
                            ),
                        );
                    }
                    existing => todo.push((rec, from, existing)),
                }
            }
            if res.skip_rest(todo.iter().map(|(r, _, _)| &r.version), |v| format!("Version {v} was skipped")) {
                return Ok(res);
            }
            // A package new to the destination gets the origin defaults of how the first
            // copied version entered the domain (see `origin::Entry::of`).
            let mut dst_pkg = match todo.first() {
                Some((rec, _, _)) => self.package_for_entry(tx, d, &dst.repo.name, pkg, Entry::of(&rec.origin))?,
                None => catalog::package(tx, d, &dst.repo.name, pkg)?.unwrap_or_default(),
            };
            for (rec, from, replaced) in todo {
                if let Some(old) = &replaced {
                    // An overwrite stops referencing the replaced version's blobs.
                    catalog::release_blobs(tx, catalog::record_blobs(old))?;
                    released = true;
                }
                catalog::put_version(tx, d, &dst.repo.name, pkg, &rec)?;
                events::record(tx, &EventSource::of(dst), pkg, replaced.as_ref(), Some(&rec), &now)?;
                if let Some(p) = catalog::package(tx, d, &from, pkg)? {
                    for (tag, tv) in p.tags.iter().filter(|(_, tv)| **tv == rec.version.as_str()) {
                        dst_pkg.tags.insert(tag.clone(), tv.clone());
                    }
                }
                res.successful.insert(
                    rec.version.to_string(),
                    VersionOutcome { revision: rec.revision, status: Some(rec.status) },
                );
            }
            if !res.successful.is_empty() {
                catalog::put_package(tx, d, &dst.repo.name, pkg, &dst_pkg)?;
            }
            Ok(res)
        })?;
        if !out.successful.is_empty() {
            self.gens.bump_package(d.as_str(), pkg);
        }
        if released {
            self.gc.wake();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Config, MapEnv};
    use crate::engine::Auth;
    use crate::model::{DomainName, Origin, PackageFormat, PackageName, PackageRecord, Version};
    use crate::store::{DirBlobStore, MemoryStore};

    #[test]
    fn a_copy_points_at_the_same_assets_and_refuses_its_own_source() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
        let auth = Auth::open(dir.path(), vec![]).unwrap();
        let blobs = DirBlobStore::open(&dir.path().join("blobs")).unwrap();
        let e = Engine::with_stores(cfg, Arc::new(MemoryStore::new()), Arc::new(blobs), auth, vec![]).unwrap();
        let d = DomainName::new("dom").unwrap();
        let (a, b) = (RepositoryName::new("ra").unwrap(), RepositoryName::new("rb").unwrap());
        e.create_domain(&d, None).unwrap();
        e.create_repository(&d, None, &a, None, vec![]).unwrap();
        e.create_repository(&d, None, &b, None, vec![]).unwrap();
        let (ca, cb) = (e.repo_ctx(&d, None, &a).unwrap(), e.repo_ctx(&d, None, &b).unwrap());
        let pkg = PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("pkg").unwrap() };
        let rec = PackageVersionRecord {
            version: Version::new("1.0.0").unwrap(),
            status: PackageVersionStatus::Unlisted,
            revision: "rev-1".into(),
            assets: vec![],
            metadata: serde_json::json!({"name": "pkg"}),
            published_time: "2026-01-01T00:00:00Z".into(),
            origin: Origin::Internal { repository: a.clone() },
        };
        e.write(|tx| {
            catalog::put_version(tx, &d, &a, &pkg, &rec)?;
            let tags = [("next".to_string(), "1.0.0".to_string())].into_iter().collect();
            catalog::put_package(tx, &d, &a, &pkg, &PackageRecord { tags, ..Default::default() })?;
            Ok(())
        })
        .unwrap();
        let sel = vec![(rec.version.clone(), None)];
        let err = e.copy_versions(&ca, &ca, &pkg, &sel, CopyOptions::default());
        assert!(matches!(err, Err(EngineError::Validation(_))));

        let r = e.copy_versions(&ca, &cb, &pkg, &sel, CopyOptions::default()).unwrap();
        // The status is kept: an Unlisted version stays Unlisted in the destination.
        assert_eq!(r.successful["1.0.0"].status, Some(PackageVersionStatus::Unlisted));
        let copied = e.read(|tx| Ok::<_, EngineError>(catalog::version(tx, &d, &b, &pkg, &rec.version)?)).unwrap();
        assert_eq!(copied.as_ref().map(|c| (&c.assets, &c.revision)), Some((&rec.assets, &rec.revision)));
        assert_eq!(e.describe_package(&cb, &pkg).unwrap().tags["next"], "1.0.0");
        // Again: identical, so left out of the result.
        let r = e.copy_versions(&ca, &cb, &pkg, &sel, CopyOptions::default()).unwrap();
        assert!(r.successful.is_empty() && r.failed.is_empty());
    }
}
