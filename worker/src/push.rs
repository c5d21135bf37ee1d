//! The push pipeline: decode and validate the payload, find the signed-in user's cache,
//! ingest through the one ingest path, repair any gap the push reveals (or the hinted
//! message) with range fetches of exactly the missing sequences under the chat's Web Lock,
//! then notify.
//!
//! A pushed message for the agent this worker last confirmed is written while the session
//! check runs beside it, and undone when the answer says otherwise ([`write_first`]); every
//! other push (a hint, a change, a revocation) writes nothing before the answer.
//!
//! A payload that fails [`PushPayload::decode`] is logged and dropped before anything is
//! opened: it never touches the cache. So is a payload addressed (`to`) to anyone but the
//! agent the worker has confirmed, or one arriving while nobody is signed in; the browser's
//! stale subscription is then unsubscribed.

use chat_sync::engine::HintAction;
use chat_sync::ingest::Source;
use chat_sync::protocol::PushPayload;
use chat_sync::store::Store;
use chat_sync::RequestId;
use chat_sync_idb::driver::Driver;
use chat_sync_idb::http::HttpHistoryClient;
use chat_sync_idb::platform::{self, timed};
use chat_sync_idb::{changes, push_subscription};

use crate::error::WorkerError;
use crate::notify::{self, Notice};
use crate::{session, state};

mod write_first;

/// Handles one push event; returns once the cache is committed and gaps are repaired.
pub async fn handle(event: web_sys::PushEvent) -> Result<(), WorkerError> {
    let started = platform::precise_now();
    // On a cold start this is the worker's start-up (script, wasm fetch and compile) up to
    // the push handler: the time origin of a worker is its start.
    platform::measure("push:start", 0.0);
    let Some(data) = event.data() else {
        chat_sync_idb::log_warn!("a push without a payload: ignored");
        return Ok(());
    };
    let text = data.text();
    let payload = match PushPayload::decode(text.as_bytes()) {
        Ok(payload) => payload,
        Err(error) => {
            chat_sync_idb::log_warn!(%error, len = text.len(), "dropped a malformed push payload");
            return Ok(());
        }
    };
    platform::measure("push:decode", started);
    // Everything this push asks of the server is asked for the agent it names.
    let to = payload.to().to_owned();
    chat_sync_idb::agent::acting_as(&to, handle_decoded(payload, started)).await
}

/// [`handle`] once the payload is decoded.
async fn handle_decoded(payload: PushPayload, started: f64) -> Result<(), WorkerError> {
    let payload = match payload {
        PushPayload::Message { to, message } => {
            return write_first::handle(to, message, started).await
        }
        other => other,
    };
    let request_id = payload.request_id().clone();
    // Three waits that do not depend on each other run together: the server's word on who
    // is signed in, opening the cache (only the cache of the agent this worker last
    // confirmed, and only when the push names that agent: never a database for anyone
    // else), and whether the chat is on screen. Nothing is written before the server's
    // answer (or, with the server unreachable, the last confirmed agent) matches the push.
    let (user, opened, focused) = futures::join!(
        timed("push:session", session::current_user()),
        open_if_confirmed(payload.to()),
        notify::chat_is_focused(&request_id),
    );
    let user = match user {
        Ok(user) if user.id == payload.to() => user,
        other => return dropped(other, payload.to()).await,
    };
    let state = match opened {
        Some(Ok(state)) if state.user_id == user.id => state,
        Some(Err(error)) => return Err(error),
        _ => timed("push:open", state::for_user(&user.id)).await?,
    };
    let driver = &state.driver;
    driver.runtime().set_chat_open(&request_id, focused);
    let result = apply(driver, payload, &user.id, started).await;
    driver.runtime().set_chat_open(&request_id, false);
    let notice = result?;
    platform::measure("push:total", started);
    chat_sync_idb::log_info!(
        chat = %request_id,
        ms = platform::precise_now() - started,
        "push committed"
    );
    if let Some(notice) = notice {
        if !focused {
            notify::show(&notice).await;
        }
    }
    Ok(())
}

/// Opens the cache of `to` while the session check runs, when `to` is the agent this
/// worker last confirmed (warm: already open; cold: remembered in Cache Storage).
async fn open_if_confirmed(to: &str) -> Option<Result<std::rc::Rc<state::UserState>, WorkerError>> {
    let known = session::last_confirmed().await?;
    if known.id != to {
        return None;
    }
    Some(timed("push:open", state::for_user(to)).await)
}

/// Drops a push the session check did not confirm for its recipient `to`: nobody is
/// signed in here, or another agent is (a subscription whose unsubscription at sign-out did
/// not reach the server). Nothing is stored or shown, and the browser's stale subscription
/// is unsubscribed (the next sign-in subscribes afresh).
async fn dropped(
    user: Result<chat_sync::protocol::CurrentUser, WorkerError>,
    to: &str,
) -> Result<(), WorkerError> {
    match user {
        Ok(user) if user.id == to => Ok(()),
        Ok(user) => {
            // Their customers' messages never enter this agent's cache or notifications.
            chat_sync_idb::log_warn!(to, agent = %user.id, "a push for another user: dropped");
            drop_stale_subscription().await;
            platform::measure("push:dropped", 0.0);
            Ok(())
        }
        Err(WorkerError::SignedOut(reason)) => {
            chat_sync_idb::log_warn!(%reason, "a push while nobody is signed in: dropped");
            drop_stale_subscription().await;
            platform::measure("push:dropped", 0.0);
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// After a pushed message is written: the gap it reveals repaired, a notification of a
/// redacted message closed, and what to notify, if anything.
async fn after_message(
    driver: &Driver<HttpHistoryClient>,
    message: &chat_sync::Message,
    report: chat_sync::ingest::IngestReport,
    own_user_id: &str,
) -> Result<Option<Notice>, WorkerError> {
    let request_id = &message.request_id;
    if !report.rejected.is_empty() {
        return Ok(None);
    }
    // (The core's ingest rule made the backend's last seq known when the push revealed a
    // hole: it proves its seq exists.)
    repair(driver, request_id, report.reveals_gap).await?;
    if !report.redacted.is_empty() {
        notify::close_showing(request_id, Some(&report.redacted)).await;
    }
    let fresh = !report.new_seqs.is_empty() && !message.deleted;
    Ok((fresh && message.sender.id != own_user_id).then(|| Notice {
        request_id: request_id.clone(),
        title: message.sender.name.clone(),
        body: message.preview(chat_sync::ingest::PREVIEW_CHARS),
        seq: message.seq,
    }))
}

/// Writes the payload into the cache and repairs; returns what to notify, if anything.
async fn apply(
    driver: &Driver<HttpHistoryClient>,
    payload: PushPayload,
    own_user_id: &str,
    started: f64,
) -> Result<Option<Notice>, WorkerError> {
    let runtime = driver.runtime();
    match payload {
        PushPayload::Message { message, .. } => {
            // The ordinary write: `write_first` comes here once the server named the agent
            // and nothing was written before (or the first write failed).
            let request_id = message.request_id.clone();
            let report = timed(
                "push:ingest",
                runtime.ingest(&request_id, vec![message.clone()], Source::Push),
            )
            .await?;
            platform::measure("push:committed", started);
            after_message(driver, &message, report, own_user_id).await
        }
        PushPayload::Hint {
            request_id, seq, ..
        } => {
            let record = runtime.store().chat(&request_id).await?;
            let held = record.map(|r| r.held).unwrap_or_default();
            match chat_sync::engine::plan_hint(&held, seq) {
                HintAction::AlreadyHeld => return Ok(None),
                HintAction::Repair {
                    backend_last_at_least,
                } => {
                    runtime
                        .store()
                        .note_backend_last_seq(&request_id, backend_last_at_least)
                        .await?;
                    repair(driver, &request_id, true).await?;
                }
                HintAction::FetchExact(seq) => {
                    driver.fetch_exact(&request_id, seq).await?;
                }
            }
            let record = runtime.store().chat(&request_id).await?;
            Ok(record.map(|r| Notice {
                request_id: request_id.clone(),
                title: r
                    .requester
                    .map_or_else(|| "New message".to_owned(), |p| p.name),
                body: r.last_message.unwrap_or_default(),
                seq,
            }))
        }
        PushPayload::Change { message, .. } => {
            // An edit or a redaction, with every tab closed too: the one ingest path applies
            // it (a redacted body and its files leave the cache), and a hole in the versions
            // fetches the changes since the cached one.
            let request_id = message.request_id.clone();
            let report = timed("push:ingest", changes::apply_change(driver, message)).await?;
            platform::measure("push:committed", started);
            if !report.redacted.is_empty() {
                notify::close_showing(&request_id, Some(&report.redacted)).await;
            }
            Ok(None)
        }
        PushPayload::Changes { request_id, .. } => {
            // A change too large to push: ask for the changes since the cached version.
            let report = changes::confirm_access(driver, &request_id).await?;
            if report.revoked {
                notify::close_showing(&request_id, None).await;
            } else if !report.redacted.is_empty() {
                notify::close_showing(&request_id, Some(&report.redacted)).await;
            }
            Ok(None)
        }
        PushPayload::Revoked { request_id, .. } => {
            runtime.revoke(&request_id).await?;
            notify::close_showing(&request_id, None).await;
            Ok(None)
        }
    }
}

/// Runs the engine's goal after a pushed message ([`chat_sync::engine::Goal::after_ingest`]):
/// a revealed gap is repaired without the grace period but within the backoff of earlier
/// failures; otherwise a gap already known is synced if due.
async fn repair(
    driver: &Driver<HttpHistoryClient>,
    request_id: &RequestId,
    reveals_gap: bool,
) -> Result<(), WorkerError> {
    let status = driver
        .after_ingest(request_id, Source::Push, reveals_gap)
        .await?;
    chat_sync_idb::log_info!(chat = %request_id, missing = ?status.missing, state = ?status.sync_state, "gap repair after a push");
    Ok(())
}

/// How long the browser's push manager may take to unsubscribe (it may never answer without
/// a push service).
const UNSUBSCRIBE_TIMEOUT_MS: i32 = 5_000;

/// Unsubscribes the browser's push subscription that delivered a push nobody here may read.
/// The server learns it from the push service's 404/410 on its next delivery; the desk
/// registers a fresh subscription for whoever signs in next.
async fn drop_stale_subscription() {
    let Some(registration) = platform::global_property("registration") else {
        return;
    };
    match push_subscription::unsubscribe_in_browser(&registration, UNSUBSCRIBE_TIMEOUT_MS).await {
        Ok(true) => chat_sync_idb::log_info!("the stale push subscription was unsubscribed"),
        Ok(false) => {}
        Err(reason) => {
            chat_sync_idb::log_warn!(%reason, "could not unsubscribe the stale push subscription")
        }
    }
}
