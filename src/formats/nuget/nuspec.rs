//! The `.nuspec` inside a `.nupkg`. Placeholder with the API agreed with the "nuget-parts"
//! slice, which owns this file; replaced by its version at the merge.

use std::io::Read;

use crate::store::ReadSeek;

/// Why a `.nupkg` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum NuspecError {
    /// Not a zip, or a broken one.
    #[error("not a valid .nupkg: {0}")]
    Zip(String),
    /// No `.nuspec` at the root.
    #[error("the .nupkg has no .nuspec")]
    Missing,
    /// The `.nuspec` is too large.
    #[error("the .nuspec is too large")]
    TooLarge,
}

/// A package's `.nuspec` (the placeholder keeps its bytes only).
#[derive(Debug, Clone)]
pub struct Nuspec {
    /// The `.nuspec` document (unused until the real parser replaces this file).
    #[allow(dead_code)]
    pub raw: Vec<u8>,
}

const MAX_NUSPEC: u64 = 1 << 20;

/// Reads the root `.nuspec` of a `.nupkg`.
pub fn read_nupkg(file: &mut dyn ReadSeek) -> Result<Nuspec, NuspecError> {
    let mut zip = zip::ZipArchive::new(file).map_err(|e| NuspecError::Zip(e.to_string()))?;
    let index = (0..zip.len())
        .find(|i| {
            zip.by_index_raw(*i)
                .ok()
                .and_then(|e| e.name().ok().map(|n| !n.contains('/') && n.to_ascii_lowercase().ends_with(".nuspec")))
                .unwrap_or(false)
        })
        .ok_or(NuspecError::Missing)?;
    let entry = zip.by_index(index).map_err(|e| NuspecError::Zip(e.to_string()))?;
    let mut raw = Vec::new();
    entry.take(MAX_NUSPEC + 1).read_to_end(&mut raw).map_err(|e| NuspecError::Zip(e.to_string()))?;
    if raw.len() as u64 > MAX_NUSPEC {
        return Err(NuspecError::TooLarge);
    }
    Ok(Nuspec { raw })
}

impl Nuspec {
    /// catalogEntry-like JSON (the placeholder has none).
    pub fn to_metadata(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
