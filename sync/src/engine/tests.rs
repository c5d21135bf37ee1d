//! Unit tests of [`super`]: the run loop's steps, and how fetches become requests and
//! outcomes.

use super::fetch::{reload_request, requests_for, Failure, FetchTally, HistoryQuery};
use super::*;

use crate::planner::{FetchCommand, FetchMethod, FetchPurpose};
use crate::ranges::{set as held, SeqRange, SeqRanges};
use crate::types::{ChatRecord, SyncState};

fn engine() -> Engine {
    Engine::new(
        PlannerConfig {
            page_limit: 100,
            ..PlannerConfig::default()
        },
        7,
    )
}

fn chat() -> RequestId {
    RequestId::from("r1")
}

fn input(held: &SeqRanges, backend_last: Option<Seq>) -> ChatInput<'_> {
    ChatInput { held, backend_last }
}

fn fetch_ids(step: &Step) -> Vec<(FetchId, SeqRange)> {
    match step {
        Step::Perform(commands) => commands
            .iter()
            .filter_map(|c| match c {
                Command::Fetch(f) => Some((f.id, f.range)),
                Command::FullReload { .. } => None,
            })
            .collect(),
        other => panic!("expected commands, got {other:?}"),
    }
}

#[test]
fn a_sync_with_nothing_missing_is_done_at_once() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let run = e.start(&chat(), Goal::Sync);
    assert_eq!(e.step(run, input(&cache, Some(50)), 0), Step::Done);
    assert_eq!(e.live_runs(), 0);
    assert_eq!(
        e.step(run, input(&cache, Some(50)), 0),
        Step::Done,
        "a finished run stays done"
    );
}

#[test]
fn a_sync_sleeps_out_the_grace_period_then_fetches_and_awaits_its_fetch() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let run = e.start(&chat(), Goal::Sync);
    assert_eq!(
        e.step(run, input(&cache, Some(60)), 1_000),
        Step::Sleep { until: 1_300 },
        "a gap first seen waits for live delivery"
    );
    let step = e.step(run, input(&cache, Some(60)), 1_300);
    let fetched = fetch_ids(&step);
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].1, SeqRange::new(51, 60));
    assert_eq!(e.step(run, input(&cache, Some(60)), 1_310), Step::Await);
    let full = held(&[(1, 60)]);
    e.handle_fetch_result(
        fetched[0].0,
        FetchOutcome::Received {
            received: held(&[(51, 60)]),
            last_seq: 60,
            page_limit: Some(100),
        },
        input(&full, Some(60)),
        1_400,
    );
    assert_eq!(e.step(run, input(&full, Some(60)), 1_400), Step::Done);
}

#[test]
fn a_proven_gap_skips_the_grace_period() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let run = e.start(&chat(), Goal::ProvenGap);
    let fetched = fetch_ids(&e.step(run, input(&cache, Some(52)), 1_000));
    assert_eq!(fetched[0].1, SeqRange::new(51, 52));
}

#[test]
fn a_second_run_waits_for_the_first_runs_fetch_instead_of_stopping() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let first = e.start(&chat(), Goal::ProvenGap);
    let fetched = fetch_ids(&e.step(first, input(&cache, Some(60)), 0));
    let second = e.start(&chat(), Goal::Sync);
    assert_eq!(
        e.step(second, input(&cache, Some(60)), 5),
        Step::Sleep {
            until: 5 + IN_FLIGHT_POLL_MS
        }
    );
    let full = held(&[(1, 60)]);
    e.handle_fetch_result(
        fetched[0].0,
        FetchOutcome::Received {
            received: held(&[(51, 60)]),
            last_seq: 60,
            page_limit: None,
        },
        input(&full, Some(60)),
        20,
    );
    assert_eq!(e.step(second, input(&full, Some(60)), 20), Step::Done);
    assert_eq!(e.step(first, input(&full, Some(60)), 20), Step::Done);
}

/// Steps the run to its end, failing every fetch it makes; the sleeps it took.
fn fail_until_done(
    e: &mut Engine,
    run: RunId,
    cache: &SeqRanges,
    last: Seq,
) -> Vec<(Millis, Millis)> {
    let mut now = 0;
    let mut sleeps = Vec::new();
    loop {
        match e.step(run, input(cache, Some(last)), now) {
            Step::Perform(commands) => {
                for command in commands {
                    if let Command::Fetch(fetch) = command {
                        e.handle_fetch_result(
                            fetch.id,
                            FetchOutcome::Failed,
                            input(cache, Some(last)),
                            now,
                        );
                    }
                }
            }
            Step::Sleep { until } | Step::Retry { until } => {
                assert!(until >= now);
                sleeps.push((now, until));
                now = until;
            }
            Step::Done => return sleeps,
            Step::Await => panic!("every fetch was reported"),
        }
        assert!(sleeps.len() < 100, "the run must end");
    }
}

#[test]
fn a_proven_gap_waits_out_backoffs_a_bounded_number_of_times() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let run = e.start(&chat(), Goal::ProvenGap);
    let sleeps = fail_until_done(&mut e, run, &cache, 60);
    assert!(sleeps
        .iter()
        .all(|(from, to)| to - from <= RETRY_MAX_WAIT_MS));
    let long = sleeps
        .iter()
        .filter(|(from, to)| to - from > MAX_WAIT_MS)
        .count();
    assert_eq!(
        long, RETRIES as usize,
        "{sleeps:?}: each long wait is one retry"
    );
}

#[test]
fn an_ordinary_sync_leaves_a_long_backoff_to_the_next_run() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let run = e.start(&chat(), Goal::Resync);
    let sleeps = fail_until_done(&mut e, run, &cache, 60);
    assert!(
        sleeps.iter().all(|(from, to)| to - from <= MAX_WAIT_MS),
        "{sleeps:?}"
    );
    let now = sleeps.last().map_or(0, |(_, to)| *to);
    let wakeup = e.planner().next_wakeup().expect("a backoff is running");
    assert!(
        wakeup - now > MAX_WAIT_MS,
        "stopped because the backoff is long"
    );
}

#[test]
fn older_history_is_asked_again_while_the_reader_waits_at_the_top() {
    let mut e = engine();
    let cache = held(&[(201, 250)]);
    let run = e.start(&chat(), Goal::OlderWhileReading);
    let fetched = fetch_ids(&e.step(run, input(&cache, Some(250)), 0));
    assert_eq!(fetched, vec![(fetched[0].0, SeqRange::new(101, 200))]);
    e.handle_fetch_result(
        fetched[0].0,
        FetchOutcome::Failed,
        input(&cache, Some(250)),
        0,
    );
    let Step::Retry { until } = e.step(run, input(&cache, Some(250)), 0) else {
        panic!("the failed page is retried after the backoff");
    };
    let again = fetch_ids(&e.step(run, input(&cache, Some(250)), until));
    assert_eq!(again[0].1, SeqRange::new(101, 200));
    let more = held(&[(101, 250)]);
    e.handle_fetch_result(
        again[0].0,
        FetchOutcome::Received {
            received: held(&[(101, 200)]),
            last_seq: 250,
            page_limit: Some(100),
        },
        input(&more, Some(250)),
        until,
    );
    assert_eq!(
        e.step(run, input(&more, Some(250)), until),
        Step::Done,
        "one page asked, one page fetched: the reader scrolls for the next"
    );
    assert!(!e.planner().wants_older(&chat()));
}

#[test]
fn a_cancelled_run_is_done_and_its_fetch_still_reports() {
    let mut e = engine();
    let cache = held(&[(1, 50)]);
    let run = e.start(&chat(), Goal::ProvenGap);
    let fetched = fetch_ids(&e.step(run, input(&cache, Some(60)), 0));
    e.cancel(run);
    assert_eq!(e.live_runs(), 0);
    assert_eq!(e.step(run, input(&cache, Some(60)), 0), Step::Done);
    e.handle_fetch_result(
        fetched[0].0,
        FetchOutcome::Failed,
        input(&cache, Some(60)),
        0,
    );
    assert!(!e.planner().is_fetching(&chat()), "the range is free again");
}

#[test]
fn exact_and_newer_goals_ask_the_planner_for_their_page() {
    let mut e = engine();
    let empty = SeqRanges::new();
    let run = e.start(&chat(), Goal::Exact(42));
    assert_eq!(
        fetch_ids(&e.step(run, input(&empty, None), 0))[0].1,
        SeqRange::new(42, 42)
    );
    let other = RequestId::from("r2");
    let cache = held(&[(1, 10)]);
    let run = e.start(&other, Goal::Newer);
    assert_eq!(
        fetch_ids(&e.step(run, input(&cache, Some(10)), 0))[0].1,
        SeqRange::new(11, 110)
    );
}

#[test]
fn status_names_the_missing_ranges_newest_first_and_the_older_history() {
    let e = engine();
    let cache = held(&[(11, 20), (31, 40)]);
    let status = e.status(&chat(), input(&cache, Some(45)), true);
    assert_eq!(
        status.missing,
        vec![SeqRange::new(41, 45), SeqRange::new(21, 30)]
    );
    assert_eq!(status.older, Some(SeqRange::new(1, 10)));
    assert!(status.fetching);
}

fn command(range: SeqRange, method: FetchMethod) -> FetchCommand {
    FetchCommand {
        id: 1,
        request_id: chat(),
        range,
        purpose: FetchPurpose::Repair,
        method,
    }
}

#[test]
fn requests_cover_only_what_is_still_missing_newest_first() {
    let fetched_meanwhile = held(&[(15, 16)]);
    let requests = requests_for(
        &command(SeqRange::new(10, 20), FetchMethod::Range),
        &fetched_meanwhile,
    );
    let queries: Vec<_> = requests.iter().map(|r| r.query).collect();
    assert_eq!(
        queries,
        vec![
            HistoryQuery::Range { from: 17, to: 20 },
            HistoryQuery::Range { from: 10, to: 14 }
        ]
    );
    assert_eq!(requests[0].accept, SeqRange::new(17, 20));
    assert!(requests_for(
        &command(SeqRange::new(10, 20), FetchMethod::Range),
        &held(&[(1, 30)])
    )
    .is_empty());
}

#[test]
fn a_cursor_request_accepts_anything_below_its_cursor() {
    let requests = requests_for(
        &command(SeqRange::new(10, 20), FetchMethod::Cursor),
        &SeqRanges::new(),
    );
    assert_eq!(
        requests[0].query,
        HistoryQuery::Before {
            before: 21,
            limit: 11
        }
    );
    assert_eq!(requests[0].accept, SeqRange::new(1, 20));
}

#[test]
fn a_reload_asks_for_the_newest_page() {
    let known = reload_request(Some(500), 100);
    assert_eq!(
        known.query,
        HistoryQuery::Before {
            before: 501,
            limit: 100
        }
    );
    assert_eq!(known.accept, SeqRange::new(1, 500));
    let unknown = reload_request(None, 100);
    assert_eq!(
        unknown.query,
        HistoryQuery::Before {
            before: crate::protocol::MAX_SEQ,
            limit: 100
        }
    );
}

#[test]
fn a_tally_reports_every_reply_of_a_command() {
    let mut tally = FetchTally::default();
    tally.add([17, 18, 19, 20], 25, 100);
    tally.add([10, 11], 26, 50);
    assert_eq!(
        tally.outcome(),
        FetchOutcome::Received {
            received: held(&[(10, 11), (17, 20)]),
            last_seq: 26,
            page_limit: Some(50),
        }
    );
}

#[test]
fn only_a_403_lets_go_of_the_chat() {
    assert!(Failure::Refused(403).revokes_chat());
    assert!(!Failure::Refused(404).revokes_chat());
    assert!(!Failure::Transient.revokes_chat());
    assert_eq!(Failure::Invalid.outcome(), FetchOutcome::Failed);
    assert_eq!(
        Failure::Unsupported.outcome(),
        FetchOutcome::MethodUnsupported
    );
    assert_eq!(Failure::Refused(404).outcome(), FetchOutcome::Refused);
}

#[test]
fn a_hint_repairs_a_cached_chat_and_fetches_one_message_of_a_new_one() {
    assert_eq!(plan_hint(&held(&[(1, 10)]), 5), HintAction::AlreadyHeld);
    assert_eq!(
        plan_hint(&held(&[(1, 10)]), 12),
        HintAction::Repair {
            backend_last_at_least: 12
        }
    );
    assert_eq!(plan_hint(&SeqRanges::new(), 12), HintAction::FetchExact(12));
}

#[test]
fn a_revealed_gap_skips_the_grace_period_and_only_a_live_one_the_backoff() {
    assert_eq!(Goal::after_ingest(Source::Push, false), Goal::Sync);
    assert_eq!(Goal::after_ingest(Source::Live, false), Goal::Sync);
    assert_eq!(Goal::after_ingest(Source::Push, true), Goal::ProvenGap);
    assert_eq!(Goal::after_ingest(Source::Live, true), Goal::Resync);
}

#[test]
fn a_repair_is_due_only_for_interior_and_trailing_gaps_of_a_known_chat() {
    let record = |held_ranges: &[(Seq, Seq)], last: Option<Seq>| {
        let mut record = ChatRecord::new(chat());
        record.held = held(held_ranges);
        record.backend_last_seq = last.unwrap_or(0);
        record.backend_last_seq_known = last.is_some();
        record
    };
    assert!(!ChatFacts::of(None).needs_repair());
    assert!(
        !ChatFacts::of(Some(&record(&[(10, 20)], Some(20)))).needs_repair(),
        "older history only"
    );
    assert!(
        ChatFacts::of(Some(&record(&[(10, 20)], Some(21)))).needs_repair(),
        "trailing"
    );
    assert!(
        ChatFacts::of(Some(&record(&[(1, 5), (7, 9)], Some(9)))).needs_repair(),
        "interior"
    );
    assert!(
        !ChatFacts::of(Some(&record(&[(1, 5)], None))).needs_repair(),
        "last seq unknown"
    );
    let mut corrupt = record(&[(1, 9)], Some(9));
    corrupt.corrupt = held(&[(4, 4)]);
    assert!(
        ChatFacts::of(Some(&corrupt)).needs_repair(),
        "an unreadable message is missing"
    );
}

#[test]
fn a_chat_is_incomplete_when_out_of_sync_with_nothing_fetching() {
    let status = ChatStatus {
        sync_state: SyncState::OutOfSync,
        fetching: false,
        missing: vec![SeqRange::new(5, 6)],
        ..ChatStatus::default()
    };
    assert!(status.is_incomplete());
    assert!(!ChatStatus {
        fetching: true,
        ..status.clone()
    }
    .is_incomplete());
    assert!(!ChatStatus {
        missing: Vec::new(),
        ..status.clone()
    }
    .is_incomplete());
    assert!(!ChatStatus {
        sync_state: SyncState::InSync,
        ..status
    }
    .is_incomplete());
}

#[test]
fn a_reader_waiting_at_the_top_is_served_until_the_page_arrives_or_the_run_ends() {
    let mut e = engine();
    let cache = held(&[(201, 250)]);
    let run = e.start(&chat(), Goal::OlderWhileReading);
    let mut now = 0;
    let mut retries = 0;
    // Far more failures than RETRIES: the run keeps asking, never faster than the floor once
    // the bounded retries are spent.
    while retries < 3 * RETRIES {
        match e.step(run, input(&cache, Some(250)), now) {
            Step::Perform(commands) => {
                for command in commands {
                    if let Command::Fetch(fetch) = command {
                        assert_eq!(fetch.range, SeqRange::new(101, 200));
                        e.handle_fetch_result(
                            fetch.id,
                            FetchOutcome::Failed,
                            input(&cache, Some(250)),
                            now,
                        );
                    }
                }
            }
            Step::Retry { until } => {
                if retries >= RETRIES {
                    assert!(until - now >= PATIENT_RETRY_MIN_MS, "paced");
                }
                retries += 1;
                now = until;
            }
            Step::Sleep { until } => now = until,
            other => panic!("the page is still owed: {other:?}"),
        }
    }
    e.cancel(run);
    assert_eq!(
        e.live_runs(),
        0,
        "the caller ends it when the reader leaves"
    );
}
