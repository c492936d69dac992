//! DisposePackageVersions: the named versions of `ctx`'s repository become Disposed, from any
//! status, irreversibly. The record stays (ListPackageVersions with `--status Disposed`,
//! DescribePackageVersion) with no assets, so it is neither listed nor downloadable on the
//! wire, and its bytes leave the blob store once no other version references them: the
//! digests are recorded for the collector in the same transaction (`engine/gc.rs`).
//! All-or-nothing with NOT_FOUND / MISMATCHED_STATUS / MISMATCHED_REVISION / SKIPPED, like
//! the other version operations (`engine/status.rs`).

use super::error::Result;
use super::status::{Change, VersionSelection, VersionsResult};
use super::{Engine, RepoCtx};
use crate::model::{PackageId, PackageVersionStatus};

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
        let out = self.change_versions(ctx, pkg, versions, expected, Change::Dispose)?;
        if !out.successful.is_empty() {
            tracing::info!(repo.name = %ctx.repo.name, pkg.name = %pkg, versions = out.successful.len(), "disposed");
        }
        Ok(out)
    }
}
