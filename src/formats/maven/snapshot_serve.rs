//! GETs in a snapshot directory (`1.0-SNAPSHOT/`). The alias version `1.0-SNAPSHOT` holds the
//! current build's files under their timestamped names; earlier builds stay as Unlisted
//! versions of their own. So a timestamped name is served from the alias when it is the
//! current build, else from its build (an Unlisted build is still served by exact name, an
//! Unfinished one never); `lib-1.0-SNAPSHOT[-classifier].ext` is the current build's matching
//! file; the snapshot-level `maven-metadata.xml` is rendered from the alias version.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use time::format_description::well_known::Rfc3339;

use super::routes::{checksum_of_asset, checksum_response, content_type, digest_hex, LAST_UPDATED};
use super::snapshot;
use crate::engine::{Engine, EngineError, Rendered, RepoCtx, ResourceType};
use crate::formats::http::{send_blob, send_rendered};
use crate::model::{Asset, AssetName, PackageId, Version};

/// Whether a file request is in a snapshot directory (a build or the alias).
pub(super) fn is_snapshot_file(version: &Version) -> bool {
    snapshot::is_alias(version.as_str()) || snapshot::alias_of(version).is_some()
}

/// Which stored version and asset name answer a request for `asset` of `version`.
async fn locate(
    engine: &Arc<Engine>,
    ctx: &RepoCtx,
    pkg: &PackageId,
    version: &Version,
    asset: &AssetName,
) -> Result<(Version, Asset), EngineError> {
    if let Some(alias) = snapshot::alias_of(version) {
        // The current build lives in the alias (its build version may have been deleted).
        return match engine.version_asset(ctx, pkg, &alias, asset).await {
            Ok(a) => Ok((alias, a)),
            Err(EngineError::NotFound { .. }) => {
                Ok((version.clone(), engine.version_asset(ctx, pkg, version, asset).await?))
            }
            Err(e) => Err(e),
        };
    }
    // `lib-1.0-SNAPSHOT-sources.jar` → the alias's file with the same classifier and extension.
    let rec = engine.resolve_version(ctx, pkg, version).await?;
    let artifact = pkg.name.as_str();
    let tail = asset.as_str().strip_prefix(&format!("{artifact}-{version}")).unwrap_or_default();
    rec.assets
        .into_iter()
        .find(|a| matches!(snapshot::build_of_file(artifact, version.as_str(), a.name.as_str()), Ok(Some((_, t))) if t == tail))
        .map(|a| (version.clone(), a))
        .ok_or_else(|| {
            EngineError::not_found(ResourceType::Asset, asset.as_str(), format!("asset {asset} of {pkg}@{version} not found"))
        })
}

/// A file (or its side file) in a snapshot directory.
pub(super) async fn file(
    engine: &Arc<Engine>,
    ctx: &RepoCtx,
    pkg: &PackageId,
    version: &Version,
    asset: &AssetName,
    checksum: Option<&'static str>,
    headers: &HeaderMap,
) -> Result<Response, EngineError> {
    let (v, a) = locate(engine, ctx, pkg, version, asset).await?;
    if let Some(kind) = checksum {
        return Ok(checksum_of_asset(&a, kind));
    }
    let body = engine.fetch_asset(ctx, pkg, Some(&v), &a.name).await?;
    Ok(send_blob(body, content_type(asset.as_str()), headers))
}

/// The snapshot-level `maven-metadata.xml` (or a side file), from the alias version; 404 when
/// there is none yet (`mvn deploy` asks before numbering its first build).
pub(super) async fn metadata(
    engine: &Arc<Engine>,
    ctx: &RepoCtx,
    pkg: &PackageId,
    alias: &Version,
    checksum: Option<&'static str>,
    headers: &HeaderMap,
) -> Result<Response, EngineError> {
    let rec = engine.resolve_version(ctx, pkg, alias).await?;
    let updated = time::OffsetDateTime::parse(&rec.published_time, &Rfc3339)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .to_offset(time::UtcOffset::UTC)
        .format(LAST_UPDATED)
        .unwrap_or_default();
    let group = pkg.namespace.as_ref().map(|n| n.as_str()).unwrap_or("");
    let body = snapshot::render_metadata(group, pkg.name.as_str(), alias.as_str(), &rec.assets, &updated);
    // Small and rendered per request: the ETag is still a digest of exactly these bytes.
    Ok(match checksum {
        Some(kind) => checksum_response(&digest_hex(kind, &body)),
        None => send_rendered(&Rendered::new(body), "text/xml", headers),
    })
}
