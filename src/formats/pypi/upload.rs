//! The legacy upload API that twine uses: one `multipart/form-data` POST per file to the
//! repository endpoint, authorized from its headers before any of the body is read. The file
//! streams into a staged blob; its digests, name and core metadata are checked; then the
//! engine decides the publish rules (several files per version; a different file under a
//! name already there, or a version an upstream has → 409).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;

use super::errors::text;
use super::{dist, names};
use crate::engine::{Engine, EngineError, PublishAsset, PublishRequest, RepoCtx, StagedBlob};
use crate::model::{now_rfc3339, AssetAttributes, AssetName};

/// The largest text field (metadata fields; the description may be a whole readme).
const MAX_TEXT_FIELD: u64 = 8 * 1024 * 1024;
/// More fields than this is not an upload.
const MAX_FIELDS: usize = 512;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Validation(msg.into())
}

fn multipart_error(e: multer::Error) -> EngineError {
    match e {
        multer::Error::FieldSizeExceeded { limit, field_name } => invalid(format!(
            "field {} exceeds the limit of {limit} bytes",
            field_name.as_deref().unwrap_or("(unnamed)")
        )),
        multer::Error::StreamSizeExceeded { limit } => invalid(format!("upload exceeds the limit of {limit} bytes")),
        other => invalid(format!("malformed multipart body: {other}")),
    }
}

/// The form: text fields by name (repeated fields keep every value) and the staged file.
struct Form {
    fields: HashMap<String, Vec<String>>,
    file: Option<(String, StagedBlob)>,
}

impl Form {
    fn one(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.first()).map(String::as_str).filter(|s| !s.is_empty())
    }
}

async fn read_form(engine: &Engine, headers: &HeaderMap, body: Body) -> Result<Form, EngineError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary =
        multer::parse_boundary(ct).map_err(|_| invalid("an upload must be multipart/form-data with a boundary"))?;
    let max_package = engine.config().server.max_package_bytes;
    let limits = multer::SizeLimit::new()
        .whole_stream(max_package.saturating_add(MAX_TEXT_FIELD * 2))
        .per_field(MAX_TEXT_FIELD)
        .for_field("content", max_package);
    let stream = body.into_data_stream().map(|r| r.map_err(std::io::Error::other));
    let mut mp = multer::Multipart::with_constraints(stream, boundary, multer::Constraints::new().size_limit(limits));
    let mut form = Form { fields: HashMap::new(), file: None };
    let mut count = 0;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(invalid(format!("an upload has at most {MAX_FIELDS} fields")));
        }
        let name = field.name().unwrap_or("").to_string();
        if name == "content" {
            if form.file.is_some() {
                return Err(invalid("an upload carries exactly one file"));
            }
            let filename = field.file_name().unwrap_or("").to_string();
            let mut up = engine.begin_upload().await?;
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                up.write(&chunk).await?;
            }
            form.file = Some((filename, up.finish().await?));
        } else {
            let value = field.text().await.map_err(multipart_error)?;
            form.fields.entry(name).or_default().push(value);
        }
    }
    Ok(form)
}

/// Handles `POST <endpoint>` with `:action=file_upload`.
pub(crate) async fn upload(
    engine: &std::sync::Arc<Engine>,
    ctx: &RepoCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, EngineError> {
    let form = read_form(engine, headers, body).await?;
    match form.one(":action") {
        Some("file_upload") => {}
        Some(other) => return Err(invalid(format!(":action {other} is not supported (only file_upload)"))),
        None => return Err(invalid("the upload has no :action field")),
    }
    let (name, version) = match (form.one("name"), form.one("version")) {
        (Some(n), Some(v)) => (n.to_string(), v.to_string()),
        _ => return Err(invalid("the upload needs its name and version fields")),
    };
    let pkg = names::package_id(&name).ok_or_else(|| invalid(format!("{name} is not a valid project name")))?;
    let v = names::version(&version).ok_or_else(|| invalid(format!("{version} is not a valid version")))?;
    let (sha256_digest, md5_digest) =
        (form.one("sha256_digest").map(str::to_string), form.one("md5_digest").map(str::to_string));
    let Some((filename, blob)) = form.file else { return Err(invalid("the upload has no content file")) };
    let asset = AssetName::new(filename.as_str()).map_err(|e| invalid(format!("file name {filename:?}: {}", e.0)))?;
    if !names::is_distribution(&filename) {
        return Err(invalid(format!("{filename} is neither a wheel nor an sdist")));
    }
    if names::version_of_file(pkg.name.as_str(), &filename).as_ref() != Some(&v) {
        return Err(invalid(format!("file name {filename} does not match {} {v}", pkg.name)));
    }
    let d = blob.digests().clone();
    if let Some(want) = sha256_digest {
        if !want.eq_ignore_ascii_case(&d.sha256.hex()) {
            return Err(invalid(format!("{filename} does not match its sha256_digest")));
        }
    }
    if let Some(want) = md5_digest {
        if !want.eq_ignore_ascii_case(&d.md5) {
            return Err(invalid(format!("{filename} does not match its md5_digest")));
        }
    }
    let reader = blob.reader()?;
    let fname = filename.clone();
    let core = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        dist::core_metadata(&fname, &mut *reader)
    })
    .await
    .map_err(|e| EngineError::Internal(format!("inspection task failed: {e}")))?
    .map_err(|e| invalid(e.to_string()))?;
    let metadata =
        dist::parse_metadata(&core).ok_or_else(|| invalid(format!("the metadata of {filename} does not parse")))?;
    let (meta_name, meta_version) =
        (metadata["name"].as_str().unwrap_or(""), metadata["version"].as_str().unwrap_or(""));
    if names::normalize(meta_name) != pkg.name.as_str() || names::version(meta_version).as_ref() != Some(&v) {
        return Err(invalid(format!("{filename} says it is {meta_name} {meta_version}, not {} {v}", pkg.name)));
    }
    let attributes = AssetAttributes {
        requires_python: metadata["requires_python"].as_str().map(str::to_string),
        upload_time: Some(now_rfc3339()),
        ..Default::default()
    };
    let core_metadata = filename.ends_with(".whl").then_some(core);
    let req = PublishRequest {
        package: pkg,
        version: v,
        metadata,
        assets: vec![PublishAsset { name: asset, blob, attributes, core_metadata }],
        tags: Default::default(),
    };
    engine.publish(ctx, req).await?;
    Ok(text(StatusCode::OK, "OK"))
}
