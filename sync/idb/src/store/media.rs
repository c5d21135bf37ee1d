//! The media index in IndexedDB: one [`MediaEntry`] per cached file in the `media` store,
//! the hit and miss counters and the budget in `meta`.
//!
//! These are the [`Store`](chat_sync::store::Store) trait's media methods for
//! [`IdbStore`]; the rules are the core's ([`MediaIndex`], [`chat_sync::media_cache::plan_eviction`]). Index and
//! counters change in one transaction, so two contexts recording at once never lose a
//! count. The bytes live in Cache Storage, which `crate::media` handles.

use chat_sync::media_cache::{hit_entry, MediaEntry, MediaIndex, MediaStats};
use chat_sync::store::StoreError;
use chat_sync::Millis;
use wasm_bindgen::JsValue;
use web_sys::{IdbObjectStore, IdbTransaction};

use super::IdbStore;
use crate::codec::{decode, encode};
use crate::database::{Access, Database};
use crate::error::store_error;
use crate::request::{commit, get, get_all_unbounded, object_store, put};
use crate::schema::{MEDIA, META};

const HITS_KEY: &str = "media_hits";
const MISSES_KEY: &str = "media_misses";
const BUDGET_KEY: &str = "media_budget";

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

/// The whole index, read inside `tx`.
async fn read_index(tx: &IdbTransaction, op: &'static str) -> Result<MediaIndex, StoreError> {
    let meta = object_store(tx, META, op)?;
    let hits = get(&meta, &JsValue::from_str(HITS_KEY), op)?;
    let misses = get(&meta, &JsValue::from_str(MISSES_KEY), op)?;
    let budget = get(&meta, &JsValue::from_str(BUDGET_KEY), op)?;
    let all = get_all_unbounded(&object_store(tx, MEDIA, op)?, false, op)?;
    let (hits, misses, budget, all) = (hits.await?, misses.await?, budget.await?, all.await?);
    let entries = all
        .iter()
        .filter_map(|v| match decode::<MediaEntry>(v) {
            Ok(entry) => Some(entry),
            Err(error) => {
                crate::log_warn!(%error, "skipping a media index record that fails to decode");
                None
            }
        })
        .collect();
    Ok(MediaIndex {
        entries,
        hits: number(&hits),
        misses: number(&misses),
        budget: (!budget.is_undefined()).then(|| number(&budget)),
    })
}

/// Deletes the index entries of `doomed` files inside the caller's transaction.
fn delete_entries(
    media: &IdbObjectStore,
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

impl IdbStore {
    pub(super) async fn media_index_stats(&self) -> Result<MediaStats, StoreError> {
        const OP: &str = "media_stats";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[MEDIA, META], Access::Read, OP)?;
                Ok(read_index(&tx, OP).await?.stats())
            })
            .await
    }

    /// A hit touches the counter and the one entry, not the whole index: serving a cached
    /// file stays cheap however many files are cached.
    pub(super) async fn media_index_hit(
        &self,
        media_id: &str,
        bytes: u64,
        now: Millis,
    ) -> Result<(), StoreError> {
        const OP: &str = "media_hit";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[MEDIA, META], Access::Write, OP)?;
                let meta = object_store(&tx, META, OP)?;
                let media = object_store(&tx, MEDIA, OP)?;
                let hits = get(&meta, &JsValue::from_str(HITS_KEY), OP)?;
                let existing = get(&media, &JsValue::from_str(media_id), OP)?;
                let (hits, existing) = (hits.await?, existing.await?);
                put_meta(&meta, HITS_KEY, number(&hits) + 1, OP)?;
                let existing = decode::<MediaEntry>(existing).ok();
                let entry = hit_entry(existing.as_ref(), media_id, bytes, now);
                put(&media, &encode(&entry, OP)?, OP)?;
                commit(&tx, OP).await
            })
            .await
    }

    pub(super) async fn media_index_miss(&self) -> Result<(), StoreError> {
        const OP: &str = "media_miss";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[META], Access::Write, OP)?;
                let meta = object_store(&tx, META, OP)?;
                let misses = get(&meta, &JsValue::from_str(MISSES_KEY), OP)?.await?;
                put_meta(&meta, MISSES_KEY, number(&misses) + 1, OP)?;
                commit(&tx, OP).await
            })
            .await
    }

    pub(super) async fn media_index_stored(
        &self,
        media_id: &str,
        bytes: u64,
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        const OP: &str = "media_store";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[MEDIA, META], Access::Write, OP)?;
                let mut index = read_index(&tx, OP).await?;
                let doomed = index.stored(media_id, bytes, now);
                let meta = object_store(&tx, META, OP)?;
                let media = object_store(&tx, MEDIA, OP)?;
                put_meta(&meta, MISSES_KEY, index.misses, OP)?;
                if let Some(entry) = index.entries.iter().find(|e| e.media_id == media_id) {
                    put(&media, &encode(entry, OP)?, OP)?;
                }
                delete_entries(&media, &doomed, OP)?;
                commit(&tx, OP).await?;
                Ok(doomed)
            })
            .await
    }

    pub(super) async fn media_index_set_budget(
        &self,
        budget: u64,
    ) -> Result<Vec<String>, StoreError> {
        const OP: &str = "media_budget";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[MEDIA, META], Access::Write, OP)?;
                // The core's rule: what no longer fits goes, least recently used first.
                let doomed = read_index(&tx, OP).await?.set_budget(budget);
                put_meta(&object_store(&tx, META, OP)?, BUDGET_KEY, budget, OP)?;
                delete_entries(&object_store(&tx, MEDIA, OP)?, &doomed, OP)?;
                commit(&tx, OP).await?;
                Ok(doomed)
            })
            .await
    }

    pub(super) async fn media_index_forget(&self, ids: &[String]) -> Result<(), StoreError> {
        const OP: &str = "media_forget";
        if ids.is_empty() {
            return Ok(());
        }
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[MEDIA], Access::Write, OP)?;
                delete_entries(&object_store(&tx, MEDIA, OP)?, ids, OP)?;
                commit(&tx, OP).await
            })
            .await
    }

    pub(super) async fn media_index_clear(&self) -> Result<(), StoreError> {
        const OP: &str = "media_clear";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[MEDIA], Access::Write, OP)?;
                object_store(&tx, MEDIA, OP)?
                    .clear()
                    .map_err(|e| store_error(OP, &e))?;
                commit(&tx, OP).await
            })
            .await
    }
}
