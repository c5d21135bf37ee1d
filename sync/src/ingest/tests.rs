//! Unit tests of [`super`].

use super::*;
use crate::protocol::MAX_SEQ;
use crate::types::{ChatSummary, Sender};

pub(crate) fn msg(chat: &str, seq: Seq, body: &str, sender: &str) -> Message {
    Message {
        request_id: RequestId::from(chat),
        seq,
        id: format!("m{seq}"),
        client_temp_id: None,
        sender: Sender {
            id: sender.to_owned(),
            name: sender.to_uppercase(),
            role: if sender.starts_with("req") {
                SenderRole::Requester
            } else {
                SenderRole::Agent
            },
        },
        body: body.to_owned(),
        attachments: Vec::new(),
        created_at: seq as Millis * 1000,
        deleted: false,
        version: 0,
        edited_at: None,
    }
}

fn ctx(open: bool) -> IngestContext {
    IngestContext {
        now: 5,
        chat_open: open,
        own_user_id: Some("alice".into()),
        source: Source::Push,
        backend_last: None,
    }
}

#[test]
fn a_never_seen_chat_is_created_with_meta_and_unread() {
    let chat = RequestId::from("r1");
    let plan = plan_ingest(
        &chat,
        None,
        &[],
        vec![msg("r1", 7, "hello", "req1")],
        &ctx(false),
    );
    assert_eq!(plan.report.new_seqs, vec![7]);
    assert_eq!(plan.record.unread, 1);
    assert_eq!(plan.record.last_message.as_deref(), Some("hello"));
    assert_eq!(plan.record.backend_last_seq, 7);
    assert!(!plan.record.backend_last_seq_known);
    assert_eq!(
        plan.record.requester.as_ref().map(|p| p.name.as_str()),
        Some("REQ1")
    );
    assert!(
        !plan.report.reveals_gap,
        "a leading gap is older history, not a gap"
    );
}

#[test]
fn duplicates_write_nothing_and_changed_content_is_replaced_and_reported() {
    let chat = RequestId::from("r1");
    let first = plan_ingest(
        &chat,
        None,
        &[],
        vec![msg("r1", 1, "a", "req1")],
        &ctx(false),
    );
    let again = plan_ingest(
        &chat,
        Some(first.record.clone()),
        &first.put,
        vec![msg("r1", 1, "a", "req1")],
        &ctx(false),
    );
    assert!(again.put.is_empty());
    assert_eq!(again.report.duplicates, 1);
    assert_eq!(again.record.unread, 1, "a duplicate is not unread twice");
    let changed = plan_ingest(
        &chat,
        Some(first.record.clone()),
        &first.put,
        vec![msg("r1", 1, "b", "req1")],
        &ctx(false),
    );
    assert_eq!(changed.put[0].body, "b");
    assert_eq!(
        changed.report.anomalies,
        vec![Anomaly::ContentChanged { seq: 1 }]
    );
    let mut tombstone = msg("r1", 1, "", "req1");
    tombstone.deleted = true;
    let deleted = plan_ingest(
        &chat,
        Some(first.record),
        &first.put,
        vec![tombstone],
        &ctx(false),
    );
    assert!(deleted.report.anomalies.is_empty());
    assert_eq!(deleted.record.held.count(), 1, "a tombstone keeps its seq");
}

#[test]
fn open_chats_and_own_messages_add_no_unread() {
    let chat = RequestId::from("r1");
    let open = plan_ingest(
        &chat,
        None,
        &[],
        vec![msg("r1", 1, "a", "req1")],
        &ctx(true),
    );
    assert_eq!(open.record.unread, 0);
    let own = plan_ingest(
        &chat,
        None,
        &[],
        vec![msg("r1", 1, "a", "alice")],
        &ctx(false),
    );
    assert_eq!(own.record.unread, 0);
}

#[test]
fn a_pushed_or_live_message_above_a_hole_makes_the_backend_last_seq_known() {
    let chat = RequestId::from("r1");
    let first = plan_ingest(
        &chat,
        None,
        &[],
        vec![msg("r1", 1, "a", "req1")],
        &ctx(false),
    );
    assert!(
        !first.record.backend_last_seq_known,
        "one message proves no hole"
    );
    for source in [Source::Push, Source::Live] {
        let context = IngestContext {
            source,
            ..ctx(false)
        };
        let plan = plan_ingest(
            &chat,
            Some(first.record.clone()),
            &[],
            vec![msg("r1", 9, "b", "req1")],
            &context,
        );
        assert!(plan.report.reveals_gap);
        assert!(plan.record.backend_last_seq_known, "{source:?}");
        assert_eq!(plan.record.backend_last_seq, 9);
        let gaps = plan.record.held.gaps(plan.record.backend_last_seq);
        assert_eq!(gaps.repair_count(), 7, "2..=8 are due for repair");
    }
    // A fetched page says its last seq itself (the driver records it from the reply).
    let fetched = IngestContext {
        source: Source::Fetch,
        ..ctx(false)
    };
    let plan = plan_ingest(
        &chat,
        Some(first.record),
        &[],
        vec![msg("r1", 9, "b", "req1")],
        &fetched,
    );
    assert!(!plan.record.backend_last_seq_known);
}

#[test]
fn echo_confirms_the_outbox_entry_and_gaps_are_revealed() {
    let chat = RequestId::from("r1");
    let base = plan_ingest(
        &chat,
        None,
        &[],
        vec![msg("r1", 1, "a", "req1")],
        &ctx(false),
    );
    let mut echo = msg("r1", 3, "mine", "alice");
    echo.client_temp_id = Some("tmp-1".into());
    let plan = plan_ingest(&chat, Some(base.record), &[], vec![echo], &ctx(true));
    assert_eq!(plan.outbox_remove, vec!["tmp-1".to_owned()]);
    assert!(plan.report.reveals_gap);
}

#[test]
fn invalid_messages_are_rejected_without_touching_the_record() {
    let chat = RequestId::from("r1");
    let zero = msg("r1", 0, "bad", "req1");
    let foreign = msg("r2", 4, "elsewhere", "req1");
    let plan = plan_ingest(&chat, None, &[], vec![zero, foreign], &ctx(false));
    assert!(plan.put.is_empty());
    assert_eq!(plan.report.rejected.len(), 2);
    assert!(plan.record.held.is_empty());
    assert!(!plan.touched, "a store writes nothing for a refused batch");
}

#[test]
fn an_out_of_range_last_seq_in_a_summary_never_poisons_the_record() {
    // Before the guard, one chat list entry with `last_seq: u64::MAX` left the record
    // with a trailing gap of 2^64 sequences for good (the value never moves backwards).
    let summary = |last_seq| ChatSummary {
        request_id: RequestId::from("r1"),
        title: "Printer".into(),
        requester: Person {
            id: "req1".into(),
            name: "Req".into(),
        },
        last_seq,
        last_message: None,
        updated_at: 99,
        change_version: 0,
        closed: false,
    };
    let record = apply_summary(None, &summary(40));
    for hostile in [MAX_SEQ + 1, u64::MAX] {
        let after = apply_summary(Some(record.clone()), &summary(hostile));
        assert_eq!(after.backend_last_seq, 40);
    }
    let unknown = apply_summary(None, &summary(u64::MAX));
    assert!(!unknown.backend_last_seq_known);
    assert_eq!(unknown.backend_last_seq, 0);
}

#[test]
fn a_cleared_chat_is_listed_again_as_one_the_cache_holds_nothing_of() {
    let summary = ChatSummary {
        request_id: RequestId::from("r1"),
        title: "Printer <b>on fire</b>".into(),
        requester: Person {
            id: "req1".into(),
            name: "Req".into(),
        },
        last_seq: 40,
        last_message: Some("any news?".into()),
        updated_at: 99,
        change_version: 7,
        closed: true,
    };
    let mut cached = apply_summary(None, &summary);
    cached.held = crate::ranges::SeqRanges::from_range(crate::ranges::SeqRange::new(30, 40));
    cached.message_count = 11;
    cached.unread = 3;
    cached.change_version = 5;
    let listed = listed_summary(&cached).expect("a listed chat");
    assert_eq!(listed, summary, "the entry the record was made from");
    let again = apply_summary(None, &listed);
    assert_eq!(
        (
            again.title.as_str(),
            again.requester.as_ref(),
            again.last_message.as_deref()
        ),
        (
            "Printer <b>on fire</b>",
            Some(&summary.requester),
            Some("any news?")
        )
    );
    assert!(again.backend_last_seq_known && again.backend_last_seq == 40);
    assert!(again.held.is_empty() && again.message_count == 0 && again.unread == 0);
    assert_eq!(
        again.change_version, 7,
        "nothing cached: whatever is fetched from now on is current"
    );
    assert!(again.closed);

    // A record only a push made names no requester: the next chat list brings it back.
    let pushed = ChatRecord::new(RequestId::from("r2"));
    assert_eq!(listed_summary(&pushed), None);
}

#[test]
fn summaries_make_the_backend_last_sequence_known() {
    let summary = ChatSummary {
        request_id: RequestId::from("r1"),
        title: "Printer".into(),
        requester: Person {
            id: "req1".into(),
            name: "Req".into(),
        },
        last_seq: 40,
        last_message: Some("latest".into()),
        updated_at: 99,
        change_version: 0,
        closed: false,
    };
    let record = apply_summary(None, &summary);
    assert!(record.backend_last_seq_known);
    assert_eq!(record.backend_last_seq, 40);
    assert_eq!(record.last_message.as_deref(), Some("latest"));
}

#[test]
fn a_history_replys_last_seq_is_recorded_with_its_batch_and_not_without_one() {
    let chat = RequestId::from("r1");
    let fetched = IngestContext {
        source: Source::Fetch,
        backend_last: Some(40),
        ..ctx(false)
    };
    let plan = plan_ingest(&chat, None, &[], vec![msg("r1", 30, "a", "req1")], &fetched);
    assert!(plan.touched);
    assert!(plan.record.backend_last_seq_known);
    assert_eq!(plan.record.backend_last_seq, 40);
    let gaps = plan.record.held.gaps(plan.record.backend_last_seq);
    assert_eq!(
        gaps.repair_count(),
        10,
        "31..=40 are now known to be missing"
    );
    // An empty batch writes nothing, so it records nothing (the caller records it then).
    let empty = plan_ingest(&chat, None, &[], Vec::new(), &fetched);
    assert!(!empty.touched);
    assert!(!empty.record.backend_last_seq_known);
    // A value beyond what the contract allows is never recorded.
    let hostile = IngestContext {
        backend_last: Some(crate::protocol::MAX_SEQ + 1),
        ..fetched
    };
    let plan = plan_ingest(&chat, None, &[], vec![msg("r1", 30, "a", "req1")], &hostile);
    assert_eq!(plan.record.backend_last_seq, 30);
}

#[test]
fn cached_copies_are_found_in_order_or_not() {
    let in_order: Vec<Message> = (3..=9).map(|seq| msg("r1", seq, "hi", "req")).collect();
    let cached = CachedCopies::of(&in_order);
    assert!(cached.sorted);
    assert_eq!(cached.get(5).map(|m| m.seq), Some(5));
    assert_eq!(cached.get(2), None);
    assert_eq!(cached.get(10), None);

    let mut shuffled = in_order.clone();
    shuffled.swap(0, 4);
    let cached = CachedCopies::of(&shuffled);
    assert!(!cached.sorted);
    for seq in 3..=9 {
        assert_eq!(cached.get(seq).map(|m| m.seq), Some(seq));
    }
    assert_eq!(cached.get(10), None);
    assert!(CachedCopies::of(&[]).get(1).is_none());
}
