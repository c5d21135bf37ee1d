//! Keeping the open chat current: one refresh after committed changes (rows, record,
//! progress, and a sync when messages are missing that nobody fetches), the chat's
//! missing-only sync, and the progress shown in the gaps.

use std::rc::Rc;

use chat_sync::engine::ChatFacts;
use chat_sync::store::Store;
use chat_sync::{ChatRecord, RequestId};
use chat_sync_idb::driver::ChatStatus;
use chat_sync_idb::SyncError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::cache::AppCache;
use crate::message_list::MessageList;

/// Whether a refresh of the view runs, and whether another was asked for meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RefreshTurns {
    Idle,
    Running,
    Again,
}

/// One refresh of the open chat after a committed change: the rows, the chat record, the
/// progress in the gaps, and a sync if the chat now misses messages nobody fetches.
pub(super) async fn refresh_view(
    cache_rc: &Rc<AppCache>,
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    id: &RequestId,
    list: StoredValue<Option<Rc<MessageList>>, LocalStorage>,
    record: RwSignal<Option<ChatRecord>>,
    error: RwSignal<Option<String>>,
    incomplete: RwSignal<bool>,
) {
    // The list reads the chat's record once; the header, the progress and the repair
    // decision below use that same read.
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
    show_progress(list, &cache_rc.driver.status_of(id, found.as_ref()));
    record.try_set(found);
    if missing && !cache_rc.driver.is_fetching(id) {
        run_sync(cache, id.clone(), error, incomplete, false);
    }
}

/// Runs the chat's missing-only sync in the background (a resync skips the grace period).
pub(super) fn run_sync(
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    id: RequestId,
    error: RwSignal<Option<String>>,
    incomplete: RwSignal<bool>,
    manual: bool,
) {
    let Some(cache_rc) = cache.try_get_value() else {
        return;
    };
    spawn_local(async move {
        let result = if manual {
            cache_rc.driver.resync(&id).await
        } else {
            cache_rc.driver.sync(&id).await
        };
        match result {
            Ok(status) => {
                // A chat with nothing cached yet is one older-history row, on screen: the
                // list asks for its newest page like it does whenever the reader reaches
                // older history.
                error.try_set(None);
                incomplete.try_set(status.is_incomplete());
            }
            Err(err) => {
                error.try_set(Some(describe(&err)));
            }
        }
    });
}

/// Shows the repair's progress in the list's gaps while a fetch runs, and clears it after.
pub(super) fn show_progress(
    list: StoredValue<Option<Rc<MessageList>>, LocalStorage>,
    status: &ChatStatus,
) {
    if let Some(current) = list.try_get_value().flatten() {
        let progress = (status.fetching && status.progress.total > 0)
            .then_some((status.progress.done, status.progress.total));
        current.set_progress(progress);
    }
}

/// The view's wording of a failed sync.
pub(super) fn describe(error: &SyncError) -> String {
    format!("Sync failed: {error}")
}
