//! The management API through the real `aws` CLI: SigV4 rejections, validation, conflicts,
//! quotas, pagination and token rules.

use crate::support::depot::{TestDepot, AKID, SECRET};

/// Signs `POST /v1/domains` with botocore on a clock shifted by `shift_secs` and sends it.
async fn skewed_request(url: &str, shift_secs: i64) -> (u16, String, String) {
    let script = r#"
import sys, datetime, json, urllib.request, urllib.error
from unittest import mock
try:  # awscli 1.46+ vendors botocore as awscli.botocore
    import awscli.botocore.auth, awscli.botocore.awsrequest, awscli.botocore.credentials
    from awscli import botocore
except ImportError:
    import botocore.auth, botocore.awsrequest, botocore.credentials
url, shift, key, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/v1/domains", data=b"{}",
                                     headers={"Content-Type": "application/json"})
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(seconds=shift)
with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "codeartifact", "us-east-1").add_auth(req)
p = req.prepare()
r = urllib.request.Request(p.url, data=p.body, headers=dict(p.headers), method="POST")
try:
    resp = urllib.request.urlopen(r)
    print(json.dumps([resp.status, "", resp.read().decode()]))
except urllib.error.HTTPError as e:
    print(json.dumps([e.code, e.headers.get("x-amzn-ErrorType", ""), e.read().decode()]))
"#;
    let py = std::env::var("DEPOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = tokio::process::Command::new(py)
        .args(["-c", script, url, &shift_secs.to_string(), AKID, SECRET])
        .output()
        .await
        .expect("python3 with botocore (set DEPOT_TEST_PYTHON)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: (u16, String, String) = serde_json::from_slice(&out.stdout).unwrap();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_rejections() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    aws.ok(&["list-domains"]).await;
    let err = aws.with_keys(AKID, "wrong-secret").err(&["list-domains"]).await;
    assert!(err.contains("InvalidSignatureException"), "{err}");
    let err = aws.with_keys("AKIDUNKNOWN", SECRET).err(&["list-domains"]).await;
    assert!(err.contains("UnrecognizedClientException"), "{err}");

    let mut other_region = depot.aws();
    other_region = other_region.with_region("eu-west-1");
    let err = other_region.err(&["list-domains"]).await;
    assert!(err.contains("InvalidSignatureException") && err.contains("region"), "{err}");

    let r = reqwest::Client::new().post(format!("{}/v1/domains", depot.url)).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-amzn-ErrorType"], "MissingAuthenticationTokenException");

    let (status, _, _) = skewed_request(&depot.url, 0).await;
    assert_eq!(status, 200);
    for shift in [-16 * 60, 16 * 60] {
        let (status, kind, body) = skewed_request(&depot.url, shift).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(kind, "InvalidSignatureException");
        assert!(body.contains("Signature expired") || body.contains("Signature not yet current"), "{body}");
    }
    let (status, _, body) = skewed_request(&depot.url, 14 * 60).await;
    assert_eq!(status, 200, "14 minutes is within the allowed skew: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_conflicts_and_quotas() {
    let depot = TestDepot::builder().start().await;
    let aws = depot.aws();
    let err = aws.err(&["create-domain", "--domain", "Bad_Name"]).await;
    assert!(err.contains("ValidationException") && err.contains("domain"), "{err}");
    aws.ok(&["create-domain", "--domain", "acme"]).await;
    let err = aws.err(&["create-domain", "--domain", "acme"]).await;
    assert!(err.contains("ConflictException"), "{err}");
    let err = aws.err(&["describe-domain", "--domain", "nope"]).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    let err = aws.err(&["describe-domain", "--domain", "acme", "--domain-owner", "111122223333"]).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");

    for i in 0..12 {
        aws.ok(&["create-repository", "--domain", "acme", "--repository", &format!("r{i:02}")]).await;
    }
    let err = aws.err(&["create-repository", "--domain", "acme", "--repository", "r00"]).await;
    assert!(err.contains("ConflictException"), "{err}");
    let err = aws
        .err(&["create-repository", "--domain", "acme", "--repository", "x1", "--upstreams", "repositoryName=missing"])
        .await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    // At most 10 direct upstreams.
    let eleven: Vec<String> = (1..12).map(|i| format!("repositoryName=r{i:02}")).collect();
    let mut args = vec!["update-repository", "--domain", "acme", "--repository", "r00", "--upstreams"];
    args.extend(eleven.iter().map(String::as_str));
    let err = aws.err(&args).await;
    assert!(err.contains("ValidationException") && err.contains("upstreams"), "{err}");
    // Cycles are refused.
    aws.ok(&["update-repository", "--domain", "acme", "--repository", "r00", "--upstreams", "repositoryName=r01"])
        .await;
    aws.ok(&["update-repository", "--domain", "acme", "--repository", "r01", "--upstreams", "repositoryName=r02"])
        .await;
    let err = aws
        .err(&["update-repository", "--domain", "acme", "--repository", "r02", "--upstreams", "repositoryName=r00"])
        .await;
    assert!(err.contains("ValidationException") && err.contains("cycle"), "{err}");
    // One external connection per repository.
    aws.ok(&[
        "associate-external-connection",
        "--domain",
        "acme",
        "--repository",
        "r05",
        "--external-connection",
        "public:npmjs",
    ])
    .await;
    let err = aws
        .err(&[
            "associate-external-connection",
            "--domain",
            "acme",
            "--repository",
            "r05",
            "--external-connection",
            "public:pypi",
        ])
        .await;
    assert!(err.contains("ServiceQuotaExceededException"), "{err}");
    let err = aws
        .err(&[
            "associate-external-connection",
            "--domain",
            "acme",
            "--repository",
            "r06",
            "--external-connection",
            "public:nope",
        ])
        .await;
    assert!(err.contains("ValidationException"), "{err}");
    let r = aws
        .ok(&[
            "disassociate-external-connection",
            "--domain",
            "acme",
            "--repository",
            "r05",
            "--external-connection",
            "public:npmjs",
        ])
        .await;
    assert_eq!(r["repository"]["externalConnections"].as_array().unwrap().len(), 0);

    // Pagination with a prefix.
    let page = aws
        .ok(&[
            "list-repositories-in-domain",
            "--domain",
            "acme",
            "--repository-prefix",
            "r0",
            "--max-items",
            "4",
            "--page-size",
            "3",
        ])
        .await;
    assert_eq!(page["repositories"].as_array().unwrap().len(), 4);
    assert!(page["NextToken"].is_string(), "{page}");
    let all = aws.ok(&["list-repositories-in-domain", "--domain", "acme"]).await;
    assert_eq!(all["repositories"].as_array().unwrap().len(), 12);
    let all = aws.ok(&["list-repositories", "--repository-prefix", "r1"]).await;
    assert_eq!(all["repositories"].as_array().unwrap().len(), 2);

    // Endpoints and tokens.
    let e = aws.ok(&["get-repository-endpoint", "--domain", "acme", "--repository", "r00", "--format", "npm"]).await;
    assert_eq!(e["repositoryEndpoint"], format!("{}/acme-000000000000/npm/r00/", depot.url));
    let err =
        aws.err(&["get-repository-endpoint", "--domain", "acme", "--repository", "r00", "--format", "generic"]).await;
    assert!(err.contains("ValidationException"), "{err}");
    for bad in ["899", "43201"] {
        let err = aws.err(&["get-authorization-token", "--domain", "acme", "--duration-seconds", bad]).await;
        assert!(err.contains("ValidationException"), "{err}");
    }
    let t = aws.ok(&["get-authorization-token", "--domain", "acme", "--duration-seconds", "900"]).await;
    assert!(t["authorizationToken"].is_string());
    let exp = t["expiration"].as_f64().expect("epoch seconds, as the CLI prints them raw");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((exp - now - 900.0).abs() < 60.0, "expires in 900 s: {exp} vs {now}");
    aws.ok(&["get-authorization-token", "--domain", "acme", "--duration-seconds", "0"]).await;

    // A domain with repositories cannot be deleted.
    let err = aws.err(&["delete-domain", "--domain", "acme"]).await;
    assert!(err.contains("ConflictException"), "{err}");
    for i in 0..12 {
        aws.ok(&["delete-repository", "--domain", "acme", "--repository", &format!("r{i:02}")]).await;
    }
    aws.ok(&["delete-domain", "--domain", "acme"]).await;
    let err = aws.err(&["list-packages", "--domain", "acme", "--repository", "r00"]).await;
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_configuration_bootstraps_main() {
    let depot = TestDepot::builder().npm_upstream("http://127.0.0.1:9").start().await;
    let aws = depot.aws();
    let r = aws.ok(&["describe-repository", "--domain", "default", "--repository", "main"]).await;
    let ups: Vec<&str> = r["repository"]["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["repositoryName"].as_str().unwrap())
        .collect();
    assert_eq!(ups[0], "npm-store");
    assert!(!ups.contains(&"pypi-store"), "no store for a connection without a URL: {ups:?}");
    let s = aws.ok(&["describe-repository", "--domain", "default", "--repository", "npm-store"]).await;
    assert_eq!(s["repository"]["externalConnections"][0]["externalConnectionName"], "public:npmjs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_generates_an_admin_key_usable_as_aws_credentials() {
    let depot = TestDepot::builder()
        .without("DEPOT_ADMIN_ACCESS_KEY_ID")
        .without("DEPOT_ADMIN_SECRET_ACCESS_KEY")
        .start()
        .await;
    let creds = depot.data_dir().join("admin-credentials");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(depot.log().contains("admin-credentials"), "the log says where the key is");
    let text = std::fs::read_to_string(&creds).unwrap();
    let field = |k: &str| {
        text.lines().find_map(|l| l.strip_prefix(k)).unwrap().trim_start_matches([' ', '=']).trim().to_string()
    };
    let aws = depot.aws().with_keys(&field("aws_access_key_id"), &field("aws_secret_access_key"));
    let d = aws.ok(&["list-domains"]).await;
    assert_eq!(d["domains"][0]["name"], "default");
    // The same key after a restart.
    let mut depot = depot;
    depot.restart().await;
    aws.ok(&["describe-repository", "--domain", "default", "--repository", "main"]).await;
}
