//! The package write operations of the management API: UpdatePackageVersionsStatus,
//! DeletePackageVersions and DeletePackage. Each is one transaction over the named
//! repository only (upstreams are ignored), and bumps the package generation so views and
//! ready pages rebuild. Version operations are all-or-nothing, as the guide's examples show:
//! when any named version fails, nothing changes and the others are reported `SKIPPED`.
//! Deletes record the blobs they stop referencing for the collector (`engine/gc.rs`).

use std::collections::BTreeMap;

use super::error::{EngineError, Result};
use super::events::{self, EventSource};
use super::packages::package_missing;
use super::{Engine, RepoCtx};
use crate::model::{PackageId, PackageVersionRecord, PackageVersionStatus, Version};
use crate::store::catalog;

/// Why one named version was not changed (CodeArtifact's `PackageVersionErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionFailure {
    /// Not stored in the repository.
    NotFound,
    /// Its status is not the request's `expectedStatus`.
    MismatchedStatus,
    /// Its revision is not the one the request named.
    MismatchedRevision,
    /// Another named version failed, so this one was left alone.
    Skipped,
    /// The change is not allowed from the version's status (a disposed version has no
    /// bytes left to publish; it can only be deleted).
    NotAllowed,
    /// A different version of the same name is already in the copy's destination.
    AlreadyExists,
}

impl VersionFailure {
    /// The wire `errorCode`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::MismatchedStatus => "MISMATCHED_STATUS",
            Self::MismatchedRevision => "MISMATCHED_REVISION",
            Self::Skipped => "SKIPPED",
            Self::NotAllowed => "NOT_ALLOWED",
            Self::AlreadyExists => "ALREADY_EXISTS",
        }
    }
}

/// A version that was changed: its revision and its status afterwards (`None`: deleted).
#[derive(Debug, Clone)]
pub struct VersionOutcome {
    /// The version's revision (unchanged by a status change).
    pub revision: String,
    /// The new status, or `None` when the version was deleted.
    pub status: Option<PackageVersionStatus>,
}

/// The per-version result of a version operation.
#[derive(Debug, Clone, Default)]
pub struct VersionsResult {
    /// Changed versions.
    pub successful: BTreeMap<String, VersionOutcome>,
    /// Unchanged versions with the reason and a message.
    pub failed: BTreeMap<String, (VersionFailure, String)>,
}

impl VersionsResult {
    /// Reads version `v` for a change, recording NOT_FOUND when it is not stored, or
    /// MISMATCHED_STATUS when its status is not `expected`; `Some` only when neither.
    pub(super) fn expected_version(
        &mut self,
        tx: &dyn crate::store::ReadTxn,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        expected: Option<PackageVersionStatus>,
    ) -> Result<Option<PackageVersionRecord>> {
        let Some(rec) = catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)? else {
            self.failed
                .insert(v.to_string(), (VersionFailure::NotFound, format!("version {v} of package {pkg} not found")));
            return Ok(None);
        };
        if let Some(e) = expected.filter(|e| *e != rec.status) {
            let msg = format!("current status: {}, expected status: {}", rec.status.as_str(), e.as_str());
            self.failed.insert(v.to_string(), (VersionFailure::MismatchedStatus, msg));
            return Ok(None);
        }
        Ok(Some(rec))
    }

    /// Records that `rec` failed because its revision is not the requested one, if so.
    pub(super) fn revision_mismatch(&mut self, rec: &PackageVersionRecord, wanted: Option<&String>) -> bool {
        let Some(w) = wanted.filter(|w| **w != rec.revision) else { return false };
        let msg = format!("current revision: {}, expected revision: {w}", rec.revision);
        self.failed.insert(rec.version.to_string(), (VersionFailure::MismatchedRevision, msg));
        true
    }

    /// All-or-nothing: when any named version failed, every other one is reported skipped
    /// (`message` words it) and the caller changes nothing. True when that happened.
    pub(super) fn skip_rest<'a>(
        &mut self,
        others: impl IntoIterator<Item = &'a Version>,
        message: impl Fn(&Version) -> String,
    ) -> bool {
        if self.failed.is_empty() {
            return false;
        }
        for v in others {
            self.failed.insert(v.to_string(), (VersionFailure::Skipped, message(v)));
        }
        true
    }
}

/// Which versions a request names, with an optional revision each.
pub type VersionSelection = Vec<(Version, Option<String>)>;

/// What a version operation does to each named version.
pub(super) enum Change {
    /// UpdatePackageVersionsStatus (never to a Disposed version).
    Status(PackageVersionStatus),
    /// DisposePackageVersions (`dispose.rs`).
    Dispose,
    /// DeletePackageVersions.
    Delete,
}

impl Engine {
    /// Sets `target` on the named versions stored in `ctx`'s repository. Unfinished and
    /// Disposed are not targets (Disposed belongs to DisposePackageVersions).
    pub fn update_versions_status(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        versions: &VersionSelection,
        expected: Option<PackageVersionStatus>,
        target: PackageVersionStatus,
    ) -> Result<VersionsResult> {
        if !matches!(
            target,
            PackageVersionStatus::Published | PackageVersionStatus::Unlisted | PackageVersionStatus::Archived
        ) {
            return Err(EngineError::Validation(format!(
                "targetStatus: {} is not a valid target (Published, Unlisted or Archived)",
                target.as_str()
            )));
        }
        self.change_versions(ctx, pkg, versions, expected, Change::Status(target))
    }

    /// Removes the named versions from `ctx`'s repository; they may then be published again.
    /// Their bytes leave the blob store once nothing else references them.
    pub fn delete_versions(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        versions: &VersionSelection,
        expected: Option<PackageVersionStatus>,
    ) -> Result<VersionsResult> {
        self.change_versions(ctx, pkg, versions, expected, Change::Delete)
    }

    pub(super) fn change_versions(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        versions: &VersionSelection,
        expected: Option<PackageVersionStatus>,
        change: Change,
    ) -> Result<VersionsResult> {
        if versions.is_empty() {
            return Err(EngineError::Validation("versions: at least one version is required".into()));
        }
        let now = crate::model::now_rfc3339();
        let mut released = false;
        let out = self.write(|tx| {
            let mut found: Vec<PackageVersionRecord> = Vec::new();
            let mut res = VersionsResult::default();
            for (v, rev) in versions {
                let Some(rec) = res.expected_version(tx, ctx, pkg, v, expected)? else { continue };
                if matches!(change, Change::Status(_)) && rec.status == PackageVersionStatus::Disposed {
                    res.failed.insert(
                        v.to_string(),
                        (VersionFailure::NotAllowed, format!("version {v} is disposed; it can only be deleted")),
                    );
                    continue;
                }
                if res.revision_mismatch(&rec, rev.as_ref()) {
                    continue;
                }
                found.push(rec);
            }
            if res.skip_rest(found.iter().map(|r| &r.version), |v| format!("version {v} is skipped")) {
                return Ok(res);
            }
            for mut rec in found {
                let before = rec.clone();
                let status = match change {
                    // Publishing an Unfinished version completes it (an alias too, if the
                    // format names one: the version itself then ends Unlisted).
                    Change::Status(s @ PackageVersionStatus::Published)
                        if rec.status == PackageVersionStatus::Unfinished =>
                    {
                        released |= self.complete_record(tx, ctx, pkg, rec.clone(), &now)?;
                        let done = catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec.version)?;
                        Some(done.map_or(s, |d| d.status))
                    }
                    Change::Status(s) => {
                        rec.status = s;
                        catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
                        events::record(tx, &EventSource::of(ctx), pkg, Some(&before), Some(&rec), &now)?;
                        Some(s)
                    }
                    Change::Dispose => {
                        // The record stays, with no assets; its bytes go once nothing else uses them.
                        catalog::release_blobs(tx, catalog::record_blobs(&rec))?;
                        rec.assets.clear();
                        rec.status = PackageVersionStatus::Disposed;
                        catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
                        events::record(tx, &EventSource::of(ctx), pkg, Some(&before), Some(&rec), &now)?;
                        Some(PackageVersionStatus::Disposed)
                    }
                    Change::Delete => {
                        catalog::release_blobs(tx, catalog::record_blobs(&rec))?;
                        catalog::delete_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec.version)?;
                        events::record(tx, &EventSource::of(ctx), pkg, Some(&before), None, &now)?;
                        None
                    }
                };
                res.successful.insert(rec.version.to_string(), VersionOutcome { revision: rec.revision, status });
            }
            if matches!(change, Change::Delete) {
                // A tag left on a deleted version would come back pointing at whatever is
                // published under that version next; the package record itself stays.
                if let Some(mut p) = catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)? {
                    let before = p.tags.len();
                    p.tags.retain(|_, v| !res.successful.contains_key(v.as_str()));
                    if p.tags.len() != before {
                        catalog::put_package(tx, &ctx.domain, &ctx.repo.name, pkg, &p)?;
                    }
                }
            }
            Ok(res)
        })?;
        if !out.successful.is_empty() {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
            if released || matches!(change, Change::Delete | Change::Dispose) {
                self.gc.wake();
            }
        }
        Ok(out)
    }

    /// Removes a package and every version of it from `ctx`'s repository.
    pub fn delete_package(&self, ctx: &RepoCtx, pkg: &PackageId) -> Result<()> {
        let now = crate::model::now_rfc3339();
        self.write(|tx| {
            if catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.is_none() {
                return Err(package_missing(ctx, pkg));
            }
            for rec in catalog::versions(tx, &ctx.domain, &ctx.repo.name, pkg)? {
                catalog::release_blobs(tx, catalog::record_blobs(&rec))?;
                catalog::delete_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec.version)?;
                events::record(tx, &EventSource::of(ctx), pkg, Some(&rec), None, &now)?;
            }
            catalog::delete_package(tx, &ctx.domain, &ctx.repo.name, pkg)?;
            Ok(())
        })?;
        self.gens.bump_package(ctx.domain.as_str(), pkg);
        self.gc.wake();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Config, MapEnv};
    use crate::engine::Auth;
    use crate::model::{DomainName, Origin, PackageFormat, PackageName, PackageRecord, RepositoryName};
    use crate::store::{DirBlobStore, MemoryStore};

    /// A repository holding `pkg` at 1.0.0 (Disposed) and 2.0.0 (Published, tagged `latest`),
    /// with `beta` on 1.0.0.
    fn setup(dir: &std::path::Path) -> (Arc<Engine>, RepoCtx, PackageId) {
        let cfg = Config::load(Some("bootstrap = []"), &MapEnv::default()).unwrap();
        let auth = Auth::open(dir, vec![]).unwrap();
        let blobs = DirBlobStore::open(&dir.join("blobs")).unwrap();
        let e = Engine::with_stores(cfg, Arc::new(MemoryStore::new()), Arc::new(blobs), auth, vec![]).unwrap();
        let (d, r) = (DomainName::new("dom").unwrap(), RepositoryName::new("repo").unwrap());
        e.create_domain(&d, None).unwrap();
        e.create_repository(&d, None, &r, None, vec![]).unwrap();
        let ctx = e.repo_ctx(&d, None, &r).unwrap();
        let pkg = PackageId { format: PackageFormat::Npm, namespace: None, name: PackageName::new("pkg").unwrap() };
        e.write(|tx| {
            for (v, status) in [("1.0.0", PackageVersionStatus::Disposed), ("2.0.0", PackageVersionStatus::Published)] {
                let rec = PackageVersionRecord {
                    version: Version::new(v).unwrap(),
                    status,
                    revision: format!("rev-{v}"),
                    assets: vec![],
                    metadata: serde_json::Value::Null,
                    published_time: "2026-01-01T00:00:00Z".into(),
                    origin: Origin::Internal { repository: r.clone() },
                };
                catalog::put_version(tx, &d, &r, &pkg, &rec)?;
            }
            let tags = [("latest", "2.0.0"), ("beta", "1.0.0")].map(|(k, v)| (k.to_string(), v.to_string()));
            catalog::put_package(
                tx,
                &d,
                &r,
                &pkg,
                &PackageRecord { tags: tags.into_iter().collect(), ..Default::default() },
            )?;
            Ok(())
        })
        .unwrap();
        (e, ctx, pkg)
    }

    fn sel(vs: &[&str]) -> VersionSelection {
        vs.iter().map(|v| (Version::new(*v).unwrap(), None)).collect()
    }

    #[test]
    fn a_disposed_version_only_deletes_and_deleting_drops_its_tags() {
        let dir = tempfile::tempdir().unwrap();
        let (e, ctx, pkg) = setup(dir.path());
        let r = e
            .update_versions_status(&ctx, &pkg, &sel(&["1.0.0", "2.0.0"]), None, PackageVersionStatus::Published)
            .unwrap();
        assert!(r.successful.is_empty());
        assert_eq!(r.failed["1.0.0"].0, VersionFailure::NotAllowed);
        assert_eq!(r.failed["2.0.0"].0, VersionFailure::Skipped);
        let err = e.update_versions_status(&ctx, &pkg, &sel(&["2.0.0"]), None, PackageVersionStatus::Disposed);
        assert!(matches!(err, Err(EngineError::Validation(_))));

        let r = e.delete_versions(&ctx, &pkg, &sel(&["1.0.0"]), Some(PackageVersionStatus::Disposed)).unwrap();
        assert_eq!(r.successful["1.0.0"].revision, "rev-1.0.0");
        assert!(r.successful["1.0.0"].status.is_none());
        let p = e.describe_package(&ctx, &pkg).unwrap();
        assert_eq!(p.tags.len(), 1, "beta pointed at the deleted version: {:?}", p.tags);
        assert_eq!(p.tags["latest"], "2.0.0");

        e.delete_package(&ctx, &pkg).unwrap();
        assert!(matches!(e.describe_package(&ctx, &pkg), Err(EngineError::NotFound { .. })));
        assert!(matches!(e.delete_package(&ctx, &pkg), Err(EngineError::NotFound { .. })));
    }
}
