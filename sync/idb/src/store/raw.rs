//! Raw record writes that bypass the codec, for tests that simulate damaged records (the
//! value must carry its key fields).

use chat_sync::store::StoreError;
use wasm_bindgen::JsValue;

use super::IdbStore;
use crate::database::{Access, Database};
use crate::request::{commit, object_store, put};
use crate::schema::{CHATS, MESSAGES};

/// Writes `value` as a raw message record, bypassing the codec: for tests that simulate a
/// damaged record (the value must carry its `request_id` and `seq` key fields).
pub async fn write_raw_message(store: &IdbStore, value: &JsValue) -> Result<(), StoreError> {
    const OP: &str = "write_raw_message";
    store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[MESSAGES], Access::Write, OP)?;
            put(&object_store(&tx, MESSAGES, OP)?, value, OP)?;
            commit(&tx, OP).await
        })
        .await
}

/// Writes `value` as the raw chat record (tests simulating a damaged chat record).
pub async fn write_raw_chat(store: &IdbStore, value: &JsValue) -> Result<(), StoreError> {
    const OP: &str = "write_raw_chat";
    store
        .database()
        .run(OP, async |db| {
            let tx = Database::transaction(&db, &[CHATS], Access::Write, OP)?;
            put(&object_store(&tx, CHATS, OP)?, value, OP)?;
            commit(&tx, OP).await
        })
        .await
}
