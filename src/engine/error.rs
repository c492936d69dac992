//! What can go wrong in the engine, classified once; `api` and each format render it in
//! their own shape. Every variant records whose fault it was through its kind.

use crate::model::InvalidName;
use crate::store::StoreError;

/// The kind of CodeArtifact resource a not-found or conflict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// A domain.
    Domain,
    /// A repository.
    Repository,
    /// A package.
    Package,
    /// A package version.
    PackageVersion,
    /// An asset.
    Asset,
}

impl ResourceType {
    /// CodeArtifact's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Repository => "repository",
            Self::Package => "package",
            Self::PackageVersion => "package-version",
            Self::Asset => "asset",
        }
    }
}

/// Engine failures and non-success outcomes.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The client sent something invalid; the message names the field.
    #[error("{0}")]
    Validation(String),
    /// The thing does not exist.
    #[error("{message}")]
    NotFound {
        /// Human message naming the thing.
        message: String,
        /// What kind of thing.
        resource: ResourceType,
        /// Its id.
        id: String,
    },
    /// The request conflicts with the current state (exists already, not empty, …).
    #[error("{message}")]
    Conflict {
        /// Human message.
        message: String,
        /// What kind of thing.
        resource: ResourceType,
        /// Its id.
        id: String,
    },
    /// A quota (10 upstreams, 1 external connection) would be exceeded.
    #[error("{0}")]
    Quota(String),
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials fine, action not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// An upstream fetch is still running past the client's wait.
    #[error("Ingestion is in progress. Please try again later.")]
    IngestionInProgress,
    /// The upstream could not be reached and nothing is cached.
    #[error("{0}")]
    UpstreamUnavailable(String),
    /// The upstream sent something Depot cannot use (bad hash, unparsable metadata).
    #[error("{0}")]
    UpstreamInvalid(String),
    /// Depot itself failed; details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// A not-found error naming the thing.
    pub fn not_found(resource: ResourceType, id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::NotFound { message: message.into(), resource, id: id.into() }
    }
    /// A conflict naming the thing.
    pub fn conflict(resource: ResourceType, id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { message: message.into(), resource, id: id.into() }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<InvalidName> for EngineError {
    fn from(e: InvalidName) -> Self {
        Self::Validation(e.0)
    }
}

/// Engine result.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
