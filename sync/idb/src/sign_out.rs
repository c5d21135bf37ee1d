//! Sign-out on a shared machine: nothing of the agent stays in this browser.
//!
//! [`wipe_user`] removes the push subscription (at the server with
//! `DELETE /api/push/subscriptions`, which needs the session, then in the browser), tells the
//! service worker to forget the session (`{"type": "session-changed"}`, which also deletes its
//! remembered user), deletes the media cache and the agent's IndexedDB database. Call it
//! before `POST /api/auth/logout`, after showing the agent any unsent messages
//! ([`crate::outbox_sender::entries`]), and after dropping the app's [`crate::runtime::Runtime`]
//! (an open connection closes itself on the deletion's `versionchange` anyway).

use wasm_bindgen::JsValue;

use crate::error::SyncError;
use crate::service_worker::{call_async_within, container, post_type, property, registration};

/// How long a push-manager call may take: without a push service some never settle.
pub const PUSH_TIMEOUT_MS: i64 = 3_000;
use crate::{database, http, media, platform};

/// The worker's Cache Storage entry for the last confirmed user (`worker::session`), deleted
/// here too so it is gone even if the worker is not running to receive the message.
pub const WORKER_SESSION_CACHE: &str = "supportdesk-worker-session";

/// What [`wipe_user`] did. Steps that failed are listed in `problems`; the local data is
/// removed whatever the network said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WipeReport {
    /// The agent's IndexedDB database was deleted.
    pub database_deleted: bool,
    /// The media cache was deleted.
    pub media_cache_deleted: bool,
    /// A browser push subscription existed and was unsubscribed.
    pub push_unsubscribed: bool,
    /// The server forgot the subscription (`DELETE /api/push/subscriptions` answered 2xx).
    pub server_subscription_deleted: bool,
    /// The service worker was told to forget the session.
    pub worker_told: bool,
    /// Steps that failed, with the reason.
    pub problems: Vec<String>,
}

/// Removes everything of `user_id` from this browser (see the module docs). Errors only when
/// the database could not be deleted (e.g. blocked): the agent must then be told.
pub async fn wipe_user(user_id: &str, base_url: &str) -> Result<WipeReport, SyncError> {
    let base = base_url.trim_end_matches('/');
    let mut report = WipeReport::default();
    let registration = match registration().await {
        Ok(registration) => registration,
        Err(error) => {
            report.problems.push(format!("service worker: {error}"));
            None
        }
    };
    if let Some(registration) = &registration {
        unsubscribe(registration, base, &mut report).await;
        // Inside a service worker the registration is our own: there is no other worker to
        // tell (and a message to ourselves would reach whatever else listens here).
        let in_service_worker = platform::global_property("registration").is_some();
        if let Some(active) = property(registration, "active").filter(|_| !in_service_worker) {
            match post_type(&active, "session-changed") {
                Ok(()) => report.worker_told = true,
                Err(error) => report.problems.push(format!("telling the worker: {error}")),
            }
        }
    }
    if let Ok(storage) = media::cache_storage() {
        if let Err(error) =
            wasm_bindgen_futures::JsFuture::from(storage.delete(WORKER_SESSION_CACHE)).await
        {
            report.problems.push(format!(
                "worker session cache: {}",
                crate::DomError::from_js(&error).message
            ));
        }
    }
    match media::delete_cache().await {
        Ok(()) => report.media_cache_deleted = true,
        Err(error) => report.problems.push(format!("media cache: {error}")),
    }
    database::wipe(user_id).await?;
    report.database_deleted = true;
    for problem in &report.problems {
        tracing::warn!(%problem, "sign-out wipe: a step failed");
    }
    Ok(report)
}

async fn unsubscribe(registration: &JsValue, base: &str, report: &mut WipeReport) {
    let Some(push_manager) = property(registration, "pushManager") else {
        return;
    };
    let subscription =
        match call_async_within(&push_manager, "getSubscription", &[], PUSH_TIMEOUT_MS).await {
            Ok(Some(s)) if !s.is_null() && !s.is_undefined() => s,
            Ok(Some(_)) => return,
            Ok(None) => {
                report
                    .problems
                    .push("push subscription: getSubscription() did not settle".to_owned());
                return;
            }
            Err(error) => {
                report.problems.push(format!("push subscription: {error}"));
                return;
            }
        };
    if let Some(endpoint) = property(&subscription, "endpoint").and_then(|e| e.as_string()) {
        let body = serde_json::json!({ "endpoint": endpoint }).to_string();
        match http::send(
            "DELETE",
            &format!("{base}/api/push/subscriptions"),
            Some("application/json"),
            &JsValue::from_str(&body),
        )
        .await
        {
            Ok(reply) if (200..300).contains(&reply.status) => {
                report.server_subscription_deleted = true
            }
            Ok(reply) => report.problems.push(format!(
                "server subscription: {} {}",
                reply.status,
                reply.error_text()
            )),
            Err(error) => report
                .problems
                .push(format!("server subscription: {error}")),
        }
    }
    match call_async_within(&subscription, "unsubscribe", &[], PUSH_TIMEOUT_MS).await {
        Ok(Some(_)) => report.push_unsubscribed = true,
        Ok(None) => report
            .problems
            .push("unsubscribe: did not settle".to_owned()),
        Err(error) => report.problems.push(format!("unsubscribe: {error}")),
    }
}

/// Whether this page runs under a service worker (for diagnostics).
pub fn controlled() -> bool {
    container()
        .and_then(|c| property(&c, "controller"))
        .is_some()
}
