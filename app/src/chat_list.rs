//! The chat list: every cached chat with its requester, title, last message, time and unread
//! badge, newest activity first, filtered by a search box, read from IndexedDB and re-read
//! whenever any context commits to the cache.

use std::cell::Cell;
use std::rc::Rc;

use chat_sync::store::Store;
use chat_sync::ChatRecord;
use chat_sync_idb::platform;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::cache::AppCache;
use crate::effect::effect;
use crate::format;
use crate::route::{navigate, Route};

/// One line of the list, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Item {
    request_id: String,
    requester: String,
    title: String,
    preview: String,
    updated_at: i64,
    unread: u32,
    /// The requester, the title and the request id in lower case, one per line, made once
    /// per read of the list so a keystroke in the search box only compares.
    search_key: String,
}

impl Item {
    fn of(record: &ChatRecord) -> Self {
        let request_id = record.request_id.to_string();
        let requester = record
            .requester
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let title = record.title.clone();
        // A query holds no line break (the browser strips them from a one-line input's
        // value), so a match never spans two fields.
        let search_key = platform::lowercase(&format!("{requester}\n{title}\n{request_id}"));
        Self {
            request_id,
            requester,
            title,
            preview: record.last_message.clone().unwrap_or_default(),
            updated_at: record.updated_at,
            unread: record.unread,
            search_key,
        }
    }

    /// Whether the item's requester, title or request id contains `query` (already in lower
    /// case); an empty query matches every item.
    fn matches(&self, query: &str) -> bool {
        query.is_empty() || self.search_key.contains(query)
    }
}

/// The list of chats.
#[component]
pub fn ChatList(
    /// The agent's cache.
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    /// The app's route (the open chat is highlighted).
    route: RwSignal<Route>,
) -> impl IntoView {
    let items = RwSignal::new(Vec::<Item>::new());
    let loaded = RwSignal::new(false);
    let query = RwSignal::new(String::new());
    let changes = cache.with_value(|c| c.changes);
    // One read at a time; a change during a read asks for one more afterwards.
    let reading = Rc::new(Cell::new(false));
    let again = Rc::new(Cell::new(false));
    effect(move || {
        changes.track();
        if reading.replace(true) {
            again.set(true);
            return;
        }
        let (reading, again) = (reading.clone(), again.clone());
        let Some(cache) = cache.try_get_value() else {
            return;
        };
        spawn_local(async move {
            loop {
                match cache.runtime.store().chats().await {
                    Ok(mut records) => {
                        chat_sync::sort::sort_by(&mut records, |a, b| {
                            b.updated_at
                                .cmp(&a.updated_at)
                                .then_with(|| a.request_id.cmp(&b.request_id))
                        });
                        items.try_set(records.iter().map(Item::of).collect());
                        loaded.try_set(true);
                    }
                    Err(error) => chat_sync_idb::log_warn!(%error, "could not read the chat list"),
                }
                if !again.replace(false) {
                    break;
                }
            }
            reading.set(false);
        });
    });
    let shown = move || {
        let query = platform::lowercase(query.get().trim());
        items.with(|items| {
            items
                .iter()
                .filter(|item| item.matches(&query))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let open_id = move || match route.get() {
        Route::Chat(id) => Some(id.to_string()),
        Route::List => None,
    };
    view! {
        <nav class="chats" aria-label="Requests">
            <div class="chats__search">
                <input
                    type="search"
                    placeholder="Search requester or title"
                    aria-label="Search requests"
                    data-testid="chat-search"
                    prop:value=query
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
            </div>
            <ul class="chats__list" role="list" on:keydown=move_focus>
                <For
                    each=shown
                    key=|item| item.clone()
                    children=move |item| {
                        let id = item.request_id.clone();
                        let current = {
                            let id = id.clone();
                            move || open_id().as_deref() == Some(id.as_str())
                        };
                        let target = Route::Chat(chat_sync::RequestId::new(id.clone()));
                        let href = target.path();
                        let now = js_sys::Date::now() as i64;
                        let has_unread = item.unread > 0;
                        let label = if item.unread > 0 {
                            format!("{}, {}, {} unread", item.requester, item.title, item.unread)
                        } else {
                            format!("{}, {}", item.requester, item.title)
                        };
                        view! {
                            <li>
                                <a
                                    class="chat-item"
                                    class:chat-item--unread=has_unread
                                    data-testid="chat-item"
                                    data-request-id=id.clone()
                                    data-unread=item.unread.to_string()
                                    href=href
                                    aria-label=label
                                    aria-current=move || current().then_some("page")
                                    on:click=move |ev: leptos::ev::MouseEvent| {
                                        if ev.ctrl_key() || ev.meta_key() || ev.shift_key() {
                                            return;
                                        }
                                        ev.prevent_default();
                                        navigate(route, target.clone());
                                    }
                                >
                                    <span class="chat-item__top">
                                        <span class="chat-item__requester">{item.requester.clone()}</span>
                                        <time class="chat-item__time">{format::list_time(item.updated_at, now)}</time>
                                    </span>
                                    <span class="chat-item__title">{item.title.clone()}</span>
                                    <span class="chat-item__bottom">
                                        <span class="chat-item__preview">{item.preview.clone()}</span>
                                        {(item.unread > 0).then(|| view! {
                                            <span class="chat-item__badge" aria-hidden="true">{item.unread}</span>
                                        })}
                                    </span>
                                </a>
                            </li>
                        }
                    }
                />
            </ul>
            {move || (loaded.get() && items.with(Vec::is_empty)).then(|| view! {
                <p class="chats__empty">"No requests yet."</p>
            })}
        </nav>
    }
}

/// Up and down arrows move between chats; Enter opens the focused one (it is a link).
fn move_focus(event: leptos::ev::KeyboardEvent) {
    let step: i32 = match event.key().as_str() {
        "ArrowDown" => 1,
        "ArrowUp" => -1,
        _ => return,
    };
    event.prevent_default();
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(links) = document.query_selector_all(".chat-item") else {
        return;
    };
    let active = document.active_element();
    let count = links.length() as i32;
    let current = (0..count).find(|&i| {
        links
            .item(i as u32)
            .zip(active.as_ref())
            .is_some_and(|(node, active)| node.is_same_node(Some(active)))
    });
    let next = match current {
        Some(i) => (i + step).clamp(0, count - 1),
        None => 0,
    };
    if let Some(el) = links
        .item(next as u32)
        .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
