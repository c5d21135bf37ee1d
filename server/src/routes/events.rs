//! `GET /api/chat/events`: Server-Sent Events of new and changed messages in the user's
//! chats, and of changes of the chats themselves.
//!
//! Each event has `id: <global event id>` and is one of:
//! - `event: message`, `data: <Message JSON>`: a new message (`version` 0);
//! - `event: change`, `data: <Message JSON>`: an edited or redacted message in its current
//!   state (`version` > 0). A message edited before the stream read it comes only as a
//!   `change`;
//! - `event: revoked`, `data: {"request_id": …}` (`RevokedNotice`): the chat was taken from
//!   this user (reassigned); nothing more of it follows;
//! - `event: chat`, `data: <ChatSummary JSON>`: this user gained the chat, or it was closed
//!   (the summary as it stands when the event is sent).
//!
//! A client reconnecting with `Last-Event-ID` receives every such event with a higher event
//! id. The stream reads from the database, woken by the fan-out (`crate::fanout`: in process
//! on SQLite, PostgreSQL `LISTEN/NOTIFY` across processes) only when a message of its user's
//! chats is committed, or when the listener reconnects and every stream catches up. Event ids
//! become visible in increasing order, across processes too (see `Db::insert_message`), so
//! reading "everything above the last id sent" can neither skip nor repeat a message.
//!
//! A stream lives only as long as its session: a sign-out on this process ends it at once
//! ([`crate::streams`]), and every `stream_session_check` it asks the database whether the
//! session still stands (expired, or signed out through another process). A user may hold at
//! most `max_streams_per_user` streams, and a resume more than `max_replay_events` behind is
//! not replayed: the stream starts from the present with an `event: reset`, and the client
//! catches up by range, as after any reconnect.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use tokio::sync::watch;

use chat_sync::change_wire::RevokedNotice;
use chat_sync::types::RequestId;

use crate::auth::{self, AuthUser};
use crate::db::changes::{StreamItem, EVENT_CHAT, EVENT_REVOKED};
use crate::error::{ApiError, ApiResult};
use crate::fanout::Subscription;
use crate::state::AppState;
use crate::streams::{EndReason, Registration};

/// Messages read from the database per query.
const BATCH: u64 = 500;

/// The shortest reconnection delay sent to a stream's browser (`retry:`).
const RECONNECT_MIN_MS: u64 = 1_000;
/// How far above [`RECONNECT_MIN_MS`] each stream's delay is spread.
const RECONNECT_SPREAD_MS: u64 = 2_000;

/// How long this stream's browser waits before reconnecting after the connection drops
/// (the SSE `retry:` field), drawn per stream between 1 and 3 s. Without it each browser
/// uses its own default (Chrome 3 s, Firefox 5 s: in the e2e session test's log a Firefox
/// tab's stream did not come back in the few seconds before the test left the page), and
/// every browser of one engine comes back at the same moment after a restart: the spread
/// turns that spike into a ramp.
fn reconnect_delay() -> std::time::Duration {
    let jitter = rand::random::<u64>() % (RECONNECT_SPREAD_MS + 1);
    std::time::Duration::from_millis(RECONNECT_MIN_MS + jitter)
}

/// Keeps the `sse_clients` gauge right however the stream ends.
struct ClientGuard(AppState);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.metrics.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

struct StreamState {
    state: AppState,
    user_id: String,
    token_hash: String,
    registration: Registration,
    session_check: tokio::time::Interval,
    /// A `reset` event is owed first (the resume was too far behind to replay).
    reset: bool,
    last_sent: u64,
    pending: VecDeque<StreamItem>,
    /// Woken when a message of this user's chats may be new.
    wake: Subscription,
    shutdown: watch::Receiver<bool>,
    /// Whether the database may hold events not read yet.
    dirty: bool,
    /// Still replaying a `Last-Event-ID` resume: those events are old, and their age is no
    /// stream lag.
    replaying: bool,
    _guard: ClientGuard,
}

/// Opens the stream.
pub async fn stream(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("").trim();
            if text.is_empty() {
                None
            } else {
                Some(text.parse::<u64>().map_err(|_| {
                    ApiError::BadRequest("Last-Event-ID must be a non-negative integer".to_owned())
                })?)
            }
        }
    };
    // The extractor checked the session; its token names the stream's session.
    let token_hash = auth::session_token(&headers)?
        .map(|token| auth::token_hash(&token))
        .ok_or_else(|| ApiError::Unauthorized("sign in first".to_owned()))?;
    let registration = state
        .streams
        .register(&user.id, &token_hash, state.config.max_streams_per_user)
        .ok_or_else(|| {
            ApiError::RateLimited(format!(
                "at most {} open event streams per user; close a tab",
                state.config.max_streams_per_user
            ))
        })?;
    // Subscribe before reading the current id, so nothing committed in between is missed.
    let wake = state.wakers.subscribe(&user.id);
    let current = state.db.current_event_id().await?;
    // An id from the future (a client of a database that was since reset) would hide every
    // new message from this stream: resume from the present instead. So does one too far
    // behind, which would replay without bound: the client is told to catch up by range.
    let too_far =
        resume.is_some_and(|id| current.saturating_sub(id) > state.config.max_replay_events);
    let last_sent = match resume {
        Some(id) if !too_far => id.min(current),
        _ => current,
    };
    let check = state.config.stream_session_check;
    let session_check = tokio::time::interval_at(tokio::time::Instant::now() + check, check);
    state.metrics.sse_clients.fetch_add(1, Ordering::Relaxed);
    let initial = StreamState {
        state: state.clone(),
        user_id: user.id,
        token_hash,
        registration,
        session_check,
        reset: too_far,
        last_sent,
        pending: VecDeque::new(),
        wake,
        shutdown: state.shutdown.clone(),
        dirty: resume.is_some() && !too_far,
        replaying: resume.is_some() && !too_far,
        _guard: ClientGuard(state.clone()),
    };
    // A comment first: Firefox fires the EventSource's `open` only once body bytes arrive
    // (measured: at the first heartbeat, 15 s late), and the app's catch-up after a
    // reconnect waits for `open`. With it, the browser's reconnection delay
    // ([`reconnect_delay`]).
    let retry = reconnect_delay();
    let hello =
        futures_util::stream::once(
            async move { Ok(Event::default().comment("open").retry(retry)) },
        );
    let events = hello.chain(futures_util::stream::unfold(initial, next_event));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(state.config.sse_heartbeat)))
}

async fn next_event(mut s: StreamState) -> Option<(Result<Event, Infallible>, StreamState)> {
    loop {
        if *s.shutdown.borrow() {
            s.state.streams.count_end(EndReason::Shutdown);
            return None;
        }
        if let Some(reason) = *s.registration.end.borrow() {
            s.state.streams.count_end(reason);
            return None;
        }
        if s.reset {
            s.reset = false;
            let event = Event::default()
                .event("reset")
                .data("the resume point is too far behind to replay; catch up by range");
            return Some((Ok(event), s));
        }
        if let Some(item) = s.pending.pop_front() {
            let id = item.event_id();
            s.last_sent = id;
            let (name, data) = match item {
                StreamItem::Message(row) => {
                    let message = row.into_message();
                    let changed = message.version > 0;
                    // From the send (stamped before its transaction) to the event leaving for
                    // the client: the fan-out's delay plus this stream's read. A change is no
                    // new message: its age says nothing of the stream.
                    if !s.replaying && !changed {
                        let lag_ms = crate::clock::now_ms().saturating_sub(message.created_at);
                        s.state.metrics.stream_lag.observe_ms(lag_ms);
                    }
                    let name = if changed { "change" } else { "message" };
                    (name, serde_json::to_string(&message))
                }
                StreamItem::Chat {
                    request_id, kind, ..
                } if kind == EVENT_REVOKED => (
                    EVENT_REVOKED,
                    serde_json::to_string(&RevokedNotice {
                        request_id: RequestId(request_id),
                    }),
                ),
                StreamItem::Chat {
                    request_id, kind, ..
                } if kind == EVENT_CHAT => {
                    // The chat as it stands now, and only while this user still takes part
                    // in it (a chat handed on again since is not shown).
                    match s.state.db.chat(&request_id).await {
                        Ok(Some(chat)) if chat.is_participant(&s.user_id) => (
                            EVENT_CHAT,
                            serde_json::to_string(&crate::routes::chat::summary(chat)),
                        ),
                        Ok(_) => continue,
                        Err(error) => {
                            tracing::error!(%error, "SSE chat read failed; closing the stream");
                            s.state.streams.count_end(EndReason::DatabaseError);
                            return None;
                        }
                    }
                }
                StreamItem::Chat { kind, .. } => {
                    tracing::warn!(%kind, "unknown chat event kind; skipped");
                    continue;
                }
            };
            let data = match data {
                Ok(data) => data,
                Err(error) => {
                    tracing::error!(%error, "cannot encode an SSE event");
                    continue;
                }
            };
            let event = Event::default().event(name).id(id.to_string()).data(data);
            return Some((Ok(event), s));
        }
        if s.dirty {
            match s
                .state
                .db
                .events_after(&s.user_id, s.last_sent, BATCH)
                .await
            {
                Ok(rows) => {
                    // A full batch means more may follow; stay dirty until a short one.
                    s.dirty = rows.len() as u64 == BATCH;
                    s.pending.extend(rows);
                    continue;
                }
                Err(error) => {
                    tracing::error!(%error, "SSE catch-up query failed; closing the stream");
                    s.state.streams.count_end(EndReason::DatabaseError);
                    return None;
                }
            }
        }
        // Everything up to now is sent: what a wake-up brings from here on is live.
        s.replaying = false;
        tokio::select! {
            // A message of this user's chats was committed (on any process), or the listener
            // reconnected: look in the database.
            () = s.wake.woken() => s.dirty = true,
            _ = s.shutdown.changed() => {
                s.state.streams.count_end(EndReason::Shutdown);
                return None;
            }
            // A sign-out of this session on this process: the top of the loop ends it.
            _ = s.registration.end.changed() => {}
            _ = s.session_check.tick() => {
                let idle = s.state.config.session_idle_ms();
                match s.state.db.session_user(&s.token_hash, crate::clock::now_ms(), idle).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        s.state.streams.count_end(EndReason::SessionExpired);
                        return None;
                    }
                    // A failed check is not a sign-out: the next one decides.
                    Err(error) => tracing::warn!(%error, "could not check a stream's session"),
                }
            }
        }
    }
}
