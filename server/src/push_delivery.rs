//! One Web Push delivery of a claimed `push_outbox` row: build the payload from the stored
//! message for the row's recipient, encrypt it (RFC 8291 aes128gcm, through
//! `web-push-native`) with a VAPID signature, post it, and record the outcome in the queue.
//!
//! | outcome | what happens to the row |
//! |---|---|
//! | 2xx | deleted (`push_sent_total`) |
//! | 404/410, or an endpoint that no longer passes `push_endpoint::check` | the subscription is deleted, and its rows with it |
//! | 408, 425, 429, 5xx, network error, timeout | retried after a doubling delay (or `Retry-After`), dropped after `push_max_attempts` |
//! | any other 4xx, unusable keys | dropped: sending it again cannot succeed |
//! | the subscription moved to another user, the recipient left the chat, the message is gone | dropped |
//!
//! The row names the message (or chat), not a payload: what is sent is built from what is
//! stored at sending time (see [`build_payload`]), and only to a recipient who still owns the
//! subscription and takes part in the chat (a `revoked` push: who no longer does).

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chat_sync::protocol::PushPayload;
use web_push_native::{Auth, WebPushBuilder};

use crate::clock::now_ms;
use crate::db::push::SubscriptionRow;
use crate::db::push_outbox::{
    OutboxRow, KIND_CHANGE, KIND_CHANGES, KIND_HINT, KIND_MESSAGE, KIND_REVOKED,
};
use crate::metrics::PushDrop;
use crate::state::AppState;

/// How long a push service keeps an undelivered message (also the VAPID token lifetime).
pub const PUSH_TTL: Duration = Duration::from_secs(12 * 3600);

/// What one attempt came to.
#[derive(Debug)]
pub enum Outcome {
    /// The push service accepted it.
    Sent,
    /// The subscription is unusable for good: delete it.
    Gone(String),
    /// Worth trying again later, no sooner than `retry_after` if the service said so.
    Retry {
        /// Why it failed.
        reason: String,
        /// The service's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Sending this push again cannot succeed.
    Rejected(String),
    /// There is nothing to send any more, or nobody to send it to.
    Stale(&'static str),
    /// Dropped by the test fault switch.
    FaultDropped,
}

/// Attempts one claimed row and records the outcome.
pub async fn deliver(state: &AppState, client: &reqwest::Client, row: OutboxRow) {
    let outcome = match attempt(state, client, &row).await {
        Ok(outcome) => outcome,
        // A database hiccup is not the push service's fault: try again later.
        Err(error) => Outcome::Retry {
            reason: format!("database: {error}"),
            retry_after: None,
        },
    };
    if let Err(error) = record(state, &row, outcome).await {
        // The row stays claimed until its lease runs out, then is attempted again.
        tracing::error!(%error, id = row.id, "cannot record a push outcome");
    }
}

async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    row: &OutboxRow,
) -> Result<Outcome, sqlx::Error> {
    if state.faults.drop_push() {
        return Ok(Outcome::FaultDropped);
    }
    let Some(sub) = state.db.subscription(&row.endpoint, &row.user_id).await? else {
        return Ok(Outcome::Stale(
            "the subscription is gone or has another owner",
        ));
    };
    let payload = match build_payload(state, row).await? {
        Ok(payload) => payload,
        Err(stale) => return Ok(Outcome::Stale(stale)),
    };
    // An endpoint stored before the checks existed, or by a since-changed rule, is not used.
    if let Err(reason) =
        crate::push_endpoint::check(&sub.endpoint, state.config.allow_insecure_push)
    {
        return Ok(Outcome::Gone(reason));
    }
    let payload = match serde_json::to_vec(&payload) {
        Ok(payload) => payload,
        Err(error) => return Ok(Outcome::Rejected(format!("payload: {error}"))),
    };
    let request = match build_request(state, &sub, payload) {
        Ok(request) => request,
        Err(reason) => return Ok(Outcome::Rejected(reason)),
    };
    let (parts, body) = request.into_parts();
    let response = client
        .post(parts.uri.to_string())
        .headers(parts.headers)
        // Chat messages are what the agent is waiting for: deliver at once.
        .header("Urgency", "high")
        .body(body)
        .send()
        .await;
    Ok(match response {
        Ok(response) => classify(response.status(), retry_after(response.headers())),
        Err(error) => Outcome::Retry {
            reason: error.to_string(),
            retry_after: None,
        },
    })
}

/// The payload of a queued row, built from what is stored now, or why it no longer applies.
///
/// Each payload names its recipient, so the worker can refuse a push that reaches a browser
/// now signed in as someone else. Only a recipient who takes part in the chat now gets
/// anything of it: a push queued before the chat was handed to another agent is dropped
/// (the `revoked` push tells them instead). A message is sent as it stands: one edited or
/// redacted after the push was queued goes out as a `change` in its current state (a
/// redaction's tombstone, never the erased body), whatever the row's kind.
async fn build_payload(
    state: &AppState,
    row: &OutboxRow,
) -> Result<Result<PushPayload, &'static str>, sqlx::Error> {
    let to = row.user_id.clone();
    let request_id = chat_sync::types::RequestId(row.request_id.clone());
    let chat = state.db.chat(&row.request_id).await?;
    if row.kind == KIND_REVOKED {
        return Ok(match chat {
            Some(chat) if chat.is_participant(&row.user_id) => {
                Err("the recipient has the chat again")
            }
            _ => Ok(PushPayload::Revoked { to, request_id }),
        });
    }
    let Some(chat) = chat.filter(|chat| chat.is_participant(&row.user_id)) else {
        return Ok(Err("the recipient no longer takes part in the chat"));
    };
    Ok(match row.kind.as_str() {
        KIND_HINT => match u64::try_from(chat.last_seq).unwrap_or(0) {
            0 => Err("the chat has no message"),
            seq => Ok(PushPayload::Hint {
                to,
                request_id,
                seq,
            }),
        },
        KIND_CHANGES => match u64::try_from(chat.change_version).unwrap_or(0) {
            0 => Err("the chat has no change"),
            version => Ok(PushPayload::Changes {
                to,
                request_id,
                version,
            }),
        },
        KIND_MESSAGE | KIND_CHANGE => {
            let seq = u64::try_from(row.seq).unwrap_or(0);
            let message = state
                .db
                .messages_range(&row.request_id, seq, seq, 1)
                .await?
                .into_iter()
                .next();
            match message {
                None => Err("the message is gone"),
                Some(message) if message.version > 0 => {
                    Ok(PushPayload::for_change(&message, message.version, &to))
                }
                Some(message) if row.kind == KIND_MESSAGE => {
                    Ok(PushPayload::for_message(&message, &to))
                }
                Some(_) => Err("the change is gone"),
            }
        }
        _ => Err("unknown push kind"),
    })
}

/// What a push service's answer means for the row.
fn classify(status: reqwest::StatusCode, retry_after: Option<Duration>) -> Outcome {
    let code = status.as_u16();
    let reason = format!("push service answered {status}");
    if status.is_success() {
        Outcome::Sent
    } else if matches!(code, 404 | 410) {
        Outcome::Gone(reason)
    } else if status.is_server_error() || matches!(code, 408 | 425 | 429) {
        Outcome::Retry {
            reason,
            retry_after,
        }
    } else {
        Outcome::Rejected(reason)
    }
}

/// A `Retry-After` in seconds (the HTTP-date form is rare for push services and ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The delay before attempt number `failed + 1`: `base`, doubling per failure, at most `max`.
pub fn backoff(failed: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32 << failed.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(max)
}

async fn record(state: &AppState, row: &OutboxRow, outcome: Outcome) -> Result<(), sqlx::Error> {
    let metrics = &state.metrics;
    match outcome {
        Outcome::Sent => {
            metrics.pushes_sent.fetch_add(1, Ordering::Relaxed);
            state.db.delete_push(row.id).await?;
        }
        Outcome::Gone(reason) => {
            metrics.pushes_failed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(endpoint = %row.endpoint, %reason, "push subscription unusable; deleting it");
            // Its queued rows go with it (the foreign key cascades).
            state
                .db
                .delete_subscription_by_endpoint(&row.endpoint)
                .await?;
        }
        Outcome::Retry {
            reason,
            retry_after,
        } => {
            metrics.pushes_failed.fetch_add(1, Ordering::Relaxed);
            let failed = u32::try_from(row.attempts.saturating_add(1)).unwrap_or(u32::MAX);
            if failed >= state.config.push_max_attempts {
                tracing::warn!(endpoint = %row.endpoint, %reason, failed, "push failed; giving up");
                metrics.count_push_drop(PushDrop::Attempts, 1);
                state.db.delete_push(row.id).await?;
            } else {
                let config = &state.config;
                let delay = backoff(failed, config.push_retry_base, config.push_retry_max)
                    .max(retry_after.unwrap_or_default().min(config.push_retry_max));
                tracing::info!(endpoint = %row.endpoint, %reason, failed, ?delay, "push failed; will retry");
                metrics.pushes_retried.fetch_add(1, Ordering::Relaxed);
                let at =
                    now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                state.db.retry_push(row.id, i64::from(failed), at).await?;
            }
        }
        Outcome::Rejected(reason) => {
            metrics.pushes_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = %row.endpoint, %reason, "push rejected; dropping it");
            metrics.count_push_drop(PushDrop::Rejected, 1);
            state.db.delete_push(row.id).await?;
        }
        Outcome::Stale(reason) => {
            tracing::debug!(id = row.id, reason, "queued push no longer applies");
            metrics.count_push_drop(PushDrop::Stale, 1);
            state.db.delete_push(row.id).await?;
        }
        Outcome::FaultDropped => {
            metrics.count_push_drop(PushDrop::Fault, 1);
            state.db.delete_push(row.id).await?;
        }
    }
    Ok(())
}

fn build_request(
    state: &AppState,
    sub: &SubscriptionRow,
    payload: Vec<u8>,
) -> Result<axum::http::Request<Vec<u8>>, String> {
    let endpoint = sub
        .endpoint
        .parse()
        .map_err(|e| format!("bad endpoint: {e}"))?;
    let p256dh = URL_SAFE_NO_PAD
        .decode(sub.p256dh.as_bytes())
        .map_err(|e| format!("bad p256dh: {e}"))?;
    let ua_public = web_push_native::p256::PublicKey::from_sec1_bytes(&p256dh)
        .map_err(|e| format!("bad p256dh: {e}"))?;
    let auth = URL_SAFE_NO_PAD
        .decode(sub.auth.as_bytes())
        .map_err(|e| format!("bad auth: {e}"))?;
    if auth.len() != 16 {
        return Err("auth secret is not 16 bytes".to_owned());
    }
    let builder = WebPushBuilder::new(endpoint, ua_public, Auth::clone_from_slice(&auth))
        .with_valid_duration(PUSH_TTL)
        .with_vapid(&state.vapid.key_pair, &state.config.vapid_subject);
    builder
        .build(payload)
        .map_err(|e| format!("encryption: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_what_happens_to_the_row() {
        let of = |code: u16| classify(reqwest::StatusCode::from_u16(code).unwrap(), None);
        assert!(matches!(of(201), Outcome::Sent));
        assert!(matches!(of(410), Outcome::Gone(_)));
        assert!(matches!(of(404), Outcome::Gone(_)));
        for code in [500, 502, 503, 429, 408] {
            assert!(matches!(of(code), Outcome::Retry { .. }), "{code}");
        }
        for code in [400, 401, 403, 413] {
            assert!(matches!(of(code), Outcome::Rejected(_)), "{code}");
        }
    }

    #[test]
    fn the_retry_delay_doubles_up_to_its_cap() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=7).map(|n| backoff(n, base, max).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX, base, max), max);
    }
}
