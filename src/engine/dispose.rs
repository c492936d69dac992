//! DisposePackageVersions: the named versions of `ctx`'s repository become Disposed, from any
//! status, irreversibly. The record stays (ListPackageVersions with `--status Disposed`,
//! DescribePackageVersion) with no assets, so it is neither listed nor downloadable on the
//! wire, and its bytes leave the blob store once no other version references them: the
//! digests are recorded for the collector in the same transaction (`engine/gc.rs`).
//! All-or-nothing with NOT_FOUND / MISMATCHED_STATUS / MISMATCHED_REVISION / SKIPPED, like
//! the other version operations (`engine/status.rs`).

use super::error::{EngineError, Result};
use super::events::{self, EventSource};
use super::status::{VersionOutcome, VersionSelection, VersionsResult};
use super::{Engine, RepoCtx};
use crate::model::{PackageId, PackageVersionStatus};
use crate::store::catalog;

impl Engine {
    /// Disposes of the named versions stored in `ctx`'s repository. The revision is kept, as
    /// the guide's example reports it.
    pub fn dispose_versions(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        versions: &VersionSelection,
        expected: Option<PackageVersionStatus>,
    ) -> Result<VersionsResult> {
        if versions.is_empty() {
            return Err(EngineError::Validation("versions: at least one version is required".into()));
        }
        let now = crate::model::now_rfc3339();
        let out = self.write(|tx| {
            let mut res = VersionsResult::default();
            let mut found = Vec::new();
            for (v, rev) in versions {
                let Some(rec) = res.expected_version(tx, ctx, pkg, v, expected)? else { continue };
                if !res.revision_mismatch(&rec, rev.as_ref()) {
                    found.push(rec);
                }
            }
            if res.skip_rest(found.iter().map(|r| &r.version), |v| format!("version {v} is skipped")) {
                return Ok(res);
            }
            for mut rec in found {
                let before = rec.clone();
                catalog::release_blobs(tx, catalog::record_blobs(&rec))?;
                rec.assets.clear();
                rec.status = PackageVersionStatus::Disposed;
                catalog::put_version(tx, &ctx.domain, &ctx.repo.name, pkg, &rec)?;
                events::record(tx, &EventSource::of(ctx), pkg, Some(&before), Some(&rec), &now)?;
                res.successful.insert(
                    rec.version.to_string(),
                    VersionOutcome { revision: rec.revision, status: Some(PackageVersionStatus::Disposed) },
                );
            }
            Ok(res)
        })?;
        if !out.successful.is_empty() {
            self.gens.bump_package(ctx.domain.as_str(), pkg);
            self.gc.wake();
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, versions = out.successful.len(), "disposed");
        }
        Ok(out)
    }
}
