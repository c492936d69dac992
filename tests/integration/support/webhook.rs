//! A loopback webhook receiver: records the events Depot POSTs, checks each request's
//! `X-Depot-Signature`, and can be switched down (503) or told to lose its next answer
//! (record the batch, answer 500) to exercise retries and at-least-once delivery.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};

#[derive(Default)]
struct Inner {
    received: Vec<serde_json::Value>,
    arrived: Vec<time::OffsetDateTime>,
    attempts: usize,
    refused: usize,
    bad_signatures: usize,
    down: bool,
    lose_next_answer: bool,
}

/// The receiver; clones share state.
#[derive(Clone)]
pub struct WebhookReceiver {
    /// Its URL.
    pub url: String,
    /// The shared secret it checks signatures with.
    pub secret: String,
    inner: Arc<Mutex<Inner>>,
}

async fn hook(State(r): State<WebhookReceiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(r.secret.as_bytes()).unwrap();
    mac.update(&body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut st = r.inner.lock().unwrap();
    st.attempts += 1;
    if headers.get("x-depot-signature").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        st.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if st.down {
        st.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let batch = v["events"].as_array().unwrap();
    st.arrived.extend(batch.iter().map(|_| time::OffsetDateTime::now_utc()));
    st.received.extend(batch.iter().cloned());
    if std::mem::take(&mut st.lose_next_answer) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

impl WebhookReceiver {
    /// Starts listening on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Self {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            secret: "webhook-test-secret-0123456789".into(),
            inner: Default::default(),
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    /// Every event received, duplicates included, in arrival order.
    pub fn received(&self) -> Vec<serde_json::Value> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Per received event, how long after its `time` it arrived.
    pub fn lags(&self) -> Vec<std::time::Duration> {
        let st = self.inner.lock().unwrap();
        let rfc = time::format_description::well_known::Rfc3339;
        st.received
            .iter()
            .zip(&st.arrived)
            .map(|(e, at)| {
                let t = time::OffsetDateTime::parse(e["time"].as_str().unwrap(), &rfc).unwrap();
                (*at - t).try_into().unwrap_or_default()
            })
            .collect()
    }

    /// Requests answered 503 while down.
    pub fn refused(&self) -> usize {
        self.inner.lock().unwrap().refused
    }

    /// Requests whose signature did not verify.
    pub fn bad_signatures(&self) -> usize {
        self.inner.lock().unwrap().bad_signatures
    }

    /// Switches the outage on or off.
    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// The next accepted batch is recorded but answered 500, so Depot sends it again.
    pub fn lose_next_answer(&self) {
        self.inner.lock().unwrap().lose_next_answer = true;
    }
}
