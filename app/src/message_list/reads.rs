//! Reading what the list shows from the browser: cached messages from IndexedDB (the windows
//! the model asks for, one read at a time while scrolling) and the chat's unsent messages from
//! the outbox, with object URLs for the local copies of their images.

use chat_sync::list_model::ListModel;
use chat_sync::outbox::OutboxEntry;
use chat_sync::store::Store;
use chat_sync::{ChatRecord, SeqRange, SeqRanges};
use chat_sync_idb::SyncError;

use super::MessageList;

impl MessageList {
    /// Reads messages a render wanted and memory lacked (with the model's margin around
    /// them), one read at a time, then renders again.
    pub(super) fn schedule_read(&self, wanted: SeqRanges) {
        if self.reading.replace(true) {
            self.read_again.set(true);
            return;
        }
        let Some(window) = ListModel::read_window(&wanted) else {
            self.reading.set(false);
            return;
        };
        let held = {
            let state = self.state.borrow();
            state
                .model
                .record()
                .map(ChatRecord::readable_held)
                .unwrap_or_default()
        };
        // The list is owned by its view; a read finishing after the view closed keeps it
        // alive only until the read ends.
        let Some(list) = self.self_rc() else {
            self.reading.set(false);
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = list.read_messages(&held, window).await {
                chat_sync_idb::log_warn!(chat = %list.request_id, %error, "could not read cached messages");
            }
            list.reading.set(false);
            list.render();
            if list.read_again.replace(false) {
                list.render();
            }
        });
    }

    /// Reads the held messages within `window` that are not in memory yet (the model says
    /// which, in bounded reads), and lets the model drop those far from it when memory holds
    /// too many.
    pub(super) async fn read_messages(
        &self,
        held: &SeqRanges,
        window: SeqRange,
    ) -> Result<(), SyncError> {
        let reads = self.state.borrow().model.reads_for(held, window);
        for range in reads {
            let read = self.runtime.store().range(&self.request_id, range).await?;
            self.state.borrow_mut().model.insert_messages(read.messages);
        }
        self.state.borrow_mut().model.forget_far_messages(window);
        Ok(())
    }

    /// [`MessageList::read_pending`] when a change touched the outbox; otherwise the unsent
    /// messages the list already shows (no read).
    pub(super) async fn read_pending_if(&self, touched: bool) -> Vec<OutboxEntry> {
        if touched {
            self.read_pending().await
        } else {
            self.state.borrow().model.pending().to_vec()
        }
    }

    /// This chat's unsent messages, in writing order (none when the outbox cannot be read:
    /// the sent messages still show).
    pub(super) async fn read_pending(&self) -> Vec<OutboxEntry> {
        match chat_sync_idb::outbox_sender::entries(&self.runtime).await {
            Ok(entries) => {
                let mut mine: Vec<OutboxEntry> = entries
                    .into_iter()
                    .filter(|e| e.request_id == self.request_id)
                    .collect();
                chat_sync::sort::sort_by_key(&mut mine, |e| e.order);
                self.load_previews(&mine).await;
                mine
            }
            Err(error) => {
                chat_sync_idb::log_warn!(chat = %self.request_id, %error, "could not read the outbox");
                Vec::new()
            }
        }
    }

    /// Object URLs for the local copies of unsent images not previewed yet.
    async fn load_previews(&self, entries: &[OutboxEntry]) {
        for attachment in entries.iter().flat_map(|e| &e.attachments) {
            let local = attachment
                .media_id
                .starts_with(chat_sync_idb::outbox_sender::LOCAL_MEDIA_PREFIX);
            if !local
                || !attachment.mime.starts_with("image/")
                || self
                    .state
                    .borrow()
                    .previews
                    .contains_key(&attachment.media_id)
            {
                continue;
            }
            match chat_sync_idb::outbox_sender::local_file(&self.runtime, &attachment.media_id)
                .await
            {
                Ok(blob) => {
                    if let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) {
                        self.state
                            .borrow_mut()
                            .previews
                            .insert(attachment.media_id.clone(), url);
                    }
                }
                Err(error) => chat_sync_idb::log_warn!(%error, "no local copy of an unsent image"),
            }
        }
    }
}
