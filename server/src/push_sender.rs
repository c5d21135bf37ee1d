//! Web Push delivery: the VAPID key pair (generated once, stored in the database) and the
//! background task that encrypts (RFC 8291 aes128gcm, through `web-push-native`) and posts
//! every new message to each subscription of the chat's participants.
//!
//! The sender cannot be turned against the server or other users: its queue is bounded
//! ([`PUSH_QUEUE_CAPACITY`]; a full queue drops the new push and counts it, the clients'
//! catch-up fetches the message anyway), each delivery has short connect and total timeouts,
//! at most [`PER_HOST_PUSHES`] run at once per push-service host (a slow or hanging endpoint
//! holds only its own host's slots, never the global ones), endpoints are checked again
//! before each delivery, and names resolve to public addresses only
//! ([`crate::push_endpoint`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chat_sync::protocol::PushPayload;
use chat_sync::types::Message;
use std::collections::HashMap;

use tokio::sync::{mpsc, Semaphore};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::{Auth, WebPushBuilder};

use crate::db::push::SubscriptionRow;
use crate::db::Db;
use crate::push_endpoint::PublicResolver;
use crate::state::AppState;

/// How long a push service keeps an undelivered message (also the VAPID token lifetime).
pub const PUSH_TTL: Duration = Duration::from_secs(12 * 3600);

/// Pushes in flight at once.
const CONCURRENT_PUSHES: usize = 32;

/// Pushes in flight at once to one push-service host.
pub const PER_HOST_PUSHES: usize = 4;

/// Messages waiting for the sender; more are dropped (and counted).
pub const PUSH_QUEUE_CAPACITY: usize = 10_000;

/// How long a push service may take to accept a connection, and to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's VAPID identity.
pub struct Vapid {
    /// The signing key pair.
    pub key_pair: ES256KeyPair,
    /// The public key as the browser wants it: uncompressed point, base64url.
    pub public_key_b64: String,
}

impl Vapid {
    /// Loads the stored key pair, generating and storing one on the very first start.
    pub async fn load_or_create(db: &Db) -> Result<Self, String> {
        let stored = match db
            .setting("vapid_private_key")
            .await
            .map_err(|e| e.to_string())?
        {
            Some(key) => key,
            None => {
                let fresh = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
                // Another process may have won the race; its key is the one kept.
                db.setting_insert_once("vapid_private_key", &fresh)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(stored.as_bytes())
            .map_err(|e| format!("stored VAPID key is not base64url: {e}"))?;
        let key_pair =
            ES256KeyPair::from_bytes(&bytes).map_err(|e| format!("stored VAPID key: {e}"))?;
        let public_key_b64 =
            URL_SAFE_NO_PAD.encode(key_pair.public_key().public_key().to_bytes_uncompressed());
        Ok(Self {
            key_pair,
            public_key_b64,
        })
    }
}

/// Runs until the queue closes: one push per subscription for every new message.
pub async fn run(state: AppState, mut queue: mpsc::Receiver<Message>) {
    let client = match reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicResolver {
            allow_loopback: state.config.allow_insecure_push,
        }))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the push HTTP client; Web Push is off");
            return;
        }
    };
    let limit = Arc::new(Semaphore::new(CONCURRENT_PUSHES));
    let hosts: Arc<std::sync::Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
    while let Some(message) = queue.recv().await {
        let subscriptions = match state
            .db
            .subscriptions_for_chat(message.request_id.as_str())
            .await
        {
            Ok(list) => list,
            Err(error) => {
                tracing::error!(%error, "cannot load push subscriptions");
                continue;
            }
        };
        if subscriptions.is_empty() {
            continue;
        }
        for subscription in subscriptions {
            // Each payload names its recipient, so the worker can refuse a push that reaches
            // a browser now signed in as someone else.
            let payload = match serde_json::to_vec(&PushPayload::for_message(
                &message,
                &subscription.user_id,
            )) {
                Ok(bytes) => Arc::new(bytes),
                Err(error) => {
                    tracing::error!(%error, "cannot encode push payload");
                    continue;
                }
            };
            if state.faults.drop_push() {
                state.metrics.pushes_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let host_slots = host_slots(&hosts, &subscription.endpoint);
            let limit = limit.clone();
            let state = state.clone();
            let client = client.clone();
            let payload = payload.clone();
            tokio::spawn(async move {
                // The host's slot first: waiting for a busy host holds no global slot.
                let Ok(_host) = host_slots.acquire_owned().await else {
                    return;
                };
                let Ok(_slot) = limit.acquire_owned().await else {
                    return;
                };
                deliver(&state, &client, &subscription, &payload).await;
            });
        }
    }
}

/// The slots of the push-service host of `endpoint`.
fn host_slots(
    hosts: &std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    endpoint: &str,
) -> Arc<Semaphore> {
    let host = endpoint
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let mut hosts = hosts.lock().unwrap_or_else(|e| e.into_inner());
    // Idle hosts are forgotten now and then, so the map stays as small as the live set.
    if hosts.len() > 1_000 {
        hosts.retain(|_, slots| slots.available_permits() < PER_HOST_PUSHES);
    }
    hosts
        .entry(host)
        .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST_PUSHES)))
        .clone()
}

/// Outcome of one push attempt.
enum Outcome {
    Sent,
    Gone(String),
    Failed(String),
}

async fn deliver(
    state: &AppState,
    client: &reqwest::Client,
    sub: &SubscriptionRow,
    payload: &[u8],
) {
    match attempt(state, client, sub, payload).await {
        Outcome::Sent => {
            state.metrics.pushes_sent.fetch_add(1, Ordering::Relaxed);
        }
        Outcome::Gone(reason) => {
            state.metrics.pushes_failed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(endpoint = %sub.endpoint, %reason, "push subscription unusable; deleting it");
            if let Err(error) = state
                .db
                .delete_subscription_by_endpoint(&sub.endpoint)
                .await
            {
                tracing::error!(%error, "cannot delete a gone subscription");
            }
        }
        Outcome::Failed(reason) => {
            state.metrics.pushes_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = %sub.endpoint, %reason, "push failed");
        }
    }
}

async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    sub: &SubscriptionRow,
    payload: &[u8],
) -> Outcome {
    // An endpoint stored before the checks existed, or by a since-changed rule, is not used.
    if let Err(reason) =
        crate::push_endpoint::check(&sub.endpoint, state.config.allow_insecure_push)
    {
        return Outcome::Gone(reason);
    }
    let request = match build_request(state, sub, payload) {
        Ok(request) => request,
        Err(reason) => return Outcome::Failed(reason),
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
    match response {
        Ok(response) if response.status().is_success() => Outcome::Sent,
        Ok(response) if matches!(response.status().as_u16(), 404 | 410) => {
            Outcome::Gone(format!("push service answered {}", response.status()))
        }
        Ok(response) => Outcome::Failed(format!("push service answered {}", response.status())),
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

fn build_request(
    state: &AppState,
    sub: &SubscriptionRow,
    payload: &[u8],
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
        .build(payload.to_vec())
        .map_err(|e| format!("encryption: {e}"))
}
