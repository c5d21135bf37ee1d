//! The live probe: a page that, signed in, opens the user's cache and starts the real
//! [`LiveChannel`] exactly as the app will, and records every status in
//! `window.liveStatuses`. It exists so `tests/tests/live.rs` can run against the real server
//! and browser before the app starts a live channel; delete it once the app does.

use std::rc::Rc;

use chat_sync::planner::PlannerConfig;
use chat_sync::protocol::CurrentUser;
use chat_sync_idb::driver::Driver;
use chat_sync_idb::http::{get_json, HttpHistoryClient};
use chat_sync_idb::live::LiveChannel;
use chat_sync_idb::runtime::Runtime;
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

/// Starts when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    chat_sync_idb::console::init(chat_sync_idb::console::Level::INFO);
    let statuses = Array::new();
    let _ = Reflect::set(&js_sys::global(), &"liveStatuses".into(), &statuses);
    wasm_bindgen_futures::spawn_local(async move {
        let user: CurrentUser = match get_json("/api/auth/me", "current user").await {
            Ok(user) => user,
            Err(error) => {
                statuses.push(&format!("not signed in: {error}").into());
                return;
            }
        };
        let runtime = match Runtime::open(&user.id).await {
            Ok(runtime) => Rc::new(runtime),
            Err(error) => {
                statuses.push(&format!("no cache: {error}").into());
                return;
            }
        };
        let driver = Rc::new(Driver::new(
            runtime,
            HttpHistoryClient::new(""),
            PlannerConfig::default(),
        ));
        let sink = statuses.clone();
        match LiveChannel::start(driver, "", move |status| {
            sink.push(&format!("{status:?}").into());
        }) {
            // The channel lives as long as the page: the browser releases its lock and closes
            // its stream when the tab closes, which is what the hand-over test exercises.
            Ok(channel) => std::mem::forget(channel),
            Err(error) => {
                statuses.push(&format!("no live channel: {error}").into());
            }
        }
    });
}
