//! Server-side verification of AWS Signature Version 4.
//!
//! The management API is driven by the stock `aws` CLI, which signs every
//! request with SigV4. Client libraries only *produce* signatures, so the
//! verifier lives here: the canonical request is rebuilt from what actually
//! arrived on the wire (method, raw path, raw query, the headers the client
//! claims to have signed, the body hash), the signing key is derived from the
//! secret of the claimed access key, and the resulting signature is compared
//! in constant time with the one the client sent.
//!
//! Canonicalization follows botocore (the library behind the `aws` CLI) for
//! non-S3 services, because matching the signer byte for byte is the only
//! thing that matters: see `canonical_uri` and `canonical_query`.
//!
//! Both the `Authorization` header form and the presigned query-string form
//! (`X-Amz-Algorithm=...&X-Amz-Signature=...`) are accepted.
//!
//! Checks run in this order, each only once the previous ones passed:
//! missing credentials, malformed input, unknown access key, clock skew /
//! expiry, signature. Reporting an unknown key or a skewed clock before the
//! signature mirrors AWS and gives the most actionable error: a signature can
//! never match under an unknown key, and a client with a drifting clock would
//! otherwise chase a "wrong secret" error.

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// AWS rejects requests whose timestamp is further than this from its clock.
const MAX_SKEW: Duration = Duration::minutes(15);
/// AWS caps presigned URLs at one week.
const MAX_PRESIGN_EXPIRES_SECS: i64 = 604_800;

/// RFC 3986 unreserved characters stay literal, everything else is escaped.
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// Same as the query set but `/` separates path segments and stays literal
/// (botocore's `quote(path, safe='/~')`).
const PATH_ENCODE: &AsciiSet = &QUERY_ENCODE.remove(b'/');

/// The parts of a received request that take part in the signature.
pub(crate) struct SignedRequest<'a> {
    pub method: &'a str,
    /// Raw path exactly as received on the wire (still percent-encoded), e.g. "/v1/domain"
    pub raw_path: &'a str,
    /// Raw query string as received (without '?'), or "" if none
    pub raw_query: &'a str,
    /// Received headers. Over HTTP/2 there is no `Host` header: the caller
    /// must insert one from the `:authority` before verifying.
    pub headers: &'a http::HeaderMap,
    /// lower-case hex sha256 of the request body bytes as received
    pub body_sha256: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum SigV4Error {
    /// No Authorization header (and no X-Amz-Algorithm query auth)
    #[error("Missing Authentication Token")]
    Missing,
    /// Access key id not known
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// Signature mismatch
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    BadSignature,
    /// Request time more than 15 minutes away from server time (or a
    /// presigned URL past its X-Amz-Expires), worded as AWS words it.
    #[error("{0}")]
    Expired(String),
    /// Malformed Authorization header, missing X-Amz-Date, etc.; message says what is wrong
    #[error("{0}")]
    Malformed(String),
}

/// Identity and scope of a request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

/// Verifies the SigV4 signature of `req` at server time `now`.
///
/// `secret_for` maps an access key id to its secret access key.
pub(crate) fn verify(
    req: &SignedRequest<'_>,
    secret_for: &dyn Fn(&str) -> Option<String>,
    now: OffsetDateTime,
) -> Result<Verified, SigV4Error> {
    let auth = parse_auth(req)?;

    let Some(secret) = secret_for(&auth.access_key_id) else {
        return Err(SigV4Error::UnknownKey);
    };

    check_time(&auth, now)?;

    let amz_date = format_amz_date(auth.timestamp);
    let canonical = canonical_request(req, &auth);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}/{}/{}/{TERMINATOR}\n{}",
        auth.date,
        auth.region,
        auth.service,
        hex::encode(Sha256::digest(&canonical)),
    );
    let key = signing_key(&secret, &auth.date, &auth.region, &auth.service);
    let expected = hmac_sha256(&key, string_to_sign.as_bytes());

    // Garbage hex cannot match; it is reported like any other wrong signature.
    let provided = hex::decode(&auth.signature).unwrap_or_default();
    if !bool::from(provided.as_slice().ct_eq(&expected)) {
        return Err(SigV4Error::BadSignature);
    }

    // A signed x-amz-content-sha256 header only authenticates the body if the
    // body really has that hash; otherwise the body could be swapped in transit
    // while the signature still verifies.
    if let PayloadHash::Header(claimed) = payload_hash(req)? {
        if claimed != UNSIGNED_PAYLOAD && !claimed.eq_ignore_ascii_case(req.body_sha256) {
            return Err(SigV4Error::BadSignature);
        }
    }

    Ok(Verified { access_key_id: auth.access_key_id, region: auth.region, service: auth.service })
}

/// The checks the headers alone decide (credentials present and well-formed, a known access
/// key, the clock), in `verify`'s order and with its errors, so a caller who fails them is
/// refused before its body is read. `req.body_sha256` is not looked at.
pub(crate) fn precheck(
    req: &SignedRequest<'_>,
    secret_for: &dyn Fn(&str) -> Option<String>,
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    let auth = parse_auth(req)?;
    if secret_for(&auth.access_key_id).is_none() {
        return Err(SigV4Error::UnknownKey);
    }
    check_time(&auth, now)
}

/// Everything extracted from the Authorization header or the presigned query.
#[derive(Debug)]
pub(super) struct Auth {
    access_key_id: String,
    /// YYYYMMDD from the credential scope.
    date: String,
    region: String,
    service: String,
    /// Lower-cased names from SignedHeaders, in the order given.
    signed_headers: Vec<String>,
    signature: String,
    timestamp: OffsetDateTime,
    /// `Some` for presigned (query-string) requests.
    expires: Option<Duration>,
}

mod canonical;
mod parse;
#[cfg(test)]
mod tests;

use canonical::*;
use parse::*;
