//! External connections: the fixed catalog, each connection's settings (URL, credentials,
//! timeouts, politeness) and how a URL is shown without its password.

use serde::{Deserialize, Serialize};

use crate::model::PackageFormat;

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
    200.0
}
fn default_burst() -> u32 {
    400
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
