//! The `DEPOT_*` environment layer.

use std::collections::HashMap;

use super::{cerr, connection_format, upstream_env_var, AdminKey, Config, ConfigError, CONNECTIONS};
use crate::model::{AccountId, PackageFormat};

/// Where environment variables come from.
pub trait Env {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// A fixed map, for tests.
#[derive(Default, Clone)]
pub struct MapEnv(pub HashMap<String, String>);

impl<const N: usize> From<[(&str, &str); N]> for MapEnv {
    fn from(v: [(&str, &str); N]) -> Self {
        Self(v.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
}

impl Env for MapEnv {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

fn parse<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.trim().parse().map_err(|_| cerr(key, format!("cannot parse {v:?}")))
}

pub(super) fn apply(cfg: &mut Config, env: &dyn Env) -> Result<(), ConfigError> {
    if let Some(v) = env.get("DEPOT_LISTEN") {
        cfg.server.listen = v;
    }
    if let Some(v) = env.get("DEPOT_PUBLIC_URL") {
        cfg.server.public_url = v;
    }
    if let Some(v) = env.get("DEPOT_ANONYMOUS_READS") {
        cfg.server.anonymous_reads = v;
    }
    if let Some(v) = env.get("DEPOT_DATA_DIR") {
        cfg.storage.data_dir = v.into();
    }
    if let Some(v) = env.get("DEPOT_ACCOUNT_ID") {
        AccountId::new(v.clone()).map_err(|e| cerr("DEPOT_ACCOUNT_ID", e.0))?;
        cfg.account.id = v;
    }
    if let Some(v) = env.get("DEPOT_REGION") {
        cfg.account.region = v;
    }
    match (env.get("DEPOT_ADMIN_ACCESS_KEY_ID"), env.get("DEPOT_ADMIN_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            let k = AdminKey { access_key_id: id, secret_access_key: secret };
            if !cfg.auth.admin_keys.contains(&k) {
                cfg.auth.admin_keys.push(k);
            }
        }
        (None, None) => {}
        _ => {
            return Err(cerr(
                "DEPOT_ADMIN_ACCESS_KEY_ID",
                "DEPOT_ADMIN_ACCESS_KEY_ID and DEPOT_ADMIN_SECRET_ACCESS_KEY must be set together",
            ))
        }
    }
    if let Some(v) = env.get("DEPOT_INGESTION_WAIT_SECS") {
        cfg.ingestion.wait_secs = parse("DEPOT_INGESTION_WAIT_SECS", &v)?;
    }
    if let Some(v) = env.get("DEPOT_MAX_PACKAGE_BYTES") {
        cfg.server.max_package_bytes = parse("DEPOT_MAX_PACKAGE_BYTES", &v)?;
    }
    for f in PackageFormat::ALL {
        let key = format!("DEPOT_METADATA_MAX_AGE_{}_SECS", f.as_str().to_ascii_uppercase());
        if let Some(v) = env.get(&key) {
            let secs: u64 = parse(&key, &v)?;
            match f {
                PackageFormat::Npm => cfg.cache.npm_max_age_secs = secs,
                PackageFormat::Pypi => cfg.cache.pypi_max_age_secs = secs,
                PackageFormat::Maven => cfg.cache.maven_max_age_secs = secs,
                PackageFormat::Nuget => cfg.cache.nuget_max_age_secs = secs,
            }
        }
    }
    if let Some(v) = env.get("DEPOT_CACHE_UPSTREAM_MAX_BYTES") {
        cfg.cache.upstream_max_bytes = parse("DEPOT_CACHE_UPSTREAM_MAX_BYTES", &v)?;
    }
    if let Some(v) = env.get("DEPOT_CACHE_RENDERED_MAX_BYTES") {
        cfg.cache.rendered_max_bytes = parse("DEPOT_CACHE_RENDERED_MAX_BYTES", &v)?;
    }
    if let Some(v) = env.get("DEPOT_CACHE_ASSET_MAX_BYTES") {
        cfg.cache.asset_max_bytes = parse("DEPOT_CACHE_ASSET_MAX_BYTES", &v)?;
    }
    for (name, _) in CONNECTIONS {
        debug_assert!(connection_format(name).is_some());
        let key = upstream_env_var(name);
        if let Some(v) = env.get(&key) {
            let c = cfg.connections.entry(name.to_string()).or_default();
            if !v.is_empty() {
                // The parser's message never echoes the value, which may hold a password.
                url::Url::parse(&v).map_err(|e| cerr(&key, e.to_string()))?;
            }
            c.url = v;
        }
        if let Some(v) = env.get(&format!("{key}_USERNAME")) {
            cfg.connections.entry(name.to_string()).or_default().username = v;
        }
        if let Some(v) = env.get(&format!("{key}_PASSWORD")) {
            cfg.connections.entry(name.to_string()).or_default().password = v;
        }
    }
    apply_transport(cfg, env)
}

fn apply_transport(cfg: &mut Config, env: &dyn Env) -> Result<(), ConfigError> {
    let s = &mut cfg.server;
    for (key, slot) in [
        ("DEPOT_HEADER_TIMEOUT_SECS", &mut s.header_timeout_secs),
        ("DEPOT_KEEP_ALIVE_TIMEOUT_SECS", &mut s.keep_alive_timeout_secs),
        ("DEPOT_BODY_TIMEOUT_SECS", &mut s.body_timeout_secs),
    ] {
        if let Some(v) = env.get(key) {
            *slot = parse(key, &v)?;
        }
    }
    if let Some(v) = env.get("DEPOT_MIN_BODY_RATE_BYTES_PER_SEC") {
        s.min_body_rate_bytes_per_sec = parse("DEPOT_MIN_BODY_RATE_BYTES_PER_SEC", &v)?;
    }
    for (key, slot) in [
        ("DEPOT_MAX_CONNECTIONS", &mut s.max_connections),
        ("DEPOT_MAX_HOSTS", &mut s.max_hosts),
        ("DEPOT_MAX_CONCURRENT_REQUESTS", &mut s.max_concurrent_requests),
    ] {
        if let Some(v) = env.get(key) {
            *slot = parse(key, &v)?;
        }
    }
    Ok(())
}
