//! Maven repository paths: `group/path/artifact/version/file` and the artifact-level
//! `group/path/artifact/maven-metadata.xml`. The version is the path's, never read back out of
//! the file name; a file must still be named after its artifact and version, so a path cannot
//! smuggle one artifact's bytes under another's coordinates.

use super::snapshot;
use crate::model::{AssetName, Namespace, PackageFormat, PackageId, PackageName, Version};

/// The checksum side files every asset has, generated from the stored digests.
pub(crate) const SIDECARS: [&str; 4] = ["md5", "sha1", "sha256", "sha512"];

/// What a path under the endpoint names.
#[derive(Debug, PartialEq)]
pub(crate) enum MavenPath {
    /// A file of a version, or (`checksum`) one of its side files.
    File { pkg: PackageId, version: Version, asset: AssetName, checksum: Option<&'static str> },
    /// The artifact-level `maven-metadata.xml` (or a side file of it).
    Metadata { pkg: PackageId, checksum: Option<&'static str> },
    /// The snapshot-level `<version>-SNAPSHOT/maven-metadata.xml` (or a side file of it).
    SnapshotMetadata { pkg: PackageId, version: Version, checksum: Option<&'static str> },
}

/// Why a path is not a Maven coordinate (answered 400 with the reason).
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum PathError {
    #[error("path segment {0:?} is not allowed (empty, `.`, `..` or a backslash)")]
    Traversal(String),
    #[error("a Maven path is group/artifact/version/file; {0:?} has too few segments")]
    TooShort(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {value:?} is not a valid Maven {what} ({rule})")]
    Coordinate { what: &'static str, value: String, rule: &'static str },
    #[error("file {file} is not named after artifact {artifact} version {version}")]
    Mismatch { file: String, artifact: String, version: String },
}

fn checksum_of(file: &str) -> (&str, Option<&'static str>) {
    for ext in SIDECARS {
        if let Some(base) = file.strip_suffix(ext).and_then(|b| b.strip_suffix('.')) {
            return (base, Some(ext));
        }
    }
    (file, None)
}

/// Maven's own rule for group and artifact ids (its model validator's `[A-Za-z0-9_\-.]+`).
const ID_RULE: &str = "letters, digits, '_', '-' and '.' only";
/// Characters Maven's model validator refuses in a version.
const VERSION_RULE: &str = "no whitespace or any of \\ / : \" < > | ? *";

fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

fn version_ok(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control() || "\\/:\"<>|?*".contains(c))
}

/// The package of `group` segments and an artifact id.
pub(crate) fn package_id(group: &[&str], artifact: &str) -> Result<PackageId, PathError> {
    if group.iter().any(|g| !id_ok(g)) {
        return Err(PathError::Coordinate { what: "groupId", value: group.join("."), rule: ID_RULE });
    }
    if !id_ok(artifact) {
        return Err(PathError::Coordinate { what: "artifactId", value: artifact.into(), rule: ID_RULE });
    }
    let bad = |e: crate::model::InvalidName| PathError::Invalid(e.0);
    Ok(PackageId {
        format: PackageFormat::Maven,
        namespace: Some(Namespace::new(group.join(".")).map_err(bad)?),
        name: PackageName::new(artifact).map_err(bad)?,
    })
}

/// Parses a path below the repository endpoint.
pub(crate) fn parse(rest: &str) -> Result<MavenPath, PathError> {
    let segs: Vec<&str> = rest.split('/').collect();
    if let Some(s) = segs.iter().find(|s| s.is_empty() || **s == "." || **s == ".." || s.contains('\\')) {
        return Err(PathError::Traversal((*s).to_string()));
    }
    let (file, dirs) = segs.split_last().ok_or_else(|| PathError::TooShort(rest.into()))?;
    let (base, checksum) = checksum_of(file);
    if let (true, [group @ .., artifact, version]) = (base == "maven-metadata.xml", dirs) {
        if snapshot::is_alias(version) && !group.is_empty() {
            if !version_ok(version) {
                return Err(PathError::Coordinate { what: "version", value: (*version).into(), rule: VERSION_RULE });
            }
            let version = Version::new(*version).map_err(|e| PathError::Invalid(e.0))?;
            return Ok(MavenPath::SnapshotMetadata { pkg: package_id(group, artifact)?, version, checksum });
        }
    }
    if base == "maven-metadata.xml" && dirs.len() >= 2 {
        let (artifact, group) = dirs.split_last().ok_or_else(|| PathError::TooShort(rest.into()))?;
        return Ok(MavenPath::Metadata { pkg: package_id(group, artifact)?, checksum });
    }
    if dirs.len() < 3 {
        return Err(PathError::TooShort(rest.into()));
    }
    let (version, dirs) = dirs.split_last().ok_or_else(|| PathError::TooShort(rest.into()))?;
    let (artifact, group) = dirs.split_last().ok_or_else(|| PathError::TooShort(rest.into()))?;
    let pkg = package_id(group, artifact)?;
    if !version_ok(version) {
        return Err(PathError::Coordinate { what: "version", value: (*version).into(), rule: VERSION_RULE });
    }
    let mut version_v = Version::new(*version).map_err(|e| PathError::Invalid(e.0))?;
    // In a snapshot directory a timestamped file belongs to its build's own version.
    if snapshot::is_alias(version) {
        let build = snapshot::build_of_file(artifact, version, base).map_err(|e| PathError::Invalid(e.to_string()))?;
        if let Some((build, _)) = build {
            version_v = Version::new(build).map_err(|e| PathError::Invalid(e.0))?;
        }
        let asset = AssetName::new(base).map_err(|e| PathError::Invalid(e.0))?;
        return Ok(MavenPath::File { pkg, version: version_v, asset, checksum });
    }
    let prefix = format!("{artifact}-{version}");
    let rest_of_name = base.strip_prefix(&prefix).unwrap_or("");
    // After `artifact-version`: `.ext` or `-classifier.ext`.
    if !(rest_of_name.starts_with('.') || rest_of_name.starts_with('-')) || rest_of_name.len() < 2 {
        return Err(PathError::Mismatch {
            file: base.into(),
            artifact: (*artifact).into(),
            version: (*version).into(),
        });
    }
    let asset = AssetName::new(base).map_err(|e| PathError::Invalid(e.0))?;
    Ok(MavenPath::File { pkg, version: version_v, asset, checksum })
}

/// The path of a package's directory (`org/example/lib`).
pub(crate) fn package_dir(pkg: &PackageId) -> String {
    let group = pkg.namespace.as_ref().map(|n| n.as_str().replace('.', "/")).unwrap_or_default();
    format!("{group}/{}", pkg.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_metadata_and_refusals() {
        let MavenPath::File { pkg, version, asset, checksum } =
            parse("org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar.sha1").unwrap()
        else {
            panic!("not a file")
        };
        assert_eq!(pkg.namespace.unwrap().as_str(), "org.apache.commons");
        assert_eq!((version.as_str(), asset.as_str(), checksum), ("3.12.0", "commons-lang3-3.12.0.jar", Some("sha1")));
        assert!(matches!(parse("junit/junit/4.13.2/junit-4.13.2-sources.jar"), Ok(MavenPath::File { .. })));
        assert!(matches!(parse("junit/junit/maven-metadata.xml"), Ok(MavenPath::Metadata { checksum: None, .. })));
        assert!(matches!(parse("junit/junit/maven-metadata.xml.sha256"), Ok(MavenPath::Metadata { .. })));
        assert!(matches!(parse("junit/../junit/4.13.2/junit-4.13.2.jar"), Err(PathError::Traversal(_))));
        assert!(matches!(parse("junit//4.13.2/junit-4.13.2.jar"), Err(PathError::Traversal(_))));
        assert!(matches!(parse("junit-4.13.2.jar"), Err(PathError::TooShort(_))));
        assert!(matches!(parse("junit/junit/4.13.2/other-4.13.2.jar"), Err(PathError::Mismatch { .. })));
        assert!(matches!(parse("junit/junit/4.13.2/junit-4.13.1.jar"), Err(PathError::Mismatch { .. })));
        assert!(matches!(parse("com/example/a:b/1.0/a:b-1.0.jar"), Err(PathError::Coordinate { .. })));
        assert!(matches!(parse("com/ex*ample/a/1.0/a-1.0.jar"), Err(PathError::Coordinate { .. })));
        assert!(matches!(parse("com/example/a/1.0<2/a-1.0<2.jar"), Err(PathError::Coordinate { .. })));
        assert_eq!(package_dir(&package_id(&["org", "x"], "y").unwrap()), "org/x/y");
        let Ok(MavenPath::File { version, asset, .. }) =
            parse("g/lib/1.0-SNAPSHOT/lib-1.0-20261206.121500-3-tests.jar")
        else {
            panic!("not a snapshot build file")
        };
        assert_eq!(
            (version.as_str(), asset.as_str()),
            ("1.0-20261206.121500-3", "lib-1.0-20261206.121500-3-tests.jar")
        );
        assert!(
            matches!(parse("g/lib/1.0-SNAPSHOT/lib-1.0-SNAPSHOT.jar"), Ok(MavenPath::File { version, .. }) if version.as_str() == "1.0-SNAPSHOT")
        );
        assert!(matches!(
            parse("g/lib/1.0-SNAPSHOT/maven-metadata.xml.sha1"),
            Ok(MavenPath::SnapshotMetadata { checksum: Some("sha1"), .. })
        ));
        assert!(matches!(parse("g/lib/1.0-SNAPSHOT/lib-1.0-2026.121500-1.jar"), Err(PathError::Invalid(_))));
        assert!(matches!(parse("g/lib/1.0-SNAPSHOT/lib-2.0-20261206.121500-1.jar"), Err(PathError::Invalid(_))));
    }
}
