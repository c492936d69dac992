//! NuGet V3 through Depot (issue #12). Read path: with the fake NuGet feed
//! (`support/fake_nuget.rs`) serving `../shared/fixtures/nuget`. Domain `acme`, repository
//! `app` with upstream `store`, `store` with `public:nuget-org` (`support::nuget_app_and_store`).
//! No `dotnet` SDK is installable here: its request sequence is replayed with the headers
//! NuGet's `HttpSource` sends (`X-NuGet-Session-Id`, its User-Agent, `Accept-Encoding: gzip,
//! deflate` from the handler's automatic decompression). The `nuget install` sequence and
//! headers are those NuGet.exe 5.8.0 sent, as recorded by the "nuget-parts" slice
//! (/work/notes/nuget-requests.txt): `X-NuGet-Client-Version` too, and every request first
//! without credentials, then again with Basic after the 401. Push and the real NuGet.exe:
//! `push.rs` ("nuget-parts" slice).

mod freshness;
mod install;
mod package_ops;
mod push;
mod replay;
mod status;
mod versions;

use crate::support::depot::TestDepot;

/// A NuGet client: which one it says it is, one session id, and the token it sends (Basic
/// `aws:<token>`, what `nuget sources add -username aws -password <token>` stores).
pub(crate) struct Client {
    http: reqwest::Client,
    user_agent: &'static str,
    client_version: Option<&'static str>,
    session: String,
    token: Option<String>,
}

/// `dotnet restore` (NuGet 6 in the .NET SDK).
pub(crate) const DOTNET: &str = "NuGet .NET Core MSBuild Task/6.8.0 (Linux 6.1.0 #1 SMP Debian)";
/// `nuget install` (NuGet.exe 5.8.0 on mono).
pub(crate) const NUGET_EXE: &str = "NuGet Command Line/5.8.0 (Unix 6.1.0.0)";

impl Client {
    pub(crate) fn new(user_agent: &'static str, token: Option<&str>) -> Client {
        // The test decodes gzip itself: the replay checks what travels on the wire.
        let http = reqwest::Client::builder().no_gzip().build().unwrap();
        let client_version = user_agent.starts_with("NuGet Command Line/").then_some("5.8.0");
        let session = format!("{:032x}", rand_u128());
        Client { http, user_agent, client_version, session, token: token.map(str::to_string) }
    }

    /// A GET as NuGet's HttpSource sends it: with a token configured, first without
    /// credentials and, after a 401 with a Basic challenge, again with them (NuGet.exe 5.8
    /// does this for every request).
    pub(crate) async fn get(&self, url: &str) -> reqwest::Response {
        let send = |auth: bool| {
            let mut req = self
                .http
                .get(url)
                .header("user-agent", self.user_agent)
                .header("x-nuget-session-id", &self.session)
                .header("accept-encoding", "gzip, deflate");
            if let Some(v) = self.client_version {
                req = req.header("x-nuget-client-version", v);
            }
            if let (true, Some(t)) = (auth, &self.token) {
                req = req.basic_auth("aws", Some(t));
            }
            req.send()
        };
        let first = send(false).await.unwrap();
        let challenged = first
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic realm="));
        if first.status() != 401 || self.token.is_none() {
            return first;
        }
        assert!(challenged, "a 401 without a Basic challenge: NuGet would not send its credentials");
        send(true).await.unwrap()
    }

    /// A GET whose (possibly gzip-encoded) body is JSON.
    pub(crate) async fn json(&self, url: &str) -> serde_json::Value {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "GET {url}");
        serde_json::from_slice(&body(r).await).unwrap()
    }
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(1);
    (h.finish() as u128) << 64 | std::time::SystemTime::now().elapsed().map_or(7, |d| d.as_nanos())
}

/// A response body, gzip-decoded when the server encoded it.
pub(crate) async fn body(r: reqwest::Response) -> Vec<u8> {
    let gz = r.headers().get("content-encoding").is_some_and(|v| v == "gzip");
    let bytes = r.bytes().await.unwrap().to_vec();
    if !gz {
        return bytes;
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out).unwrap();
    out
}

/// The repository's service index and the resource of `type_`.
pub(crate) async fn resource(c: &Client, depot: &TestDepot, repo: &str, type_: &str) -> String {
    let index = c.json(&format!("{}v3/index.json", depot.nuget_endpoint("acme", repo))).await;
    index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} in {index}"))["@id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The versions a flat container lists for `id`.
pub(crate) async fn flat_versions(c: &Client, depot: &TestDepot, repo: &str, id: &str) -> Vec<String> {
    let url = format!("{}v3-flatcontainer/{id}/index.json", depot.nuget_endpoint("acme", repo));
    let v = c.json(&url).await;
    v["versions"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
}

/// `list-package-versions --format nuget` (empty when there is none).
pub(crate) async fn stored(aws: &crate::support::clients::Aws, repo: &str, package: &str) -> Vec<String> {
    let out = aws
        .run(&[
            "list-package-versions",
            "--domain",
            "acme",
            "--repository",
            repo,
            "--format",
            "nuget",
            "--package",
            package,
        ])
        .await;
    if !out.status.success() {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut vs: Vec<String> =
        v["versions"].as_array().unwrap().iter().map(|x| x["version"].as_str().unwrap().to_string()).collect();
    vs.sort();
    vs
}
