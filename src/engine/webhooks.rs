//! Webhook delivery: one task per configured target reads the event log from the target's
//! stored cursor, POSTs batches in order, and moves the cursor only after a 2xx answer. A
//! target that is down is retried with exponential back-off and loses nothing; after a restart
//! delivery resumes from the stored cursor. Delivery is therefore at least once (a batch whose
//! answer was lost is sent again): consumers dedupe on the event `id`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};

use super::error::EngineError;
use super::Engine;
use crate::config::WebhookConfig;
use crate::store::catalog;

/// The header carrying `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "x-depot-signature";

/// Starts one delivery task per configured target. Call once, inside the runtime.
pub(super) fn start(engine: &Arc<Engine>) {
    for (name, target) in &engine.cfg.events.webhooks {
        let client = match reqwest::Client::builder().timeout(engine.cfg.events.timeout()).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(webhook = %name, error = %e, "cannot build the webhook client; target disabled");
                continue;
            }
        };
        tokio::spawn(deliver(engine.clone(), client, name.clone(), target.clone()));
    }
}

/// The signature of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a delivery attempt failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error(transparent)]
    Store(#[from] EngineError),
    #[error("rendering events: {0}")]
    Render(#[from] serde_json::Error),
    #[error("target answered {0}")]
    Status(reqwest::StatusCode),
    // The URL (it may carry credentials) stays out of the error.
    #[error("target unreachable: {0}")]
    Unreachable(reqwest::Error),
}

enum Step {
    /// Delivered up to this position.
    Delivered(u64),
    /// Nothing after the cursor.
    Idle,
}

async fn deliver(engine: Arc<Engine>, client: reqwest::Client, name: String, target: WebhookConfig) {
    let cfg = &engine.cfg.events;
    let mut woken = engine.events.subscribe();
    let mut backoff = cfg.retry_base();
    let mut cursor = None;
    loop {
        woken.borrow_and_update();
        match step(&engine, &client, &name, &target, &mut cursor).await {
            Ok(Step::Delivered(pos)) => {
                tracing::debug!(webhook = %name, position = pos, "events delivered");
                backoff = cfg.retry_base();
            }
            Ok(Step::Idle) => {
                let _ = tokio::time::timeout(cfg.poll(), woken.changed()).await;
            }
            Err(e) => {
                tracing::warn!(webhook = %name, error = %e, retry_in = ?backoff, "webhook delivery failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(cfg.retry_max()).max(Duration::from_millis(1));
            }
        }
    }
}

async fn step(
    engine: &Engine,
    client: &reqwest::Client,
    name: &str,
    target: &WebhookConfig,
    cursor: &mut Option<u64>,
) -> Result<Step, DeliveryError> {
    let after = match *cursor {
        Some(c) => c,
        None => {
            let c = engine.read(|tx| Ok::<_, EngineError>(catalog::webhook_cursor(tx, name)?))?;
            *cursor = Some(c);
            c
        }
    };
    let batch = engine.events_after(after, engine.cfg.events.batch_size)?;
    let Some(last) = batch.last().map(|e| e.position) else { return Ok(Step::Idle) };
    let region = &engine.cfg.account.region;
    let events: Vec<_> = batch.iter().map(|e| super::events::render(e, region)).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "events": events }))?;
    let sent = client
        .post(&target.url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&target.secret, &body))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => return Err(DeliveryError::Status(r.status())),
        Err(e) => return Err(DeliveryError::Unreachable(e.without_url())),
    }
    engine.write(|tx| Ok::<_, EngineError>(catalog::put_webhook_cursor(tx, name, last)?))?;
    *cursor = Some(last);
    Ok(Step::Delivered(last))
}
