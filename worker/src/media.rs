//! The media cache: `GET /api/media/{id}` served cache-first from the signed-in agent's own
//! Cache Storage cache ([`chat_sync_idb::media::cache_name`]); media bytes are immutable, so a
//! cached copy is always right for the agent who fetched it. Only replies the server marked
//! inert (`nosniff` and a sandboxing `Content-Security-Policy`) are kept, with every header as
//! the server sent it, so a cached file is served exactly as safely as the server serves it.
//!
//! A hit is answered from the cache and counted; a miss goes to the network, and a `200`
//! reply is stored (when it fits the budget) and indexed, evicting least recently used files
//! over the budget (the rules are the core's, the bookkeeping `chat_sync_idb::media`'s).
//!
//! A cached reply is served without asking the server, so whose cache answers is an access
//! decision: only the agent the worker knows is signed in is answered from a cache, their
//! own. Without a known agent, or on a miss, the request goes to the server revalidating
//! whatever the browser's HTTP cache holds (`cache: "no-cache"`), so the server decides who
//! may read the file, even for a copy an earlier release let the HTTP cache keep for a year.
//! Bookkeeping failures are logged and never fail the response.

use chat_sync_idb::media::{self, media_id_of, media_path};
use chat_sync_idb::runtime::Runtime;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::error::WorkerError;
use crate::{session, state};

async fn network(request: &web_sys::Request) -> Result<Response, WorkerError> {
    JsFuture::from(chat_sync_idb::platform::fetch(request).map_err(|e| WorkerError::js(&e))?)
        .await
        .map_err(|e| WorkerError::js(&e))?
        .dyn_into()
        .map_err(|e| WorkerError::js(&e))
}

/// The known agent's state, without asking the server on every image when the worker already
/// knows who is signed in.
async fn user_state() -> Option<Rc<state::UserState>> {
    match session::known_user().await {
        Ok(user) => state::for_user(&user.id).await.ok(),
        Err(error) => {
            chat_sync_idb::log_info!(%error, "media: no signed-in agent; not caching");
            None
        }
    }
}

fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
}

/// Answers a media request `sw.js` routed here.
pub async fn respond(request: web_sys::Request) -> Result<Response, WorkerError> {
    let path = web_sys::Url::new(&request.url())
        .map_err(|e| WorkerError::js(&e))?
        .pathname();
    let Some(media_id) = media_id_of(&path) else {
        return network(&request).await;
    };
    // Partial requests (video seeking) are never answered from the cache, but still go to the
    // server to be checked.
    let ranged = request.headers().has("Range").unwrap_or(false);
    let state = if ranged { None } else { user_state().await };
    let Some(state) = state else {
        return revalidated(&request, None).await;
    };
    let store = runtime(&state).store();
    let key = media_path(&media_id);
    let cache = media::open_cache(store.name()).await?;
    let cached = JsFuture::from(cache.match_with_str(&key))
        .await
        .map_err(|e| WorkerError::js(&e))?;
    if let Ok(response) = cached.dyn_into::<Response>() {
        let bytes = content_length(&response).unwrap_or(0);
        if let Err(error) = media::record_hit(store, &media_id, bytes).await {
            chat_sync_idb::log_warn!(%error, "media: could not count a hit");
        }
        return Ok(response);
    }
    // Named for the agent whose cache it may fill: a session that became another agent's
    // since the worker last asked is refused (401) instead of filling hers with his files.
    let response = revalidated(&request, Some(&state.user_id)).await?;
    if response.status() == 401 {
        chat_sync_idb::log_warn!("media: the session is no longer the known agent's; asking again");
        session::forget().await;
        state::forget();
        return revalidated(&request, None).await;
    }
    if response.status() == 200 && is_inert(&response) {
        match store_copy(&cache, &key, &media_id, &response, runtime(&state)).await {
            Ok(true) => return Ok(response),
            Ok(false) => {}
            Err(error) => {
                chat_sync_idb::log_warn!(%error, media = %media_id, "media: could not cache")
            }
        }
    }
    if let Err(error) = media::record_miss(store).await {
        chat_sync_idb::log_warn!(%error, "media: could not count a miss");
    }
    Ok(response)
}

/// Fetches a media request from the server, revalidating any copy in the browser's HTTP
/// cache: the server answers a `304` only to someone who may read the file. The request is
/// rebuilt from its URL and headers (a navigation's request cannot be copied with options),
/// naming `for_agent` when given (`chat_sync_idb::agent`).
async fn revalidated(
    request: &web_sys::Request,
    for_agent: Option<&str>,
) -> Result<Response, WorkerError> {
    let headers =
        web_sys::Headers::new_with_headers(&request.headers()).map_err(|e| WorkerError::js(&e))?;
    if let Some(agent) = for_agent {
        headers
            .set(chat_sync_idb::agent::EXPECT_USER_HEADER, agent)
            .map_err(|e| WorkerError::js(&e))?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_cache(web_sys::RequestCache::NoCache);
    let fresh = web_sys::Request::new_with_str_and_init(&request.url(), &init)
        .map_err(|e| WorkerError::js(&e))?;
    network(&fresh).await
}

/// Whether the server marked the reply inert (see [`chat_sync::media_cache::safe_to_cache`]):
/// only such a reply is kept, so the cache can never replay a file as a document or script.
fn is_inert(response: &Response) -> bool {
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let inert = chat_sync::media_cache::safe_to_cache(
        header("X-Content-Type-Options").as_deref(),
        header("Content-Security-Policy").as_deref(),
    );
    if !inert {
        chat_sync_idb::log_warn!("media: a reply without nosniff and a sandbox policy; not cached");
    }
    inert
}

fn runtime(state: &state::UserState) -> &Runtime {
    state.driver.runtime()
}

/// Stores a copy of a `200` reply and indexes it; `false` when it is larger than the budget.
async fn store_copy(
    cache: &web_sys::Cache,
    key: &str,
    media_id: &str,
    response: &Response,
    runtime: &Runtime,
) -> Result<bool, WorkerError> {
    let copy = response.clone().map_err(|e| WorkerError::js(&e))?;
    let bytes = match content_length(response) {
        Some(bytes) => bytes,
        None => {
            let measured = response.clone().map_err(|e| WorkerError::js(&e))?;
            let blob: web_sys::Blob =
                JsFuture::from(measured.blob().map_err(|e| WorkerError::js(&e))?)
                    .await
                    .map_err(|e| WorkerError::js(&e))?
                    .unchecked_into();
            blob.size() as u64
        }
    };
    if !media::may_store(runtime.store(), bytes).await? {
        chat_sync_idb::log_info!(media = %media_id, bytes, "media: larger than the whole budget; not cached");
        return Ok(false);
    }
    JsFuture::from(cache.put_with_str(key, &copy))
        .await
        .map_err(|e| WorkerError::js(&e))?;
    let evicted = media::record_stored(runtime.store(), media_id, bytes).await?;
    if !evicted.is_empty() {
        chat_sync_idb::log_info!(
            evicted = evicted.len(),
            "media: least recently used files evicted"
        );
    }
    Ok(true)
}
