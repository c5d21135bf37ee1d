//! The cache settings panel, in a wasm build of its own that the app loads only when the
//! agent opens the panel: most visits never do, and its code (the cache's statistics, the
//! media budget, clearing a chat or everything, and what they write) made up about a
//! sixteenth of the app's wasm.
//!
//! The app finds this build through `<meta name="supportdesk-settings-panel">` in
//! `index.html` and loads it with `chat_sync_idb::lazy_module` (wasm-bindgen `--target web`,
//! an ES module), then calls [`mount_settings`] with the element to fill. The panel opens the
//! agent's cache itself (a second connection to the same database, as another tab's would
//! be), announces what it changes on the agent's change channel, which the page's views
//! hear like any other context's, and calls the page back to close, and before deleting
//! everything.
#![warn(missing_docs)]

use std::rc::Rc;

use chat_sync_idb::lazy_module::SETTINGS_PANEL_PROTOCOL;
use chat_sync_idb::runtime::Runtime;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

mod panel;

/// The allocator: talc, as in the app and the workers (see `worker/src/lib.rs`).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Runs once when the module is instantiated: panic hook and console logging.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    chat_sync_idb::console::init(chat_sync_idb::console::Level::Info);
}

/// What the panel works with: the agent's cache, opened by the panel, and the page's call
/// before everything is deleted.
pub(crate) struct PanelCache {
    /// The signed-in agent.
    pub user_id: String,
    /// The agent's cache (its store and its change channel).
    pub runtime: Rc<Runtime>,
    /// The page shuts its own connection to the cache before it is deleted.
    pub before_clear_all: js_sys::Function,
}

/// The panel mounted in the page; the page drops it (`free()`) to take the panel away.
#[wasm_bindgen]
pub struct Panel {
    /// The mounted view: dropping it unmounts the panel.
    _mounted: Box<dyn std::any::Any>,
}

/// Fills `host` with `user_id`'s cache settings. `on_close()` is called when the agent closes
/// the panel; `before_clear_all()` right before this browser's cache of the agent is deleted
/// (the page shuts its own connection; the page reloads after). `protocol` is the page's
/// [`SETTINGS_PANEL_PROTOCOL`]: another version is refused with an error saying so.
#[wasm_bindgen]
pub async fn mount_settings(
    host: web_sys::HtmlElement,
    protocol: u32,
    user_id: String,
    on_close: js_sys::Function,
    before_clear_all: js_sys::Function,
) -> Result<Panel, JsError> {
    if protocol != SETTINGS_PANEL_PROTOCOL {
        return Err(JsError::new(&format!(
            "the page speaks settings panel protocol {protocol}, this panel {SETTINGS_PANEL_PROTOCOL}: reload the page"
        )));
    }
    let runtime = Runtime::open(&user_id)
        .await
        .map_err(|error| JsError::new(&format!("the cache could not be opened: {error}")))?;
    let cache = Rc::new(PanelCache {
        user_id,
        runtime: Rc::new(runtime),
        before_clear_all,
    });
    let close = Callback::new(move |()| {
        if let Err(error) = on_close.call0(&JsValue::UNDEFINED) {
            web_sys::console::warn_2(&"closing the settings panel failed:".into(), &error);
        }
    });
    let mounted = leptos::mount::mount_to(host, move || {
        let cache = StoredValue::new_local(cache);
        view! { <panel::CacheSettings cache=cache on_close=close /> }
    });
    Ok(Panel {
        _mounted: Box::new(mounted),
    })
}
