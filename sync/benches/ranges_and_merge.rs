//! Benchmarks of gap detection and merge on 100,000-message chats.
//!
//! Run with `cargo bench -p chat-sync --bench ranges_and_merge`; `cargo xtask bench` collects
//! the figures into `bench/results.json` and `BENCHMARKS.md`.

/// Criterion does not run on wasm32; the benchmark exists natively only.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {

    use chat_sync::backoff::SplitMix64;
    use chat_sync::ingest::{plan_ingest, IngestContext, Source};
    use chat_sync::planner::{ChatInput, Planner, PlannerConfig};
    use chat_sync::suite::messages;
    use chat_sync::{ChatRecord, RequestId, Seq, SeqRange, SeqRanges};
    use criterion::{black_box, criterion_group, BatchSize, Criterion};

    const CHAT_SIZE: Seq = 100_000;

    /// A 100,000-message chat with `holes` random one-to-ten-message holes.
    fn held_with_holes(holes: usize, seed: u64) -> SeqRanges {
        let mut rng = SplitMix64::new(seed);
        let mut held = SeqRanges::from_range(SeqRange::new(1, CHAT_SIZE));
        for _ in 0..holes {
            let start = 1 + rng.below(CHAT_SIZE - 10);
            held.remove_range(SeqRange::new(start, start + rng.below(10)));
        }
        held
    }

    fn ctx() -> IngestContext {
        IngestContext {
            now: 0,
            chat_open: false,
            own_user_id: None,
            source: Source::Fetch,
            backend_last: None,
        }
    }

    fn gap_detection(c: &mut Criterion) {
        for holes in [0usize, 100, 1_000] {
            let held = held_with_holes(holes, 7);
            c.bench_function(&format!("gaps/100k_messages_{holes}_holes"), |b| {
                b.iter(|| black_box(&held).gaps(CHAT_SIZE + 50))
            });
            c.bench_function(&format!("is_partial/100k_messages_{holes}_holes"), |b| {
                b.iter(|| black_box(&held).is_partial(CHAT_SIZE + 50))
            });
        }
        let held = held_with_holes(1_000, 7);
        let chat = RequestId::from("bench");
        c.bench_function("planner_poll/100k_messages_1000_holes", |b| {
            b.iter_batched(
                || {
                    let mut planner = Planner::new(PlannerConfig::default(), 1);
                    planner.request_resync(&chat);
                    planner
                },
                |mut planner| {
                    planner.poll(
                        &chat,
                        ChatInput {
                            held: &held,
                            backend_last: Some(CHAT_SIZE + 50),
                        },
                        0,
                    )
                },
                BatchSize::SmallInput,
            )
        });
    }

    fn merge(c: &mut Criterion) {
        let chat = RequestId::from("bench");
        // A 100,000-message chat missing its newest 100, then the page that fills them.
        let mut record = ChatRecord::new(chat.clone());
        record.held = SeqRanges::from_range(SeqRange::new(1, CHAT_SIZE - 100));
        record.message_count = record.held.count();
        let page = messages("bench", CHAT_SIZE - 99, CHAT_SIZE);
        c.bench_function("merge/100_message_page_into_100k_chat", |b| {
            b.iter_batched(
                || (record.clone(), page.clone()),
                |(record, page)| plan_ingest(&chat, Some(record), &[], page, &ctx()),
                BatchSize::SmallInput,
            )
        });
        let one = messages("bench", CHAT_SIZE - 99, CHAT_SIZE - 99);
        c.bench_function("merge/1_message_into_100k_chat", |b| {
            b.iter_batched(
                || (record.clone(), one.clone()),
                |(record, one)| plan_ingest(&chat, Some(record), &[], one, &ctx()),
                BatchSize::SmallInput,
            )
        });
        // Live arrival order: mostly ascending, each message displaced by up to 50 positions.
        let mut rng = SplitMix64::new(3);
        let mut mostly_ordered: Vec<Seq> = (1..=CHAT_SIZE).collect();
        for i in 0..mostly_ordered.len() {
            let j = (i + rng.below(50) as usize).min(mostly_ordered.len() - 1);
            mostly_ordered.swap(i, j);
        }
        c.bench_function("ranges/insert_100k_seqs_live_order", |b| {
            b.iter(|| {
                let mut held = SeqRanges::new();
                for &seq in &mostly_ordered {
                    held.insert(seq);
                }
                held
            })
        });
        // The worst case for a sorted-vector set: uniformly random order (thousands of ranges).
        let mut random: Vec<Seq> = (1..=10_000).collect();
        for i in (1..random.len()).rev() {
            random.swap(i, rng.below(i as u64 + 1) as usize);
        }
        c.bench_function("ranges/insert_10k_seqs_random_order", |b| {
            b.iter(|| {
                let mut held = SeqRanges::new();
                for &seq in &random {
                    held.insert(seq);
                }
                held
            })
        });
    }

    criterion_group! {
        name = benches;
        config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
        targets = gap_detection, merge
    }
    /// What `criterion_main!` would generate, made public for the outer `main`.
    pub fn main() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
