//! The open chat: its header (requester, title, sync indicator, resync), the virtualized
//! message list painted from the cache at once, and the sync that fills what is missing.
//!
//! Nothing here waits on the network before showing cached messages (SPEC invariant 3). The
//! sync indicator is in the DOM only while a history request of this chat is on the network,
//! after a short delay so a quick fetch does not flicker (invariant 8). The resync button
//! appears once the view is ready (`data-ready="true"`, invariant 9) and re-validates,
//! fetches only what is missing, merges and re-validates (invariant 10).
//!
//! This module is the view itself; the message list's callbacks are in `list_events`, and the
//! refresh after changes, the sync and the progress in `refresh`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::read_marks::ReadMarks;

use chat_sync::store::Store;
use chat_sync::{ChatRecord, RequestId};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::cache::AppCache;
use crate::composer::Composer;
use crate::effect::effect;
use crate::message_list::{MessageList, Viewer};
use crate::route::{navigate, Route};

mod list_events;
mod refresh;
mod seen;

use list_events::{list_events, write_read_mark, ListSignals};
use refresh::{refresh_view, run_sync, show_report, RefreshTurns};
use seen::close_notifications_if_seen;

/// How long a fetch must run before the sync indicator shows.
const INDICATOR_DELAY_MS: u64 = 120;

/// One chat.
#[component]
pub fn ChatView(
    /// The agent's cache.
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    /// The chat.
    request_id: RequestId,
    /// The app's route (Esc and the back button return to the list).
    route: RwSignal<Route>,
) -> impl IntoView {
    let record = RwSignal::new(None::<ChatRecord>);
    let ready = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let incomplete = RwSignal::new(false);
    let new_below = RwSignal::new(false);
    // The message being edited in the composer: its seq and text.
    let editing = RwSignal::new(None::<(chat_sync::Seq, String)>);
    // The chat was taken from the agent: how many unsent messages went with it.
    let revoked = RwSignal::new(None::<u32>);
    let show_indicator = RwSignal::new(false);
    let scroller = NodeRef::<html::Div>::new();
    let list: StoredValue<Option<Rc<MessageList>>, LocalStorage> = StoredValue::new_local(None);
    let (changes, fetching_set) = cache.with_value(|c| (c.changes, c.fetching));
    let id = request_id.clone();
    let fetching = Signal::derive(move || fetching_set.with(|set| set.contains(&id)));

    // The indicator follows `fetching`, shown only after a short delay.
    let generation = StoredValue::new(0u64);
    effect(move || {
        let on = fetching.get();
        generation.update_value(|g| *g += 1);
        if !on {
            show_indicator.try_set(false);
            return;
        }
        let this = generation.get_value();
        set_timeout(
            move || {
                if generation.try_get_value() == Some(this) && fetching.get_untracked() {
                    show_indicator.try_set(true);
                }
            },
            std::time::Duration::from_millis(INDICATOR_DELAY_MS),
        );
    });

    // Re-read after every committed change of this chat (or of the chat list), coalesced:
    // one refresh at a time, and a change that comes while it runs asks for exactly one
    // more (a burst of commits is read once or twice, never once per commit).
    let turns = Rc::new(Cell::new(RefreshTurns::Idle));
    let refresh = {
        let id = request_id.clone();
        Rc::new(move || {
            match turns.get() {
                RefreshTurns::Idle => {}
                RefreshTurns::Running | RefreshTurns::Again => {
                    turns.set(RefreshTurns::Again);
                    return;
                }
            }
            let Some(cache_rc) = cache.try_get_value() else {
                return;
            };
            turns.set(RefreshTurns::Running);
            let (id, turns) = (id.clone(), turns.clone());
            spawn_local(async move {
                loop {
                    refresh_view(&cache_rc, &id, list, record).await;
                    if turns.get() == RefreshTurns::Again {
                        turns.set(RefreshTurns::Running);
                        continue;
                    }
                    turns.set(RefreshTurns::Idle);
                    break;
                }
            });
        })
    };
    // A change committed while the list was being opened, before it could note it: its
    // first read may predate the change.
    let missed = Rc::new(Cell::new(false));

    // Open the list once its container is in the DOM.
    let opened = Rc::new(Cell::new(false));
    // The reader's position, written at most about once a second while they scroll.
    let marks = Rc::new(RefCell::new(ReadMarks::default()));
    let leaving = StoredValue::new_local(marks.clone());
    let id = request_id.clone();
    let (open_refresh, open_missed) = (refresh.clone(), missed.clone());
    effect(move || {
        let Some(element) = scroller.get() else {
            return;
        };
        if opened.replace(true) {
            return;
        }
        let Some(cache_rc) = cache.try_get_value() else {
            return;
        };
        let id = id.clone();
        let marks = marks.clone();
        let (refresh, missed) = (open_refresh.clone(), open_missed.clone());
        spawn_local(async move {
            cache_rc.set_chat_open(&id, true);
            let events = list_events(
                cache,
                id.clone(),
                marks,
                ListSignals {
                    new_below,
                    error,
                    editing,
                },
            );
            let element: web_sys::HtmlElement = element.into();
            match MessageList::open(
                element,
                cache_rc.runtime.clone(),
                id.clone(),
                Viewer {
                    id: cache_rc.user.id.clone(),
                    agent: cache_rc.user.role == chat_sync::SenderRole::Agent,
                },
                events,
            )
            .await
            {
                Ok(opened_list) => {
                    // A change committed while the list opened (noted by the list itself
                    // when it was this context's write, or here when its notice came
                    // first) is read now: the view must not wait for the next change.
                    if missed.take() {
                        opened_list.note_unknown_change();
                    }
                    let changed = opened_list.has_noted_changes();
                    if list.try_set_value(Some(opened_list)).is_some() {
                        // The view was closed while its list opened.
                        return;
                    }
                    if changed {
                        refresh();
                    }
                }
                Err(err) => {
                    error.try_set(Some(format!(
                        "The cached messages could not be read: {err}"
                    )));
                }
            }
            // Ready once the browser has painted the cached rows.
            request_animation_frame(move || {
                ready.try_set(true);
            });
            match cache_rc.runtime.store().chat(&id).await {
                Ok(found) => {
                    record.try_set(found);
                }
                Err(err) => {
                    chat_sync_idb::log_warn!(chat = %id, %err, "could not read the chat record")
                }
            }
            // After the first paint: the repair's ask, and the worker's report on it, never
            // hold up the frame that shows the cached rows.
            request_animation_frame(move || run_sync(cache, &id, false));
        });
    });

    // Every committed change of this chat (or of the chat list) is read. The first run only
    // subscribes: it runs when the view is built, before the task that opens the list is
    // spawned (from an effect that waits for the list's container), so that task's reads
    // come after it.
    let id = request_id.clone();
    let mut subscribed = false;
    effect(move || {
        let first = !std::mem::replace(&mut subscribed, true);
        let (concerns_us, taken) = changes.with(|c| {
            let ours = c.last.as_ref().filter(|n| n.request_id == id);
            if let (Some(notice), Some(current)) = (ours, list.try_get_value().flatten()) {
                current.note_change(notice);
            }
            (
                c.last.is_none() || ours.is_some(),
                ours.filter(|n| n.revoked).map(|n| n.discarded_outbox),
            )
        });
        if let Some(discarded) = taken {
            revoked.try_set(Some(discarded));
            editing.try_set(None);
        }
        if !first && concerns_us {
            if list.try_get_value().flatten().is_none() {
                // The list is still reading its first screen, which may predate this change:
                // once open, it reads everything again (and the open reads the header too).
                missed.set(true);
                return;
            }
            refresh();
        }
    });

    // The live worker's reports on this chat: progress in the gaps while it fetches, a
    // retry on offer, a failure. A report left from an earlier view of the chat is not this
    // view's.
    let id = request_id.clone();
    let reports = cache.with_value(|c| {
        c.forget_chat_report(&id);
        c.chat_reports
    });
    effect(move || {
        if let Some(report) = reports.with(|reports| reports.get(&id).cloned()) {
            show_report(list, &report, error, incomplete);
        }
    });

    // Esc returns to the list.
    let escape = window_event_listener(leptos::ev::keydown, move |event| {
        if event.key() == "Escape" {
            navigate(route, Route::List);
        }
    });
    // The agent looks at the chat (opened here, or this window focused again): its
    // notifications have been read.
    close_notifications_if_seen(&request_id);
    let id = request_id.clone();
    let focus = window_event_listener(leptos::ev::focus, move |_| close_notifications_if_seen(&id));
    let id = request_id.clone();
    on_cleanup(move || {
        escape.remove();
        focus.remove();
        if let Some(cache) = cache.try_get_value() {
            cache.set_chat_open(&id, false);
            // The reader leaves: the position they reached is written now.
            if let Some(seq) = leaving.try_with_value(|m| m.borrow_mut().flush()).flatten() {
                write_read_mark(cache, id.clone(), seq);
            }
        }
        list.try_set_value(None);
    });

    let id = request_id.clone();
    let resync = Callback::new(move |()| {
        error.try_set(None);
        incomplete.try_set(false);
        run_sync(cache, &id, true);
    });
    let title = move || {
        record.with(|r| {
            r.as_ref()
                .map(|r| r.title.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_default()
        })
    };
    let requester = move || {
        record.with(|r| {
            r.as_ref()
                .and_then(|r| r.requester.as_ref())
                .map(|p| p.name.clone())
                .unwrap_or_default()
        })
    };
    let closed = Signal::derive(move || record.with(|r| r.as_ref().is_some_and(|r| r.closed)));
    let heading_id = format!("chat-title-{}", request_id);
    view! {
        <section
            class="chat"
            data-testid="chat-view"
            data-request-id=request_id.to_string()
            data-ready=move || if ready.get() { "true" } else { "false" }
            aria-labelledby=heading_id.clone()
        >
            <header class="chat__header">
                <button
                    class="chat__back"
                    type="button"
                    aria-label="Back to requests"
                    on:click=move |_| navigate(route, Route::List)
                >
                    "←"
                </button>
                <div class="chat__heading">
                    <h2 id=heading_id.clone()>
                        {requester}
                        {move || closed.get().then(|| view! {
                            <span class="chat__closed" data-testid="chat-closed">"Closed"</span>
                        })}
                    </h2>
                    <p class="chat__title">
                        <span class="chat__request-id">{request_id.to_string()}</span>
                        " · "
                        {title}
                    </p>
                </div>
                <div class="chat__status" aria-live="polite">
                    {move || show_indicator.get().then(|| view! {
                        <span class="sync-indicator" data-testid="sync-indicator" role="status">
                            <span class="sync-indicator__dot" aria-hidden="true"></span>
                            "Syncing"
                        </span>
                    })}
                </div>
                {move || ready.get().then(|| view! {
                    <button
                        class="chat__resync"
                        type="button"
                        data-testid="resync"
                        prop:disabled=fetching
                        on:click=move |_| resync.run(())
                        title="Check this chat against the server and fetch anything missing"
                    >
                        "Resync"
                    </button>
                })}
            </header>
            {move || revoked.get().map(|discarded| view! {
                <div class="chat__problem" role="alert" data-testid="chat-revoked">
                    <span>{revoked_text(discarded)}</span>
                    <button type="button" on:click=move |_| navigate(route, Route::List)>"Back to requests"</button>
                </div>
            })}
            {move || error.get().map(|message| view! {
                <div class="chat__problem" role="alert" data-testid="sync-error">
                    <span>{message}</span>
                    <button type="button" on:click=move |_| resync.run(())>"Retry"</button>
                </div>
            })}
            {move || (incomplete.get() && error.with(Option::is_none) && !fetching.get()).then(|| view! {
                <div class="chat__problem chat__problem--quiet" role="status">
                    <span>"Some messages could not be loaded yet; they will be fetched again."</span>
                    <button type="button" on:click=move |_| resync.run(())>"Retry now"</button>
                </div>
            })}
            <div class="messages" node_ref=scroller tabindex="0" aria-label="Messages"></div>
            {move || new_below.get().then(|| view! {
                <button
                    class="chat__latest"
                    type="button"
                    on:click=move |_| {
                        if let Some(current) = list.try_get_value().flatten() {
                            current.jump_to_latest();
                        }
                    }
                >
                    "New messages ↓"
                </button>
            })}
            <Composer
                cache=cache
                request_id=request_id.clone()
                editing=editing
                closed=Signal::derive(move || closed.get() || revoked.with(Option::is_some))
            />
        </section>
    }
}

/// What the view says when the chat was taken from the agent.
fn revoked_text(discarded: u32) -> String {
    let base = "This request was reassigned to another agent: its messages and files were \
                removed from this device.";
    match discarded {
        0 => base.to_owned(),
        1 => format!("{base} One unsent message was discarded."),
        n => format!("{base} {n} unsent messages were discarded."),
    }
}
