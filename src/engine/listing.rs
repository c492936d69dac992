//! ListPackages and ListPackageVersions: filters, order and resumable pages.
//!
//! Both cursors are positions, not rows. A package cursor is the last package returned and
//! the next page starts strictly after its key, whether or not it still exists. A version
//! cursor is the last version's sort key (its published time when sorted by time, and its
//! version), so deleting that version between pages neither ends nor repeats the listing.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::error::{EngineError, Result};
use super::packages::{package_exists, package_missing};
use super::{Engine, RepoCtx};
use crate::model::{
    Origin, PackageFormat, PackageId, PackageRecord, PackageVersionRecord, PackageVersionStatus, Version,
};
use crate::store::catalog::{self, PackageQuery};

/// A ListPackages request.
#[derive(Debug, Clone, Default)]
pub struct PackageListing {
    /// Only this format.
    pub format: Option<PackageFormat>,
    /// Only namespaces starting with this (needs `format`, as CodeArtifact requires).
    pub namespace: Option<String>,
    /// Only names starting with this (in the format's normal form).
    pub name_prefix: Option<String>,
    /// Page size.
    pub limit: usize,
    /// The previous page's `next` cursor.
    pub cursor: Option<Vec<u8>>,
}

/// One page of packages.
#[derive(Debug, Clone)]
pub struct PackagePage {
    /// The packages, in (format, namespace, name) order, with their records.
    pub packages: Vec<(PackageId, PackageRecord)>,
    /// Where the next page starts, when there is one.
    pub next: Option<Vec<u8>>,
}

/// How ListPackageVersions orders versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionOrder {
    /// Highest version first, by the format's version order (the default).
    #[default]
    Version,
    /// Most recently published first (`sortBy=PUBLISHED_TIME`).
    PublishedTime,
}

/// Which origin ListPackageVersions keeps (`originType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginType {
    /// Published to a repository of the domain.
    Internal,
    /// Ingested from an external connection.
    External,
    /// Neither is known (no stored version has an unknown origin).
    Unknown,
}

/// A ListPackageVersions request.
#[derive(Debug, Clone, Default)]
pub struct VersionListing {
    /// Only this status; `None`: the listed statuses only (Published), as the guide says.
    pub status: Option<PackageVersionStatus>,
    /// Only this origin.
    pub origin_type: Option<OriginType>,
    /// The order.
    pub order: VersionOrder,
    /// Page size.
    pub limit: usize,
    /// The previous page's `next` cursor.
    pub cursor: Option<Vec<u8>>,
}

/// One page of versions.
#[derive(Debug, Clone)]
pub struct VersionPage {
    /// The versions of this page.
    pub versions: Vec<PackageVersionRecord>,
    /// `defaultDisplayVersion`: the format's choice among the listed versions.
    pub default_display: Option<Version>,
    /// Where the next page starts, when there is one.
    pub next: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct VersionCursor {
    order: VersionOrder,
    /// Published time in nanoseconds since the epoch (time order only).
    time: Option<i128>,
    version: Version,
}

fn bad_token() -> EngineError {
    EngineError::Validation("nextToken: invalid pagination token".into())
}

/// An RFC 3339 time as nanoseconds, so `…:00.5Z` and `…:00Z` compare as times, not text.
/// An unreadable time sorts as the oldest.
fn time_key(rfc3339: &str) -> i128 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_or(i128::MIN, |t| t.unix_timestamp_nanos())
}

impl Engine {
    /// One page of ListPackages. `keep` filters on the package record (origin restrictions);
    /// packages with a stored version or a set origin configuration are listed.
    pub fn list_packages_page(
        &self,
        ctx: &RepoCtx,
        q: &PackageListing,
        keep: &dyn Fn(&PackageId, &PackageRecord) -> bool,
    ) -> Result<PackagePage> {
        if q.namespace.is_some() && q.format.is_none() {
            return Err(EngineError::Validation("namespace: a namespace filter needs a format".into()));
        }
        let after =
            q.cursor.as_deref().map(|c| serde_json::from_slice::<PackageId>(c).map_err(|_| bad_token())).transpose()?;
        let prefix_of = |f: PackageFormat| {
            let p = q.name_prefix.as_deref().unwrap_or_default();
            self.format(f).map_or_else(|| p.to_string(), |fmt| fmt.api_name_prefix(p))
        };
        let query = PackageQuery {
            format: q.format,
            namespace_prefix: q.namespace.as_deref(),
            name_prefix: q.name_prefix.as_ref().map(|_| &prefix_of as &dyn Fn(PackageFormat) -> String),
        };
        // One more than asked: a full page says whether another follows, so the last page
        // carries no token and the client needs no empty extra request.
        let mut packages = self.read(|tx| {
            Ok::<_, EngineError>(catalog::packages_matching(
                tx,
                &ctx.domain,
                &ctx.repo.name,
                &query,
                after.as_ref(),
                q.limit.saturating_add(1),
                &mut |tx, id, rec| Ok(keep(id, rec) && package_exists(tx, ctx, id, rec)?),
            )?)
        })?;
        let next = if packages.len() > q.limit {
            packages.truncate(q.limit);
            let last = packages.last().map(|(id, _)| serde_json::to_vec(id)).transpose();
            last.map_err(|e| EngineError::Internal(format!("cursor: {e}")))?
        } else {
            None
        };
        Ok(PackagePage { packages, next })
    }

    /// Packages of one format (or all) stored in a repository, in (format, namespace, name)
    /// order, for callers that want them all (the PyPI project list, tooling); the format's
    /// key range is all that is read.
    pub fn list_packages(
        &self,
        ctx: &RepoCtx,
        format: Option<PackageFormat>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<PackageId>, Option<Vec<u8>>)> {
        let q = PackageListing { format, limit, cursor: after.map(<[u8]>::to_vec), ..Default::default() };
        let page = self.list_packages_page(ctx, &q, &|_, _| true)?;
        Ok((page.packages.into_iter().map(|(id, _)| id).collect(), page.next))
    }

    /// Test and tooling hook: the versions stored in a repository, by package.
    pub fn stored_versions(&self, ctx: &RepoCtx) -> Result<Vec<(PackageId, Vec<Version>)>> {
        let (pkgs, _) = self.list_packages(ctx, None, None, usize::MAX)?;
        let mut out = Vec::new();
        for p in pkgs {
            let (vs, _) = self.list_package_versions(ctx, &p)?;
            out.push((p, vs.into_iter().map(|r| r.version).collect()));
        }
        Ok(out)
    }

    /// Every version stored in a repository with the package record; upstreams are ignored.
    pub fn list_package_versions(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
    ) -> Result<(Vec<PackageVersionRecord>, PackageRecord)> {
        self.read(|tx| {
            let p = catalog::package(tx, &ctx.domain, &ctx.repo.name, pkg)?.ok_or_else(|| package_missing(ctx, pkg))?;
            Ok((catalog::versions(tx, &ctx.domain, &ctx.repo.name, pkg)?, p))
        })
    }

    /// One page of ListPackageVersions.
    pub fn list_package_versions_page(
        &self,
        ctx: &RepoCtx,
        pkg: &PackageId,
        q: &VersionListing,
    ) -> Result<VersionPage> {
        let cursor = q
            .cursor
            .as_deref()
            .map(|c| serde_json::from_slice::<VersionCursor>(c).map_err(|_| bad_token()))
            .transpose()?;
        if cursor.as_ref().is_some_and(|c| c.order != q.order) {
            return Err(EngineError::Validation("nextToken: the token belongs to another sortBy".into()));
        }
        let (all, rec) = self.list_package_versions(ctx, pkg)?;
        let format = self.format(pkg.format).cloned();
        let cmp_versions = |a: &Version, b: &Version| {
            format
                .as_ref()
                .map_or(Ordering::Equal, |f| f.compare_versions(a, b))
                .then_with(|| a.as_str().cmp(b.as_str()))
        };
        // Descending sort keys, total: ties fall back to the version text.
        let key = |v: &PackageVersionRecord| (time_key(&v.published_time), v.version.clone());
        let order = |a: &(i128, Version), b: &(i128, Version)| match q.order {
            VersionOrder::Version => cmp_versions(&b.1, &a.1),
            VersionOrder::PublishedTime => b.0.cmp(&a.0).then_with(|| cmp_versions(&b.1, &a.1)),
        };

        let mut by_time: Vec<&PackageVersionRecord> = all.iter().filter(|v| v.status.is_listed()).collect();
        by_time.sort_by(|a, b| key(b).0.cmp(&key(a).0).then_with(|| cmp_versions(&b.version, &a.version)));
        let listed: Vec<&Version> = by_time.iter().map(|v| &v.version).collect();
        let default_display = match &format {
            Some(f) => f.default_display_version(&rec.tags, &listed),
            None => listed.first().map(|v| (*v).clone()),
        };

        let mut versions: Vec<PackageVersionRecord> = all
            .into_iter()
            .filter(|v| match q.status {
                Some(s) => v.status == s,
                None => v.status.is_listed(),
            })
            .filter(|v| {
                matches!(
                    (q.origin_type, &v.origin),
                    (None, _)
                        | (Some(OriginType::Internal), Origin::Internal { .. })
                        | (Some(OriginType::External), Origin::External { .. })
                )
            })
            .collect();
        versions.sort_by(|a, b| order(&key(a), &key(b)));
        if let Some(c) = &cursor {
            let at = (c.time.unwrap_or_default(), c.version.clone());
            let start = versions.partition_point(|v| order(&key(v), &at) != Ordering::Greater);
            versions.drain(..start);
        }
        let next = if versions.len() > q.limit {
            versions.truncate(q.limit);
            versions.last().map(|v| {
                let time = (q.order == VersionOrder::PublishedTime).then(|| time_key(&v.published_time));
                serde_json::to_vec(&VersionCursor { order: q.order, time, version: v.version.clone() })
            })
        } else {
            None
        };
        let next = next.transpose().map_err(|e| EngineError::Internal(format!("cursor: {e}")))?;
        Ok(VersionPage { versions, default_display, next })
    }
}
