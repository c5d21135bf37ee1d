//! The outbox in IndexedDB: the `outbox` store's entries and, beside them in the same
//! transactions, the `outbox_files` store's bytes of files not uploaded yet.
//!
//! The [`Store`](chat_sync::store::Store) trait's outbox methods are these, so the shared
//! store suite tests the code production runs; queueing a message with its files is
//! [`IdbStore::outbox_enqueue_with_files`], of which the trait's `outbox_enqueue` is the case
//! without files.

use chat_sync::outbox::{NewOutboxEntry, Outbox, OutboxEntry, OutboxError};
use chat_sync::store::StoreError;
use wasm_bindgen::JsValue;

use super::IdbStore;
use crate::codec::{decode, encode};
use crate::database::{Access, Database};
use crate::error::store_error;
use crate::request::{commit, get, get_all_unbounded, object_store, put, request};
use crate::schema::{OUTBOX, OUTBOX_FILES, OUTBOX_FILES_BY_ENTRY};

impl IdbStore {
    /// Queues a message and writes its files' records (`files`, records of the
    /// `outbox_files` store) in one transaction: the duplicate and capacity checks, the order
    /// and the writes cannot interleave with another tab queueing at once, and a refusal or a
    /// failed write leaves neither the entry nor a file behind.
    pub async fn outbox_enqueue_with_files(
        &self,
        new: NewOutboxEntry,
        files: Vec<JsValue>,
    ) -> Result<OutboxEntry, StoreError> {
        const OP: &str = "outbox_enqueue";
        self.db
            .run(OP, async |db| {
                let tx =
                    Database::transaction(&db, &[OUTBOX, OUTBOX_FILES], Access::WriteDurable, OP)?;
                let outbox = object_store(&tx, OUTBOX, OP)?;
                let all = get_all_unbounded(&outbox, false, OP)?.await?;
                let entries = self.decode_entries(&all);
                // The core's rules (a taken id, then capacity); a damaged record still takes
                // its place, so capacity also counts records.
                let admitted = Outbox::from_entries(entries)
                    .admit(new.clone())
                    .cloned()
                    .and_then(|entry| {
                        Outbox::check_capacity(all.length() as usize).map(|()| entry)
                    });
                let entry = match admitted {
                    Ok(entry) => entry,
                    Err(refusal) => {
                        let _ = tx.abort();
                        return Err(refusal.into());
                    }
                };
                put(&outbox, &encode(&entry, OP)?, OP)?;
                if !files.is_empty() {
                    let store = object_store(&tx, OUTBOX_FILES, OP)?;
                    for file in &files {
                        put(&store, file, OP)?;
                    }
                }
                commit(&tx, OP).await?;
                Ok(entry)
            })
            .await
    }

    /// Every readable outbox entry, in writing order (a damaged one is counted as corrupt).
    pub(super) async fn outbox_entries(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        const OP: &str = "outbox";
        let values = self
            .db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[OUTBOX], Access::Read, OP)?;
                get_all_unbounded(&object_store(&tx, OUTBOX, OP)?, false, OP)?.await
            })
            .await?;
        let mut entries = self.decode_entries(&values);
        chat_sync::sort::sort_by_key(&mut entries, |e| e.order);
        Ok(entries)
    }

    /// The readable entries among outbox records; a damaged one is counted as corrupt.
    fn decode_entries(&self, values: &js_sys::Array) -> Vec<OutboxEntry> {
        let mut entries = Vec::with_capacity(values.length() as usize);
        for value in values.iter() {
            match decode::<OutboxEntry>(value) {
                Ok(entry) => entries.push(entry),
                Err(error) => self.note_corrupt("outbox entry", &error),
            }
        }
        entries
    }

    /// Saves an entry's new state; refused when the entry is gone.
    pub(super) async fn outbox_put_existing(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        const OP: &str = "outbox_update";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[OUTBOX], Access::WriteDurable, OP)?;
                let outbox = object_store(&tx, OUTBOX, OP)?;
                let existing = get(&outbox, &JsValue::from_str(&entry.client_temp_id), OP)?.await?;
                if existing.is_undefined() {
                    let _ = tx.abort();
                    return Err(OutboxError::NotFound(entry.client_temp_id.clone()).into());
                }
                put(&outbox, &encode(entry, OP)?, OP)?;
                commit(&tx, OP).await
            })
            .await
    }

    /// Deletes an entry.
    pub(super) async fn outbox_delete(&self, client_temp_id: &str) -> Result<(), StoreError> {
        const OP: &str = "outbox_remove";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[OUTBOX], Access::WriteDurable, OP)?;
                object_store(&tx, OUTBOX, OP)?
                    .delete(&JsValue::from_str(client_temp_id))
                    .map_err(|e| store_error(OP, &e))?;
                commit(&tx, OP).await
            })
            .await
    }

    /// The `outbox_files` record under `key` (`<client_temp_id>/<index>`): the local bytes of
    /// a file not uploaded yet; `undefined` when there is none.
    pub async fn outbox_file(&self, key: &str) -> Result<JsValue, StoreError> {
        const OP: &str = "outbox_file";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[OUTBOX_FILES], Access::Read, OP)?;
                get(
                    &object_store(&tx, OUTBOX_FILES, OP)?,
                    &JsValue::from_str(key),
                    OP,
                )?
                .await
            })
            .await
    }

    /// Deletes the local files of an outbox entry (sent, or deleted by the agent).
    pub async fn outbox_files_delete(&self, client_temp_id: &str) -> Result<(), StoreError> {
        const OP: &str = "outbox_files_delete";
        self.db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[OUTBOX_FILES], Access::WriteDurable, OP)?;
                let files = object_store(&tx, OUTBOX_FILES, OP)?;
                let index = files
                    .index(OUTBOX_FILES_BY_ENTRY)
                    .map_err(|e| store_error(OP, &e))?;
                let keys = index
                    .get_all_keys_with_key(&JsValue::from_str(client_temp_id))
                    .map_err(|e| store_error(OP, &e))?;
                let keys = request(&keys).await.map_err(|e| e.into_store_error(OP))?;
                for key in js_sys::Array::from(&keys).iter() {
                    files.delete(&key).map_err(|e| store_error(OP, &e))?;
                }
                commit(&tx, OP).await
            })
            .await
    }
}
