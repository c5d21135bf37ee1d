//! Attachment uploads that fail on lack of progress, not on total time, and report their
//! progress (the core's [`chat_sync::upload`] decides when an upload has stalled).
//!
//! Where the context has `XMLHttpRequest` (windows, dedicated workers) the bytes go through
//! it, whose `upload.onprogress` tells how far the upload is: a watchdog aborts it only when
//! no byte moved for a while (or no answer came once every byte was out). Service workers
//! have only `fetch`, which reports no upload progress: there the limit grows with the size
//! at a slow but working rate ([`chat_sync::upload::upload_deadline_ms`]).
//!
//! Progress is announced on the user's upload channel ([`UploadProgress`]), so a page shows
//! it on the pending message whichever context uploads.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::upload::{upload_deadline_ms, UploadWatch};
use futures::channel::oneshot;
use futures::future::{select, Either};
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

use crate::broadcast::Broadcaster;
use crate::error::FetchError;
use crate::http::{self, Reply};
use crate::platform;

/// How often the watchdog looks at an upload's progress.
const WATCH_EVERY_MS: i64 = 1_000;

/// Bytes of an outbox entry's upload sent so far, announced on [`upload_channel_name`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct UploadProgress {
    /// The outbox entry.
    pub client_temp_id: String,
    /// Bytes sent.
    pub sent: u64,
    /// Bytes in all.
    pub total: u64,
}

/// The channel of [`UploadProgress`] notices for a database.
pub fn upload_channel_name(database_name: &str) -> String {
    format!("chat-sync-upload:{database_name}")
}

/// POSTs `blob` to `url` as `content_type`; `on_progress(sent, total)` is called as bytes go
/// out. `Err` ([`FetchError::Transient`]) when no answer came: offline, a network error, or a
/// stall.
pub async fn upload(
    url: &str,
    content_type: &str,
    blob: &Blob,
    on_progress: impl Fn(u64, u64) + 'static,
) -> Result<Reply, FetchError> {
    let total = blob.size() as u64;
    if platform::global_property("XMLHttpRequest").is_none() {
        let deadline = u32::try_from(upload_deadline_ms(total)).unwrap_or(u32::MAX);
        return http::send_within("POST", url, Some(content_type), &blob.into(), deadline).await;
    }
    let transient = |detail: String| FetchError::Transient {
        status: None,
        detail,
    };
    let describe = |e: JsValue| crate::DomError::from_js(&e).message;
    let xhr = XmlHttpRequest::new().map_err(|e| transient(describe(e)))?;
    xhr.open("POST", url).map_err(|e| transient(describe(e)))?;
    xhr.set_with_credentials(true);
    let _ = xhr.set_request_header("Content-Type", content_type);
    let _ = xhr.set_request_header("Accept", "application/json");
    if let Some(user) = crate::agent::expected_for(url) {
        let _ = xhr.set_request_header(crate::agent::EXPECT_USER_HEADER, &user);
    }
    let watch = Rc::new(RefCell::new(UploadWatch::start(total, platform::now_ms())));
    let (done_tx, done_rx) = oneshot::channel::<Result<(), String>>();
    let done_tx = Rc::new(RefCell::new(Some(done_tx)));
    let finish = {
        let done_tx = done_tx.clone();
        move |outcome: Result<(), String>| {
            if let Some(tx) = done_tx.borrow_mut().take() {
                let _ = tx.send(outcome);
            }
        }
    };
    let on_progress_event = {
        let watch = watch.clone();
        Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            let sent = event.loaded() as u64;
            watch.borrow_mut().progress(sent, platform::now_ms());
            on_progress(sent, total);
        })
    };
    let on_load = {
        let finish = finish.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| finish(Ok(())))
    };
    let on_error = {
        let finish = finish.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            finish(Err("the upload failed (network error)".to_owned()))
        })
    };
    if let Ok(target) = xhr.upload() {
        target.set_onprogress(Some(on_progress_event.as_ref().unchecked_ref()));
    }
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_error.as_ref().unchecked_ref()));
    xhr.send_with_opt_blob(Some(blob))
        .map_err(|e| transient(describe(e)))?;
    let watchdog = {
        let watch = watch.clone();
        async move {
            loop {
                platform::sleep(WATCH_EVERY_MS).await;
                if watch.borrow().stalled(platform::now_ms()) {
                    let (sent, total) = watch.borrow().sent();
                    return format!("the upload stalled at {sent} of {total} bytes");
                }
            }
        }
    };
    let outcome = match select(done_rx, Box::pin(watchdog)).await {
        Either::Left((Ok(outcome), _)) => outcome,
        Either::Left((Err(_), _)) => Err("the upload was dropped".to_owned()),
        Either::Right((stalled, _)) => {
            let _ = xhr.abort();
            Err(stalled)
        }
    };
    if let Ok(target) = xhr.upload() {
        target.set_onprogress(None);
    }
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_onabort(None);
    outcome.map_err(transient)?;
    Ok(Reply {
        status: xhr.status().unwrap_or(0),
        text: xhr.response_text().ok().flatten().unwrap_or_default(),
    })
}

/// Announces an entry's upload progress to every context of the user.
pub fn announce(channel: &Broadcaster, client_temp_id: &str, sent: u64, total: u64) {
    let notice = UploadProgress {
        client_temp_id: client_temp_id.to_owned(),
        sent,
        total,
    };
    if let Err(error) = channel.announce(&notice) {
        crate::log_debug!(%error, "could not announce upload progress");
    }
}

chat_sync::object_only_serde!(UploadProgress);
