//! Rebuilding what the client signed, byte for byte as botocore does: the payload hash, the canonical
//! request (URI, query, headers) and the signing key.

use super::*;

pub(super) enum PayloadHash<'a> {
    Header(&'a str),
    Body(&'a str),
}

/// The client may state the payload hash in x-amz-content-sha256 (botocore
/// then signs that value verbatim); otherwise the hash of the body is signed.
pub(super) fn payload_hash<'a>(req: &SignedRequest<'a>) -> Result<PayloadHash<'a>, SigV4Error> {
    let Some(value) = req.headers.get("x-amz-content-sha256") else {
        return Ok(PayloadHash::Body(req.body_sha256));
    };
    let value = value.to_str().unwrap_or("").trim();
    let is_sha256 = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
    // Streaming (aws-chunked) payloads carry per-chunk signatures this
    // verifier does not check, so they are refused rather than half-trusted.
    if is_sha256 || value == UNSIGNED_PAYLOAD {
        Ok(PayloadHash::Header(value))
    } else {
        Err(malformed("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA256 hex digest."))
    }
}

pub(super) fn canonical_request(req: &SignedRequest<'_>, auth: &Auth) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.raw_path).as_bytes());
    out.push(b'\n');
    let skip_signature = auth.expires.is_some();
    out.extend_from_slice(canonical_query(req.raw_query, skip_signature).as_bytes());
    out.push(b'\n');
    for name in &auth.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        canonical_header_value(req.headers, name, &mut out);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(auth.signed_headers.join(";").as_bytes());
    out.push(b'\n');
    let hash = match payload_hash(req) {
        Ok(PayloadHash::Header(h) | PayloadHash::Body(h)) => h,
        // Already rejected in parse_auth; an empty hash simply cannot match.
        Err(_) => "",
    };
    out.extend_from_slice(hash.as_bytes());
    out
}

/// botocore (non-S3) signs `quote(remove_dot_segments(path), safe='/~')`
/// where `path` is the request path *already* percent-encoded once. The wire
/// path is that same once-encoded path, so the server re-encodes it a second
/// time: `%` becomes `%25`, `/` and unreserved characters stay.
///
/// botocore's `remove_dot_segments` also drops empty segments (collapsing
/// `//`) and an empty path becomes `/`; repeating that here makes the result
/// identical whether or not the HTTP layer already normalized the path.
pub(super) fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in raw_path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut path = String::with_capacity(raw_path.len() + 1);
    if raw_path.is_empty() || raw_path.starts_with('/') {
        path.push('/');
    }
    path.push_str(&segments.join("/"));
    if raw_path.ends_with('/') && !segments.is_empty() {
        path.push('/');
    }
    utf8_percent_encode(&path, PATH_ENCODE).to_string()
}

/// Splits a raw query string the way botocore's `_canonical_query_string_url`
/// does (on `&`, then on the first `=`) and percent-decodes both halves.
/// `+` is left alone: botocore never form-encodes, it escapes spaces as `%20`.
pub(super) fn query_pairs(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    if raw_query.is_empty() {
        return Vec::new();
    }
    raw_query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k.as_bytes()).collect(), percent_decode(v.as_bytes()).collect())
        })
        .collect()
}

/// Decodes and re-encodes every key and value with RFC 3986 escaping, then
/// sorts by encoded key, then encoded value.
///
/// botocore itself signs the raw pairs verbatim (sorted, not re-encoded), but
/// it only ever sends queries produced by `percent_encode_sequence`, which
/// already escapes everything except unreserved characters with upper-case
/// hex; for those, decode + re-encode is the identity. Re-encoding here makes
/// other clients that escape more or less eagerly verify too.
///
/// Empty segments (`a=1&&b=2`) are kept as `=` entries, as botocore does.
pub(super) fn canonical_query(raw_query: &str, skip_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw_query)
        .into_iter()
        .filter(|(k, _)| !(skip_signature && k.as_slice() == b"X-Amz-Signature"))
        .map(|(k, v)| (encode_query_component(&k), encode_query_component(&v)))
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

pub(super) fn encode_query_component(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, QUERY_ENCODE).to_string()
}

/// Appends the values of `name`, each trimmed with inner whitespace runs
/// collapsed to one space (botocore: `' '.join(value.split())`), joined by `,`.
/// A signed header that is absent contributes an empty value, which then
/// fails the signature comparison rather than being an error of its own.
pub(super) fn canonical_header_value(headers: &http::HeaderMap, name: &str, out: &mut Vec<u8>) {
    // Python's str.split() whitespace, restricted to ASCII.
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f);
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        for (j, word) in value.as_bytes().split(is_space).filter(|w| !w.is_empty()).enumerate() {
            if j > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(word);
        }
    }
}

pub(super) type HmacSha256 = Hmac<Sha256>;

pub(super) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
pub(super) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}
