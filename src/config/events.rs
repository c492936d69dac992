//! `[events]`: webhook targets and their delivery back-off.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{cerr, ConfigError};

/// `[events]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// First wait after a failed delivery; doubled per failure.
    pub retry_base_secs: f64,
    /// Longest wait between delivery attempts.
    pub retry_max_secs: f64,
    /// Most events in one webhook POST.
    pub batch_size: usize,
    /// How often a webhook task looks for events without being woken (a safety net).
    pub poll_secs: f64,
    /// Longest wait for a target's answer.
    pub timeout_secs: f64,
    /// Webhook targets by name (the name keys the target's persisted cursor).
    pub webhooks: BTreeMap<String, WebhookConfig>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retry_base_secs: 1.0,
            retry_max_secs: 300.0,
            batch_size: 10,
            poll_secs: 30.0,
            timeout_secs: 10.0,
            webhooks: BTreeMap::new(),
        }
    }
}

/// `[events.webhooks.<name>]`
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where events are POSTed (http or https; loopback is allowed).
    pub url: String,
    /// The HMAC-SHA256 key of the `X-Depot-Signature` header.
    pub secret: String,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookConfig({}, <secret>)", super::redact_url(&self.url))
    }
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v)
}

impl EventsConfig {
    /// First back-off.
    pub fn retry_base(&self) -> Duration {
        secs(self.retry_base_secs)
    }
    /// Longest back-off.
    pub fn retry_max(&self) -> Duration {
        secs(self.retry_max_secs)
    }
    /// Safety-net poll interval.
    pub fn poll(&self) -> Duration {
        secs(self.poll_secs)
    }
    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        secs(self.timeout_secs)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let in_range = |v: f64| v.is_finite() && v > 0.0 && v <= 86_400.0;
        for (k, v) in [
            ("events.retry_base_secs", self.retry_base_secs),
            ("events.retry_max_secs", self.retry_max_secs),
            ("events.poll_secs", self.poll_secs),
            ("events.timeout_secs", self.timeout_secs),
        ] {
            if !in_range(v) {
                return Err(cerr(k, "must be more than 0 and at most 86400"));
            }
        }
        if self.retry_max_secs < self.retry_base_secs {
            return Err(cerr("events.retry_max_secs", "must be at least events.retry_base_secs"));
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err(cerr("events.batch_size", "must be between 1 and 1000"));
        }
        for (name, w) in &self.webhooks {
            let key = |f: &str| format!("events.webhooks.{name}.{f}");
            if name.is_empty()
                || name.len() > 64
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(cerr(format!("events.webhooks.{name}"), "names are 1-64 of A-Z a-z 0-9 - _"));
            }
            let u = url::Url::parse(&w.url).map_err(|e| cerr(key("url"), e.to_string()))?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                return Err(cerr(key("url"), "must be an http or https URL with a host"));
            }
            if w.secret.len() < 16 {
                return Err(cerr(key("secret"), "must be at least 16 characters"));
            }
        }
        Ok(())
    }
}
