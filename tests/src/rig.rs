//! The push rig shared by the end-to-end suites: the real server (`--demo`, plus any flags a
//! suite needs), headless Chromium with alice signed in and the service worker active, pushes
//! delivered over CDP (`ServiceWorker.deliverPushMessage`, see TOOLCHAIN.md: there is no push
//! service here), the cache read back from IndexedDB, and the server's `/metrics`.
//!
//! Demo data used (deterministic, `server/src/demo_seed.rs`): `REQ-1001` (1 message,
//! requester1), `REQ-1003` (3 messages, requester3) and `REQ-1005` (8 messages, requester5)
//! are assigned to `alice`.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::browser::{scratch_dir, Browser, Page};
pub use crate::chat::{database_name, post_as, seqs, snapshot_js};
use crate::server::Server;
use crate::{wait_until, HarnessError};

pub const RANGE: &str = "chat_messages_served_total{kind=\"range\"}";
pub const CURSOR: &str = "chat_messages_served_total{kind=\"cursor\"}";

/// A server with demo data, a browser signed in as alice with the service worker active,
/// and an about:blank page (no app open) to deliver pushes from.
pub struct Rig {
    /// The server.
    pub server: Server,
    /// The browser.
    pub browser: Browser,
    /// alice's user id.
    pub user_id: String,
    /// The service worker registration (for `deliverPushMessage`).
    pub registration_id: String,
}

impl Rig {
    /// A rig with the server started with `--demo`.
    pub async fn start(name: &str) -> crate::Result<Self> {
        Self::start_with(name, &[]).await
    }

    /// A rig with the server started with `--demo` and `extra` flags.
    pub async fn start_with(name: &str, extra: &[&str]) -> crate::Result<Self> {
        let dir = scratch_dir(name);
        let mut args = vec!["--demo"];
        args.extend_from_slice(extra);
        let server = Server::start(&dir.join("server"), &args).await?;
        let browser = Browser::launch(&dir.join("profile")).await?;
        let (user_id, registration_id) = sign_in(&browser, &server).await?;
        Ok(Self {
            server,
            browser,
            user_id,
            registration_id,
        })
    }

    /// Grants the app's origin the notification permission (headless has none by default).
    pub async fn grant_notifications(&self) -> crate::Result<()> {
        self.browser
            .cdp
            .call(
                "Browser.grantPermissions",
                json!({ "origin": self.server.url(""), "permissions": ["notifications"] }),
                None,
            )
            .await?;
        Ok(())
    }

    /// An about:blank page with the ServiceWorker domain enabled (it does not exist on the
    /// browser session nor on the worker's own target).
    pub async fn blank(&self) -> crate::Result<Page<'_>> {
        let blank = self.browser.new_page("about:blank").await?;
        blank.call("ServiceWorker.enable", json!({})).await?;
        Ok(blank)
    }

    /// Stops the worker (so the push starts it cold) and delivers `data`.
    pub async fn push(&self, blank: &Page<'_>, data: &str) -> crate::Result<()> {
        blank
            .call("ServiceWorker.stopAllWorkers", json!({}))
            .await?;
        self.deliver(blank, data).await
    }

    /// Delivers `data` to the worker as it is (warm if it is running).
    pub async fn deliver(&self, blank: &Page<'_>, data: &str) -> crate::Result<()> {
        blank
            .call(
                "ServiceWorker.deliverPushMessage",
                json!({
                    "origin": self.server.url(""),
                    "registrationId": self.registration_id,
                    "data": data,
                }),
            )
            .await?;
        Ok(())
    }

    /// Opens a same-origin page that is not the app ([`Rig::observer`]), waits until
    /// `done(snapshot)` holds for the cache of `request_id`, closes the page and returns the
    /// snapshot. Not an app page: the app's desk applies the chat list and runs its live
    /// channel and catch-up, which would write to the cache being inspected.
    pub async fn read_cache_until(
        &self,
        request_id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> crate::Result<Value> {
        let page = self.observer().await?;
        let script = snapshot_js(&database_name(&self.user_id), request_id);
        let snapshot = wait_until(what, Duration::from_secs(20), || async {
            let snapshot = page.evaluate(&script).await?;
            Ok(done(&snapshot).then_some(snapshot))
        })
        .await;
        page.close().await?;
        snapshot
    }

    /// A same-origin page that is not the app (`/metrics`), to read IndexedDB from without
    /// running any app code (an app page may start its own sync and muddy the counts).
    pub async fn observer(&self) -> crate::Result<Page<'_>> {
        self.browser.new_page(&self.server.url("/metrics")).await
    }

    /// Reads the cache of `request_id` from `page` until `done(snapshot)` holds.
    pub async fn observe_until(
        &self,
        page: &Page<'_>,
        request_id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> crate::Result<Value> {
        let script = snapshot_js(&database_name(&self.user_id), request_id);
        let result = wait_until(what, Duration::from_secs(20), || async {
            let snapshot = page.evaluate(&script).await?;
            Ok(done(&snapshot).then_some(snapshot))
        })
        .await;
        match result {
            // Say what the cache held instead, which is what a failure needs explained.
            Err(HarnessError::Timeout { what, seconds }) => {
                let last = page.evaluate(&script).await.unwrap_or_default();
                Err(HarnessError::Timeout {
                    what: format!("{what} (the cache holds {last})"),
                    seconds,
                })
            }
            other => other,
        }
    }

    /// Replaces the server's fault settings (`--test-faults` must be on).
    pub async fn set_faults(&self, settings: Value) -> crate::Result<()> {
        crate::chat::set_faults(&self.server, settings).await
    }

    /// Attaches to the running service worker's own target and returns its session id: the
    /// worker's network emulation must be set there (the page's does not apply to it).
    pub async fn worker_session(&self) -> crate::Result<String> {
        self.browser
            .service_worker_session(&self.server.url("/sw.js"))
            .await
    }

    /// Sets the network of the worker session `session` offline or back online.
    pub async fn set_worker_offline(&self, session: &str, offline: bool) -> crate::Result<()> {
        self.browser.emulate_offline(session, offline).await
    }

    /// The value of a `/metrics` series (0 when absent).
    pub async fn metric(&self, series: &str) -> crate::Result<f64> {
        self.server.metric(series).await
    }

    /// Stops the browser and the server.
    pub async fn stop(self) {
        self.browser.close().await;
        self.server.stop().await;
    }
}

/// Signs alice in from an app page, waits for the service worker to be activated, reads its
/// registration id, and closes the page. Returns (user id, registration id).
pub async fn sign_in(browser: &Browser, server: &Server) -> crate::Result<(String, String)> {
    let page = browser.new_page(&server.url("/")).await?;
    let user_id = page.login("alice", "demo").await?;
    let chats = page
        .evaluate("fetch('/api/chat/requests').then(r => r.json()).then(l => l.requests.map(r => r.request_id))")
        .await?;
    for id in ["REQ-1001", "REQ-1003", "REQ-1005"] {
        assert!(
            chats.as_array().is_some_and(|l| l.iter().any(|c| c == id)),
            "{id} is not alice's: {chats}"
        );
    }
    page.wait_for_service_worker(false).await?;

    let registration_id = registration_id(browser, &page, &server.url("/")).await?;
    page.close().await?;
    Ok((user_id, registration_id))
}

/// A `{"kind":"message"}` push payload carrying `message`, addressed to user `to` (the
/// server names the subscription's owner in every push; the worker drops pushes for anyone
/// but the agent it has confirmed).
pub fn message_payload(message: &Value, to: &str) -> String {
    json!({ "kind": "message", "to": to, "message": message }).to_string()
}

/// A `{"kind":"hint"}` push payload for `request_id` at `seq`, addressed to user `to`.
pub fn hint_payload(request_id: &str, seq: u64, to: &str) -> String {
    json!({ "kind": "hint", "to": to, "request_id": request_id, "seq": seq }).to_string()
}

/// The service worker registration id (from `ServiceWorker.workerRegistrationUpdated`, the id
/// CDP's ServiceWorker commands take), read on `page`.
pub async fn registration_id(
    browser: &Browser,
    page: &Page<'_>,
    scope: &str,
) -> crate::Result<String> {
    let mut events = browser.cdp.events();
    page.call("ServiceWorker.enable", json!({})).await?;
    let session = page.session_id.clone();
    let scope = scope.to_owned();
    tokio::time::timeout(Duration::from_secs(10), async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            };
            if event["method"] != "ServiceWorker.workerRegistrationUpdated"
                || event["sessionId"] != session.as_str()
            {
                continue;
            }
            let found = event["params"]["registrations"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["scopeURL"] == scope.as_str() && r["isDeleted"] != true)
                .and_then(|r| r["registrationId"].as_str().map(str::to_owned));
            if found.is_some() {
                return found;
            }
        }
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| HarnessError::Timeout {
        what: "ServiceWorker.workerRegistrationUpdated".into(),
        seconds: 10.0,
    })
}
