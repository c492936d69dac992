//! Configuration: one tree of structs, built from layers — the embedded, commented
//! `config/depot.toml` < a file given with `--config` < `DEPOT_*` environment variables —
//! then validated as a whole before anything binds a port.
//!
//! The environment is read through [`Env`] so tests pass a map instead of mutating the
//! process.

mod connections;
mod env;
mod events;
mod packages;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use connections::{connection_format, redact_url, upstream_env_var, ConnectionConfig, CONNECTIONS};
pub use env::{Env, MapEnv, ProcessEnv};
pub use events::{EventsConfig, WebhookConfig};
pub use packages::{OriginDefaults, PackagesConfig};
pub use transport::TransportLimits;

use crate::model::{AccountId, DomainName, PackageFormat, RepositoryName};

/// The shipped default configuration, also used as the base layer.
pub const DEFAULT_TOML: &str = include_str!("../../config/depot.toml");

/// The largest `server.max_package_bytes` accepted: a publish body is about 4/3 of it and must
/// still fit a `u64` byte count with room for its metadata.
pub const MAX_PACKAGE_BYTES_CEILING: u64 = 1 << 40;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener and HTTP limits.
    pub server: ServerConfig,
    /// Data directory.
    pub storage: StorageConfig,
    /// Account id and region.
    pub account: AccountConfig,
    /// Management API keys.
    pub auth: AuthConfig,
    /// Ingestion limits and the client wait.
    pub ingestion: IngestionConfig,
    /// Metadata max ages.
    pub cache: CacheConfig,
    /// External connections by name.
    pub connections: BTreeMap<String, ConnectionConfig>,
    /// Domains and repositories created at start-up.
    #[serde(default)]
    pub bootstrap: Vec<BootstrapDomain>,
    /// Event webhooks and their delivery back-off.
    #[serde(default)]
    pub events: EventsConfig,
    /// Package-level policy (origin-control defaults).
    #[serde(default)]
    pub packages: PackagesConfig,
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: String,
    /// Public base URL; empty means `http://<listen>`.
    pub public_url: String,
    /// "auto", "true" or "false".
    pub anonymous_reads: String,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Concurrent requests before load shedding.
    pub max_concurrent_requests: usize,
    /// Largest package file a publish may carry (decoded bytes); the publish body limit follows
    /// from it.
    pub max_package_bytes: u64,
    /// Longest wait for a complete request head (from accept, or from its first byte).
    pub header_timeout_secs: f64,
    /// Longest idle time between requests on a kept-alive connection.
    pub keep_alive_timeout_secs: f64,
    /// Longest stall while reading a request body (also the grace before the rate check).
    pub body_timeout_secs: f64,
    /// Slowest average request-body rate accepted after the grace period; 0 turns it off.
    pub min_body_rate_bytes_per_sec: u64,
    /// Open connections at once; 0 = derived from the file-descriptor limit.
    pub max_connections: usize,
    /// Distinct Host values answered (each renders its own URLs) while `public_url` is empty.
    pub max_hosts: usize,
}

/// `[storage]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Data directory.
    pub data_dir: PathBuf,
}

/// `[account]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Domain owner account id.
    pub id: String,
    /// Region shown in ARNs and expected in signatures' scope.
    pub region: String,
}

/// One SigV4 key pair.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AdminKey {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminKey({}, <secret>)", self.access_key_id)
    }
}

/// `[auth]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Accepted key pairs.
    pub admin_keys: Vec<AdminKey>,
}

/// `[ingestion]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionConfig {
    /// Client wait before "Ingestion is in progress".
    pub wait_secs: f64,
    /// Concurrent ingestion jobs.
    pub workers: usize,
    /// Concurrent npm dependency prefetches.
    pub prefetch_concurrency: usize,
}

/// `[cache]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// npm metadata max age.
    pub npm_max_age_secs: u64,
    /// PyPI metadata max age.
    pub pypi_max_age_secs: u64,
    /// Maven metadata max age.
    pub maven_max_age_secs: u64,
    /// NuGet metadata max age.
    pub nuget_max_age_secs: u64,
    /// Bytes of parsed upstream metadata kept in memory (evicted entries reload from the store).
    pub upstream_max_bytes: u64,
    /// Bytes of ready-to-send documents (plain and gzip) kept in memory.
    pub rendered_max_bytes: u64,
    /// Bytes of small stored files (up to 1 MiB each) kept in memory for downloads; 0: none.
    pub asset_max_bytes: u64,
}

impl CacheConfig {
    /// The max age of a format's upstream metadata.
    pub fn max_age(&self, f: PackageFormat) -> Duration {
        Duration::from_secs(match f {
            PackageFormat::Npm => self.npm_max_age_secs,
            PackageFormat::Pypi => self.pypi_max_age_secs,
            PackageFormat::Maven => self.maven_max_age_secs,
            PackageFormat::Nuget => self.nuget_max_age_secs,
        })
    }
}

/// `[[bootstrap]]`: a domain and its repositories.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapDomain {
    /// Domain name.
    pub domain: String,
    /// Repositories, created in order.
    #[serde(default)]
    pub repositories: Vec<BootstrapRepository>,
}

/// A repository declared in `[[bootstrap]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRepository {
    /// Repository name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Upstreams in priority order.
    #[serde(default)]
    pub upstreams: Vec<String>,
    /// External connection to associate.
    #[serde(default)]
    pub external_connection: Option<String>,
}

/// A configuration error: names the key and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {why}")]
pub struct ConfigError {
    /// The offending key (`server.listen`, `DEPOT_LISTEN`, …).
    pub key: String,
    /// What is wrong.
    pub why: String,
}

fn cerr(key: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError { key: key.into(), why: why.into() }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

impl Config {
    /// Builds the effective configuration: embedded defaults, then `file_toml`, then `env`.
    pub fn load(file_toml: Option<&str>, env: &dyn Env) -> Result<Config, ConfigError> {
        let mut value: toml::Value =
            toml::from_str(DEFAULT_TOML).map_err(|e| cerr("<embedded defaults>", e.to_string()))?;
        if let Some(text) = file_toml {
            let over: toml::Value = toml::from_str(text).map_err(|e| cerr("<config file>", e.message().to_string()))?;
            merge(&mut value, over);
        }
        let mut cfg: Config =
            value.try_into().map_err(|e: toml::de::Error| cerr("<config file>", e.message().to_string()))?;
        env::apply(&mut cfg, env)?;
        cfg.packages.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if !self.server.public_url.is_empty() {
            let u = url::Url::parse(&self.server.public_url).map_err(|e| cerr("server.public_url", e.to_string()))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(cerr("server.public_url", "must be http or https"));
            }
        }
        if !matches!(self.server.anonymous_reads.as_str(), "auto" | "true" | "false") {
            return Err(cerr("server.anonymous_reads", "must be \"auto\", \"true\" or \"false\""));
        }
        self.validate_transport()?;
        AccountId::new(self.account.id.clone()).map_err(|e| cerr("account.id", e.0))?;
        if self.account.region.is_empty() {
            return Err(cerr("account.region", "must not be empty"));
        }
        for k in &self.auth.admin_keys {
            if k.access_key_id.is_empty() || k.secret_access_key.is_empty() {
                return Err(cerr("auth.admin_keys", "access_key_id and secret_access_key must not be empty"));
            }
        }
        if !(self.ingestion.wait_secs >= 0.0 && self.ingestion.wait_secs <= 3600.0) {
            return Err(cerr("ingestion.wait_secs", "must be between 0 and 3600"));
        }
        if self.server.max_package_bytes == 0 || self.server.max_package_bytes > MAX_PACKAGE_BYTES_CEILING {
            return Err(cerr("server.max_package_bytes", format!("must be between 1 and {MAX_PACKAGE_BYTES_CEILING}")));
        }
        if self.ingestion.workers == 0 || self.ingestion.prefetch_concurrency == 0 {
            return Err(cerr("ingestion", "workers and prefetch_concurrency must be at least 1"));
        }
        for (name, c) in &self.connections {
            if connection_format(name).is_none() {
                return Err(cerr(format!("connections.\"{name}\""), "unknown external connection"));
            }
            if !c.url.is_empty() {
                let u =
                    url::Url::parse(&c.url).map_err(|e| cerr(format!("connections.\"{name}\".url"), e.to_string()))?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(cerr(format!("connections.\"{name}\".url"), "must be http or https"));
                }
            }
            if !c.password.is_empty() && c.username.is_empty() {
                return Err(cerr(format!("connections.\"{name}\".username"), "a password needs a username"));
            }
            if !(c.rate_per_sec >= 0.0 && c.rate_per_sec.is_finite()) {
                return Err(cerr(format!("connections.\"{name}\".rate_per_sec"), "must be 0 (unlimited) or more"));
            }
            if c.burst == 0 {
                return Err(cerr(format!("connections.\"{name}\".burst"), "must be at least 1"));
            }
        }
        self.events.validate()?;
        self.packages.validate()?;
        for b in &self.bootstrap {
            DomainName::new(b.domain.clone()).map_err(|e| cerr("bootstrap.domain", e.0))?;
            for r in &b.repositories {
                RepositoryName::new(r.name.clone()).map_err(|e| cerr("bootstrap.repositories.name", e.0))?;
                if let Some(c) = &r.external_connection {
                    if connection_format(c).is_none() {
                        return Err(cerr(
                            "bootstrap.repositories.external_connection",
                            format!("unknown connection {c}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The parsed listen address (`localhost:PORT` is the IPv4 loopback).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        transport::parse_listen(&self.server.listen)
    }

    /// Whether reads need no token on this listener.
    pub fn anonymous_reads(&self, bound: SocketAddr) -> bool {
        match self.server.anonymous_reads.as_str() {
            "true" => true,
            "false" => false,
            _ => bound.ip().is_loopback(),
        }
    }

    /// The configured URL of a connection, if any.
    pub fn connection_url(&self, name: &str) -> Option<&str> {
        self.connections.get(name).map(|c| c.url.as_str()).filter(|u| !u.is_empty())
    }

    /// Renders the effective configuration as TOML (secrets masked).
    pub fn show(&self) -> String {
        let mut c = self.clone();
        for k in &mut c.auth.admin_keys {
            k.secret_access_key = "<secret>".into();
        }
        for conn in c.connections.values_mut() {
            conn.url = if conn.url.is_empty() { String::new() } else { redact_url(&conn.url) };
            if !conn.password.is_empty() {
                conn.password = "<secret>".into();
            }
        }
        for w in c.events.webhooks.values_mut() {
            w.url = redact_url(&w.url);
            w.secret = "<secret>".into();
        }
        toml::to_string_pretty(&c).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
