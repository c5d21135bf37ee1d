//! Unit tests of [`super`].

use super::*;

use crate::ranges::set as held;

fn fetches(commands: &[Command]) -> Vec<(Seq, Seq, FetchPurpose)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Fetch(f) => Some((f.range.start, f.range.end, f.purpose)),
            Command::FullReload { .. } => None,
        })
        .collect()
}

fn planner(page_limit: u64) -> Planner {
    Planner::new(
        PlannerConfig {
            page_limit,
            ..PlannerConfig::default()
        },
        1,
    )
}

#[test]
fn pages_split_newest_first_within_the_limit() {
    let pages: Vec<_> = split_newest_first(SeqRange::new(1, 10), 4).collect();
    assert_eq!(
        pages,
        vec![
            SeqRange::new(7, 10),
            SeqRange::new(3, 6),
            SeqRange::new(1, 2)
        ]
    );
    let single: Vec<_> = split_newest_first(SeqRange::new(5, 5), 4).collect();
    assert_eq!(single, vec![SeqRange::new(5, 5)]);
}

#[test]
fn waits_the_grace_period_then_fetches_only_missing_trailing_and_interior() {
    let chat = RequestId::from("r1");
    let cache = held(&[(10, 20), (25, 30)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(33),
    };
    let mut p = planner(100);
    assert!(p.poll(&chat, input, 1_000).is_empty(), "grace period");
    assert_eq!(p.sync_state(&chat), SyncState::OutOfSync);
    assert_eq!(p.next_wakeup(), Some(1_300));
    let commands = p.poll(&chat, input, 1_300);
    assert_eq!(
        fetches(&commands),
        vec![
            (31, 33, FetchPurpose::Repair),
            (21, 24, FetchPurpose::Repair)
        ],
        "the leading gap 1..=9 is older history and is not fetched unasked"
    );
    assert_eq!(p.sync_state(&chat), SyncState::Fetching);
    assert!(
        p.poll(&chat, input, 1_400).is_empty(),
        "never twice while in flight"
    );
}

#[test]
fn resync_skips_the_grace_period_and_clears_out_of_sync_only_after_validation() {
    let chat = RequestId::from("r1");
    let before = held(&[(1, 5)]);
    let mut p = planner(100);
    p.request_resync(&chat);
    let commands = p.poll(
        &chat,
        ChatInput {
            held: &before,
            backend_last: Some(8),
        },
        0,
    );
    let Command::Fetch(fetch) = &commands[0] else {
        panic!("expected a fetch, got {commands:?}");
    };
    // The reply comes back short of one message: still out of sync.
    let partial = held(&[(1, 7)]);
    p.handle_fetch_result(
        fetch.id,
        FetchOutcome::Received {
            received: held(&[(6, 7)]),
            last_seq: 8,
            page_limit: Some(100),
        },
        ChatInput {
            held: &partial,
            backend_last: Some(8),
        },
        10,
    );
    assert_eq!(p.sync_state(&chat), SyncState::OutOfSync);
    assert_eq!(p.stats().short_replies, 1);
    let full = held(&[(1, 8)]);
    p.observe(
        &chat,
        ChatInput {
            held: &full,
            backend_last: Some(8),
        },
    );
    assert_eq!(p.sync_state(&chat), SyncState::InSync);
}

#[test]
fn back_online_the_page_after_the_newest_cached_message_is_asked_for_once_at_once() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 1000)]);
    // The backend's last sequence is the one learned before going offline.
    let input = ChatInput {
        held: &cache,
        backend_last: Some(1000),
    };
    let mut p = planner(100);
    assert!(
        p.poll(&chat, input, 0).is_empty(),
        "in sync: nothing unasked"
    );
    p.request_newer(&chat);
    let commands = p.poll(&chat, input, 0);
    assert_eq!(fetches(&commands), vec![(1001, 1100, FetchPurpose::Repair)]);
    assert!(p.poll(&chat, input, 0).is_empty(), "asked once");
    // The chat list then says 1100 exist: the trailing gap is in flight already.
    let listed = ChatInput {
        held: &cache,
        backend_last: Some(1100),
    };
    p.request_resync(&chat);
    assert!(
        p.poll(&chat, listed, 0).is_empty(),
        "no second request for 1001..=1100"
    );
    // The reply says 1150 exist: the rest is an ordinary trailing gap.
    let Command::Fetch(fetch) = &commands[0] else {
        unreachable!()
    };
    let after = held(&[(1, 1100)]);
    p.handle_fetch_result(
        fetch.id,
        FetchOutcome::Received {
            received: held(&[(1001, 1100)]),
            last_seq: 1150,
            page_limit: Some(100),
        },
        ChatInput {
            held: &after,
            backend_last: Some(1150),
        },
        5,
    );
    assert_eq!(p.stats().short_replies, 0);
    let rest = ChatInput {
        held: &after,
        backend_last: Some(1150),
    };
    p.request_resync(&chat);
    assert_eq!(
        fetches(&p.poll(&chat, rest, 5)),
        vec![(1101, 1150, FetchPurpose::Repair)]
    );
}

#[test]
fn the_page_after_the_newest_needs_a_cached_message_and_no_fetch_above_it() {
    let chat = RequestId::from("r1");
    let mut p = planner(100);
    let empty = SeqRanges::new();
    p.request_newer(&chat);
    let nothing = ChatInput {
        held: &empty,
        backend_last: None,
    };
    assert!(
        p.poll(&chat, nothing, 0).is_empty(),
        "an uncached chat is not probed"
    );
    // A trailing repair is out: no probe on top of it.
    let cache = held(&[(1, 10)]);
    let behind = ChatInput {
        held: &cache,
        backend_last: Some(20),
    };
    p.request_resync(&chat);
    assert_eq!(
        fetches(&p.poll(&chat, behind, 0)),
        vec![(11, 20, FetchPurpose::Repair)]
    );
    p.request_newer(&chat);
    assert!(p.poll(&chat, behind, 0).is_empty());
    // The backend's last sequence unknown: the probe still goes out (its reply says it).
    let mut q = planner(100);
    q.request_newer(&chat);
    let unknown = ChatInput {
        held: &cache,
        backend_last: None,
    };
    assert_eq!(
        fetches(&q.poll(&chat, unknown, 0)),
        vec![(11, 110, FetchPurpose::Repair)]
    );
    // A refused chat is not probed.
    let mut r = planner(100);
    r.request_newer(&chat);
    let Command::Fetch(probe) = r.poll(&chat, unknown, 0).remove(0) else {
        unreachable!()
    };
    r.handle_fetch_result(probe.id, FetchOutcome::Refused, unknown, 1);
    r.request_newer(&chat);
    assert!(r.poll(&chat, unknown, 2).is_empty());
}

#[test]
fn a_hinted_message_of_a_never_held_chat_is_fetched_alone_once() {
    let chat = RequestId::from("r1");
    let mut p = planner(100);
    let empty = SeqRanges::new();
    let unknown = ChatInput {
        held: &empty,
        backend_last: None,
    };
    p.request_exact(&chat, 9);
    let commands = p.poll(&chat, unknown, 0);
    assert_eq!(fetches(&commands), vec![(9, 9, FetchPurpose::Repair)]);
    p.request_exact(&chat, 9);
    assert!(
        p.poll(&chat, unknown, 0).is_empty(),
        "in flight: not asked twice"
    );
    let Command::Fetch(fetch) = &commands[0] else {
        unreachable!()
    };
    let after = held(&[(9, 9)]);
    let known = ChatInput {
        held: &after,
        backend_last: Some(9),
    };
    p.handle_fetch_result(
        fetch.id,
        FetchOutcome::Received {
            received: held(&[(9, 9)]),
            last_seq: 9,
            page_limit: Some(100),
        },
        known,
        1,
    );
    // Held now: asking again fetches nothing, and older history stays unasked.
    p.request_exact(&chat, 9);
    assert!(p.poll(&chat, known, 2).is_empty());
}

#[test]
fn older_history_is_fetched_one_page_at_a_time_on_demand() {
    let chat = RequestId::from("r1");
    let cache = held(&[(901, 1000)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(1000),
    };
    let mut p = planner(50);
    assert!(p.poll(&chat, input, 0).is_empty());
    p.request_older(&chat);
    assert_eq!(
        fetches(&p.poll(&chat, input, 0)),
        vec![(851, 900, FetchPurpose::OlderHistory)]
    );
    p.request_older(&chat);
    assert_eq!(
        fetches(&p.poll(&chat, input, 0)),
        vec![(801, 850, FetchPurpose::OlderHistory)]
    );
}

#[test]
fn a_failed_page_of_older_history_is_asked_again_after_the_backoff() {
    let chat = RequestId::from("r1");
    let cache = held(&[(901, 1000)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(1000),
    };
    let mut p = planner(50);
    p.request_older(&chat);
    let commands = p.poll(&chat, input, 0);
    let Some(Command::Fetch(first)) = commands.first() else {
        panic!("expected the older page");
    };
    p.handle_fetch_result(first.id, FetchOutcome::Failed, input, 0);
    assert!(p.wants_older(&chat), "the reader still waits for it");
    assert!(p.poll(&chat, input, 0).is_empty(), "not before the backoff");
    let wake = p.next_wakeup().expect("a retry is scheduled");
    assert_eq!(
        fetches(&p.poll(&chat, input, wake)),
        vec![(951 - 100, 900, FetchPurpose::OlderHistory)]
    );
    assert!(!p.wants_older(&chat));
}

#[test]
fn failures_back_off_with_growing_delays() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 5)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(6),
    };
    let mut p = planner(100);
    p.request_resync(&chat);
    let mut now = 0;
    let mut delays = Vec::new();
    for _ in 0..6 {
        let commands = p.poll(&chat, input, now);
        let Some(Command::Fetch(f)) = commands.first() else {
            panic!("expected a fetch at {now}");
        };
        p.handle_fetch_result(f.id, FetchOutcome::Failed, input, now);
        assert!(
            p.poll(&chat, input, now).is_empty(),
            "no retry before the backoff ends"
        );
        let wake = p.next_wakeup().expect("a retry is scheduled");
        delays.push(wake - now);
        now = wake;
    }
    assert!(delays.windows(2).all(|w| w[1] >= w[0] / 2), "{delays:?}");
    assert!(delays[5] > delays[0] * 4, "{delays:?}");
}

#[test]
fn a_proven_gap_skips_the_grace_period_but_not_the_backoff() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 5)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(8),
    };
    let mut p = planner(100);
    p.note_gap_proven(&chat);
    let Some(Command::Fetch(first)) = p.poll(&chat, input, 0).first().cloned() else {
        panic!("a proven gap is fetched at once, without the grace period");
    };
    p.handle_fetch_result(first.id, FetchOutcome::Failed, input, 0);
    let wake = p.next_wakeup().expect("a retry is scheduled");
    // Ten more pushes arrive before the backoff ends: none of them sends a request.
    for push in 1..=10 {
        p.note_gap_proven(&chat);
        assert!(p.poll(&chat, input, wake * push / 11).is_empty());
    }
    assert!(matches!(
        p.poll(&chat, input, wake).first(),
        Some(Command::Fetch(_))
    ));
    // A manual resync still skips the backoff.
    let mut p = planner(100);
    p.request_resync(&chat);
    let Some(Command::Fetch(first)) = p.poll(&chat, input, 0).first().cloned() else {
        panic!("expected a fetch");
    };
    p.handle_fetch_result(first.id, FetchOutcome::Failed, input, 0);
    p.request_resync(&chat);
    assert!(matches!(
        p.poll(&chat, input, 1).first(),
        Some(Command::Fetch(_))
    ));
}

#[test]
fn cursor_fallback_then_full_reload_with_its_reason() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 5)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(7),
    };
    let mut p = planner(100);
    p.request_resync(&chat);
    let Command::Fetch(first) = p.poll(&chat, input, 0).remove(0) else {
        panic!("expected a fetch");
    };
    assert_eq!(first.method, FetchMethod::Range);
    p.handle_fetch_result(first.id, FetchOutcome::MethodUnsupported, input, 0);
    let Command::Fetch(second) = p.poll(&chat, input, 0).remove(0) else {
        panic!("expected a fetch");
    };
    assert_eq!(second.method, FetchMethod::Cursor);
    p.handle_fetch_result(second.id, FetchOutcome::MethodUnsupported, input, 0);
    assert_eq!(
        p.poll(&chat, input, 0),
        vec![Command::FullReload {
            request_id: chat.clone(),
            reason: FullReloadReason::NoHistoryFetch
        }]
    );
    assert_eq!(p.stats().full_reloads, 1);
}

#[test]
fn a_refused_chat_waits_for_a_manual_resync() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 5)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(9),
    };
    let mut p = planner(100);
    p.request_resync(&chat);
    let Command::Fetch(f) = p.poll(&chat, input, 0).remove(0) else {
        panic!("expected a fetch");
    };
    p.handle_fetch_result(f.id, FetchOutcome::Refused, input, 0);
    assert!(p.poll(&chat, input, 100_000).is_empty());
    p.request_resync(&chat);
    assert_eq!(
        fetches(&p.poll(&chat, input, 100_000)),
        vec![(6, 9, FetchPurpose::Repair)]
    );
}

#[test]
fn gaps_on_screen_are_fetched_first() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 10), (20, 30), (40, 50)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(60),
    };
    let mut p = Planner::new(
        PlannerConfig {
            page_limit: 100,
            max_in_flight_per_chat: 1,
            ..PlannerConfig::default()
        },
        1,
    );
    p.request_resync(&chat);
    p.set_viewport(&chat, Some(SeqRange::new(5, 25)));
    assert_eq!(
        fetches(&p.poll(&chat, input, 0)),
        vec![(11, 19, FetchPurpose::Repair)]
    );
}

#[test]
fn trim_keeps_only_what_is_still_missing() {
    let command = FetchCommand {
        id: 1,
        request_id: RequestId::from("r1"),
        range: SeqRange::new(1, 10),
        purpose: FetchPurpose::Repair,
        method: FetchMethod::Range,
    };
    let now_held = held(&[(3, 4), (8, 12)]);
    assert_eq!(Planner::trim(&command, &now_held), held(&[(1, 2), (5, 7)]));
    assert!(Planner::trim(&command, &held(&[(1, 10)])).is_empty());
}

#[test]
fn in_flight_cap_limits_pages_per_chat() {
    let chat = RequestId::from("r1");
    let cache = held(&[(1, 1)]);
    let input = ChatInput {
        held: &cache,
        backend_last: Some(10_000),
    };
    let mut p = planner(100);
    p.request_resync(&chat);
    let first = fetches(&p.poll(&chat, input, 0));
    assert_eq!(first.len(), 4);
    assert_eq!(first[0], (9_901, 10_000, FetchPurpose::Repair));
    assert_eq!(
        p.progress(&chat),
        Progress {
            done: 0,
            total: 9_999
        }
    );
}
