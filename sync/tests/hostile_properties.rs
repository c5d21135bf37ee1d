//! Property tests at volume over everything the core decodes and merges, fed from the
//! hostile corpus (`chat_sync::hostile_corpus`):
//!
//! 1. arbitrary bytes, and mutations of every corpus document, into every decoder (push
//!    payload, history page, chat list, single message, cached chat record): never a panic,
//!    always a validated value or a typed error;
//! 2. arbitrary JSON values, alone and grafted anywhere into a good document, into the same
//!    decoders;
//! 3. valid messages carrying hostile strings round-trip byte-exact through every encoding,
//!    the store, link splitting and previews;
//! 4. arbitrary interleavings of pushes, pages, duplicates, chat lists and hostile inputs
//!    merged through the one ingest path keep the invariants: no duplicate seq, held ranges
//!    equal to the stored seqs, nothing lost, every hostile input refused with an error and
//!    writing nothing.
//!
//! `HOSTILE_CASES` sets the cases per property (default [`DEFAULT_CASES`]: 9 to 14 s of wall
//! time in all on two cores); `HOSTILE_SEED` repeats a run (each run prints its seed). This is proptest at
//! volume rather than cargo-fuzz so that it runs on stable in every `cargo xtask test`; the
//! same harness functions also back the cargo-fuzz targets in `sync/fuzz` (nightly).
#![cfg(not(target_arch = "wasm32"))]

mod hostile;

use std::cell::Cell;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Cases per property when `HOSTILE_CASES` is not set.
const DEFAULT_CASES: u32 = 2_000;

fn cases() -> u32 {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Runs `test` over `cases` values of `strategy` from a seeded generator and prints how many
/// ran, how long it took and the seed that repeats them.
fn run<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seed: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        // A hostile input that fails is printed whole; shrinking it takes a while but gives
        // the smallest one.
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let started = Instant::now();
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{name} failed (HOSTILE_SEED={seed} repeats it): {error}");
    }
    println!(
        "{name}: {cases} cases in {:.1} s (HOSTILE_SEED={seed})",
        started.elapsed().as_secs_f64()
    );
}

/// Counts which decoders accepted the generated inputs: a generator that never gets past
/// the parser tests little, so the figures are printed with the case count.
#[derive(Default)]
struct Tally(Cell<[u64; 6]>);

impl Tally {
    fn add(&self, accepted: hostile::checks::Accepted) {
        let mut counts = self.0.get();
        for (i, hit) in [
            true,
            accepted.push,
            accepted.page,
            accepted.list,
            accepted.message,
            accepted.record,
        ]
        .into_iter()
        .enumerate()
        {
            counts[i] += u64::from(hit);
        }
        self.0.set(counts);
    }

    fn print(&self, name: &str) {
        let [all, push, page, list, message, record] = self.0.get();
        println!(
            "{name}: of {all} inputs (with shrinking) accepted as push {push}, page {page}, \
             chat list {list}, message {message}, cached record {record}; all others refused \
             with an error"
        );
    }
}

#[test]
fn arbitrary_bytes_into_every_decoder() {
    let tally = Tally::default();
    run(
        "arbitrary bytes into every decoder",
        cases() * 4,
        hostile::bytes(),
        |bytes| {
            tally.add(hostile::decode_everything(&bytes).map_err(TestCaseError::fail)?);
            Ok(())
        },
    );
    tally.print("arbitrary bytes");
}

#[test]
fn arbitrary_json_into_every_decoder() {
    let tally = Tally::default();
    run(
        "arbitrary JSON into every decoder",
        cases() * 2,
        hostile::json_documents(),
        |doc| {
            tally.add(hostile::decode_everything(doc.as_bytes()).map_err(TestCaseError::fail)?);
            Ok(())
        },
    );
    tally.print("arbitrary JSON");
}

#[test]
fn hostile_strings_round_trip_byte_exact() {
    run(
        "hostile strings round-trip byte-exact",
        cases(),
        hostile::messages(),
        |message| hostile::round_trip(&message).map_err(TestCaseError::fail),
    );
}

#[test]
fn merging_hostile_interleavings_keeps_the_invariants() {
    run(
        "merging hostile interleavings keeps the invariants",
        cases() / 4,
        hostile::scenarios(),
        |scenario| hostile::merge(&scenario).map_err(TestCaseError::fail),
    );
}
