//! Host header → public base URL while `server.public_url` is empty: the syntax check, and
//! the bounded set of Host values Depot answers to. Each known Host gets a render slot, so
//! documents rendered for one Host are cached beside, not instead of, another's.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use super::Engine;

/// Why a request's Host is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostRefusal {
    /// Not `host[:port]` with a host name, IPv4 or bracketed IPv6 address.
    #[error("invalid Host header {0:?}: expected host[:port] (a host name, an IPv4 address or an [IPv6] address)")]
    Invalid(String),
    /// The set of distinct Host values is full.
    #[error("this server already answers to {0} distinct Host names; set server.public_url (DEPOT_PUBLIC_URL) to the URL clients use")]
    TooMany(usize),
}

/// The Host values seen so far, first come, at most `max`.
pub(super) struct KnownHosts {
    hosts: Mutex<Vec<String>>,
    max: usize,
}

impl KnownHosts {
    pub(super) fn new(max: usize) -> Self {
        Self { hosts: Mutex::new(Vec::new()), max }
    }
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
}

fn valid_reg_name(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The lower-cased `host[:port]` if `raw` is one, else `None` (userinfo, paths, spaces,
/// empty labels, bad ports and unbracketed IPv6 are all refused).
pub fn normalize_host(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 261 {
        return None;
    }
    let h = raw.to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']')?;
        addr.parse::<Ipv6Addr>().ok()?;
        let ok = tail.is_empty() || tail.strip_prefix(':').is_some_and(valid_port);
        return ok.then_some(h);
    }
    let (host, port) = match h.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (h.as_str(), None),
    };
    if port.is_some_and(|p| !valid_port(p)) {
        return None;
    }
    // All digits and dots must be a real IPv4 address, not a host name.
    let numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let ok = if numeric { host.parse::<Ipv4Addr>().is_ok() } else { valid_reg_name(host) };
    ok.then_some(h)
}

impl Engine {
    /// Admits a request's Host (already known, or new while there is room). With
    /// `server.public_url` set every Host is accepted as is: it is never used.
    pub fn admit_host(&self, raw: &str) -> Result<(), HostRefusal> {
        if !self.cfg.server.public_url.is_empty() {
            return Ok(());
        }
        // Every request passes here: a Host sent exactly as a known one (clients repeat
        // theirs) is found without normalizing a copy. Tiny critical sections: a scan of at
        // most `max` short strings.
        if self.hosts.hosts.lock().expect("hosts lock").iter().any(|k| k == raw) {
            return Ok(());
        }
        let h = normalize_host(raw).ok_or_else(|| HostRefusal::Invalid(raw.chars().take(100).collect()))?;
        let mut hosts = self.hosts.hosts.lock().expect("hosts lock");
        if hosts.contains(&h) {
            return Ok(());
        }
        if hosts.len() >= self.hosts.max {
            return Err(HostRefusal::TooMany(self.hosts.max));
        }
        tracing::info!(host = %h, known = hosts.len() + 1, "new Host value; URLs for it use http://{h}");
        hosts.push(h);
        Ok(())
    }

    /// The render slot of a request's Host: its place among the known hosts (0 when
    /// `public_url` is set or the Host is unknown).
    pub fn host_slot(&self, raw: Option<&str>) -> u32 {
        if !self.cfg.server.public_url.is_empty() {
            return 0;
        }
        let Some(raw) = raw else { return 0 };
        let slot = |hosts: &[String], h: &str| hosts.iter().position(|k| k == h).and_then(|i| u32::try_from(i).ok());
        if let Some(i) = slot(&self.hosts.hosts.lock().expect("hosts lock"), raw) {
            return i;
        }
        let Some(h) = normalize_host(raw) else { return 0 };
        slot(&self.hosts.hosts.lock().expect("hosts lock"), &h).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn host_syntax() {
        for ok in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1:1",
            "[::1]:8080",
            "[::1]",
            "depot.example.internal",
            "a_b.internal:80",
        ] {
            assert_eq!(normalize_host(ok).as_deref(), Some(ok.to_ascii_lowercase().as_str()), "{ok}");
        }
        for bad in [
            "",
            "user@host",
            "host/path",
            "host:",
            "host:99999",
            "host:8a",
            "::1",
            "[::1",
            "[::1]x",
            "a..b",
            "-a.b",
            "a b",
            "host:80:80",
            "999.1.1.1",
            "1.2.3",
            "[zz::1]:80",
            &"a".repeat(300),
        ] {
            assert_eq!(normalize_host(bad), None, "{bad}");
        }
    }
}
