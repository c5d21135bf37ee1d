//! A loopback stand-in for a push service: records every request and answers with a chosen
//! status (201 by default, 410 to test subscription clean-up).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio::sync::mpsc;

/// One received push request.
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone)]
struct Shared {
    status: Arc<AtomicU16>,
    tx: mpsc::UnboundedSender<Received>,
}

/// The running receiver.
pub struct PushReceiver {
    pub endpoint: String,
    pub status: Arc<AtomicU16>,
    pub rx: mpsc::UnboundedReceiver<Received>,
}

impl PushReceiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(201));
        let shared = Shared {
            status: status.clone(),
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
            rx,
        }
    }

    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = shared.tx.send(Received {
        headers,
        body: body.to_vec(),
    });
    StatusCode::from_u16(shared.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::CREATED)
}
