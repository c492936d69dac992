//! A minimal NuGet V3 feed of `../shared/fixtures/nuget` (service index, registration index,
//! flat container), as the fixtures README describes, for the push tests' upstream rule. URLs
//! are built from the request's Host, so the router needs no address before it is bound.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::support::fake_server::FakeServer;
use crate::support::fixtures;

/// The running feed.
pub struct FakeNuget {
    server: FakeServer,
}

impl FakeNuget {
    /// `<root>/v3/index.json`, what `public:nuget-org` is pointed at.
    pub fn index_url(&self) -> String {
        format!("{}/v3/index.json", self.server.url())
    }
}

/// Starts the feed.
pub async fn start() -> FakeNuget {
    FakeNuget { server: FakeServer::start(Router::new().fallback(serve)).await }
}

fn index() -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(fixtures().join("nuget/index.json")).unwrap()).unwrap()
}

fn json_response(v: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

async fn serve(req: Request) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_string();
    let base = format!("http://{host}");
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let entries = |id: &str| -> Vec<Value> {
        index().into_iter().filter(|e| e["id"].as_str().unwrap().eq_ignore_ascii_case(id)).collect()
    };
    match segs.as_slice() {
        ["v3", "index.json"] => json_response(json!({"version": "3.0.0", "resources": [
            {"@id": format!("{base}/v3-flatcontainer/"), "@type": "PackageBaseAddress/3.0.0"},
            {"@id": format!("{base}/v3/registration/"), "@type": "RegistrationsBaseUrl"},
            {"@id": format!("{base}/v3/registration/"), "@type": "RegistrationsBaseUrl/3.4.0"},
            {"@id": format!("{base}/v3/registration/"), "@type": "RegistrationsBaseUrl/3.6.0"},
        ]})),
        ["v3", "registration", id, "index.json"] if !entries(id).is_empty() => {
            let es = entries(id);
            let i = id.to_ascii_lowercase();
            let leaves: Vec<Value> = es
                .iter()
                .map(|e| {
                    let v = e["normalized_version"].as_str().unwrap();
                    let content = format!("{base}/v3-flatcontainer/{i}/{v}/{i}.{v}.nupkg");
                    json!({"@id": format!("{base}/v3/registration/{i}/{v}.json"), "packageContent": content,
                        "catalogEntry": {"@id": format!("{base}/catalog/{i}/{v}.json"), "id": e["id"], "version": v,
                            "listed": true, "packageContent": content, "dependencyGroups": [],
                            "description": e["description"], "authors": e["authors"],
                            "packageHash": e["sha512_base64"], "packageHashAlgorithm": "SHA512"}})
                })
                .collect();
            let (lo, hi) = (es[0]["normalized_version"].clone(), es[es.len() - 1]["normalized_version"].clone());
            json_response(
                json!({"count": 1, "items": [{"@id": format!("{base}/v3/registration/{i}/index.json#page/{}/{}",
                lo.as_str().unwrap(), hi.as_str().unwrap()), "count": leaves.len(), "lower": lo, "upper": hi,
                "items": leaves}]}),
            )
        }
        ["v3-flatcontainer", id, "index.json"] if !entries(id).is_empty() => json_response(
            json!({"versions": entries(id).iter().map(|e| e["normalized_version"].clone()).collect::<Vec<_>>()}),
        ),
        ["v3-flatcontainer", id, v, _file] => match entries(id).iter().find(|e| e["normalized_version"] == *v) {
            Some(e) => {
                let bytes = std::fs::read(fixtures().join("nuget").join(e["file"].as_str().unwrap())).unwrap();
                ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
