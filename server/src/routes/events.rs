//! `GET /api/chat/events`: Server-Sent Events of new messages in the user's chats.
//!
//! Each event is `event: message`, `id: <global event id>`, `data: <Message JSON>`. A client
//! reconnecting with `Last-Event-ID` receives every message of its chats with a higher event
//! id. The stream reads from the database, woken by the broadcast channel the send path
//! feeds: event ids commit in increasing order (see `Db::insert_message`), so reading
//! "everything above the last id sent" can neither skip nor repeat a message.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::auth::AuthUser;
use crate::db::chats::MessageRow;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, EventNotice};

/// Messages read from the database per query.
const BATCH: u64 = 500;

/// How often an idle stream looks for events stored by other server processes.
const CROSS_PROCESS_POLL: std::time::Duration = std::time::Duration::from_secs(5);

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
    last_sent: u64,
    pending: VecDeque<MessageRow>,
    notices: broadcast::Receiver<EventNotice>,
    shutdown: watch::Receiver<bool>,
    /// Whether the database may hold events not read yet.
    dirty: bool,
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
    // Subscribe before reading the current id, so nothing committed in between is missed.
    let notices = state.events.subscribe();
    let current = state.db.current_event_id().await?;
    // An id from the future (a client of a database that was since reset) would hide every
    // new message from this stream: resume from the present instead.
    let last_sent = resume.map_or(current, |id| id.min(current));
    state.metrics.sse_clients.fetch_add(1, Ordering::Relaxed);
    let initial = StreamState {
        state: state.clone(),
        user_id: user.id,
        last_sent,
        pending: VecDeque::new(),
        notices,
        shutdown: state.shutdown.clone(),
        dirty: resume.is_some(),
        _guard: ClientGuard(state.clone()),
    };
    // A comment first: Firefox fires the EventSource's `open` only once body bytes arrive
    // (measured: at the first heartbeat, 15 s late), and the app's catch-up after a
    // reconnect waits for `open`.
    let hello = futures_util::stream::once(async { Ok(Event::default().comment("open")) });
    let events = hello.chain(futures_util::stream::unfold(initial, next_event));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(state.config.sse_heartbeat)))
}

async fn next_event(mut s: StreamState) -> Option<(Result<Event, Infallible>, StreamState)> {
    loop {
        if *s.shutdown.borrow() {
            return None;
        }
        if let Some(row) = s.pending.pop_front() {
            let id = row.event_id();
            s.last_sent = id;
            let message = row.into_message();
            let data = match serde_json::to_string(&message) {
                Ok(data) => data,
                Err(error) => {
                    tracing::error!(%error, "cannot encode an SSE message");
                    continue;
                }
            };
            let event = Event::default()
                .event("message")
                .id(id.to_string())
                .data(data);
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
                    return None;
                }
            }
        }
        tokio::select! {
            notice = s.notices.recv() => match notice {
                Ok(notice) => {
                    if notice.event_id > s.last_sent
                        && (notice.agent_id == s.user_id || notice.requester_id == s.user_id)
                    {
                        s.dirty = true;
                    }
                }
                // Missed notices are harmless: the database is the source of truth.
                Err(RecvError::Lagged(_)) => s.dirty = true,
                Err(RecvError::Closed) => return None,
            },
            _ = s.shutdown.changed() => return None,
            // Notices only come from this process; with several server processes on one
            // PostgreSQL a message stored by another process is found by this periodic look.
            _ = tokio::time::sleep(CROSS_PROCESS_POLL) => s.dirty = true,
        }
    }
}
