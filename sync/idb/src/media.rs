//! The media cache: a Cache Storage cache per agent ([`cache_name`]) that holds the bytes, beside the
//! LRU index, counters and budget the store keeps (the [`Store`] trait's media methods, in
//! IndexedDB for [`IdbStore`]).
//!
//! The service worker serves `GET /api/media/{id}` from the cache and records each answer
//! here ([`record_hit`], [`record_stored`], [`record_miss`]); the settings panel reads
//! [`media_stats`] and sets the budget with [`set_media_budget`]. Which entries go is the
//! core's decision ([`chat_sync::media_cache::plan_eviction`]): least recently used first, until the total fits.
//! The store changes index and counters in one transaction, so two contexts recording at
//! once never lose a count; the bytes are deleted from Cache Storage after that commit.

use chat_sync::media_cache::{fits, validate_budget, MediaStats};
use chat_sync::store::Store;
use js_sys::Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::SyncError;
use crate::platform;
use crate::IdbStore;

/// The prefix of every media cache's name: [`cache_name`] appends the name of the database
/// that holds its index (for an agent, `database::database_name(user_id)`).
///
/// One cache per agent, because a cached reply is served without asking the server: a
/// single cache for the origin (as `supportdesk-media-v2` was) answered whoever was signed in
/// with files only the agent who fetched them may read, and even with nobody signed in.
pub const MEDIA_CACHE_PREFIX: &str = "supportdesk-media-v3:";

/// Media caches of earlier releases, deleted when a worker activates and with the cache:
/// never reused, since replies cached before the server marked media inert (`nosniff`, a
/// sandboxing CSP, `private`) must never be served again, and the origin-wide
/// `supportdesk-media-v2` holds files of whichever agents used this browser.
pub const LEGACY_MEDIA_CACHES: &[&str] = &["supportdesk-media", "supportdesk-media-v2"];

/// The Cache Storage cache holding the media bytes indexed in the database `database`.
pub fn cache_name(database: &str) -> String {
    format!("{MEDIA_CACHE_PREFIX}{database}")
}

/// The cache key of a media file: its same-origin path.
pub fn media_path(media_id: &str) -> String {
    format!(
        "/api/media/{}",
        String::from(js_sys::encode_uri_component(media_id))
    )
}

/// The media id of a `/api/media/{id}` path, `None` for any other path.
pub fn media_id_of(path: &str) -> Option<String> {
    let id = path.strip_prefix("/api/media/")?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    js_sys::decode_uri_component(id)
        .ok()
        .and_then(|s| s.as_string())
}

/// The context's `caches` (window, worker or service worker).
pub fn cache_storage() -> Result<web_sys::CacheStorage, SyncError> {
    platform::cache_storage().ok_or_else(|| SyncError::Platform {
        api: "caches",
        cause: crate::DomError::new("NotSupportedError", "no Cache Storage in this context"),
    })
}

/// Opens the media cache of the database `database` ([`cache_name`]).
pub async fn open_cache(database: &str) -> Result<web_sys::Cache, SyncError> {
    let storage = cache_storage()?;
    JsFuture::from(storage.open(&cache_name(database)))
        .await
        .and_then(|c| c.dyn_into())
        .map_err(|e| SyncError::platform("caches.open", &e))
}

/// Deletes evicted files from Cache Storage; a failure is logged (the bytes stay until the
/// next clear, but the index no longer counts them).
async fn delete_bytes(database: &str, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let cache = match open_cache(database).await {
        Ok(cache) => cache,
        Err(error) => {
            crate::log_warn!(%error, "could not open the media cache to evict");
            return;
        }
    };
    for id in ids {
        if let Err(error) = JsFuture::from(cache.delete_with_str(&media_path(id))).await {
            let error = crate::DomError::from_js(&error);
            crate::log_warn!(media = %id, name = %error.name, message = %error.message, "could not evict media");
        }
    }
}

/// A request was answered from the cache: count a hit and mark the file used now. `bytes` is
/// used when the index lacks the file (its record was lost), so it is counted again.
pub async fn record_hit(store: &IdbStore, media_id: &str, bytes: u64) -> Result<(), SyncError> {
    Ok(store.media_hit(media_id, bytes, platform::now_ms()).await?)
}

/// A request went to the network and its reply was not kept (an error status, or a file
/// larger than the whole budget): count a miss.
pub async fn record_miss(store: &IdbStore) -> Result<(), SyncError> {
    Ok(store.media_miss().await?)
}

/// Whether a file of `bytes` may be cached under the current budget.
pub async fn may_store(store: &IdbStore, bytes: u64) -> Result<bool, SyncError> {
    Ok(fits(bytes, store.media_stats().await?.budget))
}

/// A request went to the network and its reply is now in the store's media cache: count a miss,
/// index the file, and evict least recently used files over the budget (index now, bytes
/// right after). Returns the evicted ids.
pub async fn record_stored(
    store: &IdbStore,
    media_id: &str,
    bytes: u64,
) -> Result<Vec<String>, SyncError> {
    let doomed = store
        .media_stored(media_id, bytes, platform::now_ms())
        .await?;
    delete_bytes(store.name(), &doomed).await;
    Ok(doomed)
}

/// Hits, misses, files and bytes cached, and the budget (for the settings panel).
pub async fn media_stats(store: &IdbStore) -> Result<MediaStats, SyncError> {
    Ok(store.media_stats().await?)
}

/// Sets the media budget (bytes, 1 MB ..= 10 GB; out of range is [`SyncError::Invalid`]) and
/// evicts at once what no longer fits. Returns the stats afterwards.
pub async fn set_media_budget(store: &IdbStore, bytes: u64) -> Result<MediaStats, SyncError> {
    let budget = validate_budget(bytes).map_err(|e| SyncError::Invalid {
        what: "media budget",
        detail: e.to_string(),
    })?;
    let doomed = store.media_set_budget(budget).await?;
    delete_bytes(store.name(), &doomed).await;
    media_stats(store).await
}

/// Forgets files the server has erased (a redaction) or the agent may no longer see (a
/// revoked chat): their index entries, then their bytes in Cache Storage.
pub async fn forget(store: &IdbStore, ids: &[String]) -> Result<(), SyncError> {
    if ids.is_empty() {
        return Ok(());
    }
    store.media_forget(ids).await?;
    let cache = open_cache(store.name()).await?;
    for id in ids {
        JsFuture::from(cache.delete_with_str(&media_path(id)))
            .await
            .map_err(|e| SyncError::platform("cache.delete", &e))?;
    }
    Ok(())
}

/// Empties the media cache: the bytes and the index (the counters and budget stay).
pub async fn clear_media(store: &IdbStore) -> Result<(), SyncError> {
    store.media_clear().await?;
    delete_cache(store.name()).await
}

/// Deletes the whole media cache of the database `database` and every older shared one
/// (sign-out, clear).
pub async fn delete_cache(database: &str) -> Result<(), SyncError> {
    delete_legacy_caches().await?;
    let storage = cache_storage()?;
    JsFuture::from(storage.delete(&cache_name(database)))
        .await
        .map_err(|e| SyncError::platform("caches.delete", &e))?;
    Ok(())
}

/// Deletes the media caches of earlier releases ([`LEGACY_MEDIA_CACHES`]).
pub async fn delete_legacy_caches() -> Result<(), SyncError> {
    let storage = cache_storage()?;
    for name in LEGACY_MEDIA_CACHES {
        JsFuture::from(storage.delete(name))
            .await
            .map_err(|e| SyncError::platform("caches.delete", &e))?;
    }
    Ok(())
}

/// The ids the media cache of the database `database` holds bytes for (for tests and
/// diagnostics).
pub async fn cached_ids(database: &str) -> Result<Vec<String>, SyncError> {
    let cache = open_cache(database).await?;
    let keys = JsFuture::from(cache.keys())
        .await
        .map_err(|e| SyncError::platform("cache.keys", &e))?;
    Ok(Array::from(&keys)
        .iter()
        .filter_map(|r| r.dyn_into::<web_sys::Request>().ok())
        .filter_map(|r| {
            let url = web_sys::Url::new(&r.url()).ok()?;
            media_id_of(&url.pathname())
        })
        .collect())
}
