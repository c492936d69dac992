//! Downloading an upstream version's files: each streamed into a pending blob while it is
//! hashed, checked against what the upstream declared, looked inside by the format, and only
//! when every file passed, committed. A version with one bad file stores nothing.

use serde_json::Value;

use super::error::{EngineError, Result, UpstreamFailure};
use super::format::{UpstreamAsset, UpstreamVersion};
use super::packages::asset_from_digests;
use super::upstream::Fetched;
use super::upstream::Urgency;
use super::Engine;
use crate::model::{Asset, PackageId};
use crate::store::PendingBlob;

/// A downloaded version not committed yet: its file records, their blobs (files and companion
/// blobs) and its metadata.
pub(super) struct StagedVersion {
    pub(super) assets: Vec<Asset>,
    pub(super) blobs: Vec<Box<dyn PendingBlob>>,
    pub(super) metadata: Value,
}

impl Engine {
    /// The files of `uv` from `conn` (teed to the clients of job `tee_job`), verified and staged, and the version's metadata (the
    /// upstream's, or what the format read from a file when the upstream gave none). The
    /// caller commits the blobs with the version write (`Engine::commit_referencing`).
    pub(super) async fn download_version(
        &self,
        conn: &str,
        pkg: &PackageId,
        uv: &UpstreamVersion,
        urgency: &Urgency,
        tee_job: Option<&str>,
    ) -> Result<StagedVersion> {
        if !self.upstreams.contains_key(conn) {
            return Err(self.unconfigured(conn, pkg));
        }
        let what = format!("{pkg}@{}", uv.version);
        // Every file is downloaded and verified before any becomes visible: a version with one
        // bad file stores nothing.
        let mut staged = Vec::with_capacity(uv.assets.len());
        let mut metadata = uv.metadata.clone().into_value();
        let format = self.format(pkg.format).cloned();
        let optional = |a: &UpstreamAsset| format.as_ref().is_some_and(|f| f.asset_optional(&a.name));
        let mut todo: std::collections::VecDeque<UpstreamAsset> = uv.assets.iter().cloned().collect();
        let mut revised = false;
        while let Some(a) = todo.pop_front() {
            let a = &a;
            let f = FileFetch { conn, pkg, what: &what, a, optional: optional(a) };
            let Some(pending) = self.fetch_file(&f, urgency, tee_job).await? else { continue };
            let mut core = None;
            if let Some(found) = self.inspect_pending(pkg, &a.name, pending.reader()).await {
                core = found.core_metadata;
                if metadata.is_null() {
                    metadata = found.metadata.unwrap_or(serde_json::Value::Null);
                }
            }
            staged.push((a.name.clone(), pending, a.attributes.clone(), core));
            // Once the metadata is known (Maven: from the POM, the first file), the format
            // may correct the files still to fetch.
            if !revised && !metadata.is_null() {
                if let Some(f) = &format {
                    todo = f.revise_assets(&metadata, todo.into_iter().collect()).into();
                }
                revised = true;
            }
        }
        let mut assets = Vec::with_capacity(staged.len());
        let mut blobs = Vec::with_capacity(staged.len());
        for (name, pending, mut attributes, core) in staged {
            if let Some(core) = core {
                let companion = self.stage_companion(&core).await?;
                attributes.core_metadata = Some(companion.digests().sha256);
                blobs.push(companion);
            }
            let mut asset = asset_from_digests(name, pending.digests());
            asset.attributes = attributes;
            blobs.push(pending);
            assets.push(asset);
        }
        Ok(StagedVersion { assets, blobs, metadata })
    }

    /// Downloads one upstream file into a pending blob and checks it against every checksum
    /// the upstream declares (inline, or in side files when the format says so). `Ok(None)`:
    /// an optional file the upstream does not have.
    pub(super) async fn download_file(
        &self,
        conn: &str,
        pkg: &PackageId,
        what: &str,
        a: &UpstreamAsset,
        optional: bool,
        urgency: &Urgency,
    ) -> Result<Option<Box<dyn PendingBlob>>> {
        self.fetch_file(&FileFetch { conn, pkg, what, a, optional }, urgency, None).await
    }

    /// `download_file`, publishing the bytes to clients of job `tee_job` as they arrive
    /// (`tee.rs`); the tee is told the file passed only after every check below.
    async fn fetch_file(
        &self,
        f: &FileFetch<'_>,
        urgency: &Urgency,
        tee_job: Option<&str>,
    ) -> Result<Option<Box<dyn PendingBlob>>> {
        let FileFetch { conn, pkg, what, a, optional } = *f;
        let up = self.upstreams.get(conn).ok_or_else(|| self.unconfigured(conn, pkg))?;
        let mut resp = match up.get_asset(&a.url, urgency).await {
            Ok(r) => r,
            Err(e) if optional && matches!(e.failure, UpstreamFailure::Status(404 | 410)) => return Ok(None),
            Err(e) => return Err(EngineError::upstream(what, e)),
        };
        // Side files are fetched after the body: such formats answer once stored.
        let sidecars = self.format(pkg.format).is_some_and(|f| f.checksum_sidecars());
        let tee = tee_job.filter(|_| !sidecars).and_then(|job| {
            let declared = a.sha256.as_ref().map(|s| s.to_ascii_lowercase());
            self.jobs.tees.start(job, &a.name, resp.content_length(), declared)
        });
        let mut w = self.blobs.begin().await?;
        while let Some(chunk) = resp.chunk().await.map_err(|e| EngineError::upstream(what, up.transport_error(e)))? {
            w.write(&chunk).await?;
            if let Some(t) = &tee {
                t.push(&chunk);
            }
        }
        let pending = w.finish().await?;
        let d = pending.digests();
        let mismatch = |declared: &str| {
            EngineError::upstream(
                what,
                up.error(
                    UpstreamFailure::Invalid(format!("{} does not match the upstream's declared {declared}", a.name)),
                    None,
                ),
            )
        };
        if a.sha512.as_ref().is_some_and(|s| s != &d.sha512) {
            return Err(mismatch("sha512 integrity"));
        }
        if a.sha1.as_ref().is_some_and(|s| !s.eq_ignore_ascii_case(&d.sha1)) {
            return Err(mismatch("sha1 shasum"));
        }
        if a.sha256.as_ref().is_some_and(|s| !s.eq_ignore_ascii_case(&d.sha256.hex())) {
            return Err(mismatch("sha256"));
        }
        if a.size.is_some_and(|s| s != d.size) {
            return Err(mismatch("size"));
        }
        if self.format(pkg.format).is_some_and(|f| f.checksum_sidecars()) {
            // The strongest side file the upstream has decides; one that is absent is no
            // claim, one that disagrees stops the file (and so the version) from being stored.
            for (ext, actual) in
                [("sha512", hex::encode(&d.sha512)), ("sha256", d.sha256.hex()), ("sha1", d.sha1.clone())]
            {
                let url = format!("{}.{ext}", a.url);
                let fetched = up.get_metadata(&url, "text/plain", None, urgency).await;
                let body = match fetched.map_err(|e| EngineError::upstream(what, e))? {
                    Fetched::Found { body, .. } => body,
                    _ => continue,
                };
                // `<hex>` or `<hex>  <file name>` (sha1sum's form).
                let text = String::from_utf8_lossy(&body);
                let declared = text.split_whitespace().next().unwrap_or("");
                if !declared.eq_ignore_ascii_case(&actual) {
                    return Err(mismatch(&format!("{ext} side file")));
                }
                break;
            }
        }
        if let Some(t) = tee {
            t.verified();
        }
        Ok(Some(pending))
    }
}

/// One upstream file to fetch for a version.
#[derive(Clone, Copy)]
pub(super) struct FileFetch<'a> {
    pub(super) conn: &'a str,
    pub(super) pkg: &'a PackageId,
    /// `<package>@<version>`, for errors.
    pub(super) what: &'a str,
    pub(super) a: &'a UpstreamAsset,
    /// A 404 or 410 means "no such file", not a failure.
    pub(super) optional: bool,
}
