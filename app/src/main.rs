//! The agent's front end: the application shell, mounted into the page.
//!
//! The chat list, the chat view and the composer are built on this shell by the UI issue;
//! `main` stays as Leptos CSR examples keep it: panic hook, then mount.

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(Shell);
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
