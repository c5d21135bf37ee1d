//! A push service on loopback, played by the test: it owns a subscription's P-256 key pair
//! and 16-byte auth secret (what a browser would generate), accepts the server's Web Push
//! requests on a plain-HTTP listener (the server needs `--allow-insecure-push` for an
//! `http://` endpoint), and decrypts their RFC 8291 `aes128gcm` bodies with its private key,
//! so the plaintext can be forwarded to the service worker over CDP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::p256::SecretKey;

use crate::{HarnessError, Result};

/// One request the push service received.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Request headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The encrypted body.
    pub body: Vec<u8>,
}

impl PushRequest {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The running push service with one subscription's keys.
pub struct PushService {
    /// The subscription endpoint to register with the server.
    pub endpoint: String,
    secret: SecretKey,
    auth: [u8; 16],
    received: mpsc::UnboundedReceiver<PushRequest>,
}

impl PushService {
    /// Generates the keys and starts listening on `127.0.0.1:0`.
    pub async fn start() -> Result<Self> {
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            // Almost every 32-byte string is a valid scalar; retry the rare one that is not.
            if let Ok(key) = SecretKey::from_slice(&bytes) {
                break key;
            }
        };
        let mut auth = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut auth);
        let listener =
            TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|source| HarnessError::Io {
                    what: "binding the push service".into(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| HarnessError::Io {
            what: "reading the push service address".into(),
            source,
        })?;
        let (tx, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Some(request) = serve(stream).await {
                        let _ = tx.send(request);
                    }
                });
            }
        });
        Ok(Self {
            endpoint: format!("http://{addr}/push/e2e-subscription"),
            secret,
            auth,
            received,
        })
    }

    /// The subscription as `POST /api/push/subscriptions` takes it.
    pub fn subscription_json(&self) -> Value {
        let public = self.secret.public_key().to_encoded_point(false);
        json!({
            "endpoint": self.endpoint,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// The next push request, waiting at most `timeout`.
    pub async fn next(&mut self, timeout: std::time::Duration) -> Result<PushRequest> {
        tokio::time::timeout(timeout, self.received.recv())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| HarnessError::Timeout {
                what: "a push request from the server".into(),
                seconds: timeout.as_secs_f64(),
            })
    }

    /// Decrypts a push body (RFC 8291, `aes128gcm`) with this subscription's keys.
    pub fn decrypt(&self, request: &PushRequest) -> Result<Vec<u8>> {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        web_push_native::decrypt(request.body.clone(), &self.secret, &auth)
            .map_err(|e| HarnessError::Setup(format!("the push body does not decrypt: {e:?}")))
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes) and answers 201.
async fn serve(mut stream: TcpStream) -> Option<PushRequest> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let body = raw[head_end..(head_end + length).min(raw.len())].to_vec();
    let _ = stream
        .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    Some(PushRequest { headers, body })
}
