//! Stored records: domains, repositories, package versions with their assets, and a package's
//! own state in one repository (tags, origin controls).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AccountId, AssetName, DomainName, PackageVersionStatus, RepositoryName, Sha256, Version};

/// Where a package version entered the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    /// Published directly to a repository.
    Internal {
        /// The repository it was published to.
        repository: RepositoryName,
    },
    /// Ingested through an external connection.
    External {
        /// The connection it came through.
        connection: String,
    },
}

/// A stored file of a package version; the bytes live once per domain in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// File name (npm: `name-1.0.0.tgz`).
    pub name: AssetName,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes: the blob's key.
    pub sha256: Sha256,
    /// Other digests clients and the API report (`sha1`, `md5`, `sha512` as hex).
    pub hashes: BTreeMap<String, String>,
    /// What a format's index says about this one file (PyPI: requires-python, yanked, …).
    #[serde(default, skip_serializing_if = "AssetAttributes::is_empty")]
    pub attributes: AssetAttributes,
}

/// Per-file attributes some formats publish in their indexes; format-neutral data, empty for
/// formats without them (npm).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetAttributes {
    /// The Python versions the file supports (a PEP 440 specifier set, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// Yanked, with the reason (`Some("")`: yanked without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    /// The SHA-256 of the file's core metadata (PEP 658), itself stored as a blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_metadata: Option<Sha256>,
    /// When the file was uploaded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
}

impl AssetAttributes {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A package version as stored in one repository. Retained copies share assets (blobs) and
/// carry the same revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageVersionRecord {
    /// Version as the format writes it.
    pub version: Version,
    /// Lifecycle status.
    pub status: PackageVersionStatus,
    /// Hash over assets and metadata; changes whenever either does.
    pub revision: String,
    /// Files.
    pub assets: Vec<Asset>,
    /// The format's own per-version metadata (npm: the version manifest), as JSON.
    pub metadata: serde_json::Value,
    /// When it entered the domain (RFC 3339).
    pub published_time: String,
    /// Where it entered the domain.
    pub origin: Origin,
}

/// A domain as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainRecord {
    /// Name.
    pub name: DomainName,
    /// Owner account.
    pub owner: AccountId,
    /// Creation time, seconds since the epoch.
    pub created: f64,
    /// Optional KMS key ARN as given at creation (kept, unused).
    pub encryption_key: Option<String>,
}

/// A repository as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryRecord {
    /// Domain it belongs to.
    pub domain: DomainName,
    /// Name.
    pub name: RepositoryName,
    /// Free text.
    pub description: Option<String>,
    /// Upstream repositories in priority order.
    pub upstreams: Vec<RepositoryName>,
    /// Associated external connection names (CodeArtifact allows one).
    pub external_connections: Vec<String>,
    /// Creation time, seconds since the epoch.
    pub created: f64,
}

/// One of CodeArtifact's `AllowPublish` / `AllowUpstream` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OriginRestriction {
    /// Versions may enter this way.
    Allow,
    /// Versions may not enter this way.
    Block,
}

impl OriginRestriction {
    /// CodeArtifact's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Block => "BLOCK",
        }
    }
    /// Parses CodeArtifact's wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ALLOW" => Some(Self::Allow),
            "BLOCK" => Some(Self::Block),
            _ => None,
        }
    }
}

/// CodeArtifact's `PackageOriginRestrictions`: how new versions of a package may enter one
/// repository — published directly (`publish`), or retained from an upstream repository or
/// ingested from an external connection (`upstream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OriginRestrictions {
    /// Direct publishes.
    pub publish: OriginRestriction,
    /// Retention from upstream repositories and ingestion from external connections.
    pub upstream: OriginRestriction,
}

impl OriginRestrictions {
    /// Both ways allowed: what a package without restrictions gets.
    pub const OPEN: Self = Self { publish: OriginRestriction::Allow, upstream: OriginRestriction::Allow };

    /// Whether direct publishes are allowed.
    pub fn allows_publish(&self) -> bool {
        self.publish == OriginRestriction::Allow
    }
    /// Whether versions may come from upstream repositories and external connections.
    pub fn allows_upstream(&self) -> bool {
        self.upstream == OriginRestriction::Allow
    }
}

/// A package's own state in one repository, besides its versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// npm dist-tags held by this repository.
    pub tags: BTreeMap<String, String>,
    /// Origin controls. `None`: never set (records written before origin controls, or made by a
    /// tag change before any version arrived), which restricts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<OriginRestrictions>,
}

impl PackageRecord {
    /// The restrictions in force.
    pub fn restrictions(&self) -> OriginRestrictions {
        self.origin.unwrap_or(OriginRestrictions::OPEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_records_decode_open() {
        let r: PackageRecord = serde_json::from_str(r#"{"tags":{"latest":"1.0.0"}}"#).unwrap();
        assert_eq!(r.origin, None);
        assert_eq!(r.restrictions(), OriginRestrictions::OPEN);
        let r = PackageRecord {
            origin: Some(OriginRestrictions { publish: OriginRestriction::Allow, upstream: OriginRestriction::Block }),
            ..Default::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""upstream":"BLOCK""#), "{json}");
        assert_eq!(serde_json::from_str::<PackageRecord>(&json).unwrap(), r);
    }
}
