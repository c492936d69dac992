//! The stored form of a package-version event: everything CodeArtifact's EventBridge event
//! carries, fixed at the instant of the change (the engine renders the wire JSON from it).

use serde::{Deserialize, Serialize};

use super::{AccountId, DomainName, PackageId, PackageVersionStatus, RepositoryName, Version};

/// CodeArtifact's `operationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventOperation {
    /// The version did not exist in the repository before.
    Created,
    /// Its assets, metadata or status changed.
    Updated,
    /// It left the repository.
    Deleted,
}

impl EventOperation {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Updated => "Updated",
            Self::Deleted => "Deleted",
        }
    }
}

/// CodeArtifact's `changes` object: counts of assets by name and digest, and two flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventChanges {
    /// Assets whose name is new.
    pub assets_added: u32,
    /// Assets whose name is gone.
    pub assets_removed: u32,
    /// Assets whose name stayed but whose SHA-256 changed.
    pub assets_updated: u32,
    /// The version's format metadata changed.
    pub metadata_updated: bool,
    /// The version's status changed (created and deleted versions count as changed).
    pub status_changed: bool,
}

impl EventChanges {
    /// Nothing an event would report.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One package-version event as stored under its global position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Global, gap-free, increasing position (the feed cursor).
    pub position: u64,
    /// Unique id (the envelope's `id`).
    pub id: String,
    /// When the change was committed (RFC 3339).
    pub time: String,
    /// The domain.
    pub domain: DomainName,
    /// The domain's owner.
    pub owner: AccountId,
    /// The repository.
    pub repository: RepositoryName,
    /// The package.
    pub package: PackageId,
    /// The version.
    pub version: Version,
    /// The version's status after the change (for a deletion: its last status).
    pub state: PackageVersionStatus,
    /// The version's revision after the change (for a deletion: its last revision).
    pub revision: String,
    /// What changed.
    pub changes: EventChanges,
    /// Created, Updated or Deleted.
    pub operation: EventOperation,
    /// Increasing per (domain, repository, package).
    pub sequence: u64,
    /// Equal for deliveries of the same event; consumers dedupe on it.
    pub dedup_id: String,
}
