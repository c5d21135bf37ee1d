//! The agent's front end: the application shell, mounted into the page.
//!
//! The chat list, the chat view and the composer are built on this shell by the UI issue;
//! `main` stays as Leptos CSR examples keep it: panic hook, then mount.

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    register_service_worker();
    leptos::mount::mount_to_body(Shell);
}

/// Registers `/sw.js` (scope `/`): the Rust service worker that caches pushed messages with
/// every tab closed. A browser without service workers, or a failed registration, is logged;
/// the app works without it.
fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    let supported = js_sys::Reflect::get(&navigator, &"serviceWorker".into())
        .is_ok_and(|v| !v.is_undefined() && !v.is_null());
    if !supported {
        web_sys::console::warn_1(&"no service worker support: pushes reach open tabs only".into());
        return;
    }
    let registration = navigator.service_worker().register("/sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = wasm_bindgen_futures::JsFuture::from(registration).await {
            web_sys::console::warn_2(&"service worker registration failed:".into(), &error);
        }
    });
}

/// The page frame: header and main area.
#[component]
fn Shell() -> impl IntoView {
    view! {
        <div class="shell">
            <header class="shell__header">
                <h1>"Support desk"</h1>
            </header>
            <main class="shell__main" aria-live="polite">
                <p>"Chats load from this browser's cache first, then sync with the server."</p>
            </main>
        </div>
    }
}
