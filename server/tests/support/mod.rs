//! Test support: an in-process server on a real database (a SQLite file in a temporary
//! directory, or a fresh PostgreSQL database), an HTTP client that carries the session
//! cookie, fixture users and chats, an SSE reader and a loopback Web Push receiver.

#![allow(dead_code)]

pub mod postgres;
pub mod process;
pub mod push_receiver;

use std::time::Duration;

use chat_sync::protocol::{CurrentUser, ErrorBody, SendMessage};
use chat_sync::types::{Message, RequestId};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use server::db::users::UserRow;
use server::{Config, DatabaseTarget, RunningServer};

pub use postgres::skip_postgres;

/// Expands each listed test into `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if super::support::skip_postgres() {
                        eprintln!("SKIP_POSTGRES=1: skipping");
                        return;
                    }
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// The fixture password of every fixture user.
pub const PASSWORD: &str = "secret-pw";

/// A database for one test; the temporary directory lives as long as this.
pub struct TestDb {
    pub target: DatabaseTarget,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = match backend {
            Backend::Sqlite => DatabaseTarget::Sqlite(dir.path().join("chat.sqlite")),
            Backend::Postgres => DatabaseTarget::Postgres(postgres::fresh_database().await),
        };
        Self { target, _dir: dir }
    }
}

/// Configuration for tests: cheap password hashing, loopback push, fast heartbeats.
pub fn test_config(target: DatabaseTarget) -> Config {
    let mut config = Config::new(target);
    config.password_hash_memory_kib = 8;
    config.allow_insecure_push = true;
    config.sse_heartbeat = Duration::from_secs(1);
    // Retries and other processes' pushes are found quickly; a stop does not wait long for
    // a push endpoint that hangs on purpose.
    config.push_poll_interval = Duration::from_millis(200);
    config.push_shutdown_grace = Duration::from_secs(1);
    config
}

/// A server running in this process.
pub struct TestServer {
    pub base: String,
    pub running: Option<RunningServer>,
    pub db: Option<TestDb>,
}

impl TestServer {
    /// The text of `GET /metrics`, asked anonymously.
    pub async fn metrics(&self) -> String {
        Client::anonymous(&self.base)
            .get("/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A server with the fixture data and `tweak` applied to the test configuration.
    pub async fn start(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let mut server = Self::start_on(&db.target, tweak).await;
        server.db = Some(db);
        server.seed_fixtures().await;
        server
    }

    /// A server on an existing database, without fixtures.
    pub async fn start_on(target: &DatabaseTarget, tweak: impl FnOnce(&mut Config)) -> Self {
        // Server logs go to the test's captured output (shown for failing tests).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let mut config = test_config(target.clone());
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = server::start(config, listener)
            .await
            .expect("server starts");
        Self {
            base: format!("http://{}", running.addr),
            running: Some(running),
            db: None,
        }
    }

    pub fn state(&self) -> &server::state::AppState {
        &self.running.as_ref().expect("running").state
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn seed_fixtures(&self) {
        seed_fixtures(&self.state().db).await;
    }

    /// Signs in and returns a client carrying the session cookie.
    pub async fn login(&self, username: &str) -> Client {
        login_at(&self.base, username).await
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// Fixture: agents alice and bob; requester r1 owns REQ-A (alice), r2 owns REQ-B (bob).
pub async fn seed_fixtures(db: &server::db::Db) {
    let hash = server::auth::hash_password(PASSWORD, 8).expect("hash");
    for (id, username, name, role) in [
        ("u_alice", "alice", "Alice", "agent"),
        ("u_bob", "bob", "Bob", "agent"),
        ("u_r1", "r1", "Requester One", "requester"),
        ("u_r2", "r2", "Requester Two", "requester"),
    ] {
        let row = UserRow {
            id: id.to_owned(),
            username: username.to_owned(),
            name: name.to_owned(),
            role: role.to_owned(),
            password_hash: hash.clone(),
        };
        assert!(db.create_user(&row, 1).await.expect("create user"));
    }
    assert!(db
        .create_request("REQ-A", "Printer", "u_r1", "u_alice", 1)
        .await
        .expect("request"));
    assert!(db
        .create_request("REQ-B", "VPN", "u_r2", "u_bob", 1)
        .await
        .expect("request"));
}

/// Signs in at the server at `base` and returns a client carrying the session cookie.
pub async fn login_at(base: &str, username: &str) -> Client {
    let client = Client::anonymous(base);
    let response = client
        .http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), StatusCode::OK, "login {username}");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_owned();
    let pair = cookie.split(';').next().expect("cookie pair").to_owned();
    let user: CurrentUser = response.json().await.expect("user json");
    assert_eq!(user.username, username);
    Client {
        cookie: Some(pair),
        ..client
    }
}

/// An HTTP client with an optional session cookie.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

impl Client {
    pub fn anonymous(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookie: None,
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.cookie {
            Some(cookie) => builder.header("cookie", cookie),
            None => builder,
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }

    /// Sends a message and returns status and the stored message.
    pub async fn send(&self, request_id: &str, key: &str, body: &str) -> (StatusCode, Message) {
        let response = self
            .post("/api/chat/messages")
            .json(&SendMessage {
                request_id: RequestId::new(request_id),
                client_temp_id: key.to_owned(),
                body: body.to_owned(),
                attachments: Vec::new(),
            })
            .send()
            .await
            .expect("send");
        let status = response.status();
        let text = response.text().await.expect("body");
        let message = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("send reply {status} {text}: {e}"));
        (status, message)
    }

    /// GETs JSON, asserting the status.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, expected: StatusCode) -> T {
        let response = self.get(path).send().await.expect("get");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, expected, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path} json {text}: {e}"))
    }
}

/// Asserts a reply is `{error, detail}` with the given status and code.
pub async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "body: {text}");
    let body: ErrorBody =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("error body {text}: {e}"));
    assert_eq!(body.error, code, "body: {text}");
    assert!(!body.detail.is_empty());
}

/// One parsed Server-Sent Event, or a heartbeat comment.
#[derive(Debug, Clone, PartialEq)]
pub enum Sse {
    Event {
        id: String,
        event: String,
        data: String,
    },
    Comment,
}

/// Reads a `text/event-stream` reply event by event.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
    /// The last reconnection delay the stream sent (`retry:`), in milliseconds.
    pub retry_ms: Option<u64>,
}

impl SseReader {
    pub async fn open(client: &Client, last_event_id: Option<&str>) -> Self {
        let mut request = client.get("/api/chat/events");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("sse");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
            retry_ms: None,
        }
    }

    /// The next event or comment, or `None` when the stream ends or nothing comes in time.
    pub async fn next(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer[..end].to_owned();
                self.buffer.drain(..end + 2);
                let (mut id, mut event, mut data, mut comment) =
                    (String::new(), String::new(), Vec::new(), false);
                for line in block.lines() {
                    if line.starts_with(':') {
                        comment = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim_start().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim_start().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    } else if let Some(v) = line.strip_prefix("retry:") {
                        self.retry_ms = v.trim().parse().ok();
                    }
                }
                if data.is_empty() && comment {
                    return Some(Sse::Comment);
                }
                return Some(Sse::Event {
                    id,
                    event,
                    data: data.join("\n"),
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The next message event (skipping heartbeats), with its id.
    pub async fn next_message(&mut self, wait: Duration) -> Option<(u64, Message)> {
        loop {
            match self.next(wait).await? {
                Sse::Comment => continue,
                Sse::Event { id, event, data } => {
                    assert_eq!(event, "message");
                    let message: Message = serde_json::from_str(&data).expect("message json");
                    return Some((id.parse().expect("numeric id"), message));
                }
            }
        }
    }
}

/// The value of one series of `/metrics` (`name{labels}` exactly as printed), 0 if absent.
pub async fn metric(base: &str, series: &str) -> f64 {
    let text = Client::anonymous(base)
        .get("/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// Waits (up to a generous minute) until a `/metrics` series satisfies `ok`; its last value.
pub async fn wait_for_metric(base: &str, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let value = metric(base, series).await;
        if ok(value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} stayed at {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
