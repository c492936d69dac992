//! Test vectors: the AWS SigV4 suite and requests as the `aws` CLI signs them.

use super::*;
use http::{HeaderMap, HeaderName, HeaderValue};
use time::macros::datetime;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const AKID: &str = "AKIDEXAMPLE";
/// The example secret from the AWS SigV4 test suite.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const CLI_AKID: &str = "AKIDEXAMPLEDEPOT0001";

fn secrets(akid: &str) -> Option<String> {
    (akid == AKID || akid == CLI_AKID).then(|| SECRET.to_owned())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    map
}

fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

struct Case {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: HeaderMap,
    body_sha256: String,
    now: OffsetDateTime,
}

impl Case {
    fn verify_with(
        &self,
        secret_for: &dyn Fn(&str) -> Option<String>,
        now: OffsetDateTime,
    ) -> Result<Verified, SigV4Error> {
        let req = SignedRequest {
            method: self.method,
            raw_path: self.path,
            raw_query: self.query,
            headers: &self.headers,
            body_sha256: &self.body_sha256,
        };
        verify(&req, secret_for, now)
    }

    fn verify(&self) -> Result<Verified, SigV4Error> {
        self.verify_with(&secrets, self.now)
    }

    fn assert_ok(&self) -> Verified {
        match self.verify() {
            Ok(v) => v,
            Err(e) => panic!("{} {}?{}: {e:?}", self.method, self.path, self.query),
        }
    }
}

const BOTO_NOW: OffsetDateTime = datetime!(2026-11-23 10:10:10 UTC);

/// Signed with botocore 1.43.11 `SigV4Auth(creds, 'codeartifact',
/// 'us-west-2')` at 2026-11-23T10:10:10Z, host 127.0.0.1:8080.
fn boto(
    method: &'static str,
    path: &'static str,
    query: &'static str,
    signed: &str,
    signature: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Case {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    );
    let mut pairs =
        vec![("host", "127.0.0.1:8080"), ("x-amz-date", "20261123T101010Z"), ("authorization", auth.as_str())];
    pairs.extend_from_slice(extra);
    Case { method, path, query, headers: headers(&pairs), body_sha256: sha256_hex(body), now: BOTO_NOW }
}

fn boto_create_domain() -> Case {
    boto(
        "POST",
        "/v1/domain",
        "domain=my-domain",
        "host;x-amz-date",
        "15f9a9d71f080d98c80b5c7d7aab9193ab41a8597ac4b9ee24109a0634911b31",
        &[],
        b"",
    )
}

const UPSTREAMS_BODY: &[u8] = br#"{"upstreams": [{"repositoryName": "up1"}]}"#;

fn boto_update_repository() -> Case {
    boto(
        "PUT",
        "/v1/repository",
        "domain=d&repository=r",
        "content-type;host;x-amz-date",
        "9780ca93f8be3bc5a4aff7a89493c7b28d40534c93890c4fe9f669af5010d422",
        &[("content-type", "application/json")],
        UPSTREAMS_BODY,
    )
}

/// Captured from the real `aws codeartifact ...` CLI (aws-cli 1.45.11)
/// against a dump server on 127.0.0.1:18080, credentials
/// CLI_AKID / SECRET, region us-west-2. Headers added after signing
/// (user-agent, amz-sdk-*, content-length) are kept to show they are
/// ignored.
#[allow(clippy::too_many_arguments)]
fn cli(
    method: &'static str,
    path: &'static str,
    query: &'static str,
    amz_date: &str,
    signed: &str,
    signature: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Case {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={CLI_AKID}/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    );
    let mut pairs = vec![
        ("host", "127.0.0.1:18080"),
        ("accept-encoding", "identity"),
        (
            "user-agent",
            "aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.18.44-fc-v782 \
             md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/D,b,N,g,Z \
             cfg/retry-mode#legacy botocore/1.43.11",
        ),
        ("x-amz-date", amz_date),
        ("authorization", auth.as_str()),
        ("amz-sdk-invocation-id", "5d7396e0-92f8-4b3e-b38b-4c3e5fb636e5"),
        ("amz-sdk-request", "attempt=1"),
    ];
    pairs.extend_from_slice(extra);
    Case {
        method,
        path,
        query,
        headers: headers(&pairs),
        body_sha256: sha256_hex(body),
        now: parse_amz_date(amz_date).unwrap(),
    }
}

#[test]
fn aws_test_suite_get_vanilla() {
    let case = Case {
        method: "GET",
        path: "/",
        query: "",
        headers: headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ]),
        body_sha256: EMPTY_SHA256.to_owned(),
        now: datetime!(2015-08-30 12:36:00 UTC),
    };
    assert_eq!(
        case.assert_ok(),
        Verified { access_key_id: AKID.to_owned(), region: "us-east-1".to_owned(), service: "service".to_owned() }
    );
}

#[test]
fn botocore_vectors_verify() {
    let cases = [
        boto_create_domain(),
        boto(
            "GET",
            "/v1/repository/endpoint",
            "domain=d&domain-owner=000000000000&repository=r&format=npm",
            "host;x-amz-date",
            "ac8ef13b8eb98b51726abbca520889c9361cfe9b8eebf9916a5c4808986e6005",
            &[],
            b"",
        ),
        boto(
            "POST",
            "/v1/repository/external-connection",
            "domain=d&domain-owner=000000000000&repository=r&external-connection=public%3Anpmjs",
            "host;x-amz-date",
            "0b2d504648efed516b5c8d6fbd0a1163f500acc08dae900e74dd08edfa004d1a",
            &[],
            b"",
        ),
        boto_update_repository(),
    ];
    for case in &cases {
        let v = case.assert_ok();
        assert_eq!(v.access_key_id, AKID);
        assert_eq!(v.region, "us-west-2");
        assert_eq!(v.service, "codeartifact");
    }
}

#[test]
fn real_cli_requests_verify() {
    let cases = [
        cli(
            "POST",
            "/v1/domain",
            "domain=my-domain",
            "20261123T211222Z",
            "content-type;host;x-amz-date",
            "11e97c0d00da409b31bd444be5d491ce2d93a3aab132a15ff3aa4527fe5650c3",
            &[("content-type", "application/json"), ("content-length", "2")],
            b"{}",
        ),
        cli(
            "GET",
            "/v1/repository/endpoint",
            "domain=dd&domain-owner=000000000000&repository=rr&format=npm",
            "20261123T211223Z",
            "host;x-amz-date",
            "f0ae09cd0a18abcd8fb118dc1df510e601ad70855cd9c0a4c0c7f1395ba466ba",
            &[],
            b"",
        ),
        cli(
            "POST",
            "/v1/repository/external-connection",
            "domain=dd&domain-owner=000000000000&repository=rr&external-connection=public%3Anpmjs",
            "20261123T211223Z",
            "host;x-amz-date",
            "7b4bc921377425762fc5bea98f2e65fa93f79e8b30f0ce2946d00d009096f5a4",
            &[("content-length", "0")],
            b"",
        ),
        cli(
            "PUT",
            "/v1/repository",
            "domain=dd&repository=rr",
            "20261123T211224Z",
            "content-type;host;x-amz-date",
            "99f10d73ced7db899d5f230d7533546c40d5b27a70486b37cfd3b265dbad9b45",
            &[("content-type", "application/json"), ("content-length", "69")],
            br#"{"upstreams": [{"repositoryName": "up1"}, {"repositoryName": "up2"}]}"#,
        ),
        cli(
            "POST",
            "/v1/package/versions",
            "domain=dd&repository=rr&format=npm&namespace=my%20scope&package=pkg~x",
            "20261123T211224Z",
            "host;x-amz-date",
            "83a75eb71159595881b4d88518c6dee1034818bce6bf0413e0782138a1a4c85f",
            &[("content-length", "0")],
            b"",
        ),
    ];
    for case in &cases {
        assert_eq!(case.assert_ok().access_key_id, CLI_AKID);
    }
}

/// botocore: path `/v1/a%20b/./c%3Ad/../e~f`, query `z=1&a=2&a=1&m=x%2Fy`,
/// header `X-Custom: "  a   b\tc  "`. Exercises double encoding, dot
/// segments, query sorting by key then value, and whitespace folding.
#[test]
fn botocore_path_query_and_header_canonicalization() {
    let make = |path| {
        let mut case = boto(
            "GET",
            path,
            "z=1&a=2&a=1&m=x%2Fy",
            "host;x-amz-date;x-custom",
            "34f7cec53003c89dd5a6bd3f05b5aecb3b904a43be1fc33ea85414cebd296d49",
            &[],
            b"",
        );
        case.headers.insert("x-custom", HeaderValue::from_bytes(b"  a   b\tc  ").unwrap());
        case
    };
    // Whether or not the HTTP layer removed the dot segments.
    make("/v1/a%20b/./c%3Ad/../e~f").assert_ok();
    make("/v1/a%20b/e~f").assert_ok();
    make("/v1//a%20b/e~f").assert_ok();
    assert_eq!(make("/v1/a%20b/e%7Ef").verify(), Err(SigV4Error::BadSignature));
}

/// botocore signs with a `Date` header (RFC 2822, "-0000" zone) instead of
/// X-Amz-Date when the caller set one.
#[test]
fn date_header_instead_of_x_amz_date() {
    let mut case = boto(
        "GET",
        "/v1/domains",
        "",
        "date;host",
        "1aa617dd64f4147aaa6633229d4278d9cfb443a916b2ca40345782d687bb615d",
        &[("date", "Mon, 23 Nov 2026 10:10:10 -0000")],
        b"",
    );
    case.headers.remove("x-amz-date");
    case.assert_ok();
}

/// botocore `SigV4QueryAuth(..., expires=300)`: a presigned URL.
fn presigned() -> Case {
    Case {
        method: "GET",
        path: "/v1/domain",
        query: "domain=my-domain&X-Amz-Algorithm=AWS4-HMAC-SHA256\
                &X-Amz-Credential=AKIDEXAMPLE%2F20261123%2Fus-west-2%2Fcodeartifact%2Faws4_request\
                &X-Amz-Date=20261123T101010Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
                &X-Amz-Signature=08d93aecf6e3c29de4bc2480eeb0d61904c3555fe4fdeeac61e01eee59e7024c",
        headers: headers(&[("host", "127.0.0.1:8080")]),
        body_sha256: EMPTY_SHA256.to_owned(),
        now: BOTO_NOW,
    }
}

#[test]
fn presigned_query_auth() {
    let case = presigned();
    assert_eq!(case.assert_ok().service, "codeartifact");
    // Valid for X-Amz-Expires seconds, not for the 15 minute skew window.
    assert!(case.verify_with(&secrets, BOTO_NOW + Duration::seconds(300)).is_ok());
    let err = case.verify_with(&secrets, BOTO_NOW + Duration::seconds(301)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Expired(
            "Signature expired: 20261123T101010Z is now earlier than 20261123T101011Z \
             (20261123T101511Z - 300 sec.)"
                .to_owned()
        )
    );
    let mut tampered = presigned();
    tampered.query = "domain=other-domain&X-Amz-Algorithm=AWS4-HMAC-SHA256\
                &X-Amz-Credential=AKIDEXAMPLE%2F20261123%2Fus-west-2%2Fcodeartifact%2Faws4_request\
                &X-Amz-Date=20261123T101010Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
                &X-Amz-Signature=08d93aecf6e3c29de4bc2480eeb0d61904c3555fe4fdeeac61e01eee59e7024c";
    assert_eq!(tampered.verify(), Err(SigV4Error::BadSignature));

    let mut both = presigned();
    both.headers = boto_create_domain().headers;
    assert!(matches!(both.verify(), Err(SigV4Error::Malformed(_))));

    let mut incomplete = presigned();
    incomplete.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
    assert!(matches!(incomplete.verify(), Err(SigV4Error::Malformed(_))));
}

#[test]
fn wrong_secret_is_bad_signature() {
    let wrong = |_: &str| Some("not-the-secret".to_owned());
    let case = boto_create_domain();
    assert_eq!(case.verify_with(&wrong, case.now), Err(SigV4Error::BadSignature));
}

#[test]
fn unknown_key() {
    let nobody = |_: &str| None;
    let case = boto_create_domain();
    assert_eq!(case.verify_with(&nobody, case.now), Err(SigV4Error::UnknownKey));
    // Reported before the clock check.
    let late = case.now + Duration::hours(2);
    assert_eq!(case.verify_with(&nobody, late), Err(SigV4Error::UnknownKey));
}

#[test]
fn clock_skew() {
    let case = boto_create_domain();
    // The window is inclusive.
    assert!(case.verify_with(&secrets, BOTO_NOW + MAX_SKEW).is_ok());
    assert!(case.verify_with(&secrets, BOTO_NOW - MAX_SKEW).is_ok());

    let late = case.verify_with(&secrets, BOTO_NOW + Duration::minutes(16));
    assert_eq!(
        late,
        Err(SigV4Error::Expired(
            "Signature expired: 20261123T101010Z is now earlier than 20261123T101110Z \
             (20261123T102610Z - 15 min.)"
                .to_owned()
        ))
    );
    let early = case.verify_with(&secrets, BOTO_NOW - Duration::minutes(16));
    assert_eq!(
        early,
        Err(SigV4Error::Expired(
            "Signature not yet current: 20261123T101010Z is still later than 20261123T100910Z \
             (20261123T095410Z + 15 min.)"
                .to_owned()
        ))
    );
    // Skew is reported before the signature is looked at.
    let wrong = |_: &str| Some("nope".to_owned());
    let err = case.verify_with(&wrong, BOTO_NOW + Duration::minutes(16)).unwrap_err();
    assert!(err.to_string().starts_with("Signature expired: "));
}

#[test]
fn server_clock_offset_does_not_matter() {
    let case = boto_create_domain();
    let now = BOTO_NOW.to_offset(time::macros::offset!(+5:30));
    assert!(case.verify_with(&secrets, now).is_ok());
}

#[test]
fn missing_authorization() {
    let mut case = boto_create_domain();
    case.headers.remove("authorization");
    assert_eq!(case.verify(), Err(SigV4Error::Missing));
    assert_eq!(SigV4Error::Missing.to_string(), "Missing Authentication Token");
}

#[test]
fn tampering_is_detected() {
    let mut case = boto_create_domain();
    case.query = "domain=other-domain";
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_create_domain();
    case.query = "domain=my-domain&extra=1";
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_create_domain();
    case.path = "/v1/domains";
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_create_domain();
    case.method = "PUT";
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_update_repository();
    case.body_sha256 = sha256_hex(br#"{"upstreams": []}"#);
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_update_repository();
    case.headers.insert("content-type", HeaderValue::from_static("text/plain"));
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_create_domain();
    case.headers.insert("host", HeaderValue::from_static("evil.example:8080"));
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));
}

#[test]
fn content_sha256_header_must_match_body() {
    // Client-declared payload hash is what gets signed...
    let hash = sha256_hex(b"payload");
    let mut case = boto_create_domain();
    case.headers.insert("x-amz-content-sha256", HeaderValue::from_str(&hash).unwrap());
    case.body_sha256 = hash.clone();
    // ...so the botocore signature (over the empty body hash) no longer matches.
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    // Declared hash equal to the empty body: canonical request unchanged.
    let mut case = boto_create_domain();
    case.headers.insert("x-amz-content-sha256", HeaderValue::from_static(EMPTY_SHA256));
    case.assert_ok();
    // Same declared hash, but the body that arrived is different.
    case.body_sha256 = hash;
    assert_eq!(case.verify(), Err(SigV4Error::BadSignature));

    let mut case = boto_create_domain();
    case.headers.insert("x-amz-content-sha256", HeaderValue::from_static("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));
    assert!(matches!(case.verify(), Err(SigV4Error::Malformed(_))));
}

#[test]
fn malformed_authorization() {
    let bad = [
        "garbage",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256Credential=x",
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact, \
         SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws3_request, \
         SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2026112x/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00",
    ];
    for value in bad {
        let mut case = boto_create_domain();
        case.headers.insert("authorization", HeaderValue::from_str(value).unwrap());
        // Malformed wins even for unknown keys.
        let err = case.verify_with(&|_: &str| None, BOTO_NOW).unwrap_err();
        assert!(matches!(err, SigV4Error::Malformed(_)), "{value}: {err:?}");
    }

    let mut case = boto_create_domain();
    case.headers.insert("authorization", HeaderValue::from_bytes(b"AWS4-HMAC-SHA256 \xff").unwrap());
    assert!(matches!(case.verify(), Err(SigV4Error::Malformed(_))));

    let mut case = boto_create_domain();
    case.headers.append("authorization", HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"));
    assert!(matches!(case.verify(), Err(SigV4Error::Malformed(_))));
}

#[test]
fn malformed_dates() {
    let mut case = boto_create_domain();
    case.headers.remove("x-amz-date");
    let err = case.verify().unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".to_owned()
        )
    );
    for bad in
        ["2026-11-23T10:10:10Z", "20261123T101010", "20261323T101010Z", "20261123T256010Z", "+0261123T101010Z", ""]
    {
        let mut case = boto_create_domain();
        case.headers.insert("x-amz-date", HeaderValue::from_str(bad).unwrap());
        assert!(matches!(case.verify(), Err(SigV4Error::Malformed(_))), "{bad}");
    }
    let mut case = boto_create_domain();
    case.headers.remove("x-amz-date");
    case.headers.insert("date", HeaderValue::from_static("yesterday"));
    assert!(matches!(case.verify(), Err(SigV4Error::Malformed(_))));
}

#[test]
fn garbage_signature_is_bad_signature() {
    for sig in ["zz", "00", "0", &"f".repeat(64), &"é".repeat(40)] {
        let mut case = boto_create_domain();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={sig}"
        );
        case.headers.insert("authorization", HeaderValue::from_bytes(auth.as_bytes()).unwrap());
        let err = case.verify().unwrap_err();
        assert!(matches!(err, SigV4Error::BadSignature | SigV4Error::Malformed(_)), "{sig}: {err:?}");
    }
}

#[test]
fn signature_hex_case_is_irrelevant() {
    let mut case = boto_create_domain();
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/codeartifact/aws4_request, \
                SignedHeaders=host;x-amz-date, \
                Signature=15F9A9D71F080D98C80B5C7D7AAB9193AB41A8597AC4B9EE24109A0634911B31";
    case.headers.insert("authorization", HeaderValue::from_static(auth));
    case.assert_ok();
}

#[test]
fn canonical_uri_matches_botocore() {
    // Expected values from botocore SigV4Auth._normalize_url_path.
    for (raw, want) in [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("/v1/domain", "/v1/domain"),
        ("/v1/a%20b", "/v1/a%2520b"),
        ("/v1/public%3Anpmjs/", "/v1/public%253Anpmjs/"),
        ("/a/./b/../c", "/a/c"),
        ("/../..", "/"),
        ("/a:b@c!$&'()*+,;=", "/a%3Ab%40c%21%24%26%27%28%29%2A%2B%2C%3B%3D"),
        ("/é~_.-", "/%C3%A9~_.-"),
    ] {
        assert_eq!(canonical_uri(raw), want, "{raw:?}");
    }
}

#[test]
fn canonical_query_rules() {
    for (raw, want) in [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&a", "a=&a=1&a=2"),
        ("a=x%2fy", "a=x%2Fy"),
        ("a=x/y:z", "a=x%2Fy%3Az"),
        ("a=b=c", "a=b%3Dc"),
        ("a=b+c", "a=b%2Bc"),
        ("a=b%20c", "a=b%20c"),
        ("a=1&&b=2", "=&a=1&b=2"),
        ("k=%zz", "k=%25zz"),
        ("k=%E2%9C%93", "k=%E2%9C%93"),
        ("k=%FF", "k=%FF"),
    ] {
        assert_eq!(canonical_query(raw, false), want, "{raw:?}");
    }
    assert_eq!(canonical_query("a=1&X-Amz-Signature=abc&X-Amz-Date=x", true), "X-Amz-Date=x&a=1");
}

#[test]
fn header_values_are_folded_and_joined() {
    let map = headers(&[("x-a", "  one   two "), ("x-a", "\tthree\t"), ("x-b", "")]);
    let mut out = Vec::new();
    canonical_header_value(&map, "x-a", &mut out);
    assert_eq!(out, b"one two,three");
    out.clear();
    canonical_header_value(&map, "x-missing", &mut out);
    assert_eq!(out, b"");
}

/// Throws pseudo-random junk at every input; nothing may panic.
#[test]
fn never_panics_on_junk() {
    const ALPHABET: &[u8] = b"AWS4-HMAC-SHA256 Credential=/SignedHeaders;Signature,=%&?.~ \
                              \txyz0123456789abcdefT Z\x80\xff";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut junk = |max: u64| -> Vec<u8> {
        let len = (next() % max) as usize;
        (0..len).map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize]).collect()
    };
    let base = boto_create_domain();
    for _ in 0..5000 {
        let auth = junk(120);
        let date = junk(20);
        let path = String::from_utf8_lossy(&junk(30)).into_owned();
        let query = String::from_utf8_lossy(&junk(60)).into_owned();
        let sha = String::from_utf8_lossy(&junk(70)).into_owned();
        let mut map = base.headers.clone();
        if let Ok(v) = HeaderValue::from_bytes(&auth) {
            map.insert("authorization", v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&date) {
            map.insert("x-amz-date", v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&junk(70)) {
            map.insert("x-amz-content-sha256", v);
        }
        let req = SignedRequest { method: "GET", raw_path: &path, raw_query: &query, headers: &map, body_sha256: &sha };
        let _ = verify(&req, &secrets, BOTO_NOW);
        let extreme = [OffsetDateTime::UNIX_EPOCH, datetime!(9999-12-31 23:59:59 UTC)];
        for now in extreme {
            let _ = verify(&req, &secrets, now);
        }
    }
    // Well-formed except for the extreme clock.
    for now in [datetime!(-9999-01-01 0:00 UTC), datetime!(9999-12-31 23:59:59.999 UTC)] {
        assert!(matches!(base.verify_with(&secrets, now), Err(SigV4Error::Expired(_))));
    }
}
