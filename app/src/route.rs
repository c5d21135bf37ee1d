//! The app's two places, `/` (the chat list) and `/chat/{request_id}` (a chat), read from and
//! written to the address bar with the History API, so a chat opens from its URL, reloads
//! where it was, and the browser's back button returns to the list.

use chat_sync::RequestId;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Where the app is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The chat list only.
    List,
    /// One chat (beside the list on wide windows).
    Chat(RequestId),
}

impl Route {
    /// The route of a path: `/chat/{id}` (percent-decoded) or the list.
    pub fn from_path(path: &str) -> Self {
        match path.strip_prefix("/chat/") {
            Some(id) if !id.is_empty() => {
                let decoded = js_sys::decode_uri_component(id)
                    .ok()
                    .and_then(|s| s.as_string())
                    .unwrap_or_else(|| id.to_owned());
                Route::Chat(RequestId::new(decoded))
            }
            _ => Route::List,
        }
    }

    /// The path of a route.
    pub fn path(&self) -> String {
        match self {
            Route::List => "/".to_owned(),
            Route::Chat(id) => format!(
                "/chat/{}",
                String::from(js_sys::encode_uri_component(id.as_str()))
            ),
        }
    }
}

/// The current route as a signal, kept in step with the address bar.
pub fn use_route() -> RwSignal<Route> {
    if let Some(route) = use_context::<RwSignal<Route>>() {
        return route;
    }
    let route = RwSignal::new(Route::from_path(&current_path()));
    // Back and forward buttons.
    let on_pop = Closure::<dyn FnMut()>::new(move || route.set(Route::from_path(&current_path())));
    if let Some(window) = web_sys::window() {
        let _ =
            window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    }
    // The listener lives as long as the page.
    on_pop.forget();
    provide_context(route);
    route
}

/// Goes to `to`, adding a history entry (nothing when already there).
pub fn navigate(route: RwSignal<Route>, to: Route) {
    if route.get_untracked() == to {
        return;
    }
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&to.path()));
    }
    route.set(to);
}

fn current_path() -> String {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_else(|| "/".to_owned())
}
