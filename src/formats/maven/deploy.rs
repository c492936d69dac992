//! `mvn deploy`'s writes: a `PUT` per file, then its checksum side files, then the
//! artifact-level `maven-metadata.xml`. Files stream into staged blobs and land in an
//! Unfinished version (the engine decides every publish rule); side files are checked against
//! the stored digests and not stored; the metadata completes the versions it lists and is not
//! stored either (Depot renders its own).

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::coords::MavenPath;
use super::errors::{text, MavenError};
use super::{snapshot, xml};
use crate::engine::{Engine, EngineError, PublishAsset, PublishRequest, RepoCtx, StagedBlob};
use crate::model::{AssetName, PackageId, Version};

/// The largest checksum side file or `maven-metadata.xml` accepted (a metadata file lists
/// every version; thousands fit well within this).
const MAX_SMALL_BODY: u64 = 4 * 1024 * 1024;

/// Why a deploy body was refused before the engine saw it.
enum BodyError {
    TooLarge(u64),
    Engine(EngineError),
}

impl From<EngineError> for BodyError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        match self {
            Self::TooLarge(limit) => text(StatusCode::PAYLOAD_TOO_LARGE, &format!("body exceeds {limit} bytes")),
            Self::Engine(e) => MavenError(e).into_response(),
        }
    }
}

fn read_error(e: axum::Error) -> EngineError {
    EngineError::Validation(format!("reading the request body: {e}"))
}

async fn stage(engine: &Engine, body: Body, limit: u64) -> Result<StagedBlob, BodyError> {
    let mut up = engine.begin_upload().await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(read_error)?;
        if up.written().saturating_add(chunk.len() as u64) > limit {
            return Err(BodyError::TooLarge(limit));
        }
        up.write(&chunk).await?;
    }
    Ok(up.finish().await?)
}

async fn small(body: Body, what: &str) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(read_error)?;
        // Metadata and side files are documents, not packages: one over the bound is bad
        // input (400 with the reason), like one that does not parse.
        if (out.len() + chunk.len()) as u64 > MAX_SMALL_BODY {
            return Err(BodyError::Engine(EngineError::Validation(format!(
                "{what} is larger than {MAX_SMALL_BODY} bytes"
            ))));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Handles a `PUT` below the endpoint; `ctx` was authorized for writing from the headers.
pub(crate) async fn put(engine: &std::sync::Arc<Engine>, ctx: &RepoCtx, path: MavenPath, body: Body) -> Response {
    let res = match path {
        // Maven 3 and Gradle deploy snapshots under timestamped names only; a file named
        // after the alias would bypass the builds.
        MavenPath::File { version, .. } if snapshot::is_alias(version.as_str()) => {
            Err(BodyError::Engine(EngineError::Validation(format!(
                "files of {version} are deployed with timestamped names (<base>-<yyyyMMdd.HHmmss>-<build>)"
            ))))
        }
        MavenPath::SnapshotMetadata { checksum: Some(_), .. } => Ok(text(StatusCode::CREATED, "OK")),
        MavenPath::SnapshotMetadata { pkg, version, checksum: None } => {
            put_snapshot_metadata(engine, ctx, &pkg, &version, body).await
        }
        MavenPath::File { pkg, version, asset, checksum: None } => {
            put_file(engine, ctx, pkg, version, asset, body).await
        }
        MavenPath::File { pkg, version, asset, checksum: Some(kind) } => {
            put_checksum(engine, ctx, &pkg, &version, &asset, kind, body).await
        }
        // A metadata side file describes bytes Depot does not keep: accepted, not stored.
        MavenPath::Metadata { checksum: Some(_), .. } => Ok(text(StatusCode::CREATED, "OK")),
        MavenPath::Metadata { pkg, checksum: None } => put_metadata(engine, ctx, &pkg, body).await,
    };
    res.unwrap_or_else(IntoResponse::into_response)
}

async fn put_file(
    engine: &std::sync::Arc<Engine>,
    ctx: &RepoCtx,
    pkg: PackageId,
    version: Version,
    asset: AssetName,
    body: Body,
) -> Result<Response, BodyError> {
    let blob = stage(engine, body, engine.config().server.max_package_bytes).await?;
    // The POM is the version's metadata (what DescribePackageVersion shows); a POM that
    // does not parse is refused rather than published without it.
    let metadata = if asset.as_str().ends_with(".pom") {
        let reader = blob.reader()?;
        let pom = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            let mut reader = reader;
            std::io::Read::read_to_end(&mut *reader, &mut bytes).map(|_| xml::pom(&bytes))
        })
        .await
        .map_err(|e| EngineError::Internal(format!("POM task failed: {e}")))?
        .map_err(|e| EngineError::Internal(format!("reading the staged POM: {e}")))?;
        pom.map_err(|e| EngineError::Validation(format!("{asset} is not a valid POM: {e}")))?
    } else {
        serde_json::Value::Null
    };
    let req = PublishRequest {
        package: pkg,
        version,
        metadata,
        assets: vec![PublishAsset { name: asset, blob, attributes: Default::default(), core_metadata: None }],
        tags: Default::default(),
    };
    let stored = engine.publish_file(ctx, req).await?;
    Ok(if stored { text(StatusCode::CREATED, "Created") } else { text(StatusCode::OK, "OK") })
}

async fn put_checksum(
    engine: &Engine,
    ctx: &RepoCtx,
    pkg: &PackageId,
    version: &Version,
    asset: &AssetName,
    kind: &str,
    body: Body,
) -> Result<Response, BodyError> {
    let body = small(body, &format!("{asset}.{kind}")).await?;
    // Some tools write `<hex>  <file name>`; the digest is the first word.
    let sent = std::str::from_utf8(&body).ok().and_then(|s| s.split_whitespace().next()).unwrap_or("");
    let a = engine.own_asset(ctx, pkg, version, asset)?;
    let have = if kind == "sha256" { Some(a.sha256.hex()) } else { a.hashes.get(kind).cloned() };
    match have {
        Some(h) if h.eq_ignore_ascii_case(sent) => Ok(text(StatusCode::CREATED, "OK")),
        Some(h) => Err(BodyError::Engine(EngineError::Validation(format!(
            "checksum mismatch: {asset}.{kind} says {sent:?} but the stored {asset} has {kind} {h}"
        )))),
        None => Err(BodyError::Engine(EngineError::Validation(format!("no {kind} recorded for {asset}")))),
    }
}

async fn put_metadata(engine: &Engine, ctx: &RepoCtx, pkg: &PackageId, body: Body) -> Result<Response, BodyError> {
    let body = small(body, "maven-metadata.xml").await?;
    let meta = xml::artifact_metadata(&body)
        .map_err(|e| EngineError::Validation(format!("maven-metadata.xml does not parse: {e}")))?;
    let versions: Vec<Version> = meta.versions.iter().filter_map(|v| Version::new(v.as_str()).ok()).collect();
    engine.complete_versions(ctx, pkg, &versions)?;
    Ok(text(StatusCode::CREATED, "OK"))
}

/// The snapshot-level `maven-metadata.xml` completes the builds it names (its `<snapshot>`
/// and `<snapshotVersions>`); like the artifact-level one it is not stored.
async fn put_snapshot_metadata(
    engine: &Engine,
    ctx: &RepoCtx,
    pkg: &PackageId,
    alias: &Version,
    body: Body,
) -> Result<Response, BodyError> {
    let body = small(body, "maven-metadata.xml").await?;
    let meta = snapshot::parse_metadata(&body)
        .map_err(|e| EngineError::Validation(format!("maven-metadata.xml does not parse: {e}")))?;
    engine.complete_versions(ctx, pkg, &meta.builds(alias.as_str()))?;
    Ok(text(StatusCode::CREATED, "OK"))
}
