//! Property tests of the planner and the ingest path together: from any starting cache (random
//! arrival order, duplicates, gaps) and any page sizes, serving the planner's fetches leaves
//! the cache equal to the server's messages, with nothing lost or duplicated, every fetched
//! sequence missing when it was requested, and no range requested twice while in flight.
#![cfg(not(target_arch = "wasm32"))]

use chat_sync::ingest::{IngestContext, Source};
use chat_sync::memory_store::MemoryStore;
use chat_sync::planner::{ChatInput, Command, FetchOutcome, Planner, PlannerConfig};
use chat_sync::store::Store;
use chat_sync::suite::message;
use chat_sync::{RequestId, Seq, SeqRange, SeqRanges, SyncState};
use futures::executor::block_on;
use proptest::prelude::*;

const CHAT: &str = "chat";

fn ctx(now: i64) -> IngestContext {
    IngestContext {
        now,
        chat_open: true,
        own_user_id: None,
        source: Source::Fetch,
        backend_last: None,
    }
}

/// The server's messages are `1..=last`; a range reply is ascending from `from`, at most
/// `server_page` messages.
fn serve(from: Seq, to: Seq, last: Seq, server_page: u64) -> Vec<chat_sync::Message> {
    (from..=to.min(last))
        .take(server_page as usize)
        .map(|s| message(CHAT, s, &format!("server {s}")))
        .collect()
}

#[derive(Debug, Clone)]
struct Scenario {
    last: Seq,
    initial: Vec<Seq>,
    planner_page: u64,
    server_page: u64,
    failure_pattern: Vec<bool>,
    serve_order: Vec<usize>,
    seed: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1u64..1_500).prop_flat_map(|last| {
        (
            Just(last),
            // Random arrival order with duplicates; an empty cache is included.
            proptest::collection::vec(1..=last, 0..200),
            1u64..400,
            1u64..400,
            proptest::collection::vec(proptest::bool::weighted(0.15), 1..64),
            proptest::collection::vec(0usize..8, 1..64),
            any::<u64>(),
        )
            .prop_map(
                |(
                    last,
                    initial,
                    planner_page,
                    server_page,
                    mut failure_pattern,
                    serve_order,
                    seed,
                )| {
                    // The pattern repeats over successive serves; one success per cycle means
                    // the server is flaky, not down for good.
                    failure_pattern.push(false);
                    Scenario {
                        last,
                        initial,
                        planner_page,
                        server_page,
                        failure_pattern,
                        serve_order,
                        seed,
                    }
                },
            )
    })
}

/// The chat's held sequences now (none before the first message arrives).
fn held_now(store: &MemoryStore, chat: &RequestId) -> SeqRanges {
    block_on(store.chat(chat))
        .expect("memory store reads do not fail")
        .map(|record| record.held)
        .unwrap_or_default()
}

fn run(s: Scenario) -> Result<(), TestCaseError> {
    let chat = RequestId::from(CHAT);
    let store = MemoryStore::new();
    // Arrive in the given order, duplicates included, one message per ingest like pushes.
    let mut stored_new: Vec<Seq> = Vec::new();
    for &seq in &s.initial {
        let report = block_on(store.ingest(
            &chat,
            vec![message(CHAT, seq, &format!("server {seq}"))],
            &ctx(0),
        ))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        stored_new.extend(report.new_seqs);
    }
    let mut planner = Planner::new(
        PlannerConfig {
            page_limit: s.planner_page,
            ..PlannerConfig::default()
        },
        s.seed,
    );
    let mut now = 0i64;
    let mut pending: Vec<chat_sync::planner::FetchCommand> = Vec::new();
    let mut in_flight = SeqRanges::new();
    let mut step = 0usize;
    let mut serves = 0usize;
    loop {
        step += 1;
        prop_assert!(step < 20_000, "did not settle within the step bound");
        let held = held_now(&store, &chat);
        if held.min() != Some(1) || held.max() != Some(s.last) || held.count() != s.last {
            if held.min().is_some_and(|m| m > 1) || held.is_empty() {
                planner.request_older(&chat);
            }
        } else if pending.is_empty() {
            break;
        }
        let commands = planner.poll(
            &chat,
            ChatInput {
                held: &held,
                backend_last: Some(s.last),
            },
            now,
        );
        for command in commands {
            let Command::Fetch(fetch) = command else {
                return Err(TestCaseError::fail("no full reload is ever due here"));
            };
            // Every requested sequence is missing, and nothing requested is already in flight.
            prop_assert!(
                !held.intersects(fetch.range),
                "{} requested but held",
                fetch.range
            );
            prop_assert!(
                !in_flight.intersects(fetch.range),
                "{} requested twice",
                fetch.range
            );
            prop_assert!(fetch.range.len() <= planner.config().page_limit.max(1));
            in_flight.insert_range(fetch.range);
            pending.push(fetch);
        }
        if pending.is_empty() {
            now = planner.next_wakeup().unwrap_or(now + 1).max(now + 1);
            continue;
        }
        let pick = s.serve_order[step % s.serve_order.len()] % pending.len();
        let fetch = pending.remove(pick);
        in_flight.remove_range(fetch.range);
        serves += 1;
        let fails = s.failure_pattern[serves % s.failure_pattern.len()];
        if fails {
            let held = held_now(&store, &chat);
            planner.handle_fetch_result(
                fetch.id,
                FetchOutcome::Failed,
                ChatInput {
                    held: &held,
                    backend_last: Some(s.last),
                },
                now,
            );
            continue;
        }
        let page = serve(fetch.range.start, fetch.range.end, s.last, s.server_page);
        let mut received = SeqRanges::new();
        for m in &page {
            received.insert(m.seq);
        }
        let report = block_on(store.ingest(&chat, page, &ctx(now))).expect("ingest");
        prop_assert_eq!(report.duplicates, 0, "a fetched message was already cached");
        stored_new.extend(report.new_seqs);
        block_on(store.note_backend_last_seq(&chat, s.last)).expect("note");
        let record = block_on(store.chat(&chat)).expect("read").expect("record");
        planner.handle_fetch_result(
            fetch.id,
            FetchOutcome::Received {
                received,
                last_seq: s.last,
                page_limit: Some(s.server_page),
            },
            ChatInput {
                held: &record.held,
                backend_last: Some(s.last),
            },
            now,
        );
        now += 1;
    }

    // The cache equals the server's messages exactly; each was stored once.
    let mut cached = Vec::new();
    let mut from = 1;
    while from <= s.last {
        let to = (from + 999).min(s.last);
        cached.extend(
            block_on(store.range(&chat, SeqRange::new(from, to)))
                .expect("read")
                .messages,
        );
        from = to + 1;
    }
    prop_assert_eq!(cached.len() as u64, s.last);
    for (i, m) in cached.iter().enumerate() {
        prop_assert_eq!(
            m,
            &message(CHAT, i as u64 + 1, &format!("server {}", i + 1))
        );
    }
    let mut sorted = stored_new.clone();
    sorted.sort_unstable();
    sorted.dedup();
    prop_assert_eq!(sorted.len(), stored_new.len(), "a message was stored twice");
    prop_assert_eq!(stored_new.len() as u64, s.last);
    let record = block_on(store.chat(&chat)).expect("read").expect("record");
    prop_assert_eq!(
        planner.observe(
            &chat,
            ChatInput {
                held: &record.held,
                backend_last: Some(s.last)
            }
        ),
        SyncState::InSync
    );
    prop_assert_eq!(planner.stats().full_reloads, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn serving_the_planner_converges_to_the_server_exactly(s in scenario()) {
        run(s)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The range set agrees with a naive set of sequences under random inserts and removals.
    #[test]
    fn seq_ranges_match_a_naive_set(ops in proptest::collection::vec((any::<bool>(), 1u64..200, 0u64..20), 0..200)) {
        let mut ranges = SeqRanges::new();
        let mut naive = std::collections::BTreeSet::new();
        for (insert, start, len) in ops {
            let range = SeqRange::new(start, start + len);
            if insert {
                ranges.insert_range(range);
                naive.extend(range.start..=range.end);
            } else {
                ranges.remove_range(range);
                for s in range.start..=range.end {
                    naive.remove(&s);
                }
            }
            prop_assert_eq!(ranges.count(), naive.len() as u64);
            prop_assert!(ranges.ranges().windows(2).all(|w| w[0].end + 1 < w[1].start), "merged and sorted");
        }
        for s in 0..230 {
            prop_assert_eq!(ranges.contains(s), naive.contains(&s));
        }
        let last = 225;
        let gaps = ranges.gaps(last);
        let mut missing: Vec<u64> = Vec::new();
        for r in gaps.leading.iter().chain(gaps.interior.iter()).chain(gaps.trailing.iter()) {
            missing.extend(r.start..=r.end);
        }
        let expected: Vec<u64> = (1..=last).filter(|s| !naive.contains(s)).collect();
        prop_assert_eq!(missing, expected);
    }
}
