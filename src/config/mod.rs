//! Configuration: one tree of structs, built from layers — the embedded, commented
//! `config/depot.toml` < a file given with `--config` < `DEPOT_*` environment variables —
//! then validated as a whole before anything binds a port.
//!
//! The environment is read through [`Env`] so tests pass a map instead of mutating the
//! process.

mod env;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use env::{Env, MapEnv, ProcessEnv};
pub use transport::TransportLimits;

use crate::model::{AccountId, DomainName, PackageFormat, RepositoryName};

/// The shipped default configuration, also used as the base layer.
pub const DEFAULT_TOML: &str = include_str!("../../config/depot.toml");

/// The fixed catalog of external connections and their formats.
pub const CONNECTIONS: [(&str, PackageFormat); 7] = [
    ("public:npmjs", PackageFormat::Npm),
    ("public:pypi", PackageFormat::Pypi),
    ("public:maven-central", PackageFormat::Maven),
    ("public:maven-googleandroid", PackageFormat::Maven),
    ("public:maven-gradleplugins", PackageFormat::Maven),
    ("public:maven-commonsware", PackageFormat::Maven),
    ("public:nuget-org", PackageFormat::Nuget),
];

/// The format of a known external connection.
pub fn connection_format(name: &str) -> Option<PackageFormat> {
    CONNECTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The environment variable that overrides a connection's upstream URL.
pub fn upstream_env_var(connection: &str) -> String {
    let tail: String =
        connection.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("DEPOT_UPSTREAM_{tail}")
}

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

/// `[connections."<name>"]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Upstream base URL; empty means not configured.
    #[serde(default)]
    pub url: String,
    /// Whole-request timeout for metadata (asset downloads get an idle timeout of this length).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Connect timeout.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Retries after a failed attempt (with exponential back-off).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// User name for HTTP Basic authentication to the upstream (instead of `user:pass@` in
    /// the URL).
    #[serde(default)]
    pub username: String,
    /// Password for HTTP Basic authentication; masked wherever configuration is shown.
    #[serde(default)]
    pub password: String,
    /// Requests per second Depot sends this upstream (0: unlimited).
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    /// Requests that may go at once before the rate applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// The longest `Retry-After` Depot waits out before retrying; a longer one fails the
    /// request (and pauses the connection for that long).
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_secs: u64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout_secs: default_timeout(),
            connect_timeout_secs: default_connect_timeout(),
            retries: default_retries(),
            username: String::new(),
            password: String::new(),
            rate_per_sec: default_rate(),
            burst: default_burst(),
            max_retry_after_secs: default_max_retry_after(),
        }
    }
}

fn default_timeout() -> u64 {
    30
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    2
}
fn default_rate() -> f64 {
    50.0
}
fn default_burst() -> u32 {
    100
}
fn default_max_retry_after() -> u64 {
    60
}

/// The URL with any password replaced, for logs and `config show`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        // Not a URL: show nothing of it that could be a secret.
        Err(_) if raw.contains('@') => "<unparsable URL>".to_string(),
        Err(_) => raw.to_string(),
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
        toml::to_string_pretty(&c).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let c = Config::load(None, &MapEnv::default()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.account.id, "000000000000");
        assert_eq!(c.account.region, "us-east-1");
        assert_eq!(c.ingestion.wait_secs, 40.0);
        assert_eq!(c.cache.max_age(PackageFormat::Pypi), Duration::from_secs(10800));
        assert_eq!(c.cache.max_age(PackageFormat::Npm), Duration::from_secs(600));
        assert!(c.connection_url("public:npmjs").is_none());
        assert_eq!(c.connections.len(), CONNECTIONS.len());
    }

    #[test]
    fn env_names() {
        assert_eq!(upstream_env_var("public:npmjs"), "DEPOT_UPSTREAM_PUBLIC_NPMJS");
        assert_eq!(upstream_env_var("public:maven-central"), "DEPOT_UPSTREAM_PUBLIC_MAVEN_CENTRAL");
        let env = MapEnv::from([
            ("DEPOT_LISTEN", "127.0.0.1:0"),
            ("DEPOT_UPSTREAM_PUBLIC_NPMJS", "http://127.0.0.1:9/"),
            ("DEPOT_METADATA_MAX_AGE_NPM_SECS", "5"),
            ("DEPOT_INGESTION_WAIT_SECS", "2"),
            ("DEPOT_ADMIN_ACCESS_KEY_ID", "AKID"),
            ("DEPOT_ADMIN_SECRET_ACCESS_KEY", "SECRET"),
        ]);
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.connection_url("public:npmjs"), Some("http://127.0.0.1:9/"));
        assert_eq!(c.cache.npm_max_age_secs, 5);
        assert_eq!(c.ingestion.wait_secs, 2.0);
        assert_eq!(c.auth.admin_keys.len(), 1);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::load(Some("[server]\nlisten = \"nope\""), &MapEnv::default()).unwrap_err();
        assert_eq!(e.key, "server.listen");
        let e = Config::load(None, &MapEnv::from([("DEPOT_ACCOUNT_ID", "12")])).unwrap_err();
        assert_eq!(e.key, "DEPOT_ACCOUNT_ID");
        let e = Config::load(Some("[connections.\"public:nope\"]\nurl = \"\""), &MapEnv::default()).unwrap_err();
        assert!(e.key.contains("public:nope"));
    }

    #[test]
    fn upstream_credentials_never_show() {
        let env = MapEnv::from([
            ("DEPOT_UPSTREAM_PUBLIC_NPMJS", "http://mirror:hunter2@127.0.0.1:9/npm/"),
            ("DEPOT_UPSTREAM_PUBLIC_PYPI_USERNAME", "bot"),
            ("DEPOT_UPSTREAM_PUBLIC_PYPI_PASSWORD", "tr0ub4dor"),
        ]);
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.connections["public:pypi"].username, "bot");
        assert_eq!(c.connections["public:pypi"].password, "tr0ub4dor");
        let shown = c.show();
        assert!(!shown.contains("hunter2") && !shown.contains("tr0ub4dor"), "{shown}");
        assert!(shown.contains("http://mirror:REDACTED@127.0.0.1:9/npm/"), "{shown}");
        let e = Config::load(None, &MapEnv::from([("DEPOT_UPSTREAM_PUBLIC_PYPI_PASSWORD", "x")])).unwrap_err();
        assert!(e.key.contains("username"), "{e}");
        assert_eq!(redact_url("https://a:b@h/x"), "https://a:REDACTED@h/x");
        assert_eq!(redact_url("https://h/x"), "https://h/x");
    }

    #[test]
    fn max_package_bytes() {
        let c = Config::load(None, &MapEnv::default()).unwrap();
        assert_eq!(c.server.max_package_bytes, 256 * 1024 * 1024);
        let c = Config::load(None, &MapEnv::from([("DEPOT_MAX_PACKAGE_BYTES", "1048576")])).unwrap();
        assert_eq!(c.server.max_package_bytes, 1024 * 1024);
        let e = Config::load(Some("[server]\nmax_package_bytes = 0"), &MapEnv::default()).unwrap_err();
        assert_eq!(e.key, "server.max_package_bytes");
        let e = Config::load(None, &MapEnv::from([("DEPOT_MAX_PACKAGE_BYTES", "lots")])).unwrap_err();
        assert_eq!(e.key, "DEPOT_MAX_PACKAGE_BYTES");
    }

    #[test]
    fn file_layer_overrides_only_what_it_sets() {
        let c = Config::load(Some("[ingestion]\nwait_secs = 3"), &MapEnv::default()).unwrap();
        assert_eq!(c.ingestion.wait_secs, 3.0);
        assert_eq!(c.ingestion.workers, 16);
    }
}
