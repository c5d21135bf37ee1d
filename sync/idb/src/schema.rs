//! The database schema and its versioned upgrade steps.
//!
//! Version 1 (the previous schema, kept so the migration test opens a real version-1
//! database): `messages` keyed by `[request_id, seq]`, `chats` keyed by `request_id`,
//! `outbox` keyed by `client_temp_id`, and `meta` (out-of-line keys) holding the schema
//! version. Version 2 (current) adds the `media` index store (media id → cached blob
//! metadata) and a `client_temp_id` index on `messages`, built by the browser over the
//! messages already stored, and records the new version in `meta`. Version 3 adds the
//! `outbox_files` store (the local bytes of attachments written offline, kept with their
//! outbox entry until it is sent) and a `by_last_used` index on `media`, the LRU order of the
//! worker's media cache. The media counters and budget live in `meta`.
//!
//! An upgrade runs every step from the stored version up, inside the `versionchange`
//! transaction, so a partially applied upgrade is impossible: it commits whole or not at all.

use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbIndexParameters, IdbObjectStoreParameters, IdbTransaction};

/// The current schema version.
pub const CURRENT_VERSION: u32 = 3;

/// Messages, keyed by `[request_id, seq]`.
pub const MESSAGES: &str = "messages";
/// Chat records (meta, held ranges, unread, LRU, sync state), keyed by `request_id`.
pub const CHATS: &str = "chats";
/// Unsent messages, keyed by `client_temp_id`.
pub const OUTBOX: &str = "outbox";
/// Cached media metadata, keyed by `media_id` (version 2).
pub const MEDIA: &str = "media";
/// Local attachment bytes of outbox entries, keyed by `key` (`{client_temp_id}/{index}`)
/// (version 3).
pub const OUTBOX_FILES: &str = "outbox_files";
/// Index of `outbox_files` by `client_temp_id` (version 3).
pub const OUTBOX_FILES_BY_ENTRY: &str = "by_client_temp_id";
/// Index of `media` by `last_used` (version 3): the LRU order.
pub const MEDIA_BY_LAST_USED: &str = "by_last_used";
/// Database facts (`schema_version`, media counters and budget), out-of-line keys.
pub const META: &str = "meta";
/// Index of `messages` by `client_temp_id` (version 2), to match echoes to sent messages.
pub const MESSAGES_BY_TEMP_ID: &str = "by_client_temp_id";
/// The `meta` key holding the schema version.
pub const SCHEMA_VERSION_KEY: &str = "schema_version";

fn key_path(paths: &[&str]) -> JsValue {
    if let [single] = paths {
        return JsValue::from_str(single);
    }
    let array = js_sys::Array::new();
    for path in paths {
        array.push(&JsValue::from_str(path));
    }
    array.into()
}

fn create_store(db: &IdbDatabase, name: &str, key: Option<&[&str]>) -> Result<(), JsValue> {
    let params = IdbObjectStoreParameters::new();
    if let Some(key) = key {
        params.set_key_path(&key_path(key));
    }
    db.create_object_store_with_optional_parameters(name, &params)?;
    Ok(())
}

/// Applies the upgrade steps from `old_version` to `new_version` inside the `versionchange`
/// transaction `tx`.
pub fn upgrade(
    db: &IdbDatabase,
    tx: &IdbTransaction,
    old_version: u32,
    new_version: u32,
) -> Result<(), JsValue> {
    for version in (old_version + 1)..=new_version {
        match version {
            1 => {
                create_store(db, MESSAGES, Some(&["request_id", "seq"]))?;
                create_store(db, CHATS, Some(&["request_id"]))?;
                create_store(db, OUTBOX, Some(&["client_temp_id"]))?;
                create_store(db, META, None)?;
            }
            2 => {
                create_store(db, MEDIA, Some(&["media_id"]))?;
                let params = IdbIndexParameters::new();
                params.set_unique(false);
                tx.object_store(MESSAGES)?
                    .create_index_with_str_and_optional_parameters(
                        MESSAGES_BY_TEMP_ID,
                        "client_temp_id",
                        &params,
                    )?;
            }
            3 => {
                create_store(db, OUTBOX_FILES, Some(&["key"]))?;
                let params = IdbIndexParameters::new();
                params.set_unique(false);
                tx.object_store(OUTBOX_FILES)?
                    .create_index_with_str_and_optional_parameters(
                        OUTBOX_FILES_BY_ENTRY,
                        "client_temp_id",
                        &params,
                    )?;
                tx.object_store(MEDIA)?
                    .create_index_with_str_and_optional_parameters(
                        MEDIA_BY_LAST_USED,
                        "last_used",
                        &params,
                    )?;
            }
            _ => {}
        }
    }
    tx.object_store(META)?.put_with_key(
        &JsValue::from_f64(f64::from(new_version)),
        &JsValue::from_str(SCHEMA_VERSION_KEY),
    )?;
    Ok(())
}
