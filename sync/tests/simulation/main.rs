//! A deterministic simulation in virtual time: a server whose requesters keep posting, a live
//! channel that drops, duplicates and reorders, a flaky network, and several contexts (tabs
//! and a service worker) that share one store and coordinate fetches through per-chat locks,
//! as Web Locks do in the browser. Contexts crash mid-fetch now and then; their locks are
//! released, as the browser releases a dead context's locks.
//!
//! Messages are edited and redacted at the server as the run goes (issue 16): each change is
//! delivered live (dropped, duplicated and reordered like messages), and a context that sees
//! a hole in a chat's change versions, or a chat list naming a newer version, fetches the
//! changes since its cached version. In some seeds one chat is reassigned to another agent
//! mid-run: the contexts hear it live (or not), their fetches of it are refused with 403, the
//! chat list stops naming it, and the cache must let go of it.
//!
//! Every seed runs to quiescence within a step bound and must end with every chat still the
//! agent's in the store equal to the server's current state of every message (edits applied,
//! redactions erased, the change cursor at the server's version), no redacted body anywhere in
//! the store, a reassigned chat gone from it, each message stored once, every fetched
//! sequence missing when it was requested, no range requested by two contexts at once, and no
//! full reload. A failing seed is printed and reproduces the run exactly.
//!
//! The world and its server (`world`), the events and tallies (`event`), what each event does
//! (`handle`), the contexts performing the engine's steps (`context`), and the verdict
//! (`verdict`) are one module each; this file holds the bounds and the test.

#![cfg(not(target_arch = "wasm32"))]

mod context;
mod event;
mod handle;
mod verdict;
mod world;

use chat_sync::Millis;

use crate::event::Counts;
use crate::world::Sim;

pub(crate) const CHATS: usize = 4;
pub(crate) const CONTEXTS: usize = 3;
pub(crate) const POST_UNTIL: Millis = 20_000;
pub(crate) const STEP_BOUND: usize = 200_000;
pub(crate) const SERVER_PAGE: u64 = 40;

#[test]
fn thousands_of_seeds_converge_without_loss_duplicates_or_double_fetches() {
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let first: u64 = std::env::var("SIM_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut total = Counts::default();
    for seed in first..first + seeds {
        let c = Sim::new(seed).run(seed);
        total.posted += c.posted;
        total.live_delivered += c.live_delivered;
        total.live_dropped += c.live_dropped;
        total.live_duplicated += c.live_duplicated;
        total.fetches += c.fetches;
        total.seqs_fetched += c.seqs_fetched;
        total.already_held += c.already_held;
        total.network_failures += c.network_failures;
        total.crashes += c.crashes;
        total.lock_waits += c.lock_waits;
        total.steps += c.steps;
        total.changes += c.changes;
        total.changes_fetches += c.changes_fetches;
        total.changes_fetched += c.changes_fetched;
        total.revocations += c.revocations;
    }
    println!("simulation: {seeds} seeds from {first}: {total:#?}");
    assert!(
        total.fetches > 0
            && total.live_dropped > 0
            && total.network_failures > 0
            && total.crashes > 0
            && total.changes > 0
            && total.changes_fetches > 0
            && total.revocations > 0,
        "the run exercised every fault and change: {total:#?}"
    );
}
