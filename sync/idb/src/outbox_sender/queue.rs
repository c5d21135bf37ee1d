//! The agent's side of the outbox: queue a message with its files (checked by the core's
//! send rules first), read the entries and a file's local bytes, and retry, delete or wake
//! entries.

use chat_sync::outbox::{NewOutboxEntry, Outbox, OutboxEntry, OutboxError, OutboxState};
use chat_sync::store::{Store, StoreError};
use chat_sync::{Attachment, RequestId};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

use super::{save, LocalAttachment, LOCAL_MEDIA_PREFIX};
use crate::error::{store_error, SyncError};
use crate::platform;
use crate::runtime::Runtime;

/// The key of an entry's file `index` in `outbox_files`, which its local media id carries.
fn file_key(client_temp_id: &str, index: usize) -> String {
    format!("{client_temp_id}/{index}")
}

/// A record of the `outbox_files` store: the entry it belongs to and the bytes as a `Blob`
/// (IndexedDB stores blobs natively in Chromium and Firefox).
fn file_record(
    client_temp_id: &str,
    index: usize,
    attachment: &LocalAttachment,
) -> Result<JsValue, StoreError> {
    const OP: &str = "outbox_enqueue";
    let record = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        Reflect::set(&record, &JsValue::from_str(key), value).map_err(|e| store_error(OP, &e))
    };
    set("key", &JsValue::from_str(&file_key(client_temp_id, index)))?;
    set("client_temp_id", &JsValue::from_str(client_temp_id))?;
    set("name", &JsValue::from_str(&attachment.name))?;
    set("mime", &JsValue::from_str(&attachment.mime))?;
    set("blob", &attachment.blob)?;
    Ok(record.into())
}

/// Queues a message with its files; returns the entry (shown at once as `pending`).
///
/// Refused, with nothing written: an empty message, a body over [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES), more than
/// [`MAX_ATTACHMENTS`](super::MAX_ATTACHMENTS) files or one over [`MAX_ATTACHMENT_BYTES`](super::MAX_ATTACHMENT_BYTES) (all [`SyncError::Invalid`]),
/// or a full outbox ([`OutboxError::Full`] inside [`SyncError::Store`]).
pub async fn enqueue(
    runtime: &Runtime,
    request_id: &RequestId,
    body: String,
    attachments: Vec<LocalAttachment>,
) -> Result<OutboxEntry, SyncError> {
    let sizes: Vec<(&str, u64)> = attachments
        .iter()
        .map(|a| (a.name.as_str(), a.blob.size() as u64))
        .collect();
    chat_sync::send_rules::check_send(request_id, &body, &sizes).map_err(|refusal| {
        SyncError::Invalid {
            what: refusal.what(),
            detail: refusal.to_string(),
        }
    })?;
    let client_temp_id = platform::random_id();
    let now = platform::now_ms();
    let local: Vec<Attachment> = attachments
        .iter()
        .enumerate()
        .map(|(index, a)| Attachment {
            media_id: format!("{LOCAL_MEDIA_PREFIX}{}", file_key(&client_temp_id, index)),
            name: a.name.clone(),
            mime: a.mime.clone(),
            size: a.blob.size() as u64,
        })
        .collect();
    let files = attachments
        .iter()
        .enumerate()
        .map(|(index, attachment)| file_record(&client_temp_id, index, attachment))
        .collect::<Result<Vec<_>, _>>()?;
    let new = NewOutboxEntry {
        client_temp_id: client_temp_id.clone(),
        request_id: request_id.clone(),
        body,
        attachments: local,
        created_at: now,
    };
    let entry = runtime
        .store()
        .outbox_enqueue_with_files(new, files)
        .await?;
    runtime.announce_outbox_change(request_id);
    Ok(entry)
}

/// Every outbox entry, in writing order (for the chat view's pending and failed rows and the
/// settings panel).
pub async fn entries(runtime: &Runtime) -> Result<Vec<OutboxEntry>, SyncError> {
    Ok(runtime.store().outbox().await?)
}

/// The local bytes of an attachment not uploaded yet (`media_id` starting with
/// [`LOCAL_MEDIA_PREFIX`]), to show it at once from the local copy.
pub async fn local_file(runtime: &Runtime, media_id: &str) -> Result<web_sys::Blob, SyncError> {
    let key = media_id
        .strip_prefix(LOCAL_MEDIA_PREFIX)
        .ok_or_else(|| SyncError::Invalid {
            what: "local media id",
            detail: format!("{media_id} does not start with {LOCAL_MEDIA_PREFIX}"),
        })?;
    let record = runtime.store().outbox_file(key).await?;
    Reflect::get(&record, &JsValue::from_str("blob"))
        .ok()
        .and_then(|b| b.dyn_into::<web_sys::Blob>().ok())
        .ok_or_else(|| OutboxError::NotFound(media_id.to_owned()).into())
}

/// Deletes the local files of an entry.
pub(super) async fn delete_files(runtime: &Runtime, client_temp_id: &str) -> Result<(), SyncError> {
    Ok(runtime.store().outbox_files_delete(client_temp_id).await?)
}

/// The agent retries a parked entry: it is queued with no backoff (call [`flush`](super::flush) next).
pub async fn retry(runtime: &Runtime, client_temp_id: &str) -> Result<OutboxEntry, SyncError> {
    let mut outbox = Outbox::from_entries(runtime.store().outbox().await?);
    let entry = outbox.retry(client_temp_id)?.clone();
    runtime.store().outbox_update(&entry).await?;
    runtime.announce_outbox_change(&entry.request_id);
    Ok(entry)
}

/// The agent deletes an entry (parked or queued) with its local files.
///
/// An entry being sent right now may still reach the server; its echo then arrives as a
/// normal message.
pub async fn delete(runtime: &Runtime, client_temp_id: &str) -> Result<OutboxEntry, SyncError> {
    let mut outbox = Outbox::from_entries(runtime.store().outbox().await?);
    let entry = outbox.remove(client_temp_id)?;
    runtime.store().outbox_remove(client_temp_id).await?;
    delete_files(runtime, client_temp_id).await?;
    runtime.announce_outbox_change(&entry.request_id);
    Ok(entry)
}

/// Queued entries need not wait out their backoff (the network came back, the app started).
pub async fn wake_all(runtime: &Runtime) -> Result<(), SyncError> {
    let mut outbox = Outbox::from_entries(runtime.store().outbox().await?);
    outbox.wake_all();
    for entry in outbox.entries() {
        if entry.state == OutboxState::Queued {
            save(runtime, entry).await?;
        }
    }
    Ok(())
}
