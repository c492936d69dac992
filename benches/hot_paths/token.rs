//! An npm publish needs a token: GetAuthorizationToken, SigV4-signed as botocore signs it
//! (`host;x-amz-date`, empty payload), with the admin key the bench gives Depot.

use anyhow::{ensure, Context as _, Result};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::procs::{AKID, REGION, SECRET};

fn hmac(key: &[u8], data: &str) -> Result<Vec<u8>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)?;
    m.update(data.as_bytes());
    Ok(m.finalize().into_bytes().to_vec())
}

/// A token for domain `default` from the Depot at `base` (`http://127.0.0.1:<port>`).
pub async fn authorization_token(client: &reqwest::Client, base: &str) -> Result<String> {
    let (path, query) = ("/v1/authorization-token", "domain=default");
    let host = base.trim_start_matches("http://");
    let amz_date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))?;
    let date = &amz_date[..8];
    let empty = hex::encode(Sha256::digest(b""));
    let canonical = format!("POST\n{path}\n{query}\nhost:{host}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{empty}");
    let scope = format!("{date}/{REGION}/codeartifact/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical)));
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), date)?;
    for part in [REGION, "codeartifact", "aws4_request"] {
        key = hmac(&key, part)?;
    }
    let sig = hex::encode(hmac(&key, &to_sign)?);
    let auth = format!("AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}");
    let resp = client
        .post(format!("{base}{path}?{query}"))
        .header("x-amz-date", amz_date)
        .header("authorization", auth)
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.context("GetAuthorizationToken answer")?;
    ensure!(status.is_success(), "GetAuthorizationToken: {status} {body}");
    Ok(body["authorizationToken"].as_str().context("no authorizationToken")?.to_string())
}
