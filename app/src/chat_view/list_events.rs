//! The message list's callbacks for the open chat: older history asked for (and asked
//! again while owed), the read position written coalesced, "new below", what is on screen,
//! and the actions on pending and sent messages (retry, delete, edit, redact).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::read_marks::ReadMarks;
use chat_sync::store::Store;
use chat_sync::RequestId;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::cache::AppCache;
use crate::message_list::{ListEvents, MessageAction};

/// The view's signals the list's callbacks set.
pub(super) struct ListSignals {
    pub(super) new_below: RwSignal<bool>,
    pub(super) error: RwSignal<Option<String>>,
    pub(super) editing: RwSignal<Option<(chat_sync::Seq, String)>>,
}

/// The list's callbacks: older history, read position, "new below", what is on screen, and
/// the actions on messages.
pub(super) fn list_events(
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    id: RequestId,
    marks: Rc<RefCell<ReadMarks>>,
    signals: ListSignals,
) -> ListEvents {
    let ListSignals {
        new_below,
        error,
        editing,
    } = signals;
    let message_id = id.clone();
    let older_id = id.clone();
    let read_id = id.clone();
    let timer_set = Rc::new(Cell::new(false));
    let viewport_id = id;
    ListEvents {
        on_older: Box::new(move || {
            // The live worker keeps asking after failures (a long network cut spends the
            // bounded retries) while this chat stays open, at the backoff's pace, until the
            // page arrives; each retry reports a retry on offer, and the end how it went.
            cache.try_with_value(|cache| cache.load_older(&older_id));
        }),
        on_read: Box::new(move |seq| {
            // Up to once a frame while the reader scrolls through new rows: coalesced to
            // about one write a second (the core's `ReadMarks`), the rest when leaving.
            let now = js_sys::Date::now() as i64;
            let due = marks.borrow_mut().note(seq, now);
            if let Some(seq) = due {
                if let Some(cache_rc) = cache.try_get_value() {
                    write_read_mark(cache_rc, read_id.clone(), seq);
                }
                return;
            }
            let Some(at) = marks.borrow().due_at() else {
                return;
            };
            if timer_set.replace(true) {
                return;
            }
            let (marks, timer_set, id) = (marks.clone(), timer_set.clone(), read_id.clone());
            spawn_local(async move {
                chat_sync_idb::platform::sleep(at.saturating_sub(now)).await;
                timer_set.set(false);
                let due = marks.borrow_mut().poll(js_sys::Date::now() as i64);
                if let (Some(seq), Some(cache_rc)) = (due, cache.try_get_value()) {
                    write_read_mark(cache_rc, id, seq);
                }
            });
        }),
        on_new_below: Box::new(move |shown| {
            new_below.try_set(shown);
        }),
        on_viewport: Box::new(move |visible| {
            cache.try_with_value(|c| c.set_viewport(&viewport_id, visible));
        }),
        on_outbox: Box::new(move |client_temp_id, retry| {
            let Some(cache_rc) = cache.try_get_value() else {
                return;
            };
            spawn_local(async move {
                let runtime = &cache_rc.runtime;
                let result = if retry {
                    chat_sync_idb::outbox_sender::retry(runtime, &client_temp_id).await
                } else {
                    chat_sync_idb::outbox_sender::delete(runtime, &client_temp_id).await
                };
                match result {
                    Ok(_) if retry => cache_rc.send_outbox(false),
                    Ok(_) => {}
                    Err(err) => {
                        error.try_set(Some(format!("The message could not be changed: {err}")));
                    }
                }
            });
        }),
        on_message: Box::new(move |seq, action| {
            let Some(cache_rc) = cache.try_get_value() else {
                return;
            };
            let id = message_id.clone();
            match action {
                MessageAction::Edit => spawn_local(async move {
                    let range = chat_sync::SeqRange::new(seq, seq);
                    match cache_rc.runtime.store().range(&id, range).await {
                        Ok(window) => {
                            if let Some(message) = window.messages.into_iter().next() {
                                editing.try_set(Some((seq, message.body)));
                            }
                        }
                        Err(err) => {
                            error.try_set(Some(format!("The message could not be read: {err}")));
                        }
                    }
                }),
                MessageAction::Delete => {
                    let sure = chat_sync_idb::platform::confirm(
                        "Delete this message for everyone? Its text and files are erased and \
                         cannot be brought back.",
                    );
                    if !sure {
                        return;
                    }
                    let redacted = cache_rc.redact(&id, seq);
                    spawn_local(async move {
                        if let Err(sentence) = redacted.await {
                            error.try_set(Some(sentence));
                        }
                    });
                }
            }
        }),
    }
}

/// Stores the read position; views (of every tab) re-read only when the unread count
/// changed.
pub(super) fn write_read_mark(cache: Rc<AppCache>, id: RequestId, seq: chat_sync::Seq) {
    spawn_local(async move {
        let now = js_sys::Date::now() as i64;
        match cache.runtime.store().mark_read(&id, seq, now).await {
            Ok(true) => cache.announce_summary(&id),
            Ok(false) => {}
            Err(err) => {
                chat_sync_idb::log_warn!(chat = %id, %err, "could not store the read position")
            }
        }
    });
}
