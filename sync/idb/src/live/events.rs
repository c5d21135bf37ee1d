//! The leader's handling of one stream event: a message goes through the one ingest path
//! (`Source::Live`) and a gap it reveals is repaired beside the stream; a change, revocation
//! or chat summary is applied beside it; a malformed event is logged and dropped.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::decode::StreamEvent;
use chat_sync::ingest::Source;
use chat_sync::vec_map::VecMap;
use chat_sync::RequestId;
use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;

use super::leader::Leader;
use crate::task::beside;

impl Leader {
    /// Ingests one event through the one ingest path; a gap it reveals is repaired beside
    /// the stream.
    pub(super) async fn ingest(
        &self,
        kind: &str,
        data: &str,
        repairing: &Rc<RefCell<VecMap<RequestId, ()>>>,
        tasks: &mut FuturesUnordered<LocalBoxFuture<'static, ()>>,
    ) {
        let message = match chat_sync::decode::stream_event(kind, data.as_bytes()) {
            Ok(StreamEvent::Message(message)) => message,
            Ok(other) => {
                // Changes, revocations and chat summaries may fetch (a changes catch-up):
                // beside the stream, like a repair. Their order does not matter: the newer
                // version wins whichever lands first.
                let driver = self.driver.clone();
                tasks.push(beside(async move {
                    if let Err(error) = crate::changes::handle_stream_event(&driver, other).await {
                        crate::log_warn!(%error, "could not apply a live change");
                    }
                }));
                return;
            }
            Err(error) => {
                crate::log_warn!(%error, kind, len = data.len(), "dropped a malformed live event");
                return;
            }
        };
        let request_id = message.request_id.clone();
        let seq = message.seq;
        let runtime = self.driver.runtime();
        let report = match runtime
            .ingest(&request_id, vec![message], Source::Live)
            .await
        {
            Ok(report) => report,
            Err(error) => {
                // The cache refused the write: the catch-up after the next reconnect, or the
                // next push, fetches the message again; nothing else can be done here.
                crate::log_warn!(chat = %request_id, seq, %error, "could not ingest a live event");
                return;
            }
        };
        // The event is the backend's word that `seq` exists: the core's ingest made the
        // backend's last seq known, and what lies between is missing.
        if !report.reveals_gap || !report.rejected.is_empty() {
            return;
        }
        if repairing
            .borrow_mut()
            .insert(request_id.clone(), ())
            .is_some()
        {
            // A repair of this chat is running; it re-reads the chat each round and will
            // include the new gap.
            return;
        }
        let driver = self.driver.clone();
        let repairing = repairing.clone();
        tasks.push(beside(async move {
            match driver.after_ingest(&request_id, Source::Live, true).await {
                Ok(status) => crate::log_info!(chat = %request_id, missing = ?status.missing, "gap repair after a live event"),
                Err(error) => crate::log_warn!(chat = %request_id, %error, "gap repair after a live event failed"),
            }
            repairing.borrow_mut().remove(&request_id);
        }));
    }
}
