//! `[server]` transport settings: the listen address, connection and body timeouts, the
//! connection cap and the Host bound. Checked here so `validate` names the key.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{cerr, Config, ConfigError};

/// Longest timeout accepted for any transport setting.
const MAX_TIMEOUT_SECS: f64 = 3600.0;

/// Parses `server.listen`: an IP socket address, or `localhost:PORT` (the IPv4 loopback, so
/// the choice never depends on the resolver).
pub(super) fn parse_listen(listen: &str) -> Result<SocketAddr, ConfigError> {
    let bad = || cerr("server.listen", format!("not an address: {listen}"));
    if let Ok(a) = listen.parse() {
        return Ok(a);
    }
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    if !host.eq_ignore_ascii_case("localhost") {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

fn secs(key: &str, v: f64) -> Result<Duration, ConfigError> {
    if !(v > 0.0 && v <= MAX_TIMEOUT_SECS) {
        return Err(cerr(key, format!("must be more than 0 and at most {MAX_TIMEOUT_SECS}")));
    }
    Ok(Duration::from_secs_f64(v))
}

/// The transport limits in force, as durations.
#[derive(Debug, Clone, Copy)]
pub struct TransportLimits {
    /// `server.header_timeout_secs`
    pub header_timeout: Duration,
    /// `server.keep_alive_timeout_secs`
    pub keep_alive_timeout: Duration,
    /// `server.body_timeout_secs`
    pub body_timeout: Duration,
    /// `server.min_body_rate_bytes_per_sec` (0 = off)
    pub min_body_rate: u64,
}

impl Config {
    pub(super) fn validate_transport(&self) -> Result<(), ConfigError> {
        self.transport_limits()?;
        if self.server.max_concurrent_requests == 0 {
            return Err(cerr("server.max_concurrent_requests", "must be at least 1"));
        }
        if self.server.max_hosts == 0 {
            return Err(cerr("server.max_hosts", "must be at least 1"));
        }
        Ok(())
    }

    /// The validated timeouts and body rate.
    pub fn transport_limits(&self) -> Result<TransportLimits, ConfigError> {
        let s = &self.server;
        Ok(TransportLimits {
            header_timeout: secs("server.header_timeout_secs", s.header_timeout_secs)?,
            keep_alive_timeout: secs("server.keep_alive_timeout_secs", s.keep_alive_timeout_secs)?,
            body_timeout: secs("server.body_timeout_secs", s.body_timeout_secs)?,
            min_body_rate: s.min_body_rate_bytes_per_sec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    #[test]
    fn listen_accepts_localhost() {
        assert_eq!(parse_listen("localhost:8080").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(parse_listen("LOCALHOST:0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(parse_listen("[::1]:80").unwrap(), "[::1]:80".parse().unwrap());
        for bad in ["localhost", "localhost:x", "example.internal:80", "localhost:70000"] {
            assert_eq!(parse_listen(bad).unwrap_err().key, "server.listen", "{bad}");
        }
    }

    #[test]
    fn transport_defaults_and_checks() {
        let c = Config::load(None, &MapEnv::default()).unwrap();
        let l = c.transport_limits().unwrap();
        assert_eq!(l.header_timeout, Duration::from_secs(10));
        assert_eq!(c.server.max_connections, 0);
        let e = Config::load(Some("[server]\nheader_timeout_secs = 0"), &MapEnv::default()).unwrap_err();
        assert_eq!(e.key, "server.header_timeout_secs");
        let e = Config::load(None, &MapEnv::from([("DEPOT_BODY_TIMEOUT_SECS", "x")])).unwrap_err();
        assert_eq!(e.key, "DEPOT_BODY_TIMEOUT_SECS");
        let c = Config::load(None, &MapEnv::from([("DEPOT_LISTEN", "localhost:0"), ("DEPOT_MAX_HOSTS", "3")])).unwrap();
        assert_eq!(c.server.max_hosts, 3);
    }
}
