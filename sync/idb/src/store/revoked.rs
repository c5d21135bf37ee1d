//! The chats this cache let go of (taken from the agent) and when, kept in the `meta` store
//! under one key and read or written inside the caller's transaction: the store's ingest and
//! summary paths consult them (a stale list or a late push cannot bring a chat back), and
//! `revoke` adds to them.

use chat_sync::changes::Revoked;
use chat_sync::store::StoreError;
use wasm_bindgen::JsValue;
use web_sys::IdbObjectStore;

use crate::codec::{decode, encode};
use crate::error::store_error;
use crate::request::get;

/// The `meta` key of the chats revoked and when (`chat_sync::changes::Revoked`).
const REVOKED_KEY: &str = "revoked_chats";

/// Reads the revoked chats inside the caller's transaction; an unreadable value counts as
/// none (it only ever holds back stale lists).
pub(crate) async fn read_revoked(
    meta: &IdbObjectStore,
    operation: &'static str,
) -> Result<Revoked, StoreError> {
    let value = get(meta, &JsValue::from_str(REVOKED_KEY), operation)?.await?;
    if value.is_undefined() {
        return Ok(Revoked::new());
    }
    Ok(decode::<Revoked>(value).unwrap_or_default())
}

/// Writes the revoked chats inside the caller's transaction.
pub(crate) fn write_revoked(
    meta: &IdbObjectStore,
    revoked: &Revoked,
    operation: &'static str,
) -> Result<(), StoreError> {
    meta.put_with_key(
        &encode(revoked, operation)?,
        &JsValue::from_str(REVOKED_KEY),
    )
    .map(|_| ())
    .map_err(|e| store_error(operation, &e))
}
