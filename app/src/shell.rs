//! The page frame: the session decides between the sign-in page and the desk; the desk opens
//! the agent's cache, shows the chat list and the open chat, and keeps the list in step with
//! the server.
//!
//! This module is the frame and the page reloads; the desk is in `desk`, its notifications
//! button in `notifications`.

use std::cell::Cell;

use chat_sync::protocol::CurrentUser;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::session::{self, Session};

mod desk;
mod notifications;

use desk::Desk;

/// The application.
#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(None::<Session>);
    spawn_local(async move { session.set(Some(session::resume().await)) });
    let signed_in = Callback::new(move |user: CurrentUser| {
        if DESK_SHOWN.with(Cell::get) {
            // A desk already ran in this page (the session ended, or another agent signs
            // in): start afresh, so nothing of the previous desk (its tasks, its signals, its
            // agent's data in memory) survives into the new one.
            reload_page("/");
            return;
        }
        session.try_set(Some(Session::SignedIn {
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

thread_local! {
    /// Whether a desk has been shown in this page.
    static DESK_SHOWN: Cell<bool> = const { Cell::new(false) };
}

/// Loads `path` afresh.
fn reload_page(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
}

/// Reloads the page once the new release controls it.
fn reload_on_controller_change() {
    let Some(container) = chat_sync_idb::service_worker::container() else {
        return;
    };
    let reload = wasm_bindgen::closure::Closure::once_into_js(move || {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    });
    let _ = wasm_bindgen::JsCast::unchecked_ref::<web_sys::EventTarget>(&container)
        .add_event_listener_with_callback(
            "controllerchange",
            wasm_bindgen::JsCast::unchecked_ref(&reload),
        );
}
