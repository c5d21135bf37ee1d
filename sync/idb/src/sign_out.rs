//! Sign-out on a shared machine: the session ends in every tab, and nothing of the agent
//! stays in this browser.
//!
//! [`sign_out`] runs the steps in the one order in which nothing can come back:
//!
//! 1. every other tab of the origin is told on [`SESSION_CHANNEL`] ([`SessionNotice`]): it
//!    stops its live stream, shuts its cache (so no reopen re-creates the database) and shows
//!    sign-in. This tab keeps its live lock meanwhile, so no follower takes the leadership
//!    and opens a stream for a session about to end;
//! 2. the push subscription is forgotten at the server (`DELETE /api/push/subscriptions`,
//!    which needs the session) and in the browser;
//! 3. the session ends at the server (`POST /api/auth/logout`), which also ends every event
//!    stream opened with it (when the server cannot be reached, the sign-out is marked as
//!    pending, [`crate::pending_sign_out`], and finished by the next page or push); then the
//!    caller's `stop_here` stops this tab's own live channel and cache;
//! 4. the local data goes: the service worker is told to forget the session
//!    (`{"type": "session-changed"}`) and its notifications (which quote customers, and
//!    which the system would keep showing) are closed, its remembered-user entry, the media cache, the
//!    composer drafts and the agent's IndexedDB database are deleted.
//!
//! [`wipe_user`] is steps 2 and 4 alone (the settings panel's and the tests' wipe).
//!
//! Every other context's handle on the database shuts itself when it sees the deletion's
//! `versionchange` (see [`crate::database::Database::set_on_deleted`]), so even a context
//! that missed the notice cannot re-create the database.

use chat_sync::notice::PageMessage;
use chat_sync::protocol::PushUnsubscribe;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::broadcast::{self, Broadcaster, Subscription};
use crate::error::SyncError;
use crate::service_worker::{
    call_async_within, close_notifications, container, post, property, registration,
};

/// How long a push-manager call may take: without a push service some never settle.
pub const PUSH_TIMEOUT_MS: i64 = 3_000;
use crate::{database, drafts, http, media, platform, remembered_user};

/// The origin-wide channel on which a tab tells every other that the agent signed out.
pub const SESSION_CHANNEL: &str = "supportdesk-session";

/// A message on [`SESSION_CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SessionNotice {
    /// `user` signed out in another tab: stop, shut the cache, show sign-in.
    SignedOut {
        /// The user id that signed out.
        user: String,
    },
}

/// Decoded flat, without serde's buffering (see [`chat_sync::tagged`]).
impl<'de> Deserialize<'de> for SessionNotice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        enum Tag {
            SignedOut,
        }
        chat_sync::deserialize_unit_variants!(Tag {
            SignedOut = "signed-out",
        });
        #[derive(Deserialize)]
        #[serde(remote = "Self")]
        struct Flat {
            #[serde(rename = "type")]
            tag: Tag,
            user: Option<String>,
        }
        let flat = Flat::deserialize(chat_sync::object_only::ObjectOnly(deserializer))?;
        Ok(match flat.tag {
            Tag::SignedOut => SessionNotice::SignedOut {
                user: chat_sync::tagged::required(flat.user, "user")?,
            },
        })
    }
}

/// Calls `on_notice` for every [`SessionNotice`] another tab announces; dropping the
/// subscription stops it.
pub fn watch_session(
    on_notice: impl FnMut(SessionNotice) + 'static,
) -> Result<Subscription, SyncError> {
    broadcast::subscribe_to(SESSION_CHANNEL, "session notice", on_notice)
}

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
    /// The other tabs were told on [`SESSION_CHANNEL`].
    pub tabs_told: bool,
    /// The server ended the session (`POST /api/auth/logout` answered 2xx).
    pub server_signed_out: bool,
    /// It did not, so the sign-out is marked as pending ([`crate::pending_sign_out`]): no
    /// page resumes the session and the worker takes nobody for signed in until it does.
    pub sign_out_pending: bool,
    /// Composer drafts deleted from `localStorage`.
    pub drafts_deleted: u32,
    /// Notifications of the service worker closed (they quote the agent's customers).
    pub notifications_closed: u32,
    /// Steps that failed, with the reason.
    pub problems: Vec<String>,
}

/// Signs `user_id` out everywhere in this browser, in the order the module docs give;
/// `stop_here` is called once the server has ended the session, to stop this context's live
/// channel and shut its cache before the local data is deleted. Errors only when the
/// database could not be deleted (e.g. blocked): the agent must then be told. Every other
/// step's failure is listed in the report's `problems`, and the local data is removed
/// whatever the network said.
pub async fn sign_out(
    user_id: &str,
    base_url: &str,
    stop_here: impl FnOnce(),
) -> Result<WipeReport, SyncError> {
    let base = base_url.trim_end_matches('/');
    let mut report = WipeReport::default();
    match Broadcaster::new(SESSION_CHANNEL).and_then(|channel| {
        channel.announce(&SessionNotice::SignedOut {
            user: user_id.to_owned(),
        })
    }) {
        Ok(()) => report.tabs_told = true,
        Err(error) => report
            .problems
            .push(format!("telling the other tabs: {error}")),
    }
    let registration = forget_push(base, &mut report).await;
    match http::send(
        "POST",
        &format!("{base}/api/auth/logout"),
        None,
        &JsValue::NULL,
    )
    .await
    {
        Ok(reply) if (200..300).contains(&reply.status) => report.server_signed_out = true,
        Ok(reply) => report.problems.push(format!(
            "server sign-out: {} {}",
            reply.status,
            reply.error_text()
        )),
        Err(error) => report.problems.push(format!("server sign-out: {error}")),
    }
    if !report.server_signed_out {
        // The cookie is HttpOnly: only the server can end what it keeps alive.
        match crate::pending_sign_out::mark(user_id).await {
            Ok(()) => report.sign_out_pending = true,
            Err(error) => report.problems.push(format!(
                "marking the sign-out as pending: {}",
                error.message
            )),
        }
    }
    stop_here();
    wipe_local(user_id, registration.as_ref(), &mut report).await?;
    Ok(report)
}

/// Removes everything of `user_id` from this browser without ending the session: the push
/// subscription (at the server, which needs the session, then in the browser) and the local
/// data (steps 2 and 4 of [`sign_out`]). Errors only when the database could not be deleted.
pub async fn wipe_user(user_id: &str, base_url: &str) -> Result<WipeReport, SyncError> {
    let base = base_url.trim_end_matches('/');
    let mut report = WipeReport::default();
    let registration = forget_push(base, &mut report).await;
    wipe_local(user_id, registration.as_ref(), &mut report).await?;
    Ok(report)
}

/// Step 2: the service worker registration, with its push subscription forgotten at the
/// server and unsubscribed in the browser.
async fn forget_push(base: &str, report: &mut WipeReport) -> Option<JsValue> {
    let registration = match registration().await {
        Ok(registration) => registration,
        Err(error) => {
            report.problems.push(format!("service worker: {error}"));
            None
        }
    };
    if let Some(registration) = &registration {
        unsubscribe(registration, base, report).await;
    }
    registration
}

/// Step 4: the worker told, its notifications closed, its remembered user, the media cache,
/// the drafts and the database deleted.
async fn wipe_local(
    user_id: &str,
    registration: Option<&JsValue>,
    report: &mut WipeReport,
) -> Result<(), SyncError> {
    if let Some(registration) = registration {
        // Every notification: each quotes a customer's message, and the system keeps it (in
        // its notification centre) after the agent has gone.
        match close_notifications(registration, None).await {
            Ok(closed) => report.notifications_closed = closed,
            Err(error) => report.problems.push(format!("notifications: {error}")),
        }
        // Inside a service worker the registration is our own: there is no other worker to
        // tell (and a message to ourselves would reach whatever else listens here).
        let in_service_worker = platform::global_property("registration").is_some();
        if let Some(active) = property(registration, "active").filter(|_| !in_service_worker) {
            match post(&active, &PageMessage::SessionChanged) {
                Ok(()) => report.worker_told = true,
                Err(error) => report.problems.push(format!("telling the worker: {error}")),
            }
        }
    }
    // The remembered agent goes here too, so it is gone even if no worker runs to receive
    // the message.
    if let Err(error) = remembered_user::forget().await {
        report
            .problems
            .push(format!("remembered agent: {}", error.message));
    }
    match media::delete_cache(&database::database_name(user_id)).await {
        Ok(()) => report.media_cache_deleted = true,
        Err(error) => report.problems.push(format!("media cache: {error}")),
    }
    report.drafts_deleted = drafts::wipe(user_id);
    database::wipe(user_id).await?;
    report.database_deleted = true;
    for problem in &report.problems {
        crate::log_warn!(%problem, "sign-out: a step failed");
    }
    Ok(())
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
        // A struct of one string cannot fail to serialize.
        let body = chat_sync::json::to_string(&PushUnsubscribe { endpoint }).unwrap_or_default();
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
