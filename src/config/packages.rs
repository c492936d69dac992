//! `[packages]`: package-level policy, today the origin-control defaults.

use serde::{Deserialize, Serialize};

use super::{cerr, ConfigError, Env};

/// `[packages]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesConfig {
    /// "first-origin" or "open" (kept as text so a bad value is reported with its key).
    pub origin_defaults: String,
}

impl Default for PackagesConfig {
    fn default() -> Self {
        Self { origin_defaults: "first-origin".into() }
    }
}

/// What a package gets as origin controls when its first version enters a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginDefaults {
    /// CodeArtifact's rule: published first → publish ALLOW / upstream BLOCK; retained or
    /// ingested first → publish BLOCK / upstream ALLOW.
    FirstOrigin,
    /// The guide's older behaviour: both ALLOW.
    Open,
}

impl OriginDefaults {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "first-origin" => Some(Self::FirstOrigin),
            "open" => Some(Self::Open),
            _ => None,
        }
    }
}

const WHY: &str = "must be \"first-origin\" or \"open\"";

impl PackagesConfig {
    /// The parsed `origin_defaults` (validated at load; an unknown value means first-origin).
    pub fn origin_defaults(&self) -> OriginDefaults {
        OriginDefaults::parse(&self.origin_defaults).unwrap_or(OriginDefaults::FirstOrigin)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        OriginDefaults::parse(&self.origin_defaults).map(|_| ()).ok_or_else(|| cerr("packages.origin_defaults", WHY))
    }

    pub(super) fn apply_env(&mut self, env: &dyn Env) -> Result<(), ConfigError> {
        if let Some(v) = env.get("DEPOT_PACKAGES_ORIGIN_DEFAULTS") {
            OriginDefaults::parse(&v).ok_or_else(|| cerr("DEPOT_PACKAGES_ORIGIN_DEFAULTS", WHY))?;
            self.origin_defaults = v;
        }
        Ok(())
    }
}
