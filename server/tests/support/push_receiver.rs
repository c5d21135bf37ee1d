//! A loopback stand-in for a push service: records every request and answers with a chosen
//! status (201 by default, 410 to test subscription clean-up), or with a script of answers
//! for the next requests (decided before the request is recorded, so a test that reacts to a
//! request cannot change that request's answer). In hold mode it answers nothing at all (a
//! push service that hangs): such requests are only counted, never recorded as received.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chat_sync::protocol::PushPayload;
use reqwest::StatusCode as ReplyStatus;
use tokio::sync::mpsc;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

use super::Client;

/// One received push request.
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone)]
struct Shared {
    status: Arc<AtomicU16>,
    script: Arc<Mutex<VecDeque<u16>>>,
    hold: Arc<AtomicBool>,
    held: Arc<AtomicUsize>,
    tx: mpsc::UnboundedSender<Received>,
}

/// The running receiver.
pub struct PushReceiver {
    pub endpoint: String,
    pub status: Arc<AtomicU16>,
    script: Arc<Mutex<VecDeque<u16>>>,
    hold: Arc<AtomicBool>,
    /// Requests held unanswered so far.
    pub held: Arc<AtomicUsize>,
    pub rx: mpsc::UnboundedReceiver<Received>,
}

impl PushReceiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(201));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let hold = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            status: status.clone(),
            script: script.clone(),
            hold: hold.clone(),
            held: held.clone(),
            tx,
        };
        let app = Router::new()
            .route("/push/{id}", post(receive))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            endpoint: format!("http://{addr}/push/sub1"),
            status,
            script,
            hold,
            held,
            rx,
        }
    }

    /// Holds every new request unanswered (`true`), or answers again (`false`).
    pub fn hold(&self, hold: bool) {
        self.hold.store(hold, Ordering::SeqCst);
    }

    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Answers the next requests with these statuses, in order, then as `answer_with` says.
    pub fn answer_next_with(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if shared.hold.load(Ordering::SeqCst) {
        shared.held.fetch_add(1, Ordering::SeqCst);
        // Never answered: the sender's timeout, or its death, ends the request.
        std::future::pending::<()>().await;
    }
    let scripted = shared.script.lock().unwrap().pop_front();
    let status = scripted.unwrap_or_else(|| shared.status.load(Ordering::SeqCst));
    let _ = shared.tx.send(Received {
        headers,
        body: body.to_vec(),
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED)
}

/// A browser-side push subscription: its key pair and auth secret, to decrypt what arrives.
pub struct TestSubscription {
    secret: web_push_native::p256::SecretKey,
    auth: [u8; 16],
}

impl TestSubscription {
    pub fn new() -> Self {
        use rand::RngCore;
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            if let Ok(key) = web_push_native::p256::SecretKey::from_slice(&bytes) {
                break key;
            }
        };
        let mut auth = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut auth);
        Self { secret, auth }
    }

    pub fn json(&self, endpoint: &str) -> serde_json::Value {
        let public = self.secret.public_key().to_encoded_point(false);
        serde_json::json!({
            "endpoint": endpoint,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    pub fn decrypt(&self, body: Vec<u8>) -> PushPayload {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        let plain = web_push_native::decrypt(body, &self.secret, &auth).expect("decrypts");
        PushPayload::decode(&plain).expect("valid payload")
    }
}

/// Registers `sub` at `endpoint` for `client`, expecting 201.
pub async fn subscribe(client: &Client, sub: &TestSubscription, endpoint: &str) {
    let response = client
        .post("/api/push/subscriptions")
        .json(&sub.json(endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), ReplyStatus::CREATED);
}
