//! What can go wrong in the engine, classified once; `api` and each format render it in
//! their own shape. Every variant records whose fault it was through its kind.

use std::sync::Arc;

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

/// Why a request to an external connection failed. The variant decides how each surface
/// answers: failing fast where a retry cannot help, 5xx where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The connection has no upstream URL configured.
    Unconfigured,
    /// No connection could be made (refused, name resolution, TLS).
    Unreachable,
    /// Recent requests failed; the circuit breaker is open.
    CircuitOpen,
    /// No answer (or no data) within the connection's timeout.
    Timeout,
    /// The upstream answered with this error status.
    Status(u16),
    /// The upstream asked Depot to slow down (429, or 503 with `Retry-After`).
    RateLimited {
        /// How long it asked for, when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The transfer broke off.
    Interrupted,
    /// The upstream's bytes are unusable (declared hash mismatch, unparsable metadata).
    Invalid(String),
}

/// A failed request to an external connection: whose it was, why, and the underlying cause
/// (for logs). Its message names the connection, never a URL (URLs may carry credentials).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub struct UpstreamError {
    /// The external connection (`public:npmjs`).
    pub connection: String,
    /// What went wrong.
    pub failure: UpstreamFailure,
    /// The underlying error, without URLs.
    #[source]
    pub cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl UpstreamError {
    /// An error without an underlying cause.
    pub fn new(connection: impl Into<String>, failure: UpstreamFailure) -> Self {
        Self { connection: connection.into(), failure, cause: None }
    }

    /// Whether asking again soon may succeed (timeouts, 5xx, rate limits, broken transfers);
    /// false when the upstream is down or unusable, so clients should not wait on retries.
    pub fn retryable(&self) -> bool {
        match &self.failure {
            UpstreamFailure::Timeout | UpstreamFailure::RateLimited { .. } | UpstreamFailure::Interrupted => true,
            UpstreamFailure::Status(s) => *s >= 500,
            UpstreamFailure::Unconfigured
            | UpstreamFailure::Unreachable
            | UpstreamFailure::CircuitOpen
            | UpstreamFailure::Invalid(_) => false,
        }
    }

    /// Whether the upstream is known to be down or absent (nothing answered).
    pub fn is_outage(&self) -> bool {
        matches!(
            self.failure,
            UpstreamFailure::Unconfigured | UpstreamFailure::Unreachable | UpstreamFailure::CircuitOpen
        )
    }

    fn message(&self) -> String {
        let c = &self.connection;
        match &self.failure {
            UpstreamFailure::Unconfigured => format!(
                "external connection {c} has no upstream URL configured; set connections.\"{c}\".url in depot.toml or {}",
                crate::config::upstream_env_var(c)
            ),
            UpstreamFailure::Unreachable => format!("external connection {c} is unreachable"),
            UpstreamFailure::CircuitOpen => {
                format!("external connection {c} is unavailable (its recent requests failed; Depot retries shortly)")
            }
            UpstreamFailure::Timeout => format!("external connection {c} did not answer in time"),
            UpstreamFailure::Status(s) => format!("external connection {c} answered HTTP {s}"),
            UpstreamFailure::RateLimited { retry_after: Some(d) } => {
                format!("external connection {c} is rate-limiting Depot (retry after {} s)", d.as_secs().max(1))
            }
            UpstreamFailure::RateLimited { retry_after: None } => {
                format!("external connection {c} is rate-limiting Depot")
            }
            UpstreamFailure::Interrupted => format!("the transfer from external connection {c} broke off"),
            UpstreamFailure::Invalid(why) => format!("external connection {c} sent unusable data: {why}"),
        }
    }
}

/// Engine failures and non-success outcomes, classified by whose fault they are: the
/// client's (`Validation`, `NotFound`, `Conflict`, `Quota`, `Unauthorized`, `Forbidden`), the
/// upstream's (`Upstream`), or Depot's own (`Store`, `Internal`).
/// Cheap to clone, so one ingestion outcome reaches every waiting client unchanged.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// A package Depot has nothing of, whose external connection failed.
    #[error("package {package} is not cached and {source}")]
    Upstream {
        /// The package asked for.
        package: String,
        /// Why the connection failed.
        source: UpstreamError,
    },
    /// The metadata or blob store failed; details are logged, not shown.
    #[error("storage failure: {0}")]
    Store(Arc<StoreError>),
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
    /// An upstream failure while Depot has nothing of `package`.
    pub fn upstream(package: impl std::fmt::Display, source: UpstreamError) -> Self {
        Self::Upstream { package: package.to_string(), source }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl From<InvalidName> for EngineError {
    fn from(e: InvalidName) -> Self {
        Self::Validation(e.0)
    }
}

/// Engine result.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
