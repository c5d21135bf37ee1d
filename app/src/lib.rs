//! The agent's front end: the chat list and the chat view, rendered from the signed-in
//! agent's IndexedDB cache at once and kept in step by the sync runtime.
//!
//! - [`shell`]: session → sign-in page or desk; [`session`]: who is signed in.
//! - [`cache`]: the cache, driver and change signals the views share.
//! - [`chat_list`], [`chat_view`]: the two panes; [`message_list`] virtualizes the chat's
//!   rows, [`row_dom`] builds one row as text-only DOM.
//! - [`composer`]: writing, into the outbox first; [`outbox`]: sending it.
//! - [`settings`]: where the cache settings panel goes (the panel is a build of its own).
//! - [`route`]: `/` and `/chat/{request_id}`; [`format`]: times and sizes; [`effect`]: the
//!   one effect type every view uses.
#![warn(missing_docs)]

pub mod cache;
pub mod chat_list;
pub mod chat_view;
pub mod composer;
pub mod effect;
pub mod format;
pub mod message_list;
pub mod outbox;
pub mod route;
pub mod row_dom;
pub mod session;
pub mod settings;
pub mod shell;
pub mod sign_in;

/// Starts the app: logging, service worker, then the UI mounted into `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    chat_sync_idb::console::init(chat_sync_idb::console::Level::Info);
    register_service_worker();
    leptos::mount::mount_to_body(shell::App);
}

/// Registers `/sw.js` (scope `/`): the Rust service worker that caches pushed messages with
/// every tab closed. A browser without service workers, or a failed registration, is logged;
/// the app works without it.
fn register_service_worker() {
    let Some(container) = chat_sync_idb::service_worker::container()
        .and_then(|c| wasm_bindgen::JsCast::dyn_into::<web_sys::ServiceWorkerContainer>(c).ok())
    else {
        chat_sync_idb::log_warn!("no service worker support: pushes reach open tabs only");
        return;
    };
    let registration = container.register("/sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = wasm_bindgen_futures::JsFuture::from(registration).await {
            web_sys::console::warn_2(&"service worker registration failed:".into(), &error);
        }
    });
}
