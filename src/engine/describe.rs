//! The read-only package operations of the management API (DescribePackage,
//! DescribePackageVersion, the asset list and download, dependencies, readme). Like the
//! listings, they read one repository only: a version its upstreams or external connection
//! have but it does not is not found here, and nothing is retained or ingested.

use std::sync::Arc;

use super::error::{EngineError, ResourceType, Result};
use super::packages::{package_missing, version_missing, AssetBody};
use super::{Engine, Format, RepoCtx};
use crate::model::{
    Asset, Namespace, PackageFormat, PackageId, PackageName, PackageRecord, PackageVersionRecord, Version,
};
use crate::store::catalog;

/// An asset opened for GetPackageVersionAsset, with the version it belongs to.
pub struct StoredAsset {
    /// The version record (its revision goes into a response header).
    pub version: PackageVersionRecord,
    /// The asset.
    pub asset: Asset,
    /// Its bytes.
    pub body: AssetBody,
}

impl Engine {
    fn served(&self, f: PackageFormat) -> Result<&Arc<dyn Format>> {
        self.format(f).ok_or_else(|| EngineError::Validation(format!("format: {f} is not served")))
    }

    /// The stored id of a package named in a management request, the format's name rules
    /// applied (PyPI accepts any spelling of a project name). A format Depot does not serve
    /// yet keeps the name as given (its packages are simply not found).
    pub fn api_package(&self, f: PackageFormat, namespace: Option<&str>, name: &str) -> Result<PackageId> {
        let id = match self.format(f) {
            Some(format) => format.api_package_id(namespace, name),
            None => Some(PackageId {
                format: f,
                namespace: namespace.map(Namespace::new).transpose()?,
                name: PackageName::new(name)?,
            }),
        };
        id.ok_or_else(|| EngineError::Validation(format!("package: {name} is not a valid {f} package name")))
    }

    /// A version named in a management request, as the format stores it.
    pub fn api_version(&self, f: PackageFormat, v: &str) -> Result<Version> {
        let version = match self.format(f) {
            Some(format) => format.api_version(v),
            None => Some(Version::new(v)?),
        };
        version.ok_or_else(|| EngineError::Validation(format!("packageVersion: {v} is not a valid {f} version")))
    }

    /// A package of `ctx`'s repository as ListPackages lists it: with at least one version,
    /// or with an origin configuration set.
    pub fn describe_package(&self, ctx: &RepoCtx, pkg: &PackageId) -> Result<PackageRecord> {
        self.read(|tx| {
            let rec =
                catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.ok_or_else(|| package_missing(ctx, pkg))?;
            if !super::packages::package_exists(tx, ctx, pkg, &rec)? {
                return Err(package_missing(ctx, pkg));
            }
            Ok(rec)
        })
    }

    /// A version stored in `ctx`'s repository, whatever its status.
    pub fn stored_version(&self, ctx: &RepoCtx, pkg: &PackageId, v: &Version) -> Result<PackageVersionRecord> {
        self.read(|tx| {
            catalog::version(tx, &ctx.domain, &ctx.repo.name, pkg, v)?.ok_or_else(|| version_missing(ctx, pkg, v))
        })
    }

    /// Opens an asset of a stored version by its stored or API name. With `revision`, the
    /// version must still have it (ConflictException otherwise, so a client that looked at a
    /// revision never gets the bytes of another).
    pub async fn open_stored_asset(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        v: &Version,
        name: &str,
        revision: Option<&str>,
    ) -> Result<StoredAsset> {
        let format = self.served(pkg.format)?.clone();
        let rec = self.stored_version(ctx, pkg, v)?;
        if let Some(r) = revision {
            if r != rec.revision {
                return Err(EngineError::conflict(
                    ResourceType::PackageVersion,
                    format!("{pkg}@{v}"),
                    format!("version {v} of package {pkg} does not have revision {r} (it has {})", rec.revision),
                ));
            }
        }
        let missing =
            || EngineError::not_found(ResourceType::Asset, name, format!("asset {name} of {pkg}@{v} not found"));
        // Archived and disposed versions keep their record, not their downloads.
        if !rec.status.is_downloadable() {
            return Err(missing());
        }
        let asset = rec
            .assets
            .iter()
            .find(|a| a.name.as_str() == name)
            .or_else(|| rec.assets.iter().find(|a| format.api_asset_name(&a.name) == name))
            .cloned()
            .ok_or_else(missing)?;
        let Some(blob) = self.blobs.open(&asset.sha256).await? else {
            return Err(self.missing_blob(&ctx.domain, pkg, v, &asset));
        };
        let body = AssetBody { size: blob.size, sha256: Some(asset.sha256), bytes: blob.bytes };
        Ok(StoredAsset { version: rec, asset, body })
    }
}
