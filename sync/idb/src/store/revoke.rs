//! [`IdbStore::revoke_chat_in_db`]: letting go of a chat taken from the agent, in one
//! IndexedDB transaction over the chat record, its messages and its outbox entries with
//! their files, so no context ever sees a half-revoked chat.

use chat_sync::outbox::OutboxEntry;
use chat_sync::protocol::MAX_SEQ;
use chat_sync::store::{Revocation, StoreError};
use chat_sync::{Message, Millis, RequestId};
use wasm_bindgen::JsValue;

use super::revoked::{read_revoked, write_revoked};
use super::IdbStore;
use crate::codec::{decode, message_range};
use crate::database::{Access, Database};
use crate::error::store_error;
use crate::request::{commit, get, get_all_unbounded, object_store, request};
use crate::schema::{CHATS, MESSAGES, META, OUTBOX, OUTBOX_FILES, OUTBOX_FILES_BY_ENTRY};

impl IdbStore {
    /// Removes everything of `request_id` (see `Store::revoke_chat`).
    pub(crate) async fn revoke_chat_in_db(
        &self,
        request_id: &RequestId,
        at: Millis,
    ) -> Result<Revocation, StoreError> {
        const OP: &str = "revoke_chat";
        self.database()
            .run(OP, async |db| {
                let tx = Database::transaction(
                    &db,
                    &[CHATS, MESSAGES, OUTBOX, OUTBOX_FILES, META],
                    Access::Write,
                    OP,
                )?;
                let chats = object_store(&tx, CHATS, OP)?;
                let messages = object_store(&tx, MESSAGES, OP)?;
                let outbox = object_store(&tx, OUTBOX, OP)?;
                let files = object_store(&tx, OUTBOX_FILES, OP)?;
                let meta = object_store(&tx, META, OP)?;
                let mut revoked = read_revoked(&meta, OP).await?;
                chat_sync::changes::remember_revoked(&mut revoked, request_id, at);
                write_revoked(&meta, &revoked, OP)?;
                let key = JsValue::from_str(request_id.as_str());
                let record = get(&chats, &key, OP)?;
                let range = message_range(request_id, 0, MAX_SEQ, OP)?;
                let cached = messages
                    .get_all_with_key(&range)
                    .map_err(|e| store_error(OP, &e))?;
                let cached = request(&cached);
                let entries = get_all_unbounded(&outbox, false, OP)?;

                let held_record = !record.await?.is_undefined();
                let mut media_ids = Vec::new();
                let cached = cached.await.map_err(|e| e.into_store_error(OP))?;
                for value in js_sys::Array::from(&cached).iter() {
                    // An unreadable record has no media to name; it is deleted all the same.
                    if let Ok(message) = decode::<Message>(value) {
                        media_ids.extend(message.attachments.into_iter().map(|a| a.media_id));
                    }
                }
                let mut discarded = Vec::new();
                for value in entries.await?.iter() {
                    if let Ok(entry) = decode::<OutboxEntry>(value) {
                        if &entry.request_id == request_id {
                            discarded.push(entry);
                        }
                    }
                }
                let index = files
                    .index(OUTBOX_FILES_BY_ENTRY)
                    .map_err(|e| store_error(OP, &e))?;
                let mut file_keys = Vec::new();
                for entry in &discarded {
                    outbox
                        .delete(&JsValue::from_str(&entry.client_temp_id))
                        .map_err(|e| store_error(OP, &e))?;
                    let keys = index
                        .get_all_keys_with_key(&JsValue::from_str(&entry.client_temp_id))
                        .map_err(|e| store_error(OP, &e))?;
                    file_keys.push(request(&keys));
                }
                chats.delete(&key).map_err(|e| store_error(OP, &e))?;
                messages.delete(&range).map_err(|e| store_error(OP, &e))?;
                for keys in file_keys {
                    let keys = keys.await.map_err(|e| e.into_store_error(OP))?;
                    for key in js_sys::Array::from(&keys).iter() {
                        files.delete(&key).map_err(|e| store_error(OP, &e))?;
                    }
                }
                commit(&tx, OP).await?;
                chat_sync::sort::sort(&mut media_ids);
                media_ids.dedup();
                Ok(Revocation {
                    held_anything: held_record || !discarded.is_empty(),
                    media_ids,
                    outbox_discarded: discarded,
                })
            })
            .await
    }
}
