//! Maven snapshots: a `1.0-SNAPSHOT` directory holds timestamped builds
//! (`lib-1.0-20261206.121500-1.jar`). Each build is a version of its own
//! (`1.0-20261206.121500-1`) that completes into the alias `1.0-SNAPSHOT` (the engine's
//! `Format::completes_into`); this file names builds and reads and writes the snapshot-level
//! `maven-metadata.xml` that says which build is current.

use super::xml::{self, XmlError};
use crate::model::{Asset, Version};

/// What a snapshot directory's version ends with.
pub(crate) const SUFFIX: &str = "-SNAPSHOT";

/// Whether `v` is a snapshot alias (`1.0-SNAPSHOT`).
pub(crate) fn is_alias(v: &str) -> bool {
    v.ends_with(SUFFIX) && v.len() > SUFFIX.len()
}

/// `yyyyMMdd.HHmmss-N` at the start of `s`: the timestamp, the build number and what follows.
fn stamp(s: &str) -> Option<(&str, u32, &str)> {
    let b = s.as_bytes();
    let ts_ok = b.len() > 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'.'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'-';
    if !ts_ok {
        return None;
    }
    let digits = s[16..].bytes().take_while(u8::is_ascii_digit).count();
    let n: u32 = s[16..16 + digits].parse().ok().filter(|n| *n > 0)?;
    Some((&s[..15], n, &s[16 + digits..]))
}

/// The alias a build version completes into (`1.0-20261206.121500-1` → `1.0-SNAPSHOT`).
pub(crate) fn alias_of(v: &Version) -> Option<Version> {
    let s = v.as_str();
    // The timestamp starts 8+1+6+1 = 16 bytes plus the build number's digits before the end.
    (0..s.len()).filter(|&i| s.as_bytes()[i] == b'-').find_map(|i| {
        let (_, _, rest) = stamp(&s[i + 1..])?;
        if rest.is_empty() && i > 0 {
            Version::new(format!("{}{SUFFIX}", &s[..i])).ok()
        } else {
            None
        }
    })
}

/// Why a file in a snapshot directory is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0:?} is not a snapshot file of {1}: expected <artifact>-<base>-<yyyyMMdd.HHmmss>-<build>[-classifier].ext")]
pub(crate) struct BadBuildName(pub String, pub String);

/// A timestamped file name in the directory of `alias` (`1.0-SNAPSHOT`): its build version
/// and what follows it (`.jar`, `-sources.jar`). `Ok(None)`: not timestamped (the file is
/// named after the alias itself, `lib-1.0-SNAPSHOT.jar`).
pub(crate) fn build_of_file<'a>(
    artifact: &str,
    alias: &str,
    file: &'a str,
) -> Result<Option<(String, &'a str)>, BadBuildName> {
    let bad = || BadBuildName(file.to_string(), alias.to_string());
    let base = alias.strip_suffix(SUFFIX).ok_or_else(bad)?;
    if file.strip_prefix(artifact).and_then(|r| r.strip_prefix('-')).and_then(|r| r.strip_prefix(alias)).is_some() {
        return Ok(None);
    }
    let rest = file
        .strip_prefix(artifact)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(base))
        .and_then(|r| r.strip_prefix('-'))
        .ok_or_else(bad)?;
    let (ts, n, tail) = stamp(rest).ok_or_else(bad)?;
    if !(tail.starts_with('.') || tail.starts_with('-')) || tail.len() < 2 {
        return Err(bad());
    }
    Ok(Some((format!("{base}-{ts}-{n}"), tail)))
}

/// What a snapshot-level `maven-metadata.xml` names: the current build and every file value.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct SnapshotMetadata {
    pub(crate) timestamp: Option<String>,
    pub(crate) build_number: Option<u32>,
    pub(crate) values: Vec<String>,
}

impl SnapshotMetadata {
    /// The build versions it names, for the alias `alias`.
    pub(crate) fn builds(&self, alias: &str) -> Vec<Version> {
        let base = alias.strip_suffix(SUFFIX).unwrap_or(alias);
        let current = self.timestamp.as_ref().zip(self.build_number).map(|(t, n)| format!("{base}-{t}-{n}"));
        let mut out: Vec<Version> = current
            .into_iter()
            .chain(self.values.iter().cloned())
            .filter_map(|v| Version::new(v).ok())
            .filter(|v| alias_of(v).is_some_and(|a| a.as_str() == alias))
            .collect();
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        out.dedup();
        out
    }
}

/// Parses a snapshot-level `maven-metadata.xml`.
pub(crate) fn parse_metadata(bytes: &[u8]) -> Result<SnapshotMetadata, XmlError> {
    let mut m = SnapshotMetadata::default();
    for (path, text) in xml::walk(bytes, "metadata")? {
        match (path.as_str(), text) {
            ("metadata/versioning/snapshot/timestamp", Some(t)) => m.timestamp = Some(t),
            ("metadata/versioning/snapshot/buildNumber", Some(n)) => m.build_number = n.trim().parse().ok(),
            ("metadata/versioning/snapshotVersions/snapshotVersion/value", Some(v)) => m.values.push(v),
            _ => {}
        }
    }
    Ok(m)
}

/// `(classifier, extension)` of what follows the version in a file name (`-sources.jar`).
fn classifier_and_extension(tail: &str) -> (Option<&str>, &str) {
    match tail.strip_prefix('-') {
        Some(r) => match r.split_once('.') {
            Some((c, e)) => (Some(c), e),
            None => (Some(r), ""),
        },
        None => (None, tail.trim_start_matches('.')),
    }
}

/// Renders the snapshot-level `maven-metadata.xml` of `alias` from the alias version's files
/// (named after the current build); `updated` is `yyyyMMddHHmmss`.
pub(crate) fn render_metadata(group: &str, artifact: &str, alias: &str, assets: &[Asset], updated: &str) -> Vec<u8> {
    let files: Vec<(String, &str)> =
        assets.iter().filter_map(|a| build_of_file(artifact, alias, a.name.as_str()).ok().flatten()).collect();
    let build = files.iter().map(|(b, _)| b.as_str()).max().unwrap_or_default();
    let (ts, n) = Version::new(build)
        .ok()
        .and_then(|v| {
            let s = v.as_str().to_string();
            let base = alias.strip_suffix(SUFFIX)?;
            let (ts, n, _) = stamp(s.strip_prefix(base)?.strip_prefix('-')?)?;
            Some((ts.to_string(), n))
        })
        .unwrap_or_default();
    let esc = xml::esc;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n");
    s.push_str(&format!(
        "  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>\n  <versioning>\n",
        esc(group),
        esc(artifact),
        esc(alias)
    ));
    s.push_str(&format!(
        "    <snapshot>\n      <timestamp>{}</timestamp>\n      <buildNumber>{n}</buildNumber>\n    </snapshot>\n",
        esc(&ts)
    ));
    s.push_str(&format!("    <lastUpdated>{updated}</lastUpdated>\n    <snapshotVersions>\n"));
    for (b, tail) in files.iter().filter(|(b, _)| b == build) {
        let (classifier, ext) = classifier_and_extension(tail);
        s.push_str("      <snapshotVersion>\n");
        if let Some(c) = classifier {
            s.push_str(&format!("        <classifier>{}</classifier>\n", esc(c)));
        }
        s.push_str(&format!(
            "        <extension>{}</extension>\n        <value>{}</value>\n        <updated>{updated}</updated>\n",
            esc(ext),
            esc(b)
        ));
        s.push_str("      </snapshotVersion>\n");
    }
    s.push_str("    </snapshotVersions>\n  </versioning>\n</metadata>\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_names() {
        let v = |s: &str| Version::new(s).unwrap();
        assert_eq!(alias_of(&v("1.0-20261206.121500-1")), Some(v("1.0-SNAPSHOT")));
        assert_eq!(alias_of(&v("1.0-rc-20261206.121500-12")), Some(v("1.0-rc-SNAPSHOT")));
        assert_eq!(alias_of(&v("1.0")), None);
        assert_eq!(alias_of(&v("1.0-SNAPSHOT")), None);
        assert_eq!(alias_of(&v("1.0-20261206.121500-0")), None);
        assert_eq!(alias_of(&v("1.0-2026120.121500-1")), None);
        assert_eq!(
            build_of_file("lib", "1.0-SNAPSHOT", "lib-1.0-20261206.121500-2-sources.jar"),
            Ok(Some(("1.0-20261206.121500-2".to_string(), "-sources.jar")))
        );
        assert_eq!(build_of_file("lib", "1.0-SNAPSHOT", "lib-1.0-SNAPSHOT.jar"), Ok(None));
        assert!(build_of_file("lib", "1.0-SNAPSHOT", "lib-2.0-20261206.121500-1.jar").is_err());
        assert!(build_of_file("lib", "1.0-SNAPSHOT", "lib-1.0-20261206.1215-1.jar").is_err());
        assert!(build_of_file("lib", "1.0-SNAPSHOT", "lib-1.0-20261206.121500-1").is_err());
        assert!(!is_alias("-SNAPSHOT") && is_alias("1.0-SNAPSHOT"));
    }

    #[test]
    fn metadata_round_trip() {
        let asset = |n: &str| Asset {
            name: crate::model::AssetName::new(n).unwrap(),
            size: 1,
            sha256: crate::model::Sha256::from_bytes([1; 32]),
            hashes: Default::default(),
            attributes: Default::default(),
        };
        let files = [
            asset("lib-1.0-20261206.121500-2.jar"),
            asset("lib-1.0-20261206.121500-2.pom"),
            asset("lib-1.0-20261206.121500-2-sources.jar"),
        ];
        let xml = render_metadata("g", "lib", "1.0-SNAPSHOT", &files, "20261206121500");
        let m = parse_metadata(&xml).unwrap();
        assert_eq!(m.timestamp.as_deref(), Some("20261206.121500"));
        assert_eq!(m.build_number, Some(2));
        assert_eq!(m.values.len(), 3);
        assert_eq!(m.builds("1.0-SNAPSHOT"), [Version::new("1.0-20261206.121500-2").unwrap()]);
        let text = String::from_utf8(xml).unwrap();
        assert!(text.contains("<classifier>sources</classifier>") && text.contains("<extension>pom</extension>"));
    }
}
