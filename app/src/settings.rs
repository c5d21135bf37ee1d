//! The cache settings panel's place in the desk. The panel is a wasm build of its own
//! (`settings-panel/`), loaded the first time the agent opens it
//! ([`chat_sync_idb::lazy_module`]) and mounted into this view's element; closing the view
//! takes it away. The page's part is small: where the panel goes, what it shows while it
//! loads or when it cannot, and the two calls back (close, and shut this page's connection to
//! the cache before everything is deleted).

use std::rc::Rc;

use chat_sync_idb::lazy_module::{self, SETTINGS_PANEL, SETTINGS_PANEL_PROTOCOL};
use chat_sync_idb::service_worker::{call_async, property};
use chat_sync_idb::SyncError;
use js_sys::Function;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::cache::AppCache;

/// The panel; `on_close` hides it.
#[component]
pub fn CacheSettings(
    /// The agent's cache.
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    /// Hides the panel.
    on_close: Callback<()>,
) -> impl IntoView {
    let host = NodeRef::<html::Div>::new();
    let loading = RwSignal::new(true);
    let problem = RwSignal::new(None::<String>);
    // The mounted panel (the build's `Panel`), freed when this view goes.
    let panel: StoredValue<Option<JsValue>, LocalStorage> = StoredValue::new_local(None);
    host.on_load(move |element| {
        let Some(cache) = cache.try_get_value() else {
            return;
        };
        spawn_local(async move {
            let mounted = mount(element.into(), cache, on_close).await;
            loading.try_set(false);
            match mounted {
                // Closed while it loaded: this view is gone already.
                Ok(mounted) => {
                    if let Some(unwanted) = panel.try_set_value(Some(mounted)).flatten() {
                        free(&unwanted);
                    }
                }
                Err(error) => {
                    chat_sync_idb::log_warn!(%error, "the settings panel could not be loaded");
                    problem.try_set(Some(format!("The settings could not be loaded: {error}")));
                }
            }
        });
    });
    on_cleanup(move || {
        if let Some(mounted) = panel.try_update_value(Option::take).flatten() {
            free(&mounted);
        }
    });
    view! {
        <div class="settings-host" node_ref=host>
            {move || loading.get().then(|| view! {
                <p class="settings__loading" role="status">"Loading the settings…"</p>
            })}
            {move || problem.get().map(|p| view! {
                <p class="settings__notice" role="alert" data-testid="settings-problem">{p}</p>
            })}
        </div>
    }
}

/// Loads the panel's build (once per page) and mounts the panel into `host`.
async fn mount(
    host: web_sys::HtmlElement,
    cache: Rc<AppCache>,
    on_close: Callback<()>,
) -> Result<JsValue, SyncError> {
    let exports = lazy_module::load(SETTINGS_PANEL).await?;
    let close = Closure::<dyn Fn()>::new(move || on_close.run(())).into_js_value();
    let user_id = JsValue::from_str(&cache.user.id);
    // Before the panel deletes the cache: this page's connection is shut for good, so it
    // neither holds the deletion up nor reopens an empty database.
    let page_cache = Rc::downgrade(&cache);
    let before_clear_all = Closure::<dyn Fn()>::new(move || {
        if let Some(cache) = page_cache.upgrade() {
            cache.runtime.store().set_on_deleted(None);
            cache.runtime.store().shut_down();
        }
    })
    .into_js_value();
    let arguments = [
        host.into(),
        JsValue::from(SETTINGS_PANEL_PROTOCOL),
        user_id,
        close,
        before_clear_all,
    ];
    call_async(&exports, "mount_settings", &arguments).await
}

/// Takes a mounted panel away (wasm-bindgen's `free()` drops it, which unmounts it).
fn free(panel: &JsValue) {
    let free = property(panel, "free").and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(free) = free {
        if let Err(error) = free.call0(panel) {
            web_sys::console::warn_2(
                &"the settings panel could not be taken away:".into(),
                &error,
            );
        }
    }
}
