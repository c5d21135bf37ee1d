//! The page frame: the session decides between the sign-in page and the desk; the desk opens
//! the agent's cache, shows the chat list and the open chat, and keeps the list in step with
//! the server.

use std::rc::Rc;

use chat_sync::protocol::CurrentUser;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::cache::AppCache;
use crate::chat_list::ChatList;
use crate::chat_view::ChatView;
use crate::route::{use_route, Route};
use crate::session::{self, Session};
use chat_sync_idb::live::{LiveChannel, LiveStatus};
use chat_sync_idb::push_subscription::{subscribe_push, PushSubscribeOutcome};

/// The application.
#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(None::<Session>);
    spawn_local(async move { session.set(Some(session::resume().await)) });
    let signed_in = Callback::new(move |user: CurrentUser| {
        session.set(Some(Session::SignedIn {
            user,
            offline: false,
        }));
    });
    let signed_out = Callback::new(move |reason: String| {
        session.set(Some(Session::SignedOut { reason }));
    });
    move || match session.get() {
        // The session is known within a local round trip; the page stays empty meanwhile
        // rather than flashing a loader.
        None => view! { <div class="boot" aria-busy="true"></div> }.into_any(),
        Some(Session::SignedOut { reason }) => {
            view! { <crate::sign_in::SignIn reason=reason on_signed_in=signed_in /> }.into_any()
        }
        Some(Session::SignedIn { user, offline }) => {
            view! { <Desk user=user offline=offline on_signed_out=signed_out /> }.into_any()
        }
    }
}

/// The signed-in agent's desk.
#[component]
fn Desk(user: CurrentUser, offline: bool, on_signed_out: Callback<String>) -> impl IntoView {
    let route = use_route();
    let opened = RwSignal::new_local(None::<Rc<AppCache>>);
    let failure = RwSignal::new(None::<String>);
    let unreachable = RwSignal::new(offline);
    let name = user.name.clone();
    let user_id = user.id.clone();
    let live_status = RwSignal::new(LiveStatus::Follower);
    let live: StoredValue<Option<LiveChannel>, LocalStorage> = StoredValue::new_local(None);
    spawn_local(async move {
        match AppCache::open(user).await {
            Ok(cache) => {
                opened.set(Some(cache.clone()));
                // One tab per browser holds the live stream (a Web Lock elects it); the
                // others get its messages through the cache's change channel.
                match LiveChannel::start(cache.driver.clone(), "", move |status| {
                    live_status.set(status)
                }) {
                    Ok(channel) => live.set_value(Some(channel)),
                    Err(error) => {
                        tracing::warn!(%error, "no live channel: pushes and catch-up only")
                    }
                }
                refresh(cache, unreachable, on_signed_out).await;
            }
            Err(error) => failure.set(Some(format!(
                "The local cache could not be opened: {error}"
            ))),
        }
    });
    // Back online: the list, and every cached chat's gaps (where Background Sync is missing,
    // as in Firefox, this is what repairs them).
    let online = window_event_listener(leptos::ev::online, move |_| {
        if let Some(cache) = opened.get_untracked() {
            spawn_local(refresh(cache, unreachable, on_signed_out));
        }
    });
    on_cleanup(move || {
        online.remove();
        live.try_set_value(None);
    });

    let sign_out = move |_| {
        let user_id = user_id.clone();
        spawn_local(async move {
            live.set_value(None);
            if let Some(cache) = opened.get_untracked() {
                cache.runtime.store().close();
            }
            opened.set(None);
            if let Err(error) = session::sign_out().await {
                tracing::warn!(%error, "the server did not confirm the sign-out");
            }
            // A shared machine: the next person sees nothing of this agent's.
            if let Err(error) = chat_sync_idb::wipe(&user_id).await {
                tracing::warn!(%error, "could not delete the cache database");
            }
            on_signed_out.run(String::new());
        });
    };
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
                <button type="button" class="desk__logout" data-testid="logout" on:click=sign_out>
                    "Sign out"
                </button>
            </header>
            {move || failure.get().map(|message| view! { <p class="desk__failure" role="alert">{message}</p> })}
            {move || opened.get().map(|cache| {
                let cache = StoredValue::new_local(cache);
                view! {
                    <div class="desk__panes">
                        <ChatList cache=cache route=route />
                        <div class="desk__chat">
                            {move || match route.get() {
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

/// Push notifications, asked for on a click (browsers allow the prompt only on a gesture).
/// Where push cannot work (no push service, permission refused, no answer), it says so and
/// the app relies on the live channel and catch-up.
#[component]
fn NotificationsButton() -> impl IntoView {
    let state = RwSignal::new(None::<PushSubscribeOutcome>);
    let busy = RwSignal::new(false);
    let enable = move |_| {
        busy.set(true);
        spawn_local(async move {
            let outcome = subscribe_push("", PUSH_TIMEOUT_MS).await;
            if let PushSubscribeOutcome::Failed(reason) = &outcome {
                tracing::warn!(%reason, "push subscription failed");
            }
            state.set(Some(outcome));
            busy.set(false);
        });
    };
    move || {
        match state.get() {
        None => view! {
            <button type="button" class="desk__notify" data-testid="enable-push" on:click=enable prop:disabled=busy>
                "Enable notifications"
            </button>
        }
        .into_any(),
        Some(outcome) => {
            let text = match outcome {
                PushSubscribeOutcome::Subscribed => "Notifications on",
                PushSubscribeOutcome::Denied => "Notifications blocked: live updates only",
                PushSubscribeOutcome::Unsupported
                | PushSubscribeOutcome::TimedOut
                | PushSubscribeOutcome::Failed(_) => "Push unavailable here: live updates only",
            };
            view! { <span class="desk__offline" role="status" data-testid="push-status">{text}</span> }
                .into_any()
        }
    }
    }
}

/// How long the browser may take to answer a push subscription (here, without a push
/// service, it never does).
const PUSH_TIMEOUT_MS: i32 = 8_000;

/// Applies the server's chat list and repairs the gaps of every cached chat; a 401 leads back
/// to sign-in (keeping the cache), an unreachable server is shown without blocking anything.
async fn refresh(
    cache: Rc<AppCache>,
    unreachable: RwSignal<bool>,
    on_signed_out: Callback<String>,
) {
    match cache.catch_up().await {
        Ok(_) => unreachable.set(false),
        Err(chat_sync_idb::SyncError::Fetch(chat_sync_idb::FetchError::Refused {
            status: 401,
            ..
        })) => on_signed_out.run("Your session ended: sign in again.".to_owned()),
        Err(error) => {
            tracing::warn!(%error, "could not fetch the chat list");
            unreachable.set(true);
        }
    }
}
