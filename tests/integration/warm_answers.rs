//! Warm answers (`server/warm.rs`): a repeated request for a document made from a package view
//! is answered without its handler. Whatever changes in between reaches the next request all
//! the same: a publish, a status change; and what the handler would refuse (a bad token, no
//! token where anonymous reads are off, an npm command the registry does not support) is
//! still refused. The upstream side (an answer ends when its upstream document is due) is
//! `ingestion::metadata_max_age_and_stale_while_revalidate`, which asks the same request again.

use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH};
use serde_json::Value;

use crate::package_status::raw_publish;
use crate::support::app_and_store;

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let etag = r.headers().get(ETAG).map(|v| v.to_str().unwrap().to_string());
    let status = r.status().as_u16();
    (status, etag, r.json().await.unwrap_or(Value::Null))
}

fn versions(doc: &Value) -> Vec<String> {
    doc["versions"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_answers_follow_every_change_and_still_check_the_token() {
    let (_fake, depot, aws) = app_and_store(|b| b.env("DEPOT_ANONYMOUS_READS", "false")).await;
    let endpoint = depot.npm_endpoint("acme", "app");
    let token = aws.token("acme").await;
    let bearer = format!("Bearer {token}");
    let auth = [(AUTHORIZATION.as_str(), bearer.as_str())];
    assert_eq!(raw_publish(&endpoint, &token, "wa-demo", "1.0.0").await, 201);
    let url = format!("{endpoint}wa-demo");

    // The same request twice: the same document, the same ETag; a 304 for a client holding it.
    let (s1, e1, d1) = get(&url, &auth).await;
    let (s2, e2, d2) = get(&url, &auth).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!((&e1, &d1), (&e2, &d2));
    assert_eq!(versions(&d2), ["1.0.0"]);
    let etag = e2.unwrap();
    let held = [auth[0], (IF_NONE_MATCH.as_str(), etag.as_str())];
    assert_eq!(get(&url, &held).await.0, 304);

    // A publish reaches the next request.
    assert_eq!(raw_publish(&endpoint, &token, "wa-demo", "1.1.0").await, 201);
    let (_, e3, d3) = get(&url, &auth).await;
    assert_eq!(versions(&d3), ["1.0.0", "1.1.0"]);
    assert_ne!(e3.as_deref(), Some(etag.as_str()));
    assert_eq!(get(&url, &held).await.0, 200, "the old ETag no longer matches");

    // So does a status change made through the management API.
    let unlist = "update-package-versions-status --domain acme --repository app --format npm --package wa-demo \
                  --versions 1.0.0 --target-status Unlisted";
    aws.ok(&unlist.split_whitespace().collect::<Vec<_>>()).await;
    assert_eq!(versions(&get(&url, &auth).await.2), ["1.1.0"]);
    assert_eq!(versions(&get(&url, &auth).await.2), ["1.1.0"]);

    // What the handler refuses is refused after a warm answer too.
    assert_eq!(get(&url, &[(AUTHORIZATION.as_str(), "Bearer not-a-token")]).await.0, 401);
    assert_eq!(get(&url, &[]).await.0, 401, "anonymous reads are off");
    let owner = [auth[0], ("npm-command", "owner")];
    assert_eq!(get(&url, &owner).await.0, 405);

    // Another representation is its own answer: the abbreviated document, by Accept.
    let abbreviated = [auth[0], (ACCEPT.as_str(), "application/vnd.npm.install-v1+json")];
    let (s, _, a) = get(&url, &abbreviated).await;
    assert_eq!(s, 200);
    assert!(a.get("modified").is_some() && a["versions"]["1.1.0"].get("readme").is_none(), "{a}");
    let (_, _, full) = get(&url, &auth).await;
    assert_eq!(full["name"], "wa-demo");
    assert!(full.get("time").is_some(), "the full document: {full}");
}
