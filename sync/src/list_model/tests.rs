//! Unit tests of [`super`]: the list's decisions over plain values, with every message row
//! estimated [`MESSAGE`] pixels tall and every skeleton [`SKELETON`]. Reads, notices, reports
//! and row facts here; keeping the reader's place in [`anchoring`].

use super::*;

use crate::notice::{ChangeNotice, NoticeSource};
use crate::outbox::OutboxState;
use crate::ranges::{set, SeqRanges};
use crate::suite::message;
use crate::types::RequestId;

mod anchoring;

const MESSAGE: f64 = 50.0;
const SKELETON: f64 = 200.0;

fn estimate(_: &ListModel, row: &Row) -> f64 {
    match row {
        Row::Message(_) => MESSAGE,
        Row::Gap(_) | Row::Older(_) => SKELETON,
    }
}

fn record(held: &[(Seq, Seq)], backend_last: Seq) -> ChatRecord {
    let mut record = ChatRecord::new(RequestId::from("REQ-1"));
    record.held = set(held);
    record.backend_last_seq = backend_last;
    record.backend_last_seq_known = true;
    record
}

fn view(top: f64, height: f64) -> Viewport {
    Viewport { top, height }
}

/// Applies a record holding `held` (backend at `backend_last`) with the reader at `viewport`.
fn apply(model: &mut ListModel, held: &[(Seq, Seq)], backend_last: Seq, at: Viewport) -> Applied {
    let pending = model.pending().to_vec();
    apply_with(model, held, backend_last, pending, at)
}

fn apply_with(
    model: &mut ListModel,
    held: &[(Seq, Seq)],
    backend_last: Seq,
    pending: Vec<OutboxEntry>,
    at: Viewport,
) -> Applied {
    let record = record(held, backend_last);
    let readable = record.held.clone();
    model.apply_record(Some(record), &readable, pending, at, estimate)
}

fn unsent(id: &str, order: u64) -> OutboxEntry {
    OutboxEntry {
        client_temp_id: id.to_owned(),
        request_id: RequestId::from("REQ-1"),
        body: "hello".to_owned(),
        attachments: Vec::new(),
        created_at: 0,
        order,
        state: OutboxState::Queued,
        attempts: 0,
        not_before: 0,
    }
}

fn key(seq: Seq) -> ListKey {
    ListKey::Row(RowKey::Message(seq))
}

/// A reader scrolled up (not following the bottom) in a chat holding `held`.
fn scrolled_up(held: &[(Seq, Seq)], backend_last: Seq) -> ListModel {
    let mut model = ListModel::new();
    model.start_at(Some(held[0].0));
    apply(&mut model, held, backend_last, view(0.0, 0.0));
    model
}

#[test]
fn first_unread_is_the_oldest_of_the_newest_unread_above_the_read_position() {
    let mut chat = record(&[(1, 100)], 100);
    assert_eq!(first_unread(&chat), None, "nothing unread");
    chat.unread = 5;
    assert_eq!(first_unread(&chat), Some(96));
    chat.read_seq = 97;
    assert_eq!(
        first_unread(&chat),
        Some(98),
        "never at or below the read position"
    );
    chat.read_seq = 100;
    assert_eq!(first_unread(&chat), None, "everything held was read");
    chat.read_seq = 0;
    chat.unread = 500;
    assert_eq!(first_unread(&chat), Some(1), "more unread than held");
}

#[test]
fn the_first_screen_is_read_around_the_first_unread_or_the_newest() {
    let held = set(&[(1, 100)]);
    assert_eq!(
        opening_window(Some(96), &held),
        Some(SeqRange::new(36, 136))
    );
    assert_eq!(opening_window(None, &held), Some(SeqRange::new(40, 140)));
    assert_eq!(opening_window(Some(3), &held), Some(SeqRange::new(1, 43)));
    assert_eq!(opening_window(None, &SeqRanges::new()), None);
}

#[test]
fn a_write_handed_over_keeps_its_messages_drops_confirmed_unsent_ones_and_outdates_earlier_reads() {
    let mut model = ListModel::new();
    apply_with(
        &mut model,
        &[(1, 100)],
        100,
        vec![unsent("a", 1), unsent("b", 2)],
        view(0.0, 600.0),
    );
    let before = model.read_mark();
    assert!(model.may_apply_read(before));
    let written = crate::ingest::Written {
        request_id: RequestId::from("REQ-1"),
        record: record(&[(1, 101)], 101),
        messages: vec![message("REQ-1", 101, "echo of a")],
        confirmed_outbox: vec!["a".into()],
    };
    let pending = model.keep_written(&written);
    let left: Vec<&str> = pending.iter().map(|e| e.client_temp_id.as_str()).collect();
    assert_eq!(left, vec!["b"], "the confirmed entry is its echo now");
    assert_eq!(
        model.message(101).map(|m| m.body.as_str()),
        Some("echo of a")
    );
    assert!(
        !model.may_apply_read(before),
        "a record read before the write may predate it"
    );
    assert!(model.may_apply_read(model.read_mark()));

    let mut noted = NotedChanges::default();
    assert!(!noted.stale() && !noted.any());
    noted.note_unknown();
    assert!(noted.any());
    assert!(noted.stale() && noted.reads_outbox() && noted.early_read().is_none());

    // A refresh that took these and could not lay out its read gives them back.
    let mut next = NotedChanges::default();
    next.merge(noted);
    assert_eq!(next, noted);
    let mut unchanged = noted;
    unchanged.merge(NotedChanges::default());
    assert_eq!(unchanged, noted, "merging nothing changes nothing");
}

#[test]
fn committed_messages_handed_over_are_not_read_again_and_never_replace_a_read_copy() {
    let mut model = ListModel::new();
    model.insert_messages([message("REQ-1", 101, "read from the store")]);
    model.keep_committed(&[
        message("REQ-1", 101, "handed over"),
        message("REQ-1", 102, "handed over"),
    ]);
    assert_eq!(
        model.reads_for(&set(&[(1, 102)]), SeqRange::new(95, 102)),
        vec![SeqRange::new(95, 100)],
        "the handed-over messages are in memory"
    );
    model.clear_messages();
    model.insert_messages([message("REQ-1", 101, "read from the store")]);
    model.keep_committed(&[message("REQ-1", 101, "handed over")]);
    model.insert_messages([message("REQ-1", 102, "read")]);
    assert_eq!(
        model.reads_for(&set(&[(1, 102)]), SeqRange::new(101, 102)),
        Vec::<SeqRange>::new()
    );
    assert_eq!(
        model.message(101).map(|m| m.body.as_str()),
        Some("read from the store"),
        "a copy read from the store is kept"
    );
}

#[test]
fn what_to_read_skips_loaded_and_missing_seqs_in_bounded_reads() {
    let mut model = ListModel::new();
    model.insert_messages((10..=20).map(|seq| message("REQ-1", seq, "x")));
    assert_eq!(
        model.reads_for(&set(&[(1, 100)]), SeqRange::new(1, 50)),
        vec![SeqRange::new(1, 9), SeqRange::new(21, 50)]
    );
    assert_eq!(
        model.reads_for(&set(&[(1, 5), (8, 30)]), SeqRange::new(3, 12)),
        vec![SeqRange::new(3, 5), SeqRange::new(8, 9)],
        "only held seqs, and none already in memory"
    );
    assert_eq!(
        ListModel::new().reads_for(&set(&[(1, 2_500)]), SeqRange::new(1, 2_500)),
        vec![
            SeqRange::new(1, 1_000),
            SeqRange::new(1_001, 2_000),
            SeqRange::new(2_001, 2_500)
        ]
    );
    assert!(model
        .reads_for(&set(&[(1, 100)]), SeqRange::new(12, 18))
        .is_empty());
    assert_eq!(model.not_loaded(set(&[(5, 25)])), set(&[(5, 9), (21, 25)]));
}

#[test]
fn a_wanted_read_takes_a_margin_on_each_side() {
    assert_eq!(
        ListModel::read_window(&set(&[(100, 120)])),
        Some(SeqRange::new(40, 180))
    );
    assert_eq!(
        ListModel::read_window(&set(&[(10, 12)])),
        Some(SeqRange::new(1, 72))
    );
    assert_eq!(ListModel::read_window(&SeqRanges::new()), None);
}

#[test]
fn memory_keeps_the_messages_near_the_last_read() {
    let mut model = ListModel::new();
    model.insert_messages((1..=3_000).map(|seq| message("REQ-1", seq, "x")));
    model.forget_far_messages(SeqRange::new(2_990, 3_000));
    assert_eq!(model.loaded(), 3_000, "not over the limit yet");
    model.insert_messages([message("REQ-1", 3_001, "x")]);
    model.forget_far_messages(SeqRange::new(2_990, 3_001));
    assert_eq!(model.loaded(), 3_001 - 1_990 + 1);
    assert!(model.message(1_989).is_none());
    assert!(model.message(1_990).is_some());
}

#[test]
fn a_change_notice_keeps_read_messages_only_for_additions() {
    let mut noted = NotedChanges::default();
    assert_eq!(noted.early_read(), None);
    let mut pushed = ChangeNotice::about(&RequestId::from("REQ-1"), NoticeSource::Push);
    pushed.new_seqs = vec![105, 101];
    noted.note(&pushed);
    let mut live = ChangeNotice::about(&RequestId::from("REQ-1"), NoticeSource::Live);
    live.new_seqs = vec![103];
    noted.note(&live);
    assert!(!noted.stale());
    assert_eq!(noted.early_read(), Some(SeqRange::new(65, 105)));
    let mut edited = ChangeNotice::about(&RequestId::from("REQ-1"), NoticeSource::Change);
    edited.replaced = 1;
    noted.note(&edited);
    assert!(noted.stale(), "an edit makes every copy in memory suspect");
    assert_eq!(noted.early_read(), None, "all is read again instead");
}

#[test]
fn a_refresh_reads_the_unsent_messages_only_when_a_change_touched_them() {
    let chat = RequestId::from("REQ-1");
    assert!(
        NotedChanges::default().reads_outbox(),
        "a refresh that knows of no change reads everything"
    );
    let mut fetched = ChangeNotice::about(&chat, NoticeSource::Fetch);
    fetched.new_seqs = vec![101];
    let mut noted = NotedChanges::default();
    noted.note(&fetched);
    assert!(
        !noted.reads_outbox(),
        "fetched history leaves the outbox as it was"
    );
    let mut echo = ChangeNotice::about(&chat, NoticeSource::Live);
    echo.confirmed_outbox = vec!["tmp-1".to_owned()];
    let mut revoked = ChangeNotice::about(&chat, NoticeSource::Revoked);
    revoked.revoked = true;
    for touching in [
        ChangeNotice::about(&chat, NoticeSource::Outbox),
        echo,
        revoked,
    ] {
        let mut noted = NotedChanges::default();
        noted.note(&fetched);
        noted.note(&touching);
        assert!(noted.reads_outbox(), "{touching:?}");
    }
}

#[test]
fn a_refresh_reads_the_screen_and_the_newest_together_when_they_touch() {
    let model = scrolled_up(&[(1, 200)], 200);
    let top = model.visible_indices(view(0.0, 500.0), true);
    assert_eq!(top, 0..11);
    assert_eq!(
        model.refresh_reads(top, &set(&[(1, 200)])),
        RefreshReads::Apart {
            screen: Some(SeqRange::new(1, 11)),
            bottom: Some(SeqRange::new(160, 200))
        }
    );
    let bottom = model.visible_indices(view(9_500.0, 500.0), false);
    assert_eq!(bottom, 174..200, "with the overscan above");
    assert_eq!(
        model.refresh_reads(bottom, &set(&[(1, 205)])),
        RefreshReads::Joined(SeqRange::new(165, 205))
    );
    assert_eq!(
        ListModel::new().refresh_reads(0..0, &SeqRanges::new()),
        RefreshReads::Apart {
            screen: None,
            bottom: None
        }
    );
}

#[test]
fn after_a_render_each_finding_is_reported_once() {
    let mut model = scrolled_up(&[(11, 30)], 30);
    model.insert_messages((11..=14).map(|seq| message("REQ-1", seq, "x")));
    // Rows: Older(1..=10) 200 px, then 11..=30; the screen shows the skeleton and 11..=15.
    let at = view(0.0, 400.0);
    let overscanned = model.visible_indices(at, false);
    let found = model.after_render(at, overscanned.clone());
    assert_eq!(
        found,
        AfterRender {
            read: set(&[(15, 30)]),
            ask_older: true,
            newly_seen: Some(15),
            shown_changed: Some(Some(SeqRange::new(11, 15))),
        }
    );
    let again = model.after_render(at, overscanned.clone());
    assert!(!again.ask_older);
    assert_eq!(again.newly_seen, None);
    assert_eq!(again.shown_changed, None);
    // A new record (a page of older history) may show the older row again: asked again.
    apply(&mut model, &[(6, 30)], 30, at);
    assert!(model.after_render(at, overscanned).ask_older);
}

#[test]
fn message_facts_join_groups_and_offer_actions() {
    let mut model = scrolled_up(&[(1, 3)], 3);
    let mut first = message("REQ-1", 1, "hi");
    first.created_at = 86_400_000 - 60_000;
    let mut second = message("REQ-1", 2, "again");
    second.created_at = 86_400_000 + 60_000;
    let mut third = message("REQ-1", 3, "mine");
    third.sender.id = "agent-1".into();
    third.created_at = 86_400_000 + 120_000;
    model.insert_messages([first, second, third]);
    model.start_at(Some(3));
    let agent = Viewer {
        id: "agent-1".into(),
        agent: true,
    };
    let (_, facts) = model.message_facts(2, &agent, |_| 0).unwrap();
    assert!(facts.group_start && facts.new_day, "midnight in UTC");
    let (_, facts) = model.message_facts(2, &agent, |_| -120).unwrap();
    assert!(
        !facts.group_start && !facts.new_day,
        "the same day two hours west"
    );
    assert!(!facts.own && !facts.can_edit && facts.can_delete);
    let (_, facts) = model.message_facts(3, &agent, |_| 0).unwrap();
    assert!(facts.own && facts.can_edit && facts.can_delete && facts.first_unread);
    let requester = Viewer {
        id: "someone".into(),
        agent: false,
    };
    let (_, facts) = model.message_facts(2, &requester, |_| 0).unwrap();
    assert!(!facts.can_delete && !facts.first_unread);
    assert!(
        model.message_facts(4, &agent, |_| 0).is_none(),
        "not in memory"
    );
}

#[test]
fn a_closed_request_offers_no_edit() {
    let mut model = ListModel::new();
    let mut closed = record(&[(1, 1)], 1);
    closed.closed = true;
    let held = closed.held.clone();
    model.apply_record(Some(closed), &held, Vec::new(), view(0.0, 0.0), estimate);
    let mut mine = message("REQ-1", 1, "mine");
    mine.sender.id = "agent-1".into();
    model.insert_messages([mine]);
    let agent = Viewer {
        id: "agent-1".into(),
        agent: true,
    };
    let (_, facts) = model.message_facts(1, &agent, |_| 0).unwrap();
    assert!(!facts.can_edit && facts.can_delete);
}

#[test]
fn progress_changes_only_when_it_differs() {
    let mut model = ListModel::new();
    assert!(!model.set_progress(None));
    assert!(model.set_progress(Some((1, 4))));
    assert!(!model.set_progress(Some((1, 4))));
    assert_eq!(model.progress(), Some((1, 4)));
}

#[test]
fn a_render_reads_ahead_of_the_overscan_so_a_fast_scroll_finds_its_rows_read() {
    let mut model = scrolled_up(&[(1, 500)], 500);
    // Every row is estimated (nothing measured), so row i stands at i × MESSAGE.
    let at = view(250.0 * MESSAGE, 640.0);
    model.insert_messages((150..=300).map(|seq| message("REQ-1", seq, "x")));
    let overscanned = model.visible_indices(at, false);
    let found = model.after_render(at, overscanned.clone());
    let overscan = model.timeline().message_seqs(overscanned);
    assert!(
        overscan.min() >= Some(150) && overscan.max() <= Some(300),
        "the overscan itself is read already: {overscan:?}"
    );
    // The rows past the overscan, up to READ_AHEAD_PX further, are read now.
    let reach = ((OVERSCAN_PX + READ_AHEAD_PX + 640.0) / MESSAGE).ceil() as u64;
    assert_eq!(found.read.min(), Some(301));
    let last = found.read.max().expect("rows ahead to read");
    assert!(
        last > 300 + (OVERSCAN_PX / MESSAGE) as u64 && last <= 250 + reach + 1,
        "read up to {last}"
    );
    // With every message within that reach in memory, nothing is read.
    model.insert_messages((301..=420).map(|seq| message("REQ-1", seq, "x")));
    assert!(model
        .after_render(at, model.visible_indices(at, false))
        .read
        .is_empty());
}
