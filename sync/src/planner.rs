//! The sync planner: given what a chat holds, what the backend has, what is already in flight
//! and what the reader wants, it emits range-fetch commands for missing sequences only.
//!
//! It is sans-IO in the manner of quinn-proto: the driver feeds it facts through `observe`,
//! `request_*` and `handle_fetch_result`, passing the current time in, and takes commands out
//! through `poll`. `next_wakeup` says when a later `poll` could emit something new (a grace
//! period or a backoff ending). Rules it enforces:
//!
//! - Only missing sequences are requested, split into pages of at most the server's page limit,
//!   trailing and interior gaps first (newest pages first), older history one page at a time
//!   and only when the reader asks for it.
//! - Never a range that is already in flight (single-flight within one context; across
//!   contexts the driver holds a per-chat lock and trims a command with [`Planner::trim`]).
//! - A gap first seen is left alone for a short grace period, since live delivery may still
//!   fill it; a manual resync or a push hint skips the wait.
//! - Failed fetches are retried with capped exponential backoff and jitter.
//! - A full reload is a distinct command carrying its reason, and is emitted only when the
//!   backend can fetch no history by range or cursor, or the cache is corrupt beyond repair.
//!
//! This module keeps the planner's state and the facts fed to it; its vocabulary (config,
//! commands, outcomes, progress) is in `types`, what is due now in `poll`, and what a fetch's
//! end means in `results`.

use crate::backoff::SplitMix64;
use crate::ranges::{SeqRange, SeqRanges};
use crate::sync_state::SyncMachine;
use crate::types::{Millis, RequestId, Seq, SyncState};
use crate::vec_map::VecMap;

mod poll;
mod results;
#[cfg(test)]
mod tests;
mod types;

#[cfg(test)]
use poll::split_newest_first;
pub use types::{
    Capabilities, ChatInput, Command, FetchCommand, FetchId, FetchMethod, FetchOutcome,
    FetchPurpose, FullReloadReason, PlannerConfig, PlannerStats, Progress,
};

/// A fetch that went out and has not been reported: its chat, range and purpose.
#[derive(Clone, Debug)]
struct InFlight {
    request_id: RequestId,
    range: SeqRange,
    purpose: FetchPurpose,
}

/// What the planner keeps of one chat between polls.
#[derive(Clone, Debug, Default)]
struct ChatPlan {
    machine: SyncMachine,
    in_flight: SeqRanges,
    in_flight_count: usize,
    /// When the current set of unrequested repair gaps was first seen.
    gap_seen_at: Option<Millis>,
    /// Skip the grace period (manual resync, push hint).
    urgent: bool,
    /// Pages of older history the reader asked for and that are not issued yet.
    older_pages_wanted: u32,
    /// Ask for what follows the newest cached message before the backend's last sequence is
    /// known anew (coming back online with the chat open): [`Planner::request_newer`].
    newer_wanted: bool,
    /// Single messages asked for by seq, before the backend's last sequence is known (a
    /// push hint for a chat the cache never held): [`Planner::request_exact`].
    exact_wanted: SeqRanges,
    /// The sequences the reader has on screen, fetched before other gaps.
    viewport: Option<SeqRange>,
    failures: u32,
    not_before: Millis,
    refused: bool,
    reload_due: Option<FullReloadReason>,
    progress: Progress,
}

/// The planner for every chat of one context (a tab or the service worker).
#[derive(Clone, Debug)]
pub struct Planner {
    config: PlannerConfig,
    capabilities: Capabilities,
    chats: VecMap<RequestId, ChatPlan>,
    /// Every fetch on the network, by id, oldest first: a few per chat, so a list (every
    /// map type costs its own code in the wasm).
    in_flight: Vec<(FetchId, InFlight)>,
    next_id: FetchId,
    rng: SplitMix64,
    stats: PlannerStats,
}

impl Planner {
    /// A planner with `config`; `seed` drives the retry jitter.
    pub fn new(config: PlannerConfig, seed: u64) -> Self {
        Self {
            config,
            capabilities: Capabilities::default(),
            chats: VecMap::new(),
            in_flight: Vec::new(),
            next_id: 1,
            rng: SplitMix64::new(seed),
            stats: PlannerStats::default(),
        }
    }

    /// The configuration in force (the page limit may have been lowered by replies).
    pub fn config(&self) -> &PlannerConfig {
        &self.config
    }

    /// What the planner did so far.
    pub fn stats(&self) -> PlannerStats {
        self.stats
    }

    /// The shown sync state of a chat.
    pub fn sync_state(&self, request_id: &RequestId) -> SyncState {
        self.chats
            .get(request_id)
            .map_or(SyncState::Unknown, |c| c.machine.state())
    }

    /// Whether the reader asked for older history of the chat that is not fetched yet (a
    /// page not issued, or issued and failed).
    pub fn wants_older(&self, request_id: &RequestId) -> bool {
        self.chats
            .get(request_id)
            .is_some_and(|c| c.older_pages_wanted > 0 && !c.refused)
    }

    /// Whether the backend refused the chat's fetches (nothing is asked again unasked).
    pub fn is_refused(&self, request_id: &RequestId) -> bool {
        self.chats.get(request_id).is_some_and(|c| c.refused)
    }

    /// Whether a real fetch for the chat is in flight (drives the sync indicator).
    pub fn is_fetching(&self, request_id: &RequestId) -> bool {
        self.chats
            .get(request_id)
            .is_some_and(|c| c.in_flight_count > 0)
    }

    /// The sequences of a chat being fetched right now.
    pub fn in_flight(&self, request_id: &RequestId) -> SeqRanges {
        self.chats
            .get(request_id)
            .map(|c| c.in_flight.clone())
            .unwrap_or_default()
    }

    /// Progress of the chat's current repair.
    pub fn progress(&self, request_id: &RequestId) -> Progress {
        self.chats
            .get(request_id)
            .map(|c| c.progress)
            .unwrap_or_default()
    }

    /// Re-validates a chat against fresh facts (after a merge, or when the backend's last
    /// sequence is learned). Returns the shown state.
    pub fn observe(&mut self, request_id: &RequestId, input: ChatInput<'_>) -> SyncState {
        let chat = self.chats.get_or_default(request_id);
        chat.machine.revalidate(input.held, input.backend_last)
    }

    /// The reader scrolled to the top of what is cached: fetch one more page of older history.
    pub fn request_older(&mut self, request_id: &RequestId) {
        let chat = self.chats.get_or_default(request_id);
        chat.older_pages_wanted = chat.older_pages_wanted.saturating_add(1).min(4);
    }

    /// The chat is open and the context just came back online: what arrived meanwhile is
    /// asked for at once, one page after the newest cached message, without waiting for the
    /// chat list to say how much is missing (the reply's `last_seq` says it, and anything past
    /// the page is then an ordinary trailing gap). Nothing is asked when the chat holds no
    /// message yet, when a fetch above its newest message is already out, or when the
    /// backend refused the chat; a running backoff delays it.
    pub fn request_newer(&mut self, request_id: &RequestId) {
        self.chats.get_or_default(request_id).newer_wanted = true;
    }

    /// A push hint names message `seq` of a chat the cache never held: fetch exactly that
    /// message (older history stays a leading gap, loaded when the reader scrolls). Asked
    /// once, whether the backend's last sequence is known or not; a backoff delays it.
    pub fn request_exact(&mut self, request_id: &RequestId, seq: Seq) {
        self.chats
            .get_or_default(request_id)
            .exact_wanted
            .insert(seq);
    }

    /// The reader has `visible` on screen: gaps there are fetched before the others.
    pub fn set_viewport(&mut self, request_id: &RequestId, visible: Option<SeqRange>) {
        self.chats.get_or_default(request_id).viewport = visible;
    }

    /// A manual resync (or a push hint, which proves the missing messages exist): repair now,
    /// without the grace period or a pending backoff, and undo an earlier refusal.
    pub fn request_resync(&mut self, request_id: &RequestId) {
        let chat = self.chats.get_or_default(request_id);
        chat.urgent = true;
        chat.failures = 0;
        chat.not_before = 0;
        chat.refused = false;
    }

    /// A push proved that missing messages exist: repair without the grace period, but keep
    /// any backoff from failed fetches, so a burst of pushes to a chat whose fetches fail (the
    /// server down, the network cut) does not send one request per push.
    pub fn note_gap_proven(&mut self, request_id: &RequestId) {
        self.chats.get_or_default(request_id).urgent = true;
    }

    /// The cached chat is corrupt beyond repair: a full reload with that reason is due.
    pub fn report_corrupt(&mut self, request_id: &RequestId, detail: impl Into<String>) {
        let chat = self.chats.get_or_default(request_id);
        chat.reload_due = Some(FullReloadReason::CorruptCache(detail.into()));
    }

    /// The backend's capabilities, when the driver learns them.
    pub fn set_capabilities(&mut self, capabilities: Capabilities) {
        self.capabilities = capabilities;
    }

    /// Forgets a chat (cleared from the cache, or the agent signed out).
    pub fn forget(&mut self, request_id: &RequestId) {
        self.chats.remove(request_id);
        self.in_flight.retain(|(_, f)| &f.request_id != request_id);
    }

    /// The parts of a command's range still missing from `held`, re-checked by the driver
    /// once it holds the chat's cross-context lock: another tab or the service worker may have
    /// fetched them meanwhile. Empty means nothing is left to request
    /// (report [`FetchOutcome::AlreadyHeld`]).
    pub fn trim(command: &FetchCommand, held: &SeqRanges) -> SeqRanges {
        held.complement_within(command.range)
    }

    /// The earliest time a `poll` could emit something it would not emit now: the end of a
    /// grace period or of a backoff. `None` when nothing is waiting on time.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.chats
            .values()
            .filter_map(|chat| {
                let grace = chat
                    .gap_seen_at
                    .filter(|_| !chat.urgent)
                    .map(|seen| seen + self.config.gap_grace_ms);
                let backoff = (chat.not_before > 0 && !chat.refused).then_some(chat.not_before);
                match (grace, backoff) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }
}
