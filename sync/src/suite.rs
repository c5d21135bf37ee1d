//! The shared store test suite: one set of behaviours every [`Store`] must show, run natively
//! against [`crate::memory_store::MemoryStore`] and in Chrome and Firefox against IndexedDB.
//!
//! Each check is an `async fn` taking a fresh, empty store. [`store_test_suite!`] turns them into
//! tests for a given store factory:
//!
//! ```ignore
//! chat_sync::store_test_suite!(blocking, MemoryStore::new(), quota = MemoryStore::with_quota(20_000));
//! chat_sync::store_test_suite!(wasm, open_fresh().await, quota = open_fresh_with_budget(20_000).await);
//! ```
//!
//! This module keeps the suite's fixtures and the macro; the checks live in child modules by
//! topic: `ingest` (the merge), `records` (reads and the chat record), `outbox`, `eviction`
//! (eviction, clearing, quota), `changes` (edits, redactions, revocation) and `media`.
//!
//! [`store_test_suite!`]: crate::store_test_suite

mod changes;
mod eviction;
mod ingest;
mod media;
mod outbox;
mod records;

use crate::ingest::{IngestContext, Source};
use crate::outbox::NewOutboxEntry;
use crate::store::Store;
use crate::types::{ChatRecord, Message, Millis, RequestId, Sender, SenderRole, Seq};

/// A requester's message of chat `chat` at `seq`.
pub fn message(chat: &str, seq: Seq, body: &str) -> Message {
    Message {
        request_id: RequestId::from(chat),
        seq,
        id: format!("{chat}-{seq}"),
        client_temp_id: None,
        sender: Sender {
            id: format!("requester-of-{chat}"),
            name: "Requester".into(),
            role: SenderRole::Requester,
        },
        body: body.to_owned(),
        attachments: Vec::new(),
        created_at: 1_700_000_000_000 + seq as Millis,
        deleted: false,
        version: 0,
        edited_at: None,
    }
}

/// Messages `from..=to` of `chat`.
pub fn messages(chat: &str, from: Seq, to: Seq) -> Vec<Message> {
    (from..=to)
        .map(|s| message(chat, s, &format!("message {s}")))
        .collect()
}

/// An ingest context for a chat that is not open.
pub fn closed_chat_ctx() -> IngestContext {
    IngestContext {
        now: 1_000,
        chat_open: false,
        own_user_id: Some("agent-1".into()),
        source: Source::Push,
        backend_last: None,
    }
}

/// Ingests messages `from..=to` of `chat` as pushes to a closed chat.
async fn fill<S: Store>(store: &S, chat: &str, from: Seq, to: Seq) {
    store
        .ingest(
            &RequestId::from(chat),
            messages(chat, from, to),
            &closed_chat_ctx(),
        )
        .await
        .expect("ingest into a fresh store");
}

/// The chat's record, which the test has created.
async fn chat_record<S: Store>(store: &S, chat: &RequestId) -> ChatRecord {
    store
        .chat(chat)
        .await
        .expect("read the chat record")
        .expect("the chat record exists")
}

/// A message queued at `created_at`; the store gives it its place.
pub(crate) fn outbox_entry(id: &str, chat: &str, created_at: Millis) -> NewOutboxEntry {
    NewOutboxEntry {
        client_temp_id: id.into(),
        request_id: RequestId::from(chat),
        body: format!("draft {id}"),
        attachments: Vec::new(),
        created_at,
    }
}

/// The sequences of `messages`, in their order.
fn seqs(messages: &[Message]) -> Vec<Seq> {
    messages.iter().map(|m| m.seq).collect()
}

pub use changes::{
    a_change_of_older_history_waits_for_its_message, edits_and_redactions_follow_the_version_rule,
    revoking_a_chat_lets_go_of_all_of_it,
};
pub use eviction::{
    clear_chat_is_scoped, eviction_drops_oldest_and_keeps_the_outbox,
    quota_exhaustion_evicts_and_keeps_the_incoming_message,
};
pub use ingest::{
    a_full_reload_replaces_the_chat_in_one_ingest, an_undone_ingest_leaves_nothing_of_itself,
    changed_content_keeps_the_incoming_copy, held_ranges_track_gaps, ingest_creates_an_unseen_chat,
    ingest_is_idempotent, invalid_messages_touch_nothing,
};
pub use media::media_index_rules_hold_in_every_store;
pub use outbox::{echo_confirms_the_outbox_entry, outbox_capacity_order_and_updates};
pub use records::{
    newest_window_and_ranges_are_bounded, summaries_make_validation_possible,
    unread_counts_follow_the_reader,
};

/// Expands to one test per suite check for a store factory.
///
/// `quota = …` is a factory for a store that refuses writes past about 20,000 bytes.
/// `blocking` runs each check with `futures::executor::block_on` under `#[test]` (native);
/// `wasm` makes `#[wasm_bindgen_test]` async tests (the factory may `.await`).
#[macro_export]
macro_rules! store_test_suite {
    ($kind:ident, $make:expr, quota = $make_quota:expr) => {
        $crate::store_test_suite!(@each $kind, $make,
            ingest_creates_an_unseen_chat,
            ingest_is_idempotent,
            held_ranges_track_gaps,
            newest_window_and_ranges_are_bounded,
            changed_content_keeps_the_incoming_copy,
            invalid_messages_touch_nothing,
            echo_confirms_the_outbox_entry,
            outbox_capacity_order_and_updates,
            unread_counts_follow_the_reader,
            summaries_make_validation_possible,
            eviction_drops_oldest_and_keeps_the_outbox,
            clear_chat_is_scoped,
            a_full_reload_replaces_the_chat_in_one_ingest,
            an_undone_ingest_leaves_nothing_of_itself,
            edits_and_redactions_follow_the_version_rule,
            a_change_of_older_history_waits_for_its_message,
            revoking_a_chat_lets_go_of_all_of_it,
            media_index_rules_hold_in_every_store
        );
        $crate::store_test_suite!(@each $kind, $make_quota,
            quota_exhaustion_evicts_and_keeps_the_incoming_message
        );
    };
    (@each blocking, $make:expr, $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                ::futures::executor::block_on($crate::suite::$name($make));
            }
        )+
    };
    (@each wasm, $make:expr, $($name:ident),+) => {
        $(
            #[::wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                $crate::suite::$name($make).await;
            }
        )+
    };
}
