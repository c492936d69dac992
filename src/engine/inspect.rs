//! Looking inside a file before it is stored (`Format::inspect_asset`), and keeping what a
//! format finds there: version metadata, and core metadata as a blob of its own (PEP 658).

use std::sync::Arc;

use super::error::{EngineError, ResourceType, Result};
use super::format::Inspection;
use super::packages::AssetBody;
use super::{Engine, RepoCtx};
use crate::model::{AssetName, PackageId, Version};
use crate::store::{PendingBlob, ReadSeek, StoreError};

impl Engine {
    /// What the format learns from a staged file (read back through `PendingBlob::reader`); `None` when it has nothing to say or the
    /// file cannot be read (an ingested file's bytes already match what its upstream declared,
    /// so a format's objection is logged, not fatal).
    pub(super) async fn inspect_pending(
        &self,
        pkg: &PackageId,
        name: &AssetName,
        reader: std::result::Result<Box<dyn ReadSeek>, StoreError>,
    ) -> Option<Inspection> {
        let format = self.format(pkg.format)?.clone();
        let mut reader = match reader {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(pkg.name = %pkg, asset = %name, error = %e, "cannot read a staged file back");
                return None;
            }
        };
        let (p, n) = (pkg.clone(), name.clone());
        let inspected = tokio::task::spawn_blocking(move || format.inspect_asset(&p, &n, &mut *reader)).await;
        match inspected {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::info!(pkg.name = %pkg, asset = %name, error = %e, "file not inspected");
                None
            }
            Err(e) => {
                tracing::warn!(pkg.name = %pkg, asset = %name, error = %e, "inspection task failed");
                None
            }
        }
    }

    /// Stages a small derived document (core metadata) as a blob; its SHA-256 is its name.
    /// The caller commits it with the file it belongs to (`Engine::commit_referencing`).
    pub(super) async fn stage_companion(&self, bytes: &[u8]) -> Result<Box<dyn PendingBlob>> {
        let mut w = self.blobs.begin().await?;
        w.write(bytes).await?;
        Ok(w.finish().await?)
    }

    /// The core metadata (PEP 658) of a file of `version`, resolving (and ingesting) the
    /// version as a download would.
    pub async fn fetch_core_metadata(
        self: &Arc<Self>,
        ctx: &RepoCtx,
        pkg: &PackageId,
        version: &Version,
        asset: &AssetName,
    ) -> Result<AssetBody> {
        let missing = || {
            EngineError::not_found(
                ResourceType::Asset,
                format!("{asset}.metadata"),
                format!("no core metadata for {asset} of {pkg}@{version}"),
            )
        };
        let rec = self.resolve_version(ctx, pkg, version).await?;
        let sha = rec
            .assets
            .iter()
            .find(|a| &a.name == asset)
            .and_then(|a| a.attributes.core_metadata)
            .ok_or_else(missing)?;
        let body = self.blobs.open(&sha).await?.ok_or_else(missing)?;
        Ok(AssetBody { size: body.size, sha256: Some(sha), bytes: body.bytes })
    }
}
