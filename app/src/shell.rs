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
    spawn_local(async move {
        match AppCache::open(user).await {
            Ok(cache) => {
                opened.set(Some(cache.clone()));
                refresh(cache, unreachable, on_signed_out).await;
            }
            Err(error) => failure.set(Some(format!(
                "The local cache could not be opened: {error}"
            ))),
        }
    });
    // Back online: the list and every validation run again.
    let online = window_event_listener(leptos::ev::online, move |_| {
        if let Some(cache) = opened.get_untracked() {
            spawn_local(refresh(cache, unreachable, on_signed_out));
        }
    });
    on_cleanup(move || online.remove());

    let sign_out = move |_| {
        let user_id = user_id.clone();
        spawn_local(async move {
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

/// Applies the server's chat list; a 401 leads back to sign-in (keeping the cache), an
/// unreachable server is shown without blocking anything.
async fn refresh(
    cache: Rc<AppCache>,
    unreachable: RwSignal<bool>,
    on_signed_out: Callback<String>,
) {
    match cache.refresh_chat_list().await {
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
