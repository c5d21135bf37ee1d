//! The media cache's bookkeeping: the LRU index in IndexedDB (`media` store, one
//! [`MediaEntry`] per cached file), the hit and miss counters and the byte budget (in `meta`),
//! and the Cache Storage cache [`MEDIA_CACHE`] that holds the bytes.
//!
//! The service worker serves `GET /api/media/{id}` from the cache and records each answer
//! here ([`record_hit`], [`record_stored`], [`record_miss`]); the settings panel reads
//! [`media_stats`] and sets the budget with [`set_media_budget`]. Which entries go is the
//! core's decision ([`plan_eviction`]): least recently used first, until the total fits.
//! Index and counters change in one transaction, so two contexts recording at once never
//! lose a count; the bytes are deleted from Cache Storage after that commit.

use chat_sync::media_cache::{
    fits, plan_eviction, validate_budget, MediaEntry, MediaStats, DEFAULT_MEDIA_BUDGET,
};
use chat_sync::store::StoreError;
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbObjectStore, IdbTransaction};

use crate::codec::{decode, encode};
use crate::database::Database;
use crate::error::{store_error, SyncError};
use crate::platform;
use crate::schema::{MEDIA, META};
use crate::store::{commit, get, get_all_unbounded, object_store, put};
use crate::IdbStore;

/// The Cache Storage cache of media bytes (one per origin: media ids are unguessable and the
/// server checks access on the first fetch; sign-out deletes it). Versioned: replies cached
/// before the server marked media inert (`nosniff`, a sandboxing CSP, `private`) must never
/// be served again, so the older caches ([`LEGACY_MEDIA_CACHES`]) are deleted, not reused.
pub const MEDIA_CACHE: &str = "supportdesk-media-v2";

/// Media caches of earlier releases, deleted when a worker activates and with the cache.
pub const LEGACY_MEDIA_CACHES: &[&str] = &["supportdesk-media"];
const HITS_KEY: &str = "media_hits";
const MISSES_KEY: &str = "media_misses";
const BUDGET_KEY: &str = "media_budget";

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
    platform::global_property("caches")
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| SyncError::Platform {
            api: "caches",
            cause: crate::DomError::new("NotSupportedError", "no Cache Storage in this context"),
        })
}

/// Opens [`MEDIA_CACHE`].
pub async fn open_cache() -> Result<web_sys::Cache, SyncError> {
    let storage = cache_storage()?;
    JsFuture::from(storage.open(MEDIA_CACHE))
        .await
        .and_then(|c| c.dyn_into())
        .map_err(|e| SyncError::platform("caches.open", &e))
}

/// Deletes evicted files from Cache Storage; a failure is logged (the bytes stay until the
/// next clear, but the index no longer counts them).
async fn delete_bytes(ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let cache = match open_cache().await {
        Ok(cache) => cache,
        Err(error) => {
            tracing::warn!(%error, "could not open the media cache to evict");
            return;
        }
    };
    for id in ids {
        if let Err(error) = JsFuture::from(cache.delete_with_str(&media_path(id))).await {
            let error = crate::DomError::from_js(&error);
            tracing::warn!(media = %id, name = %error.name, message = %error.message, "could not evict media");
        }
    }
}

fn number(value: &JsValue) -> u64 {
    value.as_f64().map_or(0, |n| n.max(0.0) as u64)
}

fn put_meta(
    meta: &IdbObjectStore,
    key: &str,
    value: u64,
    op: &'static str,
) -> Result<(), StoreError> {
    meta.put_with_key(&JsValue::from_f64(value as f64), &JsValue::from_str(key))
        .map(|_| ())
        .map_err(|e| store_error(op, &e))
}

/// The counters, budget and index, read inside `tx`.
async fn read_all(
    tx: &IdbTransaction,
    op: &'static str,
) -> Result<(Vec<MediaEntry>, MediaStats), StoreError> {
    let meta = object_store(tx, META, op)?;
    let hits = get(&meta, &JsValue::from_str(HITS_KEY), op)?;
    let misses = get(&meta, &JsValue::from_str(MISSES_KEY), op)?;
    let budget = get(&meta, &JsValue::from_str(BUDGET_KEY), op)?;
    let all = get_all_unbounded(&object_store(tx, MEDIA, op)?, false, op)?;
    let (hits, misses, budget, all) = (hits.await?, misses.await?, budget.await?, all.await?);
    let entries: Vec<MediaEntry> = all
        .iter()
        .filter_map(|v| match decode::<MediaEntry>(v) {
            Ok(entry) => Some(entry),
            Err(error) => {
                tracing::warn!(%error, "skipping a media index record that fails to decode");
                None
            }
        })
        .collect();
    let stats = MediaStats {
        hits: number(&hits),
        misses: number(&misses),
        entries: entries.len() as u64,
        bytes: entries.iter().map(|e| e.bytes).sum(),
        budget: if budget.is_undefined() {
            DEFAULT_MEDIA_BUDGET
        } else {
            number(&budget)
        },
    };
    Ok((entries, stats))
}

/// A request was answered from the cache: count a hit and mark the file used now. `bytes` is
/// used when the index lacks the file (its record was lost), so it is counted again.
pub async fn record_hit(store: &IdbStore, media_id: &str, bytes: u64) -> Result<(), SyncError> {
    const OP: &str = "media_hit";
    store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MEDIA, META], true, OP)?;
            let meta = object_store(&tx, META, OP)?;
            let media = object_store(&tx, MEDIA, OP)?;
            let hits = get(&meta, &JsValue::from_str(HITS_KEY), OP)?;
            let existing = get(&media, &JsValue::from_str(media_id), OP)?;
            let (hits, existing) = (hits.await?, existing.await?);
            put_meta(&meta, HITS_KEY, number(&hits) + 1, OP)?;
            let bytes = decode::<MediaEntry>(existing).map_or(bytes, |e| e.bytes);
            let entry = MediaEntry {
                media_id: media_id.to_owned(),
                bytes,
                last_used: platform::now_ms(),
            };
            put(&media, &encode(&entry, OP)?, OP)?;
            commit(&tx, OP).await
        })
        .await?;
    Ok(())
}

/// A request went to the network and its reply was not kept (an error status, or a file
/// larger than the whole budget): count a miss.
pub async fn record_miss(store: &IdbStore) -> Result<(), SyncError> {
    const OP: &str = "media_miss";
    store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[META], true, OP)?;
            let meta = object_store(&tx, META, OP)?;
            let misses = get(&meta, &JsValue::from_str(MISSES_KEY), OP)?.await?;
            put_meta(&meta, MISSES_KEY, number(&misses) + 1, OP)?;
            commit(&tx, OP).await
        })
        .await?;
    Ok(())
}

/// Whether a file of `bytes` may be cached under the current budget.
pub async fn may_store(store: &IdbStore, bytes: u64) -> Result<bool, SyncError> {
    Ok(fits(bytes, stats_of(store).await?.budget))
}

/// A request went to the network and its reply is now in [`MEDIA_CACHE`]: count a miss,
/// index the file, and evict least recently used files over the budget (index now, bytes
/// right after). Returns the evicted ids.
pub async fn record_stored(
    store: &IdbStore,
    media_id: &str,
    bytes: u64,
) -> Result<Vec<String>, SyncError> {
    const OP: &str = "media_store";
    let doomed = store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MEDIA, META], true, OP)?;
            let (mut entries, stats) = read_all(&tx, OP).await?;
            let meta = object_store(&tx, META, OP)?;
            let media = object_store(&tx, MEDIA, OP)?;
            put_meta(&meta, MISSES_KEY, stats.misses + 1, OP)?;
            let entry = MediaEntry {
                media_id: media_id.to_owned(),
                bytes,
                last_used: platform::now_ms(),
            };
            put(&media, &encode(&entry, OP)?, OP)?;
            entries.retain(|e| e.media_id != media_id);
            entries.push(entry);
            let doomed = plan_eviction(&entries, stats.budget, Some(media_id));
            delete_index_entries(&media, &doomed, OP)?;
            commit(&tx, OP).await?;
            Ok(doomed)
        })
        .await?;
    delete_bytes(&doomed).await;
    Ok(doomed)
}

/// Deletes the index entries of `doomed` files inside the caller's transaction.
fn delete_index_entries(
    media: &web_sys::IdbObjectStore,
    doomed: &[String],
    op: &'static str,
) -> Result<(), StoreError> {
    for id in doomed {
        media
            .delete(&JsValue::from_str(id))
            .map_err(|e| store_error(op, &e))?;
    }
    Ok(())
}

async fn stats_of(store: &IdbStore) -> Result<MediaStats, SyncError> {
    const OP: &str = "media_stats";
    let (_, stats) = store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MEDIA, META], false, OP)?;
            read_all(&tx, OP).await
        })
        .await?;
    Ok(stats)
}

/// Hits, misses, files and bytes cached, and the budget (for the settings panel).
pub async fn media_stats(store: &IdbStore) -> Result<MediaStats, SyncError> {
    stats_of(store).await
}

/// Sets the media budget (bytes, 1 MB ..= 10 GB; out of range is [`SyncError::Invalid`]) and
/// evicts at once what no longer fits. Returns the stats afterwards.
pub async fn set_media_budget(store: &IdbStore, bytes: u64) -> Result<MediaStats, SyncError> {
    let budget = validate_budget(bytes).map_err(|e| SyncError::Invalid {
        what: "media budget",
        detail: e.to_string(),
    })?;
    const OP: &str = "media_budget";
    let doomed = store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MEDIA, META], true, OP)?;
            let (entries, _) = read_all(&tx, OP).await?;
            put_meta(&object_store(&tx, META, OP)?, BUDGET_KEY, budget, OP)?;
            let media = object_store(&tx, MEDIA, OP)?;
            let doomed = plan_eviction(&entries, budget, None);
            delete_index_entries(&media, &doomed, OP)?;
            commit(&tx, OP).await?;
            Ok(doomed)
        })
        .await?;
    delete_bytes(&doomed).await;
    media_stats(store).await
}

/// Forgets files the server has erased (a redaction) or the agent may no longer see (a
/// revoked chat): their index entries, then their bytes in Cache Storage.
pub async fn forget(store: &IdbStore, ids: &[String]) -> Result<(), SyncError> {
    const OP: &str = "media_forget";
    if ids.is_empty() {
        return Ok(());
    }
    store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MEDIA], true, OP)?;
            delete_index_entries(&object_store(&tx, MEDIA, OP)?, ids, OP)?;
            commit(&tx, OP).await
        })
        .await?;
    let cache = open_cache().await?;
    for id in ids {
        JsFuture::from(cache.delete_with_str(&media_path(id)))
            .await
            .map_err(|e| SyncError::platform("cache.delete", &e))?;
    }
    Ok(())
}

/// Empties the media cache: the bytes and the index (the counters and budget stay).
pub async fn clear_media(store: &IdbStore) -> Result<(), SyncError> {
    const OP: &str = "media_clear";
    store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MEDIA], true, OP)?;
            object_store(&tx, MEDIA, OP)?
                .clear()
                .map_err(|e| store_error(OP, &e))?;
            commit(&tx, OP).await
        })
        .await?;
    delete_cache().await
}

/// Deletes the whole Cache Storage cache [`MEDIA_CACHE`] and any older one (sign-out,
/// clear).
pub async fn delete_cache() -> Result<(), SyncError> {
    delete_legacy_caches().await?;
    let storage = cache_storage()?;
    JsFuture::from(storage.delete(MEDIA_CACHE))
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

/// The ids the cache holds bytes for (for tests and diagnostics).
pub async fn cached_ids() -> Result<Vec<String>, SyncError> {
    let cache = open_cache().await?;
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
