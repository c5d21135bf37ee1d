//! End-to-end harness: the real server as a child process, real headless Chromium driven over
//! the Chrome DevTools Protocol, and plain HTTP for the server's `/metrics`.
//!
//! Tests find what they run through environment variables that `cargo xtask test` sets (and a
//! person can set by hand): `E2E_SERVER_BIN` (the built `server` binary), `E2E_DIST` (the
//! Trunk-built front end) and `E2E_CHROMIUM` (default `/usr/bin/chromium`).
//!
//! Firefox has no DevTools Protocol: its suite drives headless Firefox through geckodriver
//! (W3C WebDriver, `webdriver`), found through `E2E_GECKODRIVER` and `E2E_FIREFOX`.

pub mod bench_report;
pub mod browser;
pub mod cdp;
pub mod chaos;
pub mod chat;
pub mod cpu_profile;
pub mod guard;
pub mod http;
pub mod intercept;
pub mod postgres;
pub mod push_service;
pub mod rig;
pub mod server;
pub mod webdriver;

/// Everything that can go wrong in a harness, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A process could not start or died.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The DevTools connection failed.
    #[error("devtools websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// A DevTools command returned an error.
    #[error("devtools {method} failed: {message}")]
    Protocol {
        /// The CDP method.
        method: String,
        /// Chrome's error message.
        message: String,
    },
    /// A WebDriver command failed at the driver or in the browser.
    #[error("webdriver {command} failed: {error}: {message}")]
    WebDriver {
        /// The command (`POST /session/…/execute/sync`).
        command: String,
        /// The W3C error code (`javascript error`, `no such window`, …).
        error: String,
        /// The driver's message.
        message: String,
    },
    /// A reply could not be read as the JSON it must be.
    #[error("{what}: {source}")]
    Json {
        /// Which reply.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {seconds:.1} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: f64,
    },
    /// A precondition of the environment is missing.
    #[error("{0}")]
    Setup(String),
}

/// A harness result.
pub type Result<T> = std::result::Result<T, HarnessError>;

/// Polls `check` every 25 ms until it returns `Some`, or fails after `timeout`.
pub async fn wait_until<T, F, Fut>(
    what: &str,
    timeout: std::time::Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if started.elapsed() > timeout {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                seconds: timeout.as_secs_f64(),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
