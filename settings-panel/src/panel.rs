//! The panel: what this browser holds for the agent (messages, chats, bytes, media, the
//! outbox), the browser's quota and whether storage is persistent; the media budget; clearing
//! one chat or everything (with confirmation).

use std::rc::Rc;

use chat_sync::labels;
use chat_sync::media_cache::MediaStats;
use chat_sync::outbox::{OutboxEntry, OutboxState};
use chat_sync::store::{Store, Usage};
use chat_sync::ChatRecord;
use chat_sync_idb::platform::confirm;
use chat_sync_idb::{media, outbox_sender};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::PanelCache;

/// Everything the panel shows, read at once.
#[derive(Clone, Debug, Default, PartialEq)]
struct Snapshot {
    usage: Usage,
    media: MediaStats,
    quota: Option<(f64, f64)>,
    persisted: Option<bool>,
    chats: Vec<(String, String, u64, u64)>,
    outbox: Vec<(String, String, String)>,
}

/// The panel; `on_close` hides it.
#[component]
pub fn CacheSettings(
    /// The agent's cache.
    cache: StoredValue<Rc<PanelCache>, LocalStorage>,
    /// Hides the panel.
    on_close: Callback<()>,
) -> impl IntoView {
    let snapshot = RwSignal::new(None::<Snapshot>);
    let notice = RwSignal::new(None::<String>);
    let budget_mb = RwSignal::new(String::new());
    let reload = move || {
        let Some(cache) = cache.try_get_value() else {
            return;
        };
        spawn_local(async move {
            match read(&cache).await {
                Ok(read) => {
                    budget_mb.try_set((read.media.budget / 1_000_000).to_string());
                    snapshot.try_set(Some(read));
                }
                Err(error) => {
                    notice.try_set(Some(format!("Could not read the cache: {error}")));
                }
            }
        });
    };
    reload();
    let set_budget = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(cache) = cache.try_get_value() else {
            return;
        };
        let Ok(mb) = budget_mb.get_untracked().trim().parse::<u64>() else {
            notice.set(Some(
                "The media budget is a whole number of megabytes.".to_owned(),
            ));
            return;
        };
        spawn_local(async move {
            match media::set_media_budget(cache.runtime.store(), mb * 1_000_000).await {
                Ok(_) => {
                    notice.try_set(Some(format!("Media budget set to {mb} MB.")));
                    reload();
                }
                Err(error) => {
                    notice.try_set(Some(format!("Budget refused: {error}")));
                }
            }
        });
    };
    let clear_chat = move |id: String| {
        let Some(cache) = cache.try_get_value() else {
            return;
        };
        spawn_local(async move {
            let request_id = chat_sync::RequestId::new(id.clone());
            let store = cache.runtime.store();
            // What the chat list said of it, so it stays listed once its cache is gone.
            let listed = match store.chat(&request_id).await {
                Ok(record) => record.as_ref().and_then(chat_sync::ingest::listed_summary),
                Err(error) => {
                    chat_sync_idb::log_warn!(chat = %request_id, %error, "a chat cleared now is listed again by the next chat list only");
                    None
                }
            };
            match store.clear_chat(&request_id).await {
                Ok(()) => {
                    if let Some(summary) = listed {
                        let now = chat_sync_idb::platform::now_ms();
                        if let Err(error) = store.apply_summaries(&[summary], now).await {
                            chat_sync_idb::log_warn!(chat = %request_id, %error, "a cleared chat is listed again by the next chat list only");
                        }
                    }
                    // Every tab's list and view of it re-read it.
                    cache.runtime.announce_summary(&request_id);
                    notice.try_set(Some(format!("{id} cleared; it loads again when opened.")));
                    reload();
                }
                Err(error) => {
                    notice.try_set(Some(format!("Could not clear {id}: {error}")));
                }
            }
        });
    };
    let clear_all = move |_| {
        let Some(cache) = cache.try_get_value() else {
            return;
        };
        if !confirm("Delete every cached message and file of this browser? Unsent messages are deleted too.") {
            return;
        }
        spawn_local(async move {
            let user = cache.user_id.clone();
            let database = cache.runtime.store().name().to_owned();
            // The page's connection first (it would otherwise hold the deletion up and take
            // it for another context's), then the panel's own.
            if let Err(error) = cache.before_clear_all.call0(&JsValue::UNDEFINED) {
                web_sys::console::warn_2(&"the page could not shut its cache:".into(), &error);
            }
            cache.runtime.store().shut_down();
            drop(cache);
            if let Err(error) = media::delete_cache(&database).await {
                chat_sync_idb::log_warn!(%error, "could not delete the media cache");
            }
            if let Err(error) = chat_sync_idb::wipe(&user).await {
                chat_sync_idb::log_warn!(%error, "could not delete the cache database");
            }
            // A fresh start opens an empty cache and fetches the chat list again.
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        });
    };
    view! {
        <section class="settings" data-testid="cache-settings" aria-labelledby="settings-title">
            <header class="settings__header">
                <h2 id="settings-title">"Cache on this computer"</h2>
                <button type="button" on:click=move |_| on_close.run(())>"Close"</button>
            </header>
            {move || notice.get().map(|n| view! { <p class="settings__notice" role="status">{n}</p> })}
            {move || snapshot.get().map(|s| {
                let hit_rate = s.media.hit_rate().map_or("no requests yet".to_owned(), labels::percent);
                let quota = s.quota.map_or("unknown".to_owned(), |(used, total)| {
                    format!("{} of {}", labels::bytes(used as u64), labels::bytes(total as u64))
                });
                let persisted = match s.persisted {
                    Some(true) => "yes: the browser will not evict it",
                    Some(false) => "no: the browser may evict it under pressure",
                    None => "unknown",
                };
                view! {
                    <dl class="settings__facts">
                        <dt>"Messages"</dt><dd data-testid="settings-messages">{s.usage.messages.to_string()}</dd>
                        <dt>"Chats"</dt><dd data-testid="settings-chats">{s.usage.chats.to_string()}</dd>
                        <dt>"Message storage"</dt><dd>{labels::bytes(s.usage.message_bytes)}</dd>
                        <dt>"Media"</dt><dd data-testid="settings-media">{format!("{} files, {} of {} (hit rate {hit_rate})", s.media.entries, labels::bytes(s.media.bytes), labels::bytes(s.media.budget))}</dd>
                        <dt>"Browser quota"</dt><dd>{quota}</dd>
                        <dt>"Persistent storage"</dt><dd>{persisted}</dd>
                        <dt>"Unsent messages"</dt><dd data-testid="settings-outbox">{s.usage.outbox_entries.to_string()}</dd>
                    </dl>
                    <h3>"Chats"</h3>
                    <ul class="settings__chats">
                        {s.chats.into_iter().map(|(id, title, count, bytes)| {
                            let target = id.clone();
                            view! {
                                <li>
                                    <span>{format!("{id} · {title} · {count} messages, {}", labels::bytes(bytes))}</span>
                                    <button type="button" data-testid="clear-chat" data-request-id=id.clone()
                                        on:click=move |_| clear_chat(target.clone())>"Clear"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <h3>"Outbox"</h3>
                    {if s.outbox.is_empty() {
                        view! { <p>"Nothing waiting to be sent."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="settings__outbox">
                                {s.outbox.into_iter().map(|(chat, state, body)| view! {
                                    <li>{format!("{chat} · {state} · {body}")}</li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                }
            })}
            <form class="settings__budget" on:submit=set_budget>
                <label>
                    "Media budget (MB) "
                    <input type="number" min="1" data-testid="media-budget" prop:value=budget_mb
                        on:input=move |ev| budget_mb.set(event_target_value(&ev)) />
                </label>
                <button type="submit">"Save"</button>
            </form>
            <button type="button" class="settings__danger" data-testid="clear-all" on:click=clear_all>
                "Clear everything"
            </button>
        </section>
    }
}

async fn read(cache: &PanelCache) -> Result<Snapshot, chat_sync_idb::SyncError> {
    let store = cache.runtime.store();
    let usage = store.usage().await?;
    let media = media::media_stats(cache.runtime.store()).await?;
    let mut chats: Vec<ChatRecord> = store.chats().await?;
    chat_sync::sort::sort_by(&mut chats, |a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.request_id.cmp(&b.request_id))
    });
    let outbox: Vec<OutboxEntry> = outbox_sender::entries(&cache.runtime).await?;
    Ok(Snapshot {
        usage,
        media,
        quota: estimate().await,
        persisted: persisted().await,
        chats: chats
            .into_iter()
            .filter(|c| c.message_count > 0)
            .map(|c| (c.request_id.to_string(), c.title, c.message_count, c.bytes))
            .collect(),
        outbox: outbox
            .into_iter()
            .map(|e| {
                let state = match e.state {
                    OutboxState::Queued | OutboxState::Sending => "waiting".to_owned(),
                    OutboxState::Failed { reason } => format!("failed: {reason}"),
                };
                (
                    e.request_id.to_string(),
                    state,
                    e.body.chars().take(60).collect(),
                )
            })
            .collect(),
    })
}

fn storage_manager() -> Option<JsValue> {
    chat_sync_idb::platform::navigator_property("storage")
}

async fn call_storage(method: &str) -> Option<JsValue> {
    let storage = storage_manager()?;
    let function: js_sys::Function = js_sys::Reflect::get(&storage, &method.into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = function.call0(&storage).ok()?.dyn_into().ok()?;
    JsFuture::from(promise).await.ok()
}

/// `navigator.storage.estimate()`: (usage, quota) in bytes.
async fn estimate() -> Option<(f64, f64)> {
    let estimate = call_storage("estimate").await?;
    let get = |key: &str| js_sys::Reflect::get(&estimate, &key.into()).ok()?.as_f64();
    Some((get("usage")?, get("quota")?))
}

/// `navigator.storage.persisted()`.
async fn persisted() -> Option<bool> {
    call_storage("persisted").await?.as_bool()
}
