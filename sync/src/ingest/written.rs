//! What an ingest hands, in memory, to the views of the context that writes it, as soon as
//! its writes are issued and before they commit.
//!
//! A view learns of every change from its notice, after the commit, and reads what it needs
//! from the store. For the open chat of the writing context that costs the wait for the
//! commit and a read of the record back. When a write only adds (new messages, the record
//! they extend, outbox entries their echo confirms), nothing the view holds becomes untrue,
//! so [`IngestPlan::written`] hands it the record and the new messages to show at once. A
//! write that replaces, erases or reloads anything is not handed over: the view reads it
//! after the notice, as every other context does.
//!
//! Should the transaction then fail, the store says so, and the view drops what it was
//! handed and reads the store again: what is shown never outlives a failed write.
//!
//! A tab's live worker writes for its page: it relays what it hands over to the page
//! (`chat_sync::live::worker_wire`, as JSON), whose views take it as their own context's.

use super::{IngestContext, IngestPlan, Source};
use crate::types::{ChatRecord, Message, RequestId};

/// An ingest's additions, handed to the writing context's views before the commit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Written {
    /// The chat.
    pub request_id: RequestId,
    /// The chat record as the write leaves it.
    pub record: ChatRecord,
    /// The messages stored for the first time, ascending by seq.
    pub messages: Vec<Message>,
    /// The outbox entries the write removes (their echoes are among `messages`).
    pub confirmed_outbox: Vec<String>,
}

impl IngestPlan {
    /// What the writing context's views may be handed before the commit: `None` when the
    /// write adds nothing, or changes anything a view may already show (a replaced copy, a
    /// redaction, a change, a reload), or may be taken back (`undoable`).
    pub fn written(
        &self,
        request_id: &RequestId,
        ctx: &IngestContext,
        undoable: bool,
    ) -> Option<Written> {
        let only_adds = matches!(
            ctx.source,
            Source::Push | Source::Live | Source::Fetch | Source::SendEcho
        ) && self.report.replaced == 0
            && self.report.redacted.is_empty();
        if undoable || !only_adds || !self.touched || self.report.new_seqs.is_empty() {
            return None;
        }
        // `put` is ascending by seq and holds each seq once; the new ones are what is added.
        let messages = self
            .put
            .iter()
            .filter(|m| self.report.new_seqs.contains(&m.seq))
            .cloned()
            .collect();
        Some(Written {
            request_id: request_id.clone(),
            record: self.record.clone(),
            messages,
            confirmed_outbox: self.outbox_remove.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::tests::msg;
    use crate::ingest::{plan_ingest, ChangeFacts};

    fn ctx(source: Source) -> IngestContext {
        IngestContext {
            now: 1_000,
            chat_open: true,
            own_user_id: Some("agent".into()),
            source,
            backend_last: None,
        }
    }

    fn message(seq: u64, body: &str) -> Message {
        msg("REQ-1", seq, body, "requester")
    }

    fn plan(
        existing: Vec<Message>,
        incoming: Vec<Message>,
        source: Source,
    ) -> (IngestPlan, IngestContext) {
        let id = RequestId::from("REQ-1");
        let ctx = ctx(source);
        let record = if existing.is_empty() {
            None
        } else {
            Some(plan_ingest(&id, None, &[], existing.clone(), &ctx).record)
        };
        (plan_ingest(&id, record, &existing, incoming, &ctx), ctx)
    }

    #[test]
    fn new_messages_are_handed_over_with_the_record_they_leave() {
        let (plan, ctx) = plan(
            vec![message(1, "one")],
            vec![message(3, "three"), message(2, "two"), message(1, "one")],
            Source::Fetch,
        );
        let written = plan
            .written(&RequestId::from("REQ-1"), &ctx, false)
            .unwrap();
        let seqs: Vec<u64> = written.messages.iter().map(|m| m.seq).collect();
        assert_eq!(
            seqs,
            vec![2, 3],
            "only what is stored for the first time, ascending"
        );
        assert_eq!(written.record, plan.record);
        assert!(written.record.held.contains(3));
    }

    #[test]
    fn a_write_that_changes_what_a_view_may_show_is_not_handed_over() {
        let id = RequestId::from("REQ-1");
        // The server's copy replacing a cached one.
        let (replacing, ctx) = plan(
            vec![message(1, "one")],
            vec![message(1, "ONE")],
            Source::Fetch,
        );
        assert_eq!(replacing.report.replaced, 1);
        assert_eq!(replacing.written(&id, &ctx, false), None);
        // A reload, and a change.
        for source in [Source::FullReload, Source::Change(ChangeFacts::default())] {
            let (planned, ctx) = plan(vec![], vec![message(1, "one")], source);
            assert_eq!(planned.written(&id, &ctx, false), None, "{source:?}");
        }
        // A write that may be taken back, and one that adds nothing.
        let (undoable, ctx) = plan(vec![], vec![message(1, "one")], Source::Push);
        assert_eq!(undoable.written(&id, &ctx, true), None);
        assert!(undoable.written(&id, &ctx, false).is_some());
        let (duplicate, ctx) = plan(
            vec![message(1, "one")],
            vec![message(1, "one")],
            Source::Live,
        );
        assert_eq!(duplicate.written(&id, &ctx, false), None);
    }
}
