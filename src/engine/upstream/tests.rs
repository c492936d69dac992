//! The one request path against a scripted loopback server: retries, the breaker,
//! `Retry-After`, credentials, and errors that never show a URL.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::*;

/// A status and extra headers to answer with.
type Answer = (u16, Vec<(&'static str, String)>);

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    hits: Mutex<Vec<(Instant, Option<String>)>>,
}

async fn answer(State(s): State<Arc<Script>>, headers: HeaderMap) -> axum::response::Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    s.hits.lock().unwrap().push((Instant::now(), auth));
    let (status, extra) = s.answers.lock().unwrap().pop_front().unwrap_or((200, vec![]));
    let mut resp = (StatusCode::from_u16(status).unwrap(), "{}").into_response();
    for (k, v) in extra {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

async fn server(answers: &[Answer]) -> (String, Arc<Script>) {
    let script = Arc::new(Script::default());
    script.answers.lock().unwrap().extend(answers.iter().cloned());
    let app = axum::Router::new().fallback(answer).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, script)
}

fn upstream(url: &str, tweak: impl FnOnce(&mut ConnectionConfig)) -> Upstream {
    let mut c = ConnectionConfig { url: url.to_string(), retries: 2, ..Default::default() };
    tweak(&mut c);
    Upstream::new("public:test", &c).unwrap()
}

fn client() -> Urgency {
    Urgency::new(Priority::Client)
}

fn hits(s: &Script) -> usize {
    s.hits.lock().unwrap().len()
}

#[tokio::test]
async fn metadata_and_assets_retry_the_same_way() {
    let (url, s) = server(&[(503, vec![]), (500, vec![]), (200, vec![]), (502, vec![]), (200, vec![])]).await;
    let up = upstream(&url, |_| {});
    let got = up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.unwrap();
    assert!(matches!(got, Fetched::Found { .. }));
    assert_eq!(hits(&s), 3, "two 5xx, then success");
    let resp = up.get_asset(&format!("{url}/p/-/p-1.tgz"), &client()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(hits(&s), 5, "the asset took the same retry path");
}

#[tokio::test]
async fn client_errors_are_answers_not_failures() {
    let (url, s) = server(&[(404, vec![]), (403, vec![]), (403, vec![])]).await;
    let up = upstream(&url, |_| {});
    let got = up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.unwrap();
    assert!(matches!(got, Fetched::NotFound));
    let e = up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.err().unwrap();
    assert_eq!(e.failure, UpstreamFailure::Status(403));
    let e = up.get_asset(&format!("{url}/p/-/p-1.tgz"), &client()).await.err().unwrap();
    assert_eq!(e.failure, UpstreamFailure::Status(403));
    assert_eq!(hits(&s), 3, "no retries for definitive answers");
    assert_eq!(up.breaker.failures.load(Ordering::Relaxed), 0, "an answering upstream is up");
}

#[tokio::test]
async fn the_breaker_counts_metadata_and_assets_together() {
    let (url, s) = server(&vec![(500, vec![]); 15]).await;
    let up = upstream(&url, |c| c.retries = 2);
    for i in 0..5 {
        let e = if i % 2 == 0 {
            up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.err().unwrap()
        } else {
            up.get_asset(&format!("{url}/p/-/p-1.tgz"), &client()).await.err().unwrap()
        };
        assert_eq!(e.failure, UpstreamFailure::Status(500));
        assert!(e.retryable() && !e.is_outage());
    }
    assert_eq!(hits(&s), 15);
    let t = Instant::now();
    let e = up.get_asset(&format!("{url}/p/-/p-1.tgz"), &client()).await.err().unwrap();
    assert_eq!(e.failure, UpstreamFailure::CircuitOpen);
    assert!(e.is_outage());
    assert!(t.elapsed() < Duration::from_millis(50));
    assert_eq!(hits(&s), 15, "an open breaker sends nothing");
}

#[tokio::test]
async fn retry_after_is_waited_out_and_never_means_not_found() {
    let (url, s) = server(&[(429, vec![("retry-after", "1".into())]), (200, vec![])]).await;
    let up = upstream(&url, |_| {});
    let got = up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.unwrap();
    assert!(matches!(got, Fetched::Found { .. }), "a 429 is not 'package not found'");
    let h = s.hits.lock().unwrap().clone();
    assert_eq!(h.len(), 2);
    assert!(h[1].0 - h[0].0 >= Duration::from_millis(950), "waited the second it was told to");
}

#[tokio::test]
async fn a_long_retry_after_fails_fast_and_pauses_the_connection() {
    let (url, s) = server(&[(503, vec![("retry-after", "120".into())])]).await;
    let up = upstream(&url, |c| c.max_retry_after_secs = 5);
    let e = up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.err().unwrap();
    assert!(matches!(e.failure, UpstreamFailure::RateLimited { retry_after: Some(d) } if d.as_secs() == 120));
    let e = up.get_asset(&format!("{url}/p/-/p-1.tgz"), &client()).await.err().unwrap();
    assert!(matches!(e.failure, UpstreamFailure::RateLimited { .. }));
    assert_eq!(hits(&s), 1, "paused: the second request was not sent");
    assert_eq!(up.breaker.failures.load(Ordering::Relaxed), 0, "being told to wait is not failing");
}

#[tokio::test]
async fn credentials_go_to_their_origin_only_and_never_into_errors() {
    let (url, s) = server(&[]).await;
    let (other, o) = server(&[]).await;
    let with_creds = url.replacen("http://", "http://mirror:hunter2@", 1);
    let up = upstream(&with_creds, |_| {});
    assert!(!up.base.contains("hunter2"));
    up.get_metadata(&format!("{}/p", up.base), "application/json", None, &client()).await.unwrap();
    up.get_asset(&format!("{other}/cdn/p-1.tgz"), &client()).await.unwrap();
    let expect =
        format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "mirror:hunter2"));
    assert_eq!(s.hits.lock().unwrap()[0].1.as_deref(), Some(expect.as_str()));
    assert_eq!(o.hits.lock().unwrap()[0].1, None, "another host never sees the credentials");

    // Explicit settings win over the URL's.
    let up = upstream(&url, |c| {
        c.username = "bot".into();
        c.password = "s3cret".into();
    });
    up.get_metadata(&format!("{url}/p"), "application/json", None, &client()).await.unwrap();
    let expect = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "bot:s3cret"));
    assert_eq!(s.hits.lock().unwrap()[1].1.as_deref(), Some(expect.as_str()));

    // A refused connection: the error names the connection, not the URL.
    let dead = format!("http://mirror:hunter2@127.0.0.1:{}", free_port());
    let up = upstream(&dead, |c| c.retries = 0);
    let e = up.get_metadata(&format!("{}/p", up.base), "application/json", None, &client()).await.err().unwrap();
    assert_eq!(e.failure, UpstreamFailure::Unreachable);
    let text = format!("{e} {:?}", e.cause.as_ref().map(|c| c.to_string()));
    assert!(!text.contains("hunter2") && !text.contains("127.0.0.1"), "{text}");
    assert!(text.contains("public:test"), "{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
