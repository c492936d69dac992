//! Domain types shared by every layer: validated identifiers, formats, statuses; stored records
//! live in `records` and are re-exported here.
//!
//! Identifiers are checked when they are built *and* when they are deserialized
//! (`#[serde(try_from = "String")]`), so a bad name never reaches a store key or a file path.
//! Stored records live here too; wire shapes (CodeArtifact JSON, packuments) belong to `api`
//! and `formats`, never here.

use std::fmt;

use serde::{Deserialize, Serialize};

mod records;
pub use records::{
    Asset, AssetAttributes, DomainRecord, Origin, OriginRestriction, OriginRestrictions, PackageRecord,
    PackageVersionRecord, RepositoryRecord,
};

/// Why an identifier was refused; the text names the field, as CodeArtifact's ValidationException does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

macro_rules! ident {
    ($(#[$m:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, InvalidName> {
                let s = s.into();
                let check: fn(&str) -> Result<(), String> = $check;
                check(&s).map_err(|why| InvalidName(format!("{}: {why}", $field)))?;
                Ok(Self(s))
            }
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, InvalidName> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn len_between(s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("must be between {min} and {max} characters long"));
    }
    Ok(())
}

ident!(
    /// `[a-z][a-z0-9-]{0,48}[a-z0-9]`
    DomainName,
    "domain",
    |s| {
        len_between(s, 2, 50)?;
        let b = s.as_bytes();
        let ok = b[0].is_ascii_lowercase()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[b.len() - 1] != b'-';
        if ok {
            Ok(())
        } else {
            Err("must match [a-z][a-z0-9\\-]{0,48}[a-z0-9]".into())
        }
    }
);

ident!(
    /// `[A-Za-z0-9][A-Za-z0-9._-]{1,99}`
    RepositoryName,
    "repository",
    |s| {
        len_between(s, 2, 100)?;
        let b = s.as_bytes();
        let ok = b[0].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if ok {
            Ok(())
        } else {
            Err("must match [A-Za-z0-9][A-Za-z0-9._\\-]{1,99}".into())
        }
    }
);

ident!(
    /// Twelve digits.
    AccountId,
    "domainOwner",
    |s| {
        if s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit()) {
            Ok(())
        } else {
            Err("must be a 12-digit account id".into())
        }
    }
);

/// CodeArtifact's `[^#/\s]+`, 1..=255, plus no control characters and no `..` path
/// segments: these names end up in URLs and in store keys.
fn package_text(s: &str) -> Result<(), String> {
    len_between(s, 1, 255)?;
    if s.chars().any(|c| c == '#' || c == '/' || c.is_whitespace() || c.is_control()) {
        return Err("must not contain '#', '/', whitespace or control characters".into());
    }
    if s == "." || s == ".." {
        return Err("must not be '.' or '..'".into());
    }
    Ok(())
}

ident!(
    /// A package name without its namespace (npm: without the scope).
    PackageName,
    "package",
    package_text
);
ident!(
    /// A package namespace (npm: the scope without '@').
    Namespace,
    "namespace",
    package_text
);
ident!(
    /// A package version as the format writes it.
    Version,
    "version",
    package_text
);
ident!(
    /// An asset (file) name within a package version.
    AssetName,
    "asset",
    package_text
);

/// A lower-case hex SHA-256 digest; blob paths are derived from it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// Wraps raw digest bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, InvalidName> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| InvalidName("sha256: must be 64 hex characters".into()))?;
        Ok(Self(out))
    }
    /// Lower-case hex.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Raw digest bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}
impl TryFrom<String> for Sha256 {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, InvalidName> {
        Self::from_hex(&s)
    }
}
impl From<Sha256> for String {
    fn from(v: Sha256) -> String {
        v.hex()
    }
}
impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// Package formats Depot knows of; the wire names are CodeArtifact's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageFormat {
    /// npm registry protocol.
    Npm,
    /// PyPI simple API and legacy upload.
    Pypi,
    /// Maven repository layout (also the Gradle plugin portal).
    Maven,
    /// NuGet V3.
    Nuget,
}

impl PackageFormat {
    /// Every format, in a stable order.
    pub const ALL: [PackageFormat; 4] = [Self::Npm, Self::Pypi, Self::Maven, Self::Nuget];

    /// CodeArtifact's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pypi => "pypi",
            Self::Maven => "maven",
            Self::Nuget => "nuget",
        }
    }
    /// Parses CodeArtifact's wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}
impl fmt::Display for PackageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CodeArtifact's `PackageVersionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PackageVersionStatus {
    /// Visible and downloadable.
    Published,
    /// Being written (Maven publishes); invisible.
    Unfinished,
    /// Downloadable by exact version but left out of version lists.
    Unlisted,
    /// Neither listed nor downloadable.
    Archived,
    /// Assets removed; neither listed nor downloadable.
    Disposed,
}

impl PackageVersionStatus {
    /// Shown in version lists and used for resolution.
    pub fn is_listed(self) -> bool {
        matches!(self, Self::Published)
    }
    /// Its assets may be downloaded.
    pub fn is_downloadable(self) -> bool {
        matches!(self, Self::Published | Self::Unlisted)
    }
    /// CodeArtifact's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "Published",
            Self::Unfinished => "Unfinished",
            Self::Unlisted => "Unlisted",
            Self::Archived => "Archived",
            Self::Disposed => "Disposed",
        }
    }
    /// Parses CodeArtifact's wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Published, Self::Unfinished, Self::Unlisted, Self::Archived, Self::Disposed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A package's identity inside a repository: format, optional namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackageId {
    /// Package format.
    pub format: PackageFormat,
    /// npm scope without '@', Maven groupId; none for PyPI and NuGet.
    pub namespace: Option<Namespace>,
    /// Name within the namespace, normalized as the format requires.
    pub name: PackageName,
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.namespace, self.format) {
            (Some(ns), PackageFormat::Npm) => write!(f, "@{ns}/{}", self.name),
            (Some(ns), _) => write!(f, "{ns}:{}", self.name),
            (None, _) => f.write_str(self.name.as_str()),
        }
    }
}

/// The current time as RFC 3339, the form stored in records.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The current time in seconds since the epoch, the form the management API returns.
pub fn now_epoch() -> f64 {
    let now = time::OffsetDateTime::now_utc();
    now.unix_timestamp() as f64 + f64::from(now.millisecond()) / 1000.0
}

/// Package-version events (their stored form).
pub mod event;
pub use event::{EventChanges, EventOperation, EventRecord};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert!(DomainName::new("my-domain").is_ok());
        assert!(DomainName::new("a").is_err());
        assert!(DomainName::new("My").is_err());
        assert!(DomainName::new("ab-").is_err());
        assert!(DomainName::new("1ab").is_err());
    }

    #[test]
    fn package_names_refuse_paths() {
        assert!(PackageName::new("left-pad").is_ok());
        assert!(PackageName::new("..").is_err());
        assert!(PackageName::new("a/b").is_err());
        assert!(PackageName::new("a b").is_err());
        assert!(PackageName::new("").is_err());
        let e = RepositoryName::new("x").unwrap_err();
        assert!(e.0.starts_with("repository:"), "{e}");
    }

    #[test]
    fn deserialization_validates() {
        let r: Result<PackageName, _> = serde_json::from_str("\"../etc\"");
        assert!(r.is_err());
    }
}
