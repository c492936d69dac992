//! Authorization tokens and admin keys: the one place both the management API and every
//! format's endpoint ask "who is this and may they?".
//!
//! Tokens are self-contained and signed with a secret kept in the data directory (mode
//! 0600), so they stay valid across restarts until they expire and need no table:
//! `<base64url(claims)>.<base64url(hmac-sha256(secret, claims))>`.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::error::{EngineError, Result};
use crate::config::AdminKey;
use crate::model::{AccountId, DomainName};

/// Default token lifetime: 12 hours.
pub const DEFAULT_TOKEN_SECS: u64 = 12 * 3600;

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Domain the token is for.
    d: String,
    /// Domain owner.
    o: String,
    /// Expiry, seconds since the epoch.
    e: i64,
    /// Access key that asked for it.
    k: String,
}

/// A verified token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The access key id that requested the token.
    pub access_key_id: String,
    /// The domain it grants access to.
    pub domain: String,
}

/// Issues and verifies tokens; holds the admin keys.
pub struct Auth {
    secret: Vec<u8>,
    admin_keys: Vec<AdminKey>,
    /// Tokens whose signature checked out, with their claims: a client sends the same token
    /// with every request, and its HMAC, base64 and JSON would otherwise be redone each time.
    /// Expiry, domain and issuing key are still checked on every use.
    verified: super::keyed::Keyed<String, (i64, Principal)>,
}

/// Most verified tokens remembered.
const VERIFIED_TOKENS: u64 = 10_000;

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl Auth {
    /// Loads (or creates) the signing secret under `data_dir`; when `admin_keys` is empty,
    /// loads or generates a key pair stored in `<data_dir>/admin-credentials`.
    pub fn open(data_dir: &Path, mut admin_keys: Vec<AdminKey>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let secret_path = data_dir.join("token-secret");
        let secret = match std::fs::read(&secret_path) {
            Ok(s) if s.len() >= 32 => s,
            _ => {
                let s: [u8; 32] = rand::random();
                write_private(&secret_path, &s).with_context(|| format!("writing {}", secret_path.display()))?;
                s.to_vec()
            }
        };
        if admin_keys.is_empty() {
            let path = data_dir.join("admin-credentials");
            let key = match std::fs::read_to_string(&path) {
                Ok(text) => parse_credentials(&text).with_context(|| format!("reading {}", path.display()))?,
                Err(_) => {
                    let key = AdminKey {
                        access_key_id: format!("AKDEPOT{}", hex::encode_upper(rand::random::<[u8; 7]>())),
                        secret_access_key: B64.encode(rand::random::<[u8; 30]>()),
                    };
                    let text = format!(
                        "# Depot admin key, generated at first start. Use it as an AWS shared credentials file:\n\
                         #   AWS_SHARED_CREDENTIALS_FILE={} aws codeartifact ... --endpoint-url <depot url>\n\
                         [default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                        path.display(),
                        key.access_key_id,
                        key.secret_access_key
                    );
                    write_private(&path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
                    tracing::info!(path = %path.display(), "generated an admin key pair (none configured)");
                    key
                }
            };
            tracing::info!(path = %path.display(), access_key_id = %key.access_key_id, "admin credentials");
            admin_keys.push(key);
        }
        Ok(Self { secret, admin_keys, verified: super::keyed::Keyed::with_capacity(VERIFIED_TOKENS) })
    }

    /// The secret for an access key id, for SigV4 verification.
    pub fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.admin_keys.iter().find(|k| k.access_key_id == access_key_id).map(|k| k.secret_access_key.clone())
    }

    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("hmac takes any key length");
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    /// Issues a token for `domain`, valid for `duration_secs`.
    pub fn issue(
        &self,
        access_key_id: &str,
        domain: &DomainName,
        owner: &AccountId,
        duration_secs: u64,
    ) -> (String, i64) {
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + duration_secs as i64;
        let claims = Claims { d: domain.to_string(), o: owner.to_string(), e: exp, k: access_key_id.to_string() };
        let payload = serde_json::to_vec(&claims).expect("claims serialize");
        let token = format!("{}.{}", B64.encode(&payload), B64.encode(self.sign(&payload)));
        (token, exp)
    }

    /// Verifies a token for access to `domain`.
    pub fn verify(&self, token: &str, domain: &DomainName) -> Result<Principal> {
        let slot = self.verified.slot(&token);
        let claims = match self.verified.get(slot, |k| k == token) {
            Some(known) => known,
            None => {
                let known = self.check_signature(token)?;
                self.verified.insert(slot, token.to_string(), known.clone());
                known
            }
        };
        self.check_claims(claims, domain)
    }

    /// The claims of a token whose signature is this server's: (expiry, principal).
    fn check_signature(&self, token: &str) -> Result<(i64, Principal)> {
        let bad = || EngineError::Unauthorized("the authorization token is invalid".into());
        let (p, s) = token.split_once('.').ok_or_else(bad)?;
        let payload = B64.decode(p).map_err(|_| bad())?;
        let sig = B64.decode(s).map_err(|_| bad())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("hmac takes any key length");
        mac.update(&payload);
        mac.verify_slice(&sig).map_err(|_| bad())?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| bad())?;
        Ok((claims.e, Principal { access_key_id: claims.k, domain: claims.d }))
    }

    /// What a signed token's claims allow: not expired, for `domain`, from a configured key.
    fn check_claims(&self, (expiry, p): (i64, Principal), domain: &DomainName) -> Result<Principal> {
        if expiry <= time::OffsetDateTime::now_utc().unix_timestamp() {
            return Err(EngineError::Unauthorized("the authorization token has expired".into()));
        }
        if p.domain != domain.as_str() {
            return Err(EngineError::Forbidden(format!("the authorization token is not valid for domain {domain}")));
        }
        if !self.admin_keys.iter().any(|k| k.access_key_id == p.access_key_id) {
            return Err(EngineError::Unauthorized("the key that issued this token is no longer configured".into()));
        }
        Ok(p)
    }
}

fn parse_credentials(text: &str) -> anyhow::Result<AdminKey> {
    let mut id = None;
    let mut secret = None;
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(AdminKey { access_key_id, secret_access_key }),
        _ => anyhow::bail!("no aws_access_key_id / aws_secret_access_key"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let d = DomainName::new("dom").unwrap();
        let o = AccountId::new("000000000000").unwrap();
        let auth = Auth::open(dir.path(), vec![]).unwrap();
        let key = auth.admin_keys[0].access_key_id.clone();
        let (tok, _) = auth.issue(&key, &d, &o, 60);
        assert!(auth.verify(&tok, &d).is_ok());
        let reopened = Auth::open(dir.path(), vec![]).unwrap();
        assert!(reopened.verify(&tok, &d).is_ok(), "same secret and key after restart");
        assert!(matches!(reopened.verify(&tok, &DomainName::new("other").unwrap()), Err(EngineError::Forbidden(_))));
        let mut tampered = tok.clone();
        tampered.insert(3, 'x');
        assert!(reopened.verify(&tampered, &d).is_err());
        let (expired, _) = auth.issue(&key, &d, &o, 0);
        assert!(matches!(auth.verify(&expired, &d), Err(EngineError::Unauthorized(_))));
        // Remembered tokens are checked the same way on every use.
        assert!(auth.verify(&tok, &d).is_ok(), "again, from the remembered claims");
        assert!(matches!(auth.verify(&tok, &DomainName::new("other").unwrap()), Err(EngineError::Forbidden(_))));
        let (_, p) = auth.check_signature(&tok).unwrap();
        let past = time::OffsetDateTime::now_utc().unix_timestamp() - 1;
        assert!(matches!(auth.check_claims((past, p), &d), Err(EngineError::Unauthorized(_))), "expired since");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin-credentials")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
