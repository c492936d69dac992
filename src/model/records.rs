//! Per-package records: a package's own state in one repository (tags, origin controls).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
