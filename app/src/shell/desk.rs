//! The signed-in agent's desk: opens the agent's cache, starts the live worker (which runs
//! the live channel, every catch-up (the start's, and one on each `online` the page
//! forwards) and the outbox's sending), shows how the catch-ups end (offline banner, back
//! to sign-in), follows other tabs' sign-outs, signs out, offers a waiting update, and lays
//! out the chat list, the open chat and the settings. A page whose live worker cannot run
//! asks the service worker to catch up and send instead.

use std::rc::Rc;

use chat_sync::live::worker_wire::{CatchUpOutcome, FromLiveWorker};
use chat_sync::live::LiveStatus;
use chat_sync::protocol::CurrentUser;
use chat_sync_idb::live_worker::{LiveWorker, LIVE_WORKER_SCRIPT};
use chat_sync_idb::outbox_sender;
use chat_sync_idb::push_subscription;
use chat_sync_idb::runtime::Handed;
use chat_sync_idb::{sign_out, update};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::notifications::{NotificationsButton, PUSH_TIMEOUT_MS};
use super::{reload_on_controller_change, reload_page, DESK_SHOWN};
use crate::cache::AppCache;
use crate::chat_list::ChatList;
use crate::chat_view::ChatView;
use crate::outbox;
use crate::route::{use_route, Route};
use crate::session;
use crate::settings::CacheSettings;

/// The signed-in agent's desk.
#[component]
pub(super) fn Desk(
    user: CurrentUser,
    offline: bool,
    on_signed_out: Callback<String>,
) -> impl IntoView {
    DESK_SHOWN.with(|shown| shown.set(true));
    let route = use_route();
    let opened = RwSignal::new_local(None::<Rc<AppCache>>);
    let failure = RwSignal::new(None::<String>);
    let unreachable = RwSignal::new(offline);
    let name = user.name.clone();
    let user_id = user.id.clone();
    let live_status = RwSignal::new(LiveStatus::Follower);
    let uploads: StoredValue<Option<chat_sync_idb::broadcast::Subscription>, LocalStorage> =
        StoredValue::new_local(None);
    // Stops this tab's live channel and shuts its cache for good, so nothing of this desk
    // reopens (and so re-creates) the database a sign-out is about to delete.
    let stop_desk = move || {
        if let Some(cache) = opened.try_get_untracked().flatten() {
            cache.set_live_worker(None);
            cache.runtime.store().set_on_deleted(None);
            cache.runtime.store().shut_down();
        }
        opened.try_set(None);
    };
    // Whether this tab is the one signing out: the session channel also reaches this tab's
    // own listener, and the signing-out tab keeps its live lock until the session is gone.
    let signing_out = StoredValue::new_local(false);
    // Another tab signed this agent out: the session cookie is gone for every tab of this
    // browser. A notice for another agent comes from a tab of hers left open after this
    // agent signed in: it ends nothing of this desk.
    let desk_user = user.id.clone();
    let session_watch = sign_out::watch_session(move |notice| match notice {
        sign_out::SessionNotice::SignedOut { .. }
            if signing_out.try_get_value().unwrap_or(false) => {}
        sign_out::SessionNotice::SignedOut { user } if user != desk_user => {
            chat_sync_idb::log_info!(%user, "another agent's tab signed her out: not this desk's session");
        }
        sign_out::SessionNotice::SignedOut { .. } => {
            chat_sync_idb::log_info!("signed out in another tab");
            stop_desk();
            on_signed_out.run("You signed out in another tab.".to_owned());
        }
    });
    let session_watch = StoredValue::new_local(match session_watch {
        Ok(subscription) => Some(subscription),
        Err(error) => {
            // The database's own deletion notice still stops this tab (below).
            chat_sync_idb::log_warn!(%error, "no session channel: another tab's sign-out is seen when the cache goes");
            None
        }
    });
    if !offline {
        // The server confirmed this agent: register this browser's push subscription for
        // them if notifications are already allowed, so a stale subscription of whoever was
        // signed in before (which the worker refuses and drops) is replaced.
        spawn_local(async move {
            if let Some(outcome) = push_subscription::rebind_if_permitted(PUSH_TIMEOUT_MS).await {
                chat_sync_idb::log_info!(
                    ?outcome,
                    "push subscription bound to the signed-in agent"
                );
            }
        });
        // The server just confirmed this agent: the service worker keeps it, for pushes that
        // arrive while the server cannot be asked.
        let confirmed = user.clone();
        spawn_local(async move {
            if let Err(error) = chat_sync_idb::service_worker::confirm_session(&confirmed).await {
                chat_sync_idb::log_warn!(%error, "could not tell the service worker who is signed in");
            }
        });
    }
    let slow_open = RwSignal::new(false);
    spawn_local(async move {
        // The cache opens in milliseconds; an open that hangs (the browser may hold the
        // database for a page it froze in its back/forward cache) is said, not left blank.
        chat_sync_idb::platform::sleep(SLOW_OPEN_MS).await;
        if opened.try_get_untracked().flatten().is_none()
            && failure.try_get_untracked().flatten().is_none()
        {
            chat_sync_idb::log_warn!(ms = SLOW_OPEN_MS, "the local cache has not opened yet");
            slow_open.try_set(true);
        }
    });
    spawn_local(async move {
        match AppCache::open(user).await {
            Ok(cache) => {
                // Another context deleted this cache (a sign-out whose notice was missed, or
                // "clear everything" in another tab): start afresh rather than re-create it.
                cache
                    .runtime
                    .store()
                    .set_on_deleted(Some(Rc::new(|| reload_page("/"))));
                opened.try_set(Some(cache.clone()));
                // One tab per browser holds the live stream (a Web Lock elects it), in the
                // tab's live worker; the others, and this page, get its messages through the
                // cache's change channel. The worker also runs this page's catch-ups and sends
                // its outbox.
                let started = LiveWorker::start(
                    LIVE_WORKER_SCRIPT,
                    &cache.user.id,
                    &cache.runtime.open_chats(),
                    move |message| {
                        let status = match message {
                            FromLiveWorker::Status(status) => status,
                            FromLiveWorker::CaughtUp(outcome) => {
                                show_catch_up(outcome, unreachable, on_signed_out);
                                return;
                            }
                            FromLiveWorker::OutboxSignedOut => {
                                spawn_local(async move {
                                    on_signed_out.run(
                                        "Your session ended: sign in again to send.".to_owned(),
                                    )
                                });
                                return;
                            }
                            // What the worker's sync and writes mean for this page's views.
                            FromLiveWorker::Chat { request_id, report } => {
                                if let Some(cache) = opened.try_get_untracked().flatten() {
                                    cache.note_chat_report(request_id, report);
                                }
                                return;
                            }
                            FromLiveWorker::Written(written) => {
                                if let Some(cache) = opened.try_get_untracked().flatten() {
                                    cache
                                        .runtime
                                        .hand_over(&written.request_id, Handed::Written(&written));
                                }
                                return;
                            }
                            FromLiveWorker::Unwritten(request_id) => {
                                if let Some(cache) = opened.try_get_untracked().flatten() {
                                    cache.runtime.hand_over(&request_id, Handed::Unwritten);
                                }
                                return;
                            }
                            // The answers go to their asks (`LiveWorker`), never here.
                            FromLiveWorker::Answer { .. } => return,
                            FromLiveWorker::Failed(reason) => {
                                // Pushes, other tabs and the service worker still fill the
                                // cache. The worker is let go outside its own callback.
                                chat_sync_idb::log_warn!(%reason, "no live channel: pushes, and catch-ups and sends by the service worker");
                                spawn_local(async move {
                                    if let Some(cache) = opened.try_get_untracked().flatten() {
                                        cache.live_worker_failed();
                                    }
                                });
                                return;
                            }
                        };
                        live_status.try_set(status);
                        if status == LiveStatus::Connected {
                            // The stream answered: the server is reachable.
                            unreachable.try_set(false);
                        }
                        if status == LiveStatus::SignedOut {
                            // The server refused the stream's session (signed out in another
                            // browser window, or expired); the cache stays for the agent.
                            spawn_local(async move {
                                on_signed_out.run("Your session ended: sign in again.".to_owned())
                            });
                        }
                    },
                );
                match started {
                    // The chats this tab shows from now on reach the worker too, so its
                    // ingest adds no unread to them either (`AppCache::set_chat_open`).
                    Ok(worker) => {
                        // The server confirmed this agent (not an offline start): what other
                        // agents left in this browser goes, in the worker, unless it holds
                        // unsent work (`chat_sync_idb::leftovers`).
                        if !offline {
                            worker.tell_clear_other_agents();
                        }
                        cache.set_live_worker(Some(worker));
                    }
                    Err(error) => {
                        chat_sync_idb::log_warn!(%error, "no live worker: pushes, and catch-ups and sends by the service worker");
                        cache.live_worker_failed();
                    }
                }
                match outbox::show_upload_progress(cache.runtime.store().name()) {
                    Ok(subscription) => {
                        uploads.try_set_value(Some(subscription));
                    }
                    Err(error) => chat_sync_idb::log_warn!(%error, "no upload progress shown"),
                }
                // Queued messages skip their backoff and go out.
                cache.send_outbox(true);
            }
            Err(error) => {
                failure.try_set(Some(format!(
                    "The local cache could not be opened: {error}"
                )));
            }
        }
    });
    // Back online: the list, and every cached chat's gaps (where Background Sync is missing,
    // as in Firefox, this is what repairs them).
    let online = window_event_listener(leptos::ev::online, move |_| {
        if let Some(cache) = opened.get_untracked() {
            // The live worker fetches what arrived in the chats on screen, then catches up
            // (without one, the service worker catches up).
            cache.catch_up_back_online();
            cache.send_outbox(true);
        }
    });
    on_cleanup(move || {
        online.remove();
        if let Some(cache) = opened.try_get_untracked().flatten() {
            cache.set_live_worker(None);
        }
        session_watch.try_set_value(None);
        uploads.try_set_value(None);
    });

    let on_sign_out = move |_| {
        let user_id = user_id.clone();
        spawn_local(async move {
            let cache = opened.get_untracked();
            if let Some(cache) = &cache {
                // Unsent messages would be deleted with the cache: say so first.
                let unsent = outbox_sender::entries(&cache.runtime)
                    .await
                    .map(|e| e.len())
                    .unwrap_or(0);
                if unsent > 0
                    && !chat_sync_idb::platform::confirm(&format!(
                    "{unsent} message(s) have not been sent yet. Signing out deletes them from \
                     this browser. Sign out anyway?"
                )) {
                    return;
                }
            }
            drop(cache);
            signing_out.try_set_value(true);
            session::forget().await;
            // A shared machine: every tab stops, the server forgets the push subscription
            // and the session (ending its streams), then nothing of this agent's stays in
            // this browser. This tab keeps its live lock until the session is gone, so no
            // other tab takes over the stream meanwhile.
            match sign_out::sign_out(&user_id, "", stop_desk).await {
                Ok(report) => {
                    for problem in &report.problems {
                        chat_sync_idb::log_warn!(%problem, "sign-out left something behind");
                    }
                }
                Err(error) => {
                    chat_sync_idb::log_warn!(%error, "could not delete the cache database")
                }
            }
            // A fresh page: nothing of this agent's stays in memory either.
            reload_page("/");
        });
    };
    // A new release of the app waits until the agent chooses to reload.
    let update_ready = RwSignal::new(false);
    spawn_local(async move {
        if update::update_waiting().await.unwrap_or(false) {
            update_ready.try_set(true);
        }
    });
    let focus = window_event_listener(leptos::ev::focus, move |_| {
        spawn_local(async move {
            if update::check_for_update().await.unwrap_or(false) {
                update_ready.try_set(true);
            }
        });
    });
    on_cleanup(move || focus.remove());
    let apply = move |_| {
        spawn_local(async move {
            reload_on_controller_change();
            if let Err(error) = update::apply_update().await {
                chat_sync_idb::log_warn!(%error, "could not apply the update");
            }
        });
    };
    let show_settings = RwSignal::new(false);
    let chat_open = move || matches!(route.get(), Route::Chat(_));
    view! {
        <div class="desk" class:desk--chat-open=chat_open>
            <header class="desk__header">
                <h1>"Support desk"</h1>
                {move || unreachable.get().then(|| view! {
                    <span class="desk__offline" role="status">"Offline: showing cached chats"</span>
                })}
                {move || matches!(live_status.get(), LiveStatus::Reconnecting { .. }).then(|| view! {
                    <span class="desk__offline" role="status">"Reconnecting…"</span>
                })}
                <NotificationsButton />
                <span class="desk__user">{name}</span>
                <button type="button" class="desk__settings" data-testid="settings"
                    aria-pressed=move || show_settings.get().to_string()
                    on:click=move |_| show_settings.update(|shown| *shown = !*shown)>
                    "Cache"
                </button>
                <button type="button" class="desk__logout" data-testid="logout" on:click=on_sign_out>
                    "Sign out"
                </button>
            </header>
            {move || failure.get().map(|message| view! { <p class="desk__failure" role="alert">{message}</p> })}
            {move || (slow_open.get() && opened.with(Option::is_none) && failure.with(Option::is_none)).then(|| view! {
                <p class="desk__slow" role="status" data-testid="cache-slow">
                    "The local cache is taking long to open: the browser is holding it. Cached chats appear as soon as it opens."
                </p>
            })}
            {move || update_ready.get().then(|| view! {
                <div class="desk__update" role="status">
                    <span>"A new version is ready."</span>
                    <button type="button" data-testid="apply-update" on:click=apply>"Reload"</button>
                </div>
            })}
            {move || opened.get().map(|cache| {
                let cache = StoredValue::new_local(cache);
                view! {
                    <div class="desk__panes">
                        <ChatList cache=cache route=route />
                        <div class="desk__chat">
                            {move || show_settings.get().then(|| view! {
                                <CacheSettings cache=cache on_close=Callback::new(move |()| show_settings.set(false)) />
                            })}
                            {move || match route.get() {
                                _ if show_settings.get() => ().into_any(),
                                Route::Chat(id) => view! { <ChatView cache=cache request_id=id route=route /> }.into_any(),
                                Route::List => view! {
                                    <p class="desk__placeholder">"Choose a request to read it."</p>
                                }.into_any(),
                            }}
                        </div>
                    </div>
                }
            })}
        </div>
    }
}

/// Shows how a catch-up the live worker ran ended: a refused session (401) leads back to
/// sign-in (keeping the cache), an unreachable server is shown without blocking anything.
fn show_catch_up(
    outcome: CatchUpOutcome,
    unreachable: RwSignal<bool>,
    on_signed_out: Callback<String>,
) {
    match outcome {
        CatchUpOutcome::Done => {
            unreachable.try_set(false);
        }
        // Outside the worker's callback: signing out lets the worker go.
        CatchUpOutcome::SignedOut => spawn_local(async move {
            on_signed_out.run("Your session ended: sign in again.".to_owned())
        }),
        CatchUpOutcome::Unreachable(reason) => {
            chat_sync_idb::log_warn!(%reason, "could not catch up");
            unreachable.try_set(true);
        }
    }
}

/// After how long an unopened cache is said to be slow.
const SLOW_OPEN_MS: i64 = 5_000;
