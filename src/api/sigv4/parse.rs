//! Parsing the signature out of a request: the `Authorization` header or the presigned query, the
//! credential scope, the signed-header list, the timestamp, and the clock check.

use super::*;

pub(super) fn malformed(msg: impl Into<String>) -> SigV4Error {
    SigV4Error::Malformed(msg.into())
}

pub(super) fn parse_auth(req: &SignedRequest<'_>) -> Result<Auth, SigV4Error> {
    let mut authorization = req.headers.get_all(http::header::AUTHORIZATION).iter();
    let header = authorization.next();
    let query_auth = query_pairs(req.raw_query).iter().any(|(k, _)| k.as_slice() == b"X-Amz-Algorithm");

    let auth = match (header, query_auth) {
        (None, false) => return Err(SigV4Error::Missing),
        (Some(_), true) => {
            return Err(malformed(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
            ))
        }
        (Some(value), false) => {
            if authorization.next().is_some() {
                return Err(malformed("Only one Authorization header is allowed."));
            }
            let value = value.to_str().map_err(|_| malformed("Authorization header is not valid ASCII."))?;
            parse_header_auth(value, req.headers)?
        }
        (None, true) => parse_query_auth(req.raw_query)?,
    };

    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."));
    }
    let http_date = format_amz_date(auth.timestamp);
    let http_day = http_date.get(..8).unwrap_or_default();
    if http_day != auth.date {
        return Err(malformed(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{http_day}', from '{http_date}'.",
            auth.date,
        )));
    }
    // Validate the payload hash up front so that a bad value is reported as
    // malformed rather than as a signature mismatch.
    payload_hash(req)?;
    Ok(auth)
}

pub(super) fn parse_header_auth(value: &str, headers: &http::HeaderMap) -> Result<Auth, SigV4Error> {
    let params = value
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with([' ', '\t']))
        .ok_or_else(|| malformed(format!("Unsupported Authorization type; only {ALGORITHM} is supported.")))?;

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in params.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, val) = part.split_once('=').ok_or_else(|| {
            malformed(format!("Invalid key=value pair (missing equal-sign) in Authorization header: '{part}'."))
        })?;
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            // Unknown components do not take part in the signature; ignoring
            // them is harmless.
            _ => continue,
        };
        if slot.replace(val.trim()).is_some() {
            return Err(malformed(format!("Duplicate '{}' parameter in Authorization header.", key.trim())));
        }
    }

    let mut missing = Vec::new();
    for (name, present) in [
        ("Credential", credential.is_some_and(|v| !v.is_empty())),
        ("Signature", signature.is_some_and(|v| !v.is_empty())),
        ("SignedHeaders", signed_headers.is_some_and(|v| !v.is_empty())),
    ] {
        if !present {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let timestamp = header_timestamp(headers);
    if matches!(timestamp, Err(TimestampError::Absent)) {
        missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".to_owned());
    }
    if !missing.is_empty() {
        return Err(malformed(missing.join(" ")));
    }
    let timestamp = timestamp.map_err(|e| malformed(e.message()))?;

    let (access_key_id, date, region, service) = parse_credential(credential.unwrap_or(""))?;
    Ok(Auth {
        access_key_id,
        date,
        region,
        service,
        signed_headers: parse_signed_headers(signed_headers.unwrap_or(""))?,
        signature: signature.unwrap_or("").to_owned(),
        timestamp,
        expires: None,
    })
}

pub(super) fn parse_query_auth(raw_query: &str) -> Result<Auth, SigV4Error> {
    let mut algorithm = None;
    let mut credential = None;
    let mut date = None;
    let mut expires = None;
    let mut signed_headers = None;
    let mut signature = None;
    for (key, value) in query_pairs(raw_query) {
        let slot = match key.as_slice() {
            b"X-Amz-Algorithm" => &mut algorithm,
            b"X-Amz-Credential" => &mut credential,
            b"X-Amz-Date" => &mut date,
            b"X-Amz-Expires" => &mut expires,
            b"X-Amz-SignedHeaders" => &mut signed_headers,
            b"X-Amz-Signature" => &mut signature,
            _ => continue,
        };
        let value =
            String::from_utf8(value).map_err(|_| malformed("Authentication query parameters must be valid UTF-8."))?;
        if slot.replace(value).is_some() {
            return Err(malformed(format!("Duplicate '{}' query parameter.", String::from_utf8_lossy(&key))));
        }
    }

    let (Some(algorithm), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) =
        (algorithm, credential, date, expires, signed_headers, signature)
    else {
        return Err(malformed(
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', \
             'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. \
             Re-examine the query-string parameters.",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(malformed(format!("X-Amz-Algorithm only supports \"{ALGORITHM}\"")));
    }
    let timestamp = parse_amz_date(&date)
        .ok_or_else(|| malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""))?;
    let expires: i64 = expires.parse().map_err(|_| malformed("X-Amz-Expires should be a number"))?;
    if expires < 0 {
        return Err(malformed("X-Amz-Expires must be non-negative"));
    }
    if expires > MAX_PRESIGN_EXPIRES_SECS {
        return Err(malformed(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES_SECS}"
        )));
    }
    if signature.is_empty() {
        return Err(malformed("X-Amz-Signature must not be empty."));
    }

    let (access_key_id, date, region, service) = parse_credential(&credential)?;
    Ok(Auth {
        access_key_id,
        date,
        region,
        service,
        signed_headers: parse_signed_headers(&signed_headers)?,
        signature,
        timestamp,
        expires: Some(Duration::seconds(expires)),
    })
}

/// Splits `AKID/YYYYMMDD/region/service/aws4_request`.
pub(super) fn parse_credential(credential: &str) -> Result<(String, String, String, String), SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts.as_slice() else {
        return Err(malformed(format!(
            "Credential should be of the form 'AccessKeyId/YYYYMMDD/region/service/{TERMINATOR}', \
             not '{credential}'."
        )));
    };
    if *terminator != TERMINATOR {
        return Err(malformed(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
        )));
    }
    if key.is_empty() {
        return Err(malformed("Credential should contain an access key id."));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("Credential should be scoped to a valid date (YYYYMMDD), not '{date}'.")));
    }
    if region.is_empty() {
        return Err(malformed("Credential should be scoped to a valid region."));
    }
    if service.is_empty() {
        return Err(malformed("Credential should be scoped to a valid service."));
    }
    Ok(((*key).to_owned(), (*date).to_owned(), (*region).to_owned(), (*service).to_owned()))
}

pub(super) fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(String::is_empty) {
        return Err(malformed(format!(
            "SignedHeaders must be a non-empty, semicolon-separated list of header names, not '{list}'."
        )));
    }
    Ok(names)
}

pub(super) enum TimestampError {
    Absent,
    Invalid(&'static str),
}

impl TimestampError {
    fn message(&self) -> &'static str {
        match self {
            Self::Absent => "Missing X-Amz-Date or Date header.",
            Self::Invalid(msg) => msg,
        }
    }
}

/// Request time from X-Amz-Date, falling back to Date as SigV4 allows (and as
/// botocore does when the caller set a Date header).
pub(super) fn header_timestamp(headers: &http::HeaderMap) -> Result<OffsetDateTime, TimestampError> {
    let single = |name: &str| -> Result<Option<&str>, TimestampError> {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(TimestampError::Invalid("Only one date header is allowed."));
        }
        first.to_str().map(|v| Some(v.trim())).map_err(|_| TimestampError::Invalid("Date header is not valid ASCII."))
    };
    if let Some(value) = single("x-amz-date")? {
        return parse_amz_date(value)
            .ok_or(TimestampError::Invalid("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""));
    }
    if let Some(value) = single("date")? {
        return OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
            .ok()
            .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
            .ok_or(TimestampError::Invalid("Date header must be an RFC 1123 / RFC 2822 date."));
    }
    Err(TimestampError::Absent)
}

/// Parses the SigV4 basic format `YYYYMMDDTHHMMSSZ`, strictly.
pub(super) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let day = u8::try_from(num(6..8)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Formats as `YYYYMMDDTHHMMSSZ` in UTC (sub-seconds dropped).
pub(super) fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Rejects requests signed too far in the past or future (or presigned URLs
/// past their lifetime), with AWS's wording so clients and people recognise
/// a clock problem.
pub(super) fn check_time(auth: &Auth, now: OffsetDateTime) -> Result<(), SigV4Error> {
    let t = auth.timestamp;
    let (req, now_s) = (format_amz_date(t), format_amz_date(now));
    let shifted = |d: Duration| format_amz_date(now.checked_add(d).unwrap_or(now));

    if t - now > MAX_SKEW {
        return Err(SigV4Error::Expired(format!(
            "Signature not yet current: {req} is still later than {} ({now_s} + 15 min.)",
            shifted(MAX_SKEW),
        )));
    }
    let (limit, limit_text) = match auth.expires {
        None => (MAX_SKEW, "15 min.".to_owned()),
        Some(expires) => (expires, format!("{} sec.", expires.whole_seconds())),
    };
    if now - t > limit {
        return Err(SigV4Error::Expired(format!(
            "Signature expired: {req} is now earlier than {} ({now_s} - {limit_text})",
            shifted(-limit),
        )));
    }
    Ok(())
}
