//! Taking an ingest back. A warm service worker writes a pushed message before the server has
//! confirmed that its agent is still signed in (the check runs beside the write instead of
//! before it); when the answer says otherwise, the write is undone and nothing of it stays.
//!
//! [`IngestUndo::of`] says, from the ingest's own inputs and plan, what undoing it means: the
//! chat record before the write comes back, the cached copies the write replaced come back,
//! and the messages it stored for the first time go. A store undoes it only while the chat's
//! record is still the one the write left ([`IngestUndo::still_current`]); when anything
//! wrote the chat since, the store clears the chat's cache instead, which keeps nothing of
//! the undone write either (the history comes back from the server when it is next read).
//!
//! An outbox entry the write confirmed (the agent's own message, echoed) is not put back: the
//! server holds that message, and the agent's copy of it leaves with the rest.

use super::{plan_ingest, IngestContext, IngestPlan};
use crate::types::{ChatRecord, Message, RequestId, Seq};

/// [`plan_ingest`], with the plan's undo when `keep_undo` asks for it (`None` otherwise, and
/// when the plan writes nothing): what every store's [`crate::store::Store::ingest_undoable`]
/// and its plain ingest both call.
pub fn plan_ingest_keeping(
    request_id: &RequestId,
    record: Option<ChatRecord>,
    existing: &[Message],
    incoming: Vec<Message>,
    ctx: &IngestContext,
    keep_undo: bool,
) -> (IngestPlan, Option<IngestUndo>) {
    let before = if keep_undo { record.clone() } else { None };
    let plan = plan_ingest(request_id, record, existing, incoming, ctx);
    let undo = if keep_undo {
        IngestUndo::of(request_id, before, existing, &plan)
    } else {
        None
    };
    (plan, undo)
}

/// How to take back one ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestUndo {
    /// The chat.
    pub request_id: RequestId,
    /// The chat's record before the write (`None`: the write created it).
    pub before: Option<ChatRecord>,
    /// The record the write left.
    pub written: ChatRecord,
    /// The cached copies the write replaced, to put back.
    pub restore: Vec<Message>,
    /// The sequences the write stored for the first time, to delete.
    pub remove: Vec<Seq>,
}

/// What a store did to take an ingest back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UndoOutcome {
    /// The record and the copies before the write are back; its new messages are gone.
    Restored,
    /// The chat was written again since: its cache was cleared instead.
    ChatCleared,
}

impl IngestUndo {
    /// The undo of `plan`, planned from `before` (the chat's record it read) and `existing`
    /// (the cached copies of the incoming seqs); `None` when the plan writes nothing.
    pub fn of(
        request_id: &RequestId,
        before: Option<ChatRecord>,
        existing: &[Message],
        plan: &IngestPlan,
    ) -> Option<Self> {
        if !plan.touched {
            return None;
        }
        let mut restore = Vec::new();
        let mut remove = Vec::new();
        for message in &plan.put {
            match existing.iter().find(|m| m.seq == message.seq) {
                Some(old) => restore.push(old.clone()),
                None => remove.push(message.seq),
            }
        }
        Some(Self {
            request_id: request_id.clone(),
            before,
            written: plan.record.clone(),
            restore,
            remove,
        })
    }

    /// Whether the chat's record `current` is still the one the write left, so that putting
    /// back what was before loses nobody else's write.
    pub fn still_current(&self, current: Option<&ChatRecord>) -> bool {
        current == Some(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{plan_ingest, IngestContext, Source};

    /// A requester's message (the shared suite's helper would import `suite`, a layer above).
    fn message(chat: &str, seq: crate::types::Seq, body: &str) -> Message {
        crate::ingest::tests::msg(chat, seq, body, "requester")
    }

    fn ctx() -> IngestContext {
        IngestContext {
            now: 1_000,
            chat_open: false,
            own_user_id: Some("agent".to_owned()),
            source: Source::Push,
            backend_last: None,
        }
    }

    #[test]
    fn an_undo_removes_the_new_puts_back_the_replaced_and_the_record_before() {
        let chat = RequestId::from("c1");
        let first = plan_ingest(
            &chat,
            None,
            &[],
            vec![message("c1", 1, "one"), message("c1", 2, "two")],
            &ctx(),
        );
        let before = first.record.clone();
        let existing = vec![message("c1", 2, "two")];
        let incoming = vec![message("c1", 2, "two, edited"), message("c1", 3, "three")];
        let plan = plan_ingest(&chat, Some(before.clone()), &existing, incoming, &ctx());
        let undo = IngestUndo::of(&chat, Some(before.clone()), &existing, &plan).expect("writes");
        assert_eq!(undo.before, Some(before.clone()));
        assert_eq!(undo.written, plan.record);
        assert_eq!(undo.remove, vec![3]);
        assert_eq!(undo.restore, vec![message("c1", 2, "two")]);
        assert!(undo.still_current(Some(&plan.record)));
        assert!(!undo.still_current(Some(&before)), "written over since");
        assert!(!undo.still_current(None), "cleared since");
    }

    #[test]
    fn a_refused_batch_has_nothing_to_undo() {
        let chat = RequestId::from("c1");
        let mut hostile = message("c1", 0, "seq zero is never valid");
        hostile.seq = 0;
        let plan = plan_ingest(&chat, None, &[], vec![hostile], &ctx());
        assert!(IngestUndo::of(&chat, None, &[], &plan).is_none());
    }
}
