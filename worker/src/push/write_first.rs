//! A pushed message, written before the server has confirmed the session.
//!
//! When the message is addressed to the agent this worker last confirmed (in its current
//! life, or remembered in Cache Storage by an earlier one: `session::last_confirmed`), their
//! cache is opened and the message written while `GET /api/auth/me` runs beside it, so
//! neither a warm nor a cold worker waits on the network before the write. The answer then
//! decides:
//!
//! - the same agent: the write stands and is announced to the agent's views (not before),
//!   its gap is repaired and the notification shown;
//! - nobody, or another agent: the write is undone (the core's
//!   [`chat_sync::ingest::IngestUndo`], committed with strict durability) and the push dropped
//!   as every unconfirmed push is, so nothing of it stays, and no open tab was told of it;
//! - a message for an agent this worker does not know is not written before the answer, and
//!   is written through the ordinary path once the answer names that agent.

use std::rc::Rc;

use chat_sync::ingest::{IngestReport, IngestUndo, Source};
use chat_sync::protocol::PushPayload;
use chat_sync::Message;
use chat_sync_idb::platform::{self, timed};
use chat_sync_idb::SyncError;

use crate::error::WorkerError;
use crate::notify;
use crate::{session, state};

/// What was written before the session check answered.
enum Wrote {
    /// The message names an agent this worker does not know: nothing opened or written.
    Nothing,
    /// The agent's cache could not be opened.
    OpenFailed(WorkerError),
    /// Written (or the write failed).
    Written(Box<Written>),
}

/// A write made before the session check answered.
struct Written {
    /// The cache written to.
    state: Rc<state::UserState>,
    /// Whether a focused window shows the chat (no unread count, no notification).
    focused: bool,
    /// The ingest, with how to undo it.
    result: Result<(IngestReport, Option<IngestUndo>), SyncError>,
}

/// Handles a pushed message for `to`: written beside the session check when `to` is the
/// agent this worker knows, kept or undone by the answer.
pub(super) async fn handle(to: String, message: Message, started: f64) -> Result<(), WorkerError> {
    let request_id = message.request_id.clone();
    let (user, wrote) = futures::join!(
        timed("push:session", session::current_user()),
        write_if_known(&to, &message, started)
    );
    if !matches!(&user, Ok(user) if user.id == to) {
        if let Wrote::Written(written) = &wrote {
            if let Ok((_, Some(undo))) = &written.result {
                let outcome = written.state.driver.runtime().undo(undo).await?;
                chat_sync_idb::log_warn!(chat = %request_id, ?outcome, "the push's agent is not the one signed in: its message was taken back");
            }
        }
        return super::dropped(user, &to).await;
    }
    let (focused, notice) = match wrote {
        Wrote::Written(written) => match written.result {
            Ok((report, _)) => {
                // Announced only now: no view read the message before the server said whose
                // it is.
                written
                    .state
                    .driver
                    .runtime()
                    .let_stand(&request_id, Source::Push, &report)
                    .await?;
                let notice =
                    super::after_message(&written.state.driver, &message, report, &to).await?;
                (written.focused, notice)
            }
            Err(error) => {
                // A first write that failed (a full disk, say): the ordinary path, with
                // eviction, now that the server named the agent.
                chat_sync_idb::log_warn!(%error, "the pushed message's first write failed; writing it again");
                let notice =
                    write_confirmed(&written.state, written.focused, message, &to, started).await?;
                (written.focused, notice)
            }
        },
        not_written => {
            if let Wrote::OpenFailed(error) = not_written {
                chat_sync_idb::log_warn!(%error, "the agent's cache did not open beside the session check; opening it again");
            }
            // An agent this worker did not know (or whose cache did not open): written
            // through the ordinary path now that the server named them.
            let (state, focused) = futures::join!(open(&to), notify::chat_is_focused(&request_id));
            let state = state?;
            let notice = write_confirmed(&state, focused, message, &to, started).await?;
            (focused, notice)
        }
    };
    platform::measure("push:total", started);
    chat_sync_idb::log_info!(chat = %request_id, ms = platform::precise_now() - started, "push committed");
    if let Some(notice) = notice {
        if !focused {
            notify::show(&notice).await;
        }
    }
    Ok(())
}

/// Writes `message` into the cache of `to` when `to` is the agent this worker last
/// confirmed, with how to undo it; opens that cache (and checks whether the chat is on
/// screen, which decides its unread count) while the session check runs.
async fn write_if_known(to: &str, message: &Message, started: f64) -> Wrote {
    let known = session::last_confirmed().await;
    if known.is_none_or(|user| user.id != to) {
        return Wrote::Nothing;
    }
    let request_id = &message.request_id;
    let (opened, focused) = futures::join!(open(to), notify::chat_is_focused(request_id));
    let state = match opened {
        Ok(state) => state,
        Err(error) => return Wrote::OpenFailed(error),
    };
    let runtime = state.driver.runtime();
    runtime.set_chat_open(request_id, focused);
    let result = timed(
        "push:ingest",
        runtime.ingest_undoable(request_id, vec![message.clone()], Source::Push),
    )
    .await;
    runtime.set_chat_open(request_id, false);
    platform::measure("push:committed", started);
    Wrote::Written(Box::new(Written {
        state,
        focused,
        result,
    }))
}

/// The ordinary write of a pushed message the server confirmed for `to`.
async fn write_confirmed(
    state: &state::UserState,
    focused: bool,
    message: Message,
    to: &str,
    started: f64,
) -> Result<Option<crate::notify::Notice>, WorkerError> {
    let runtime = state.driver.runtime();
    let request_id = message.request_id.clone();
    runtime.set_chat_open(&request_id, focused);
    let payload = PushPayload::Message {
        to: to.to_owned(),
        message,
    };
    let notice = super::apply(&state.driver, payload, to, started).await;
    runtime.set_chat_open(&request_id, false);
    notice
}

/// The cache of `to`: the one this worker has open, or opened now.
async fn open(to: &str) -> Result<Rc<state::UserState>, WorkerError> {
    match state::open_for(to) {
        Some(state) => Ok(state),
        None => timed("push:open", state::for_user(to)).await,
    }
}
