//! Keeping the open chat current: one refresh after committed changes (rows, record, and a
//! sync when messages are missing that nobody fetches), the chat's missing-only sync (run by
//! the tab's live worker), and its reports: the progress in the gaps, a retry on offer, a
//! failure.

use std::rc::Rc;

use chat_sync::engine::ChatFacts;
use chat_sync::live::worker_wire::ChatReport;
use chat_sync::store::Store;
use chat_sync::{ChatRecord, RequestId};
use leptos::prelude::*;

use crate::cache::AppCache;
use crate::message_list::MessageList;

/// Whether a refresh of the view runs, and whether another was asked for meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RefreshTurns {
    Idle,
    Running,
    Again,
}

/// One refresh of the open chat after a committed change: the rows, the chat record, and a
/// sync if the chat now misses messages nobody fetches.
pub(super) async fn refresh_view(
    cache_rc: &Rc<AppCache>,
    id: &RequestId,
    list: StoredValue<Option<Rc<MessageList>>, LocalStorage>,
    record: RwSignal<Option<ChatRecord>>,
) {
    // The list reads the chat's record once; the header and the repair decision below use
    // that same read.
    let found = match list.try_get_value().flatten() {
        Some(current) => {
            match chat_sync_idb::platform::timed("view:refresh", current.refresh()).await {
                Ok(found) => found,
                Err(err) => {
                    chat_sync_idb::log_warn!(chat = %id, %err, "could not refresh the chat view");
                    cache_rc.runtime.store().chat(id).await.ok().flatten()
                }
            }
        }
        None => cache_rc.runtime.store().chat(id).await.ok().flatten(),
    };
    let missing = ChatFacts::of(found.as_ref()).needs_repair();
    record.try_set(found);
    let fetching = cache_rc
        .fetching
        .try_with_untracked(|chats| chats.contains(id))
        .unwrap_or(false);
    if missing && !fetching {
        cache_rc.sync_chat(id, false);
    }
}

/// Runs the chat's missing-only sync (a resync, `manual`, skips the grace period); its end
/// comes back as the chat's report.
pub(super) fn run_sync(
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    id: &RequestId,
    manual: bool,
) {
    cache.try_with_value(|cache| cache.sync_chat(id, manual));
}

/// Sets `signal` only when `value` differs: a report that changes nothing (most do) must not
/// re-run the view's parts that read it.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.try_with_untracked(|current| *current != value) == Some(true) {
        signal.try_set(value);
    }
}

/// Shows the live worker's report on the chat: the repair's progress in the list's gaps
/// while a fetch runs (cleared after), a retry on offer when messages are still missing and
/// nothing fetches them, or the failure.
pub(super) fn show_report(
    list: StoredValue<Option<Rc<MessageList>>, LocalStorage>,
    report: &ChatReport,
    error: RwSignal<Option<String>>,
    incomplete: RwSignal<bool>,
) {
    let progress = match report {
        ChatReport::Status {
            fetching,
            done,
            total,
            incomplete: missing,
        } => {
            set_if_changed(error, None);
            set_if_changed(incomplete, *missing);
            (*fetching && *total > 0).then_some((*done, *total))
        }
        ChatReport::Failed(reason) => {
            set_if_changed(error, Some(format!("Sync failed: {reason}")));
            None
        }
    };
    if let Some(current) = list.try_get_value().flatten() {
        current.set_progress(progress);
    }
}
