//! Sending one entry: its local files uploaded (progress announced for the pending row), the
//! message posted with its idempotency key, and the server's echo handed to the one ingest
//! path, which removes the entry.

use chat_sync::ingest::Source;
use chat_sync::outbox::{OutboxEntry, OutboxError, SendFailure};
use chat_sync::protocol::SendMessage;
use chat_sync::store::{Store, StoreError};
use wasm_bindgen::JsValue;

use super::queue::{delete_files, local_file};
use super::reply::{echo, verdict, Outcome};
use super::{save, LOCAL_MEDIA_PREFIX};
use crate::broadcast::Broadcaster;
use crate::error::SyncError;
use crate::runtime::Runtime;
use crate::{http, upload};

/// Uploads the entry's local files, sends it, and ingests the echo.
pub(super) async fn send_one(
    runtime: &Runtime,
    base: &str,
    mut entry: OutboxEntry,
) -> Result<Outcome, SyncError> {
    let id = entry.client_temp_id.clone();
    for index in 0..entry.attachments.len() {
        if !entry.attachments[index]
            .media_id
            .starts_with(LOCAL_MEDIA_PREFIX)
        {
            continue;
        }
        let local_id = entry.attachments[index].media_id.clone();
        let blob = match local_file(runtime, &local_id).await {
            Ok(blob) => blob,
            Err(SyncError::Store(StoreError::Outbox(OutboxError::NotFound(_)))) => {
                return Ok(Outcome::Failed(SendFailure::Rejected(format!(
                    "the local copy of {} is gone",
                    entry.attachments[index].name
                ))))
            }
            Err(error) => return Err(error),
        };
        let name = entry.attachments[index].name.clone();
        let url = format!(
            "{base}/api/media?name={}",
            String::from(js_sys::encode_uri_component(&name))
        );
        // Fails on lack of progress, never on total time: a large file on a slow link
        // gets there. Progress goes to every context, for the pending row.
        let progress = Broadcaster::new(&upload::upload_channel_name(runtime.store().name())).ok();
        let progress_id = id.clone();
        let reply = upload::upload(
            &url,
            &entry.attachments[index].mime,
            &blob,
            move |sent, total| {
                if let Some(channel) = &progress {
                    upload::announce(channel, &progress_id, sent, total);
                }
            },
        )
        .await;
        let uploaded = match &reply {
            Ok(r) if (200..300).contains(&r.status) => {
                chat_sync::decode::uploaded(r.text.as_bytes()).map_err(|e| e.to_string())
            }
            _ => return Ok(verdict(&reply).into()),
        };
        match uploaded {
            Ok(attachment) => {
                // Saved at once: a retry after a later failure does not upload it again.
                entry.attachments[index] = attachment;
                if !save(runtime, &entry).await? {
                    return Ok(Outcome::Failed(SendFailure::Retryable));
                }
            }
            Err(reason) => {
                crate::log_warn!(entry = %id, %reason, "the upload reply is not an attachment");
                return Ok(Outcome::Failed(SendFailure::Retryable));
            }
        }
    }
    let body = SendMessage {
        request_id: entry.request_id.clone(),
        client_temp_id: id.clone(),
        body: entry.body.clone(),
        attachments: entry.attachments.clone(),
    };
    let json = chat_sync::json::to_string(&body).map_err(|e| SyncError::Invalid {
        what: "outbox entry",
        detail: e.to_string(),
    })?;
    let reply = http::send(
        "POST",
        &format!("{base}/api/chat/messages"),
        Some("application/json"),
        &JsValue::from_str(&json),
    )
    .await;
    let message = match &reply {
        Ok(r) if (200..300).contains(&r.status) => match echo(&r.text, &entry) {
            Ok(message) => message,
            Err(reason) => {
                // The server may have stored it; the idempotency key makes the retry store
                // one message whatever happened.
                crate::log_warn!(entry = %id, %reason, "a send reply that is not our message: retrying later");
                return Ok(Outcome::Failed(SendFailure::Retryable));
            }
        },
        _ => return Ok(verdict(&reply).into()),
    };
    let seq = message.seq;
    let report = runtime
        .ingest(&entry.request_id, vec![message], Source::SendEcho)
        .await?;
    if !report.confirmed_outbox.contains(&id) {
        // The echo was stored by the server but not by the ingest (e.g. refused as invalid):
        // the entry must still leave the outbox or it would be sent for ever. No ingest
        // announced it, so its pending row is dropped by this notice, in every tab.
        runtime.store().outbox_remove(&id).await?;
        runtime.announce_outbox_change(&entry.request_id);
    }
    delete_files(runtime, &id).await?;
    Ok(Outcome::Sent(seq))
}
