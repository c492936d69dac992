//! Distribution files: the core metadata inside a wheel (`<name>.dist-info/METADATA`) or an
//! sdist (`<name>-<version>/PKG-INFO`), read within bounds so that a crafted archive cannot
//! exhaust memory or time, and parsed into the fields Depot keeps per version.

use std::io::{Read, Seek};

use serde_json::{json, Value};

/// The largest core-metadata file read.
pub(crate) const MAX_METADATA: u64 = 4 * 1024 * 1024;
/// Archives with more entries than this are refused unread.
const MAX_ENTRIES: usize = 100_000;
/// Bytes an sdist's gzip stream may expand to before PKG-INFO is found.
const MAX_EXPANDED: u64 = 512 * 1024 * 1024;

/// Why a distribution's metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DistError {
    /// Not the archive its name says.
    #[error("{0} is not a valid {1} archive")]
    NotAnArchive(String, &'static str),
    /// No core-metadata file where the format puts it.
    #[error("{0} has no {1}")]
    NoMetadata(String, &'static str),
    /// Past a bound (entries, sizes, expansion).
    #[error("{0} is too large to inspect ({1})")]
    TooLarge(String, &'static str),
    /// A file kind Depot does not serve.
    #[error("{0} is neither a wheel (.whl) nor an sdist (.tar.gz, .zip)")]
    UnknownKind(String),
}

/// The core-metadata bytes of a distribution file named `filename`.
pub(crate) fn core_metadata(filename: &str, file: impl Read + Seek) -> Result<Vec<u8>, DistError> {
    let name = filename.to_string();
    if filename.ends_with(".whl") {
        from_zip(&name, file, "METADATA", |path| {
            let mut parts = path.split('/');
            matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("METADATA"), None) if d.ends_with(".dist-info"))
        })
    } else if filename.ends_with(".zip") {
        from_zip(&name, file, "PKG-INFO", |path| {
            let mut parts = path.split('/');
            matches!((parts.next(), parts.next(), parts.next()), (Some(_), Some("PKG-INFO"), None))
        })
    } else if filename.ends_with(".tar.gz") || filename.ends_with(".tgz") {
        from_tar_gz(&name, file)
    } else {
        Err(DistError::UnknownKind(name))
    }
}

fn from_zip(
    name: &str,
    file: impl Read + Seek,
    what: &'static str,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<u8>, DistError> {
    let mut zip = zip::ZipArchive::new(file).map_err(|_| DistError::NotAnArchive(name.into(), "zip"))?;
    if zip.len() > MAX_ENTRIES {
        return Err(DistError::TooLarge(name.into(), "too many entries"));
    }
    let path =
        zip.file_names().filter_map(Result::ok).filter(|p| wanted(p)).min_by_key(|p| p.len()).map(|p| p.into_owned());
    let Some(path) = path else { return Err(DistError::NoMetadata(name.into(), what)) };
    let entry = zip.by_name(&path).map_err(|_| DistError::NotAnArchive(name.into(), "zip"))?;
    if entry.size() > MAX_METADATA {
        return Err(DistError::TooLarge(name.into(), "metadata file"));
    }
    read_bounded(name, entry)
}

fn from_tar_gz(name: &str, file: impl Read) -> Result<Vec<u8>, DistError> {
    let expanded = flate2::read::GzDecoder::new(file).take(MAX_EXPANDED);
    let mut tar = tar::Archive::new(expanded);
    let entries = tar.entries().map_err(|_| DistError::NotAnArchive(name.into(), "tar.gz"))?;
    for (i, entry) in entries.enumerate() {
        if i >= MAX_ENTRIES {
            return Err(DistError::TooLarge(name.into(), "too many entries"));
        }
        let entry = entry.map_err(|_| DistError::NotAnArchive(name.into(), "tar.gz"))?;
        let is_pkg_info = entry.path().ok().is_some_and(|p| {
            let comps: Vec<_> = p.components().collect();
            comps.len() == 2 && comps[1].as_os_str() == "PKG-INFO"
        });
        if is_pkg_info {
            if entry.header().size().unwrap_or(u64::MAX) > MAX_METADATA {
                return Err(DistError::TooLarge(name.into(), "metadata file"));
            }
            return read_bounded(name, entry);
        }
    }
    Err(DistError::NoMetadata(name.into(), "PKG-INFO"))
}

fn read_bounded(name: &str, r: impl Read) -> Result<Vec<u8>, DistError> {
    let mut out = Vec::new();
    r.take(MAX_METADATA + 1).read_to_end(&mut out).map_err(|_| DistError::NotAnArchive(name.into(), "archive"))?;
    if out.len() as u64 > MAX_METADATA {
        return Err(DistError::TooLarge(name.into(), "metadata file"));
    }
    Ok(out)
}

/// Core metadata as Depot stores it per version: what the package-operations API reports
/// (display name, summary, home page, licenses, dependencies, readme).
pub(crate) fn parse_metadata(bytes: &[u8]) -> Option<Value> {
    let (headers, body_at) = mailparse::parse_headers(bytes).ok()?;
    let get = |k: &str| headers.iter().find(|h| h.get_key().eq_ignore_ascii_case(k)).map(|h| h.get_value());
    let all = |k: &str| -> Vec<String> {
        headers.iter().filter(|h| h.get_key().eq_ignore_ascii_case(k)).map(|h| h.get_value()).collect()
    };
    let name = get("Name")?;
    let version = get("Version")?;
    let body = String::from_utf8_lossy(&bytes[body_at.min(bytes.len())..]).trim().to_string();
    // Metadata 2.1+ puts the description in the body; older files fold it into a header.
    let description = if body.is_empty() {
        get("Description")
            .map(|d| d.lines().map(|l| l.strip_prefix("       |").unwrap_or(l)).collect::<Vec<_>>().join("\n"))
    } else {
        Some(body)
    };
    let project_urls = all("Project-URL");
    let home_page = get("Home-page").filter(|h| !h.is_empty() && h != "UNKNOWN").or_else(|| {
        project_urls.iter().find_map(|u| {
            let (label, url) = u.split_once(',')?;
            label.trim().eq_ignore_ascii_case("homepage").then(|| url.trim().to_string())
        })
    });
    Some(json!({
        "name": name,
        "version": version,
        "summary": get("Summary"),
        "home_page": home_page,
        "license": get("License").filter(|l| l != "UNKNOWN"),
        "license_expression": get("License-Expression"),
        "classifiers": all("Classifier"),
        "requires_dist": all("Requires-Dist"),
        "requires_python": get("Requires-Python"),
        "project_urls": project_urls,
        "description": description,
        "description_content_type": get("Description-Content-Type"),
    }))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    const METADATA: &[u8] = b"Metadata-Version: 2.1\nName: Tiny_Pkg\nVersion: 1.0\nSummary: A tiny package\nRequires-Dist: requests (>=2)\nRequires-Dist: idna; extra == 'x'\nProject-URL: Homepage, https://example.invalid/tiny\nRequires-Python: >=3.8\n\n# Tiny\n\nReadme text.\n";

    fn wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn sdist(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn wheels_and_sdists() {
        let whl = wheel(&[("tiny_pkg/__init__.py", b""), ("tiny_pkg-1.0.dist-info/METADATA", METADATA)]);
        assert_eq!(core_metadata("tiny_pkg-1.0-py3-none-any.whl", Cursor::new(whl)).unwrap(), METADATA);
        let tgz = sdist(&[("tiny_pkg-1.0/setup.py", b""), ("tiny_pkg-1.0/PKG-INFO", METADATA)]);
        assert_eq!(core_metadata("tiny_pkg-1.0.tar.gz", Cursor::new(tgz)).unwrap(), METADATA);
        let zipped = wheel(&[("tiny_pkg-1.0/PKG-INFO", METADATA)]);
        assert_eq!(core_metadata("tiny_pkg-1.0.zip", Cursor::new(zipped)).unwrap(), METADATA);
    }

    #[test]
    fn refusals() {
        let e = core_metadata("x-1.0-py3-none-any.whl", Cursor::new(b"not a zip".to_vec())).unwrap_err();
        assert!(matches!(e, DistError::NotAnArchive(..)), "{e}");
        let whl = wheel(&[("x/__init__.py", b"")]);
        assert!(matches!(core_metadata("x-1.0-py3-none-any.whl", Cursor::new(whl)), Err(DistError::NoMetadata(..))));
        let nested = wheel(&[("a/b.dist-info/METADATA", METADATA)]);
        assert!(matches!(core_metadata("x-1.0-py3-none-any.whl", Cursor::new(nested)), Err(DistError::NoMetadata(..))));
        let big = vec![b'a'; MAX_METADATA as usize + 10];
        let whl = wheel(&[("x-1.0.dist-info/METADATA", &big)]);
        assert!(matches!(core_metadata("x-1.0-py3-none-any.whl", Cursor::new(whl)), Err(DistError::TooLarge(..))));
        let tgz = sdist(&[("x-1.0/PKG-INFO", &big)]);
        assert!(matches!(core_metadata("x-1.0.tar.gz", Cursor::new(tgz)), Err(DistError::TooLarge(..))));
        assert!(matches!(core_metadata("x-1.0.exe", Cursor::new(Vec::new())), Err(DistError::UnknownKind(..))));
        assert!(matches!(
            core_metadata("x-1.0.tar.gz", Cursor::new(b"junk".to_vec())),
            Err(DistError::NotAnArchive(..))
        ));
    }

    #[test]
    fn metadata_fields() {
        let m = parse_metadata(METADATA).unwrap();
        assert_eq!(m["name"], "Tiny_Pkg");
        assert_eq!(m["summary"], "A tiny package");
        assert_eq!(m["home_page"], "https://example.invalid/tiny");
        assert_eq!(m["requires_dist"], json!(["requests (>=2)", "idna; extra == 'x'"]));
        assert_eq!(m["description"], "# Tiny\n\nReadme text.");
        assert!(parse_metadata(b"Summary: no name\n\n").is_none());
    }
}
