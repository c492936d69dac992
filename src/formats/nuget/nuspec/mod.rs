//! A `.nupkg` (a zip) read within bounds: its root `.nuspec`, parsed into what Depot keeps per
//! version, and the readme the nuspec names. Nothing else in the archive is decompressed, and
//! the archive's declared sizes are checked first so a crafted zip cannot exhaust memory or
//! time (zip bombs, overlapping entries).

mod xml;

use std::io::{Read, SeekFrom};

use serde_json::{json, Map, Value};

use crate::store::ReadSeek;

/// Bounds applied while reading a package. [`Limits::default`] is what the server uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Archives with more entries than this are refused unread.
    pub(crate) max_entries: usize,
    /// The largest `.nuspec` read (nuget.org's bound too).
    pub(crate) max_nuspec: u64,
    /// The largest readme read (nuget.org refuses readmes over 1 MiB as well).
    pub(crate) max_readme: u64,
    /// The most the archive may claim to expand to, all entries together.
    pub(crate) max_total_uncompressed: u64,
    /// Above `ratio_floor` expanded bytes, the most the archive may expand relative to its
    /// compressed bytes. Real packages (DLLs, XML docs) stay well under 20.
    pub(crate) max_ratio: u64,
    pub(crate) ratio_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 20_000,
            max_nuspec: 1024 * 1024,
            max_readme: 1024 * 1024,
            max_total_uncompressed: 4 * 1024 * 1024 * 1024,
            max_ratio: 100,
            ratio_floor: 64 * 1024 * 1024,
        }
    }
}

/// Why a `.nupkg` is not an acceptable package. Messages are what a client sees (400).
#[derive(Debug, thiserror::Error)]
pub(crate) enum NuspecError {
    #[error("the package is not a valid zip archive ({0})")]
    NotAZip(String),
    #[error("the package has no .nuspec file at the root of the archive")]
    NoNuspec,
    #[error("the package has more than one .nuspec file at the root of the archive ({0}, {1})")]
    MultipleNuspecs(String, String),
    #[error("the package is too large to inspect: {0}")]
    TooLarge(String),
    #[error("the package looks like a zip bomb: {0}")]
    Bomb(String),
    #[error("the .nuspec is not valid: {0}")]
    BadXml(String),
    #[error("the .nuspec is missing {0}")]
    Missing(&'static str),
    #[error("the .nuspec's id {0:?} is not a valid NuGet package id")]
    InvalidId(String),
    #[error("the .nuspec's version {0:?} is not a valid NuGet version")]
    InvalidVersion(String),
    #[error("the .nuspec names the readme {0:?}, which is not in the package")]
    MissingReadme(String),
}

/// A dependency as the nuspec gives it, the range in NuGet's normalized notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub(crate) id: String,
    /// `[1.0.0, )`; `(, )` when the nuspec gives no version; the raw attribute when it is a
    /// range NuGet's normalizer would not accept.
    pub(crate) range: String,
}

/// A `<group>` of `<dependencies>`; ungrouped dependencies form one group without framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DependencyGroup {
    pub(crate) target_framework: Option<String>,
    pub(crate) dependencies: Vec<Dependency>,
}

/// What Depot keeps from a package's `.nuspec`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nuspec {
    /// As written in the nuspec (the display id; matching is case-insensitive).
    pub(crate) id: String,
    /// As written in the nuspec.
    pub(crate) version: String,
    /// Normalized and lower-cased (what URLs carry).
    pub(crate) normalized_version: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) authors: Option<String>,
    pub(crate) license_expression: Option<String>,
    pub(crate) license_url: Option<String>,
    pub(crate) project_url: Option<String>,
    pub(crate) repository_url: Option<String>,
    pub(crate) tags: Option<String>,
    /// The readme's path in the archive, as the nuspec names it.
    pub(crate) readme_file: Option<String>,
    /// The readme's text (lossy UTF-8).
    pub(crate) readme: Option<String>,
    pub(crate) dependency_groups: Vec<DependencyGroup>,
    /// The nuspec's name in the archive and its bytes (served as `<id>.nuspec`).
    pub(crate) nuspec_file: String,
    pub(crate) nuspec_bytes: Vec<u8>,
}

/// Reads a `.nupkg` with the default [`Limits`].
pub(crate) fn read_nupkg(file: &mut dyn ReadSeek) -> Result<Nuspec, NuspecError> {
    read_nupkg_with(file, &Limits::default())
}

/// Reads a `.nupkg`: checks the archive's shape and declared sizes, then reads and parses the
/// one root `.nuspec` and the readme it names.
pub(crate) fn read_nupkg_with(file: &mut dyn ReadSeek, limits: &Limits) -> Result<Nuspec, NuspecError> {
    let archive_len = file.seek(SeekFrom::End(0)).map_err(|e| NuspecError::NotAZip(e.to_string()))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| NuspecError::NotAZip(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| NuspecError::NotAZip(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(NuspecError::TooLarge(format!("{} entries (at most {})", zip.len(), limits.max_entries)));
    }
    let mut nuspecs = Vec::new();
    let (mut packed, mut unpacked) = (0u64, 0u64);
    for i in 0..zip.len() {
        let entry = zip.by_index_data(i).map_err(|e| NuspecError::NotAZip(e.to_string()))?;
        packed = packed.saturating_add(entry.compressed_size());
        unpacked = unpacked.saturating_add(entry.size());
        let name = entry.name().map_err(|e| NuspecError::NotAZip(e.to_string()))?;
        if !name.contains(['/', '\\']) && name.to_ascii_lowercase().ends_with(".nuspec") {
            nuspecs.push((i, name.into_owned()));
        }
    }
    check_sizes(packed, unpacked, archive_len, limits)?;
    // Entries sharing bytes expand many times over while each one looks ordinary.
    if zip.has_overlapping_files().map_err(|e| NuspecError::NotAZip(e.to_string()))? {
        return Err(NuspecError::Bomb("entries overlap in the archive".into()));
    }
    let (index, nuspec_file) = match nuspecs.as_slice() {
        [] => return Err(NuspecError::NoNuspec),
        [one] => one.clone(),
        [a, b, ..] => return Err(NuspecError::MultipleNuspecs(a.1.clone(), b.1.clone())),
    };
    let nuspec_bytes = read_entry(&mut zip, index, limits.max_nuspec, "the .nuspec")?;
    let mut spec = xml::parse(&nuspec_bytes)?;
    spec.nuspec_file = nuspec_file;
    spec.nuspec_bytes = nuspec_bytes;
    if let Some(path) = spec.readme_file.clone() {
        let index = find_entry(&zip, &path).ok_or_else(|| NuspecError::MissingReadme(path.clone()))?;
        let bytes = read_entry(&mut zip, index, limits.max_readme, "the readme")?;
        spec.readme = Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(spec)
}

fn check_sizes(packed: u64, unpacked: u64, archive_len: u64, limits: &Limits) -> Result<(), NuspecError> {
    if packed > archive_len {
        return Err(NuspecError::Bomb(format!(
            "entries claim {packed} compressed bytes in a {archive_len}-byte archive"
        )));
    }
    if unpacked > limits.max_total_uncompressed {
        return Err(NuspecError::Bomb(format!(
            "entries expand to {unpacked} bytes (at most {})",
            limits.max_total_uncompressed
        )));
    }
    if unpacked > limits.ratio_floor && unpacked / packed.max(1) > limits.max_ratio {
        return Err(NuspecError::Bomb(format!(
            "{packed} compressed bytes expand to {unpacked} (more than {}x)",
            limits.max_ratio
        )));
    }
    Ok(())
}

/// An entry by path, `\` and `/` alike, exact case first (NuGet's packer keeps the case it
/// was given, but nuspecs written on Windows often differ from the files in case).
fn find_entry<R: std::io::Read + std::io::Seek>(zip: &zip::ZipArchive<R>, path: &str) -> Option<usize> {
    let want = path.replace('\\', "/");
    let want = want.trim_start_matches("./").trim_start_matches('/');
    zip.index_for_name(want)
        .or_else(|| zip.file_names().position(|n| n.is_ok_and(|n| n.replace('\\', "/").eq_ignore_ascii_case(want))))
}

fn read_entry<R: std::io::Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, NuspecError> {
    let entry = zip.by_index(index).map_err(|e| NuspecError::NotAZip(e.to_string()))?;
    if entry.size() > max {
        return Err(NuspecError::TooLarge(format!("{what} is {} bytes (at most {max})", entry.size())));
    }
    let mut out = Vec::new();
    // The declared size may lie: the read itself is bounded too.
    entry.take(max + 1).read_to_end(&mut out).map_err(|e| NuspecError::NotAZip(e.to_string()))?;
    if out.len() as u64 > max {
        return Err(NuspecError::TooLarge(format!("{what} is over {max} bytes")));
    }
    Ok(out)
}

impl Nuspec {
    /// The version's metadata as Depot stores it, shaped like a NuGet catalog entry: `id`,
    /// `version` (normalized), `title`, `description`, `authors`, `licenseExpression`,
    /// `licenseUrl`, `projectUrl`, `repositoryUrl`, `tags` (array), `readme`,
    /// `dependencyGroups` [{`targetFramework`, `dependencies` [{`id`, `range`}]}]. Absent
    /// optional fields are left out.
    pub(crate) fn to_metadata(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("version".into(), json!(self.normalized_version));
        let optional = [
            ("title", &self.title),
            ("description", &self.description),
            ("authors", &self.authors),
            ("licenseExpression", &self.license_expression),
            ("licenseUrl", &self.license_url),
            ("projectUrl", &self.project_url),
            ("repositoryUrl", &self.repository_url),
            ("readme", &self.readme),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let Some(tags) = &self.tags {
            let tags: Vec<&str> = tags.split([' ', ',', ';']).filter(|t| !t.is_empty()).collect();
            m.insert("tags".into(), json!(tags));
        }
        let groups: Vec<Value> = self
            .dependency_groups
            .iter()
            .map(|g| {
                let deps: Vec<Value> = g.dependencies.iter().map(|d| json!({"id": d.id, "range": d.range})).collect();
                let mut o = Map::new();
                if let Some(tf) = &g.target_framework {
                    o.insert("targetFramework".into(), json!(tf));
                }
                o.insert("dependencies".into(), Value::Array(deps));
                Value::Object(o)
            })
            .collect();
        m.insert("dependencyGroups".into(), Value::Array(groups));
        Value::Object(m)
    }
}

/// NuGet's package-id rule: word characters separated by single `.` or `-`, at most 100.
pub(crate) fn valid_id(id: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    id.chars().count() <= 100 && id.split(['.', '-']).all(|part| !part.is_empty() && part.chars().all(word))
}

#[cfg(test)]
mod tests;
