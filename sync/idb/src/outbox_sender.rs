//! The outbox sender: queues what the agent wrote (with attachment bytes kept locally) and
//! sends it to the server in order per chat, in a tab or in the service worker.
//!
//! - [`enqueue`] writes the entry and its files in one transaction; at
//!   [`chat_sync::outbox::OUTBOX_CAPACITY`] it is refused with [`OutboxError::Full`]
//!   (see [`SyncError::outbox_error`]) and nothing is written, so the composer keeps the draft.
//! - [`flush`] runs under the Web Lock `<database>:outbox`, so tabs and the worker never send
//!   the same entry at once. For each due entry (the core's [`Outbox::due`]): upload its local
//!   files with `POST /api/media`, then `POST /api/chat/messages` with its `client_temp_id`,
//!   and hand the stored message to [`Runtime::ingest`] as a [`Source::SendEcho`]: the one
//!   ingest path writes it at its real seq and removes the entry. Replies are classified by
//!   the core's [`classify_send`]: no reply or 5xx backs off, a 4xx parks the entry with the
//!   reason, a 401 stops the flush and keeps everything.
//! - [`retry`] and [`delete`] act on parked entries; [`request_background_sync`] asks the
//!   service worker to flush when the browser has Background Sync.

use chat_sync::backoff::SplitMix64;
use chat_sync::ingest::Source;
use chat_sync::outbox::{
    classify_send, NewOutboxEntry, Outbox, OutboxEntry, OutboxError, OutboxState, SendFailure,
    SendVerdict,
};
use chat_sync::protocol::{validate_message, SendMessage};
use chat_sync::store::{Store, StoreError};
use chat_sync::{Attachment, Message, Millis, RequestId, Seq};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::broadcast::Broadcaster;
use crate::error::{store_error, SyncError};
use crate::http::{self, Reply};
use crate::runtime::Runtime;
use crate::{locks, platform, upload};

/// The Background Sync tag the page registers and the worker answers.
pub const SYNC_TAG: &str = "outbox";
/// Prefix of an attachment's `media_id` while its bytes are only local (not uploaded yet).
pub const LOCAL_MEDIA_PREFIX: &str = "local:";
/// The contract's limits of one message, re-exported for callers of this module (the core
/// checks them: [`chat_sync::send_rules::check_send`]).
pub use chat_sync::protocol::{MAX_ATTACHMENTS, MAX_BODY_LEN as MAX_BODY_BYTES};
pub use chat_sync::send_rules::MAX_ATTACHMENT_BYTES;

/// A file the agent attached, not uploaded yet.
#[derive(Clone, Debug)]
pub struct LocalAttachment {
    /// The file name.
    pub name: String,
    /// Its MIME type (`application/octet-stream` when unknown).
    pub mime: String,
    /// The bytes.
    pub blob: web_sys::Blob,
}

/// What one [`flush`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Entries stored by the server, with the seq they got, in the order they went out.
    pub sent: Vec<(String, RequestId, Seq)>,
    /// Entries that failed in a way that may pass; they wait out their backoff.
    pub retrying: Vec<String>,
    /// Entries the server refused in this flush, with the reason; they wait for the agent.
    pub parked: Vec<(String, String)>,
    /// The server answered 401: the flush stopped and every entry was kept.
    pub signed_out: bool,
    /// Entries still in the outbox afterwards (queued or parked).
    pub remaining: usize,
    /// When the earliest backoff ends (call [`flush`] again then).
    pub next_wakeup: Option<Millis>,
}

impl FlushReport {
    /// Whether queued entries remain that a later flush should send (not parked, not signed
    /// out): the service worker then asks the browser to retry the sync.
    pub fn wants_retry(&self) -> bool {
        !self.signed_out && !self.retrying.is_empty()
    }
}

/// The Web Lock serializing sends of one user's outbox across tabs and the worker.
pub fn outbox_lock_name(database: &str) -> String {
    format!("{database}:outbox")
}

/// The longest a context waits for the outbox lock before it presumes the holder frozen and
/// takes the lock over: a full outbox sent by a healthy holder finishes well within it, and
/// a second sender is harmless (the server keeps one message per idempotency key).
pub const OUTBOX_LOCK_LEASE_MS: u32 = 5 * 60 * 1000;

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
/// Refused, with nothing written: an empty message, a body over [`MAX_BODY_BYTES`], more than
/// [`MAX_ATTACHMENTS`] files or one over [`MAX_ATTACHMENT_BYTES`] (all [`SyncError::Invalid`]),
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

/// Sends every due entry, in order per chat, under the outbox lock.
///
/// Entries left `sending` by a context that died are queued again first (the lock shows no
/// one else is sending, unless it was taken over from a frozen holder after its lease; the
/// idempotency key makes a second send store one message either way).
pub async fn flush(runtime: &Runtime, base_url: &str) -> Result<FlushReport, SyncError> {
    let base = base_url.trim_end_matches('/').to_owned();
    let lock = outbox_lock_name(runtime.store().name());
    locks::with_lock_leased(&lock, OUTBOX_LOCK_LEASE_MS, flush_locked(runtime, &base)).await?
}

async fn flush_locked(runtime: &Runtime, base: &str) -> Result<FlushReport, SyncError> {
    let store = runtime.store();
    let policy = runtime.send_backoff();
    let mut rng = SplitMix64::new(platform::now_ms() as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let mut report = FlushReport::default();
    let mut outbox = Outbox::from_entries(store.outbox().await?);
    for entry in outbox.entries() {
        if entry.state == OutboxState::Sending {
            let mut entry = entry.clone();
            entry.state = OutboxState::Queued;
            save(runtime, &entry).await?;
        }
    }
    loop {
        // Re-read each round: another tab may have queued, deleted or retried meanwhile.
        outbox = Outbox::from_entries(store.outbox().await?);
        let now = platform::now_ms();
        let Some(entry) = outbox
            .due(now)
            .into_iter()
            .find(|e| !report.retrying.contains(&e.client_temp_id))
            .cloned()
        else {
            break;
        };
        let id = entry.client_temp_id.clone();
        outbox.mark_sending(&id)?;
        let mut sending = entry.clone();
        sending.state = OutboxState::Sending;
        if !save(runtime, &sending).await? {
            continue;
        }
        match send_one(runtime, base, sending).await? {
            Outcome::Sent(seq) => {
                report.sent.push((id, entry.request_id.clone(), seq));
            }
            Outcome::Failed(failure) => {
                let parked = match &failure {
                    SendFailure::Rejected(reason) => Some(reason.clone()),
                    SendFailure::Retryable => None,
                };
                // The backoff starts when the failure is known, not when the attempt began:
                // a send that took long to fail must still wait before the next one.
                let failed_at = platform::now_ms();
                let updated = outbox
                    .on_failure(&id, failure, failed_at, &policy, &mut rng)?
                    .clone();
                save(runtime, &updated).await?;
                match parked {
                    Some(reason) => {
                        tracing::warn!(entry = %id, %reason, "the server refused a queued message: parked");
                        report.parked.push((id, reason));
                        runtime.announce_outbox_change(&entry.request_id);
                    }
                    None => report.retrying.push(id),
                }
            }
            Outcome::SignedOut => {
                let mut kept = entry.clone();
                kept.state = OutboxState::Queued;
                save(runtime, &kept).await?;
                report.signed_out = true;
                break;
            }
        }
    }
    let outbox = Outbox::from_entries(store.outbox().await?);
    report.remaining = outbox.len();
    report.next_wakeup = outbox.next_wakeup();
    Ok(report)
}

/// Saves an entry's state; `false` when the agent deleted it meanwhile (nothing to send).
async fn save(runtime: &Runtime, entry: &OutboxEntry) -> Result<bool, SyncError> {
    match runtime.store().outbox_update(entry).await {
        Ok(()) => Ok(true),
        Err(StoreError::Outbox(OutboxError::NotFound(_))) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

enum Outcome {
    Sent(Seq),
    Failed(SendFailure),
    SignedOut,
}

impl From<SendVerdict> for Outcome {
    fn from(verdict: SendVerdict) -> Self {
        match verdict {
            // Only replies that are not a success are classified this way (a success is
            // decoded and checked by the caller); were one to arrive here, resending is safe
            // (the idempotency key) and dropping it would lose the message.
            SendVerdict::Stored => Outcome::Failed(SendFailure::Retryable),
            SendVerdict::Retry(failure) => Outcome::Failed(failure),
            SendVerdict::SignedOut => Outcome::SignedOut,
        }
    }
}

/// Classifies a reply (or its absence) that is not a success.
fn verdict(reply: &Result<Reply, crate::FetchError>) -> SendVerdict {
    match reply {
        Ok(reply) => classify_send(Some(reply.status), &reply.error_text()),
        Err(_) => classify_send(None, ""),
    }
}

/// Uploads the entry's local files, sends it, and ingests the echo.
async fn send_one(
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
            Ok(r) if (200..300).contains(&r.status) => serde_json::from_str::<Attachment>(&r.text)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    if a.media_id.is_empty() || a.media_id.starts_with(LOCAL_MEDIA_PREFIX) {
                        Err(format!("unusable media id {:?}", a.media_id))
                    } else {
                        Ok(a)
                    }
                }),
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
                tracing::warn!(entry = %id, %reason, "the upload reply is not an attachment");
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
    let json = serde_json::to_string(&body).map_err(|e| SyncError::Invalid {
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
                tracing::warn!(entry = %id, %reason, "a send reply that is not our message: retrying later");
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
        // the entry must still leave the outbox or it would be sent for ever.
        runtime.store().outbox_remove(&id).await?;
    }
    delete_files(runtime, &id).await?;
    Ok(Outcome::Sent(seq))
}

/// Decodes and checks the server's reply to a send: it must be our message in our chat.
fn echo(text: &str, entry: &OutboxEntry) -> Result<Message, String> {
    let message: Message = serde_json::from_str(text).map_err(|e| e.to_string())?;
    validate_message(&message).map_err(|e| e.to_string())?;
    if message.request_id != entry.request_id {
        return Err(format!("it names chat {}", message.request_id));
    }
    if message.client_temp_id.as_deref() != Some(entry.client_temp_id.as_str()) {
        return Err(format!(
            "it carries client_temp_id {:?}",
            message.client_temp_id
        ));
    }
    Ok(message)
}

async fn delete_files(runtime: &Runtime, client_temp_id: &str) -> Result<(), SyncError> {
    Ok(runtime.store().outbox_files_delete(client_temp_id).await?)
}

/// The agent retries a parked entry: it is queued with no backoff (call [`flush`] next).
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

/// Asks the service worker to flush the outbox when the network is back, even with every tab
/// closed (Background Sync, tag [`SYNC_TAG`]). Returns whether it was registered: `false`
/// where the browser has no `SyncManager` (Firefox, Safari) or no active worker, which is not
/// an error (the app then flushes on start and on `online`).
pub async fn request_background_sync() -> Result<bool, SyncError> {
    if platform::global_property("SyncManager").is_none() {
        return Ok(false);
    }
    let registration = match platform::global_property("registration") {
        // In a service worker, `self.registration`.
        Some(registration) => registration,
        None => {
            let Some(container) = platform::navigator_property("serviceWorker") else {
                return Ok(false);
            };
            let ready: Promise = Reflect::get(&container, &JsValue::from_str("ready"))
                .and_then(|p| p.dyn_into())
                .map_err(|e| SyncError::platform("navigator.serviceWorker.ready", &e))?;
            // `ready` never settles on a page without a worker: give up after a while.
            let timeout = Box::pin(platform::sleep(3_000));
            match futures::future::select(JsFuture::from(ready), timeout).await {
                futures::future::Either::Left((Ok(registration), _)) => registration,
                futures::future::Either::Left((Err(error), _)) => {
                    return Err(SyncError::platform("navigator.serviceWorker.ready", &error))
                }
                futures::future::Either::Right(_) => return Ok(false),
            }
        }
    };
    let Ok(sync) = Reflect::get(&registration, &JsValue::from_str("sync")) else {
        return Ok(false);
    };
    if sync.is_undefined() || sync.is_null() {
        return Ok(false);
    }
    let register: Function = Reflect::get(&sync, &JsValue::from_str("register"))
        .and_then(|f| f.dyn_into())
        .map_err(|e| SyncError::platform("registration.sync.register", &e))?;
    let promise: Promise = register
        .call1(&sync, &JsValue::from_str(SYNC_TAG))
        .and_then(|p| p.dyn_into())
        .map_err(|e| SyncError::platform("registration.sync.register", &e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| SyncError::platform("registration.sync.register", &e))?;
    Ok(true)
}
