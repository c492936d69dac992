//! `nuget push` / `dotnet nuget push`: `PUT <endpoint>v2/package/` (the PackagePublish URL;
//! NuGet.exe appends the `/`) with a multipart body holding the `.nupkg`. The package streams
//! into a staged blob, its `.nuspec` is read within bounds, and the engine decides the publish
//! rules. `DELETE <endpoint>v2/package/<id>/<version>` (`nuget delete`) is refused with the
//! CodeArtifact operations that do it instead.
//!
//! NuGet.exe prints only the status line of a failed push ("Response status code does not
//! indicate success: 409 (<reason phrase>)"), never the body, so every answer here carries
//! its message in the reason phrase as nuget.org does.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use futures::StreamExt;

use super::errors::text;
use super::nuspec::{self, NuspecError};
use super::upstream::{nupkg_name, package_id, stored_version};
use crate::engine::{Engine, EngineError, PublishAsset, PublishRequest, StagedBlob};
use crate::formats::http::{error_headers, error_status};
use crate::formats::{authorize, Access, FormatState};
use crate::model::{now_rfc3339, AssetAttributes};

/// The multipart envelope around the package (boundaries, part headers).
const ENVELOPE: u64 = 64 * 1024;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Validation(msg.into())
}

/// Whether `rest` (the path under the endpoint) is the publish resource or below it.
pub(crate) fn is_publish_path(rest: &str) -> bool {
    rest == "v2/package" || rest.starts_with("v2/package/")
}

/// Handles a request to the publish resource.
pub(crate) async fn handle(
    st: &FormatState,
    method: &Method,
    domain_owner: &str,
    repo: &str,
    rest: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    // The token decides, whatever `X-NuGet-ApiKey` says: NuGet sends that header with any
    // key configured, and CodeArtifact's own instructions pass a placeholder.
    let ctx = match authorize(&st.engine, domain_owner, repo, headers, Access::Write, st.anonymous_reads) {
        Ok(c) => c,
        Err(e) => {
            if matches!(e, EngineError::Unauthorized(_)) && *method == Method::PUT {
                // NuGet sends the whole package before it reads the 401 and retries with its
                // stored credentials; reading the body (bounded) lets it see the challenge
                // instead of a reset connection.
                drain(body, st.engine.config().server.max_package_bytes + ENVELOPE).await;
            }
            return engine_error(e);
        }
    };
    let package_root = rest.trim_end_matches('/') == "v2/package";
    match *method {
        Method::PUT if package_root => push(&st.engine, &ctx, headers, body).await.unwrap_or_else(engine_error),
        Method::DELETE => answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "nuget delete is not supported by CodeArtifact: delete a version with \
             DeletePackageVersions (aws codeartifact delete-package-versions), or unlist it with \
             UpdatePackageVersionsStatus (aws codeartifact update-package-versions-status --target-status Unlisted)",
        ),
        _ => answer(StatusCode::METHOD_NOT_ALLOWED, "push a package with PUT to v2/package"),
    }
}

/// The push proper; `Ok` is `201 Created`, as nuget.org answers.
async fn push(
    engine: &std::sync::Arc<Engine>,
    ctx: &crate::engine::RepoCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, EngineError> {
    let blob = read_package(engine, headers, body).await?;
    let reader = blob.reader()?;
    let spec = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        nuspec::read_nupkg(&mut *reader)
    })
    .await
    .map_err(|e| EngineError::Internal(format!("inspection task failed: {e}")))?
    .map_err(|e: NuspecError| invalid(e.to_string()))?;
    let pkg = package_id(&spec.id)
        .ok_or_else(|| invalid(format!("package id {:?} is not supported by this repository", spec.id)))?;
    let version = stored_version(&spec.version)
        .ok_or_else(|| invalid(format!("version {:?} is not a valid NuGet version", spec.version)))?;
    let name = nupkg_name(&pkg, &version).ok_or_else(|| invalid("the package's file name is not valid"))?;
    let attributes = AssetAttributes { upload_time: Some(now_rfc3339()), ..Default::default() };
    let req = PublishRequest {
        package: pkg,
        version,
        metadata: spec.to_metadata(),
        assets: vec![PublishAsset { name, blob, attributes, core_metadata: Some(spec.nuspec_bytes) }],
        tags: Default::default(),
    };
    engine.publish(ctx, req).await?;
    Ok(answer(StatusCode::CREATED, "Your package was pushed."))
}

/// Streams the one file part of the multipart body into a staged blob, bounded by
/// `server.max_package_bytes`.
async fn read_package(engine: &Engine, headers: &HeaderMap, body: Body) -> Result<StagedBlob, EngineError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary = multer::parse_boundary(ct)
        .map_err(|_| invalid("a push must be multipart/form-data with the .nupkg as its file part"))?;
    let max = engine.config().server.max_package_bytes;
    let limits = multer::SizeLimit::new().whole_stream(max + ENVELOPE).per_field(max);
    let stream = body.into_data_stream().map(|r| r.map_err(std::io::Error::other));
    let mut mp = multer::Multipart::with_constraints(stream, boundary, multer::Constraints::new().size_limit(limits));
    let mut staged = None;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        if staged.is_some() {
            return Err(invalid("a push carries exactly one package"));
        }
        let mut up = engine.begin_upload().await?;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            up.write(&chunk).await?;
        }
        staged = Some(up.finish().await?);
    }
    staged.ok_or_else(|| invalid("the push has no package in its body"))
}

fn multipart_error(e: multer::Error) -> EngineError {
    match e {
        multer::Error::FieldSizeExceeded { limit, .. } | multer::Error::StreamSizeExceeded { limit } => {
            invalid(format!("the package exceeds the limit of {limit} bytes (server.max_package_bytes)"))
        }
        other => invalid(format!("malformed multipart body: {other}")),
    }
}

/// Reads and discards up to `max` bytes of a body.
async fn drain(body: Body, max: u64) {
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > max {
            break;
        }
    }
}

/// A plain-text answer whose message is also its reason phrase (printable ASCII, bounded),
/// where NuGet clients show it.
fn answer(status: StatusCode, msg: &str) -> Response {
    let mut resp = text(status, msg);
    if !status.is_success() {
        let phrase: String =
            msg.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(400).collect();
        if let Ok(p) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
            resp.extensions_mut().insert(p);
        }
    }
    resp
}

/// An engine error as [`super::errors::NugetError`] renders it (status, Basic challenge), with the reason.
fn engine_error(e: EngineError) -> Response {
    let (status, message) = error_status(&e);
    let mut resp = answer(status, message.as_deref().unwrap_or("internal error"));
    error_headers(&e, "Basic", &mut resp);
    resp
}
