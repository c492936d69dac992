//! A minimal AWS SigV4 signer for GET requests to the management API (the event feed has no
//! `aws codeartifact` command): the same algorithm botocore uses, header-signed with
//! `host;x-amz-date`, so Depot's verifier treats it like any CLI request.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Sends a signed `GET <base><path>?<query>`; `query` pairs must already be URI-safe.
pub async fn signed_get(
    base: &str,
    path: &str,
    query: &[(&str, String)],
    region: &str,
    akid: &str,
    secret: &str,
) -> reqwest::Response {
    let url = url::Url::parse(base).unwrap();
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let now = time::OffsetDateTime::now_utc();
    let amz_date = now.format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap();
    let date = &amz_date[..8];
    let mut q: Vec<(&str, String)> = query.to_vec();
    q.sort();
    let cq = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let empty = hex::encode(Sha256::digest(b""));
    let canonical = format!("GET\n{path}\n{cq}\nhost:{host}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{empty}");
    let scope = format!("{date}/{region}/codeartifact/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical)));
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, "codeartifact", "aws4_request"] {
        key = hmac(&key, part);
    }
    let sig = hex::encode(hmac(&key, &to_sign));
    let auth = format!("AWS4-HMAC-SHA256 Credential={akid}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}");
    let full = if cq.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{cq}") };
    reqwest::Client::new().get(full).header("x-amz-date", amz_date).header("authorization", auth).send().await.unwrap()
}
