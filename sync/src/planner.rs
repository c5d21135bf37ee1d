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

use std::collections::{BTreeMap, HashMap};

use crate::backoff::{BackoffPolicy, SplitMix64};
use crate::ranges::{SeqRange, SeqRanges};
use crate::sync_state::SyncMachine;
use crate::types::{Millis, RequestId, Seq, SyncState};

/// Identifies one fetch command, unique within a planner.
pub type FetchId = u64;

/// Tunables of the planner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannerConfig {
    /// The most sequences one command asks for; lowered when a server reply says its limit is
    /// smaller.
    pub page_limit: u64,
    /// The most fetches in flight for one chat at once.
    pub max_in_flight_per_chat: usize,
    /// How long a newly seen gap waits for live delivery before it is fetched.
    pub gap_grace_ms: Millis,
    /// Retry spacing after failures.
    pub backoff: BackoffPolicy,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            page_limit: 500,
            max_in_flight_per_chat: 4,
            gap_grace_ms: 300,
            backoff: BackoffPolicy::default(),
        }
    }
}

/// Which history fetches the backend supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `from_seq`/`to_seq` range fetch.
    pub range: bool,
    /// `before_seq`/`limit` cursor fetch.
    pub cursor: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            range: true,
            cursor: true,
        }
    }
}

/// What the driver knows of a chat when it consults the planner: read from the chat record.
#[derive(Clone, Copy, Debug)]
pub struct ChatInput<'a> {
    /// Sequences held in the cache.
    pub held: &'a SeqRanges,
    /// The backend's last sequence, once known (from the chat list, a fetch reply, or as a
    /// lower bound from a live message).
    pub backend_last: Option<Seq>,
}

/// Why a fetch is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchPurpose {
    /// Interior or trailing gap: the chat is out of sync.
    Repair,
    /// The leading gap: older history the reader scrolled to.
    OlderHistory,
}

/// How the backend is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchMethod {
    /// `from_seq = range.start`, `to_seq = range.end`.
    Range,
    /// `before_seq = range.end + 1`, `limit = range.len()`: the cursor fallback.
    Cursor,
}

/// One history fetch to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchCommand {
    /// Report the result with this id.
    pub id: FetchId,
    /// The chat.
    pub request_id: RequestId,
    /// The missing sequences asked for.
    pub range: SeqRange,
    /// Repair or older history.
    pub purpose: FetchPurpose,
    /// Range fetch or cursor fallback.
    pub method: FetchMethod,
}

/// Why a whole chat must be reloaded instead of repaired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FullReloadReason {
    /// The backend answers neither range nor cursor history fetches.
    NoHistoryFetch,
    /// The cached chat cannot be read or repaired; the detail says why.
    CorruptCache(String),
}

impl std::fmt::Display for FullReloadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FullReloadReason::NoHistoryFetch => {
                f.write_str("the backend supports neither range nor cursor history fetches")
            }
            FullReloadReason::CorruptCache(detail) => {
                write!(f, "the cached chat is corrupt beyond repair: {detail}")
            }
        }
    }
}

/// What the planner asks the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Fetch missing sequences.
    Fetch(FetchCommand),
    /// Drop the chat's cache and load it again, logging the reason.
    FullReload {
        /// The chat.
        request_id: RequestId,
        /// Why a repair is not possible.
        reason: FullReloadReason,
    },
}

/// How a fetch ended, as the driver reports it after merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The reply was merged.
    Received {
        /// The sequences the reply carried.
        received: SeqRanges,
        /// The chat's last sequence in the reply.
        last_seq: Seq,
        /// The server's page limit, when the reply states it.
        page_limit: Option<u64>,
    },
    /// After taking the chat lock the driver found the range already held (another context
    /// fetched it): nothing was requested.
    AlreadyHeld,
    /// Network error, timeout, 5xx or a reply that failed validation: retry later.
    Failed,
    /// The backend refused for good (403, 404): stop until a manual resync.
    Refused,
    /// The backend does not understand this fetch method.
    MethodUnsupported,
}

/// Progress of a repair, for the UI's "messages done / total".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Messages fetched and merged since the repair began.
    pub done: u64,
    /// Messages missing when the repair began, plus any found missing since.
    pub total: u64,
}

#[derive(Clone, Debug)]
struct InFlight {
    request_id: RequestId,
    range: SeqRange,
    purpose: FetchPurpose,
}

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

/// Counters of what the planner did, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlannerStats {
    /// Fetch commands emitted.
    pub fetches: u64,
    /// Sequences asked for in those commands.
    pub seqs_requested: u64,
    /// Full reloads emitted.
    pub full_reloads: u64,
    /// Replies that left asked-for sequences out although the page limit allowed them.
    pub short_replies: u64,
}

/// The planner for every chat of one context (a tab or the service worker).
#[derive(Clone, Debug)]
pub struct Planner {
    config: PlannerConfig,
    capabilities: Capabilities,
    chats: HashMap<RequestId, ChatPlan>,
    in_flight: BTreeMap<FetchId, InFlight>,
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
            chats: HashMap::new(),
            in_flight: BTreeMap::new(),
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
        let chat = self.chats.entry(request_id.clone()).or_default();
        chat.machine.revalidate(input.held, input.backend_last)
    }

    /// The reader scrolled to the top of what is cached: fetch one more page of older history.
    pub fn request_older(&mut self, request_id: &RequestId) {
        let chat = self.chats.entry(request_id.clone()).or_default();
        chat.older_pages_wanted = chat.older_pages_wanted.saturating_add(1).min(4);
    }

    /// The chat is open and the context just came back online: what arrived meanwhile is
    /// asked for at once, one page after the newest cached message, without waiting for the
    /// chat list to say how much is missing (the reply's `last_seq` says it, and anything past
    /// the page is then an ordinary trailing gap). Nothing is asked when the chat holds no
    /// message yet, when a fetch above its newest message is already out, or when the
    /// backend refused the chat; a running backoff delays it.
    pub fn request_newer(&mut self, request_id: &RequestId) {
        self.chats
            .entry(request_id.clone())
            .or_default()
            .newer_wanted = true;
    }

    /// A push hint names message `seq` of a chat the cache never held: fetch exactly that
    /// message (older history stays a leading gap, loaded when the reader scrolls). Asked
    /// once, whether the backend's last sequence is known or not; a backoff delays it.
    pub fn request_exact(&mut self, request_id: &RequestId, seq: Seq) {
        self.chats
            .entry(request_id.clone())
            .or_default()
            .exact_wanted
            .insert(seq);
    }

    /// The reader has `visible` on screen: gaps there are fetched before the others.
    pub fn set_viewport(&mut self, request_id: &RequestId, visible: Option<SeqRange>) {
        self.chats.entry(request_id.clone()).or_default().viewport = visible;
    }

    /// A manual resync (or a push hint, which proves the missing messages exist): repair now,
    /// without the grace period or a pending backoff, and undo an earlier refusal.
    pub fn request_resync(&mut self, request_id: &RequestId) {
        let chat = self.chats.entry(request_id.clone()).or_default();
        chat.urgent = true;
        chat.failures = 0;
        chat.not_before = 0;
        chat.refused = false;
    }

    /// A push proved that missing messages exist: repair without the grace period, but keep
    /// any backoff from failed fetches, so a burst of pushes to a chat whose fetches fail (the
    /// server down, the network cut) does not send one request per push.
    pub fn note_gap_proven(&mut self, request_id: &RequestId) {
        self.chats.entry(request_id.clone()).or_default().urgent = true;
    }

    /// The cached chat is corrupt beyond repair: a full reload with that reason is due.
    pub fn report_corrupt(&mut self, request_id: &RequestId, detail: impl Into<String>) {
        let chat = self.chats.entry(request_id.clone()).or_default();
        chat.reload_due = Some(FullReloadReason::CorruptCache(detail.into()));
    }

    /// The backend's capabilities, when the driver learns them.
    pub fn set_capabilities(&mut self, capabilities: Capabilities) {
        self.capabilities = capabilities;
    }

    /// Forgets a chat (cleared from the cache, or the agent signed out).
    pub fn forget(&mut self, request_id: &RequestId) {
        self.chats.remove(request_id);
        self.in_flight.retain(|_, f| &f.request_id != request_id);
    }

    /// The commands due now for one chat.
    pub fn poll(
        &mut self,
        request_id: &RequestId,
        input: ChatInput<'_>,
        now: Millis,
    ) -> Vec<Command> {
        let config = self.config.clone();
        let capabilities = self.capabilities;
        let chat = self.chats.entry(request_id.clone()).or_default();
        if chat.in_flight_count == 0 {
            chat.machine.revalidate(input.held, input.backend_last);
        }

        if !capabilities.range && !capabilities.cursor && chat.reload_due.is_none() {
            let gaps_exist = input
                .backend_last
                .is_some_and(|last| !input.held.gaps(last).repair_order().is_empty());
            if gaps_exist || chat.older_pages_wanted > 0 {
                chat.reload_due = Some(FullReloadReason::NoHistoryFetch);
            }
        }
        if let Some(reason) = chat.reload_due.take() {
            self.stats.full_reloads += 1;
            chat.older_pages_wanted = 0;
            return vec![Command::FullReload {
                request_id: request_id.clone(),
                reason,
            }];
        }

        if chat.refused || now < chat.not_before {
            return Vec::new();
        }
        let method = if capabilities.range {
            FetchMethod::Range
        } else {
            FetchMethod::Cursor
        };
        // The page after the newest cached message, asked for before anything else.
        let newer = std::mem::take(&mut chat.newer_wanted)
            .then(|| input.held.max())
            .flatten()
            .filter(|_| capabilities.range && chat.in_flight_count < config.max_in_flight_per_chat)
            .filter(|top| chat.in_flight.max().is_none_or(|flying| flying <= *top))
            .map(|top| SeqRange::new(top + 1, top.saturating_add(config.page_limit.max(1))));
        // Single messages a hint named, minus what is held or already being fetched.
        let mut exact = std::mem::take(&mut chat.exact_wanted);
        exact.remove_all(input.held);
        exact.remove_all(&chat.in_flight);
        let mut commands = Vec::new();
        if let Some(range) = newer {
            commands.push(self.issue(request_id, range, FetchPurpose::Repair, method));
        }
        for range in exact.ranges() {
            commands.push(self.issue(request_id, *range, FetchPurpose::Repair, method));
        }
        let chat = self.chats.get_mut(request_id).expect("entry made above");

        let Some(backend_last) = input.backend_last else {
            // Nothing can be validated or repaired before the backend's last sequence is known.
            return commands;
        };

        let gaps = input.held.gaps(backend_last);
        let mut repair = gaps.repair_set();
        repair.remove_all(&chat.in_flight);

        if repair.is_empty() {
            chat.gap_seen_at = None;
            if chat.in_flight_count == 0 {
                chat.urgent = false;
                chat.progress = Progress::default();
            }
        } else {
            let seen = *chat.gap_seen_at.get_or_insert(now);
            let total_missing = repair.count() + chat.in_flight.count();
            chat.progress.total = chat.progress.total.max(chat.progress.done + total_missing);
            if !chat.urgent && now < seen + config.gap_grace_ms {
                repair = SeqRanges::new();
            }
        }

        // Only as many pages as may go out now are built: a chat with a thousand holes costs
        // a few pages of work per poll, not a thousand.
        let room = config
            .max_in_flight_per_chat
            .saturating_sub(chat.in_flight_count);
        let mut pages: Vec<(SeqRange, FetchPurpose)> = Vec::with_capacity(room);
        // Trailing gap first, then interior gaps from the newest down; newest page first within.
        // What the reader is looking at goes first.
        let (on_screen, elsewhere) = match chat.viewport {
            Some(visible) => {
                let on_screen = repair.intersection(&SeqRanges::from_range(visible));
                let mut elsewhere = repair.clone();
                elsewhere.remove_all(&on_screen);
                (on_screen, elsewhere)
            }
            None => (SeqRanges::new(), repair),
        };
        pages.extend(
            on_screen
                .ranges()
                .iter()
                .rev()
                .chain(elsewhere.ranges().iter().rev())
                .flat_map(|range| split_newest_first(*range, config.page_limit))
                .take(room)
                .map(|page| (page, FetchPurpose::Repair)),
        );
        if chat.older_pages_wanted > 0 {
            if let Some(leading) = gaps.leading {
                let mut older = input.held.complement_within(leading);
                older.remove_all(&chat.in_flight);
                // The page adjacent to the oldest cached message, then the one below it.
                let wanted =
                    (chat.older_pages_wanted as usize).min(room.saturating_sub(pages.len()));
                pages.extend(
                    older
                        .ranges()
                        .iter()
                        .rev()
                        .flat_map(|range| split_newest_first(*range, config.page_limit))
                        .take(wanted)
                        .map(|page| (page, FetchPurpose::OlderHistory)),
                );
            } else {
                chat.older_pages_wanted = 0;
            }
        }

        let older_issued = pages
            .iter()
            .filter(|(_, purpose)| *purpose == FetchPurpose::OlderHistory)
            .count();
        chat.older_pages_wanted = chat
            .older_pages_wanted
            .saturating_sub(u32::try_from(older_issued).unwrap_or(u32::MAX));
        for (range, purpose) in pages {
            commands.push(self.issue(request_id, range, purpose, method));
        }
        commands
    }

    /// Records a fetch of `range` as in flight for the chat and returns its command.
    fn issue(
        &mut self,
        request_id: &RequestId,
        range: SeqRange,
        purpose: FetchPurpose,
        method: FetchMethod,
    ) -> Command {
        let id = self.next_id;
        self.next_id += 1;
        let chat = self.chats.entry(request_id.clone()).or_default();
        chat.in_flight.insert_range(range);
        chat.in_flight_count += 1;
        chat.machine.fetch_started();
        self.stats.fetches += 1;
        self.stats.seqs_requested += range.len();
        self.in_flight.insert(
            id,
            InFlight {
                request_id: request_id.clone(),
                range,
                purpose,
            },
        );
        Command::Fetch(FetchCommand {
            id,
            request_id: request_id.clone(),
            range,
            purpose,
            method,
        })
    }

    /// The parts of a command's range still missing from `held`, re-checked by the driver
    /// once it holds the chat's cross-context lock: another tab or the service worker may have
    /// fetched them meanwhile. Empty means nothing is left to request
    /// (report [`FetchOutcome::AlreadyHeld`]).
    pub fn trim(command: &FetchCommand, held: &SeqRanges) -> SeqRanges {
        held.complement_within(command.range)
    }

    /// Records how a fetch ended, after the driver merged any reply, and re-validates the chat
    /// with `input` (the chat as it is after the merge).
    pub fn handle_fetch_result(
        &mut self,
        id: FetchId,
        outcome: FetchOutcome,
        input: ChatInput<'_>,
        now: Millis,
    ) {
        let Some(flight) = self.in_flight.remove(&id) else {
            return;
        };
        let policy = self.config.backoff;
        let fallback = self.method_fallback();
        let Some(chat) = self.chats.get_mut(&flight.request_id) else {
            return;
        };
        chat.in_flight.remove_range(flight.range);
        chat.in_flight_count = chat.in_flight_count.saturating_sub(1);

        match outcome {
            FetchOutcome::Received {
                received,
                last_seq,
                page_limit,
            } => {
                chat.failures = 0;
                chat.not_before = 0;
                if let Some(limit) = page_limit.filter(|l| *l > 0) {
                    self.config.page_limit = self.config.page_limit.min(limit);
                }
                let asked_and_existing =
                    SeqRange::new(flight.range.start, flight.range.end.min(last_seq.max(1)));
                let got = received
                    .intersection(&SeqRanges::from_range(flight.range))
                    .count();
                if flight.purpose == FetchPurpose::Repair {
                    chat.progress.done += got;
                }
                let truncated_by_limit = got >= self.config.page_limit;
                let expected = if last_seq >= flight.range.start {
                    asked_and_existing.len()
                } else {
                    0
                };
                if got < expected && !truncated_by_limit {
                    // The server claims not to have sequences below its own last sequence.
                    // Back off rather than asking again at once, which would loop.
                    self.stats.short_replies += 1;
                    chat.failures += 1;
                    chat.not_before = now + policy.delay(chat.failures, &mut self.rng);
                }
            }
            FetchOutcome::AlreadyHeld => {}
            FetchOutcome::Failed => {
                chat.failures += 1;
                chat.not_before = now + policy.delay(chat.failures, &mut self.rng);
                if flight.purpose == FetchPurpose::OlderHistory {
                    // The reader still waits at the top for that page: ask again after the
                    // backoff, as a repair would be.
                    chat.older_pages_wanted = chat.older_pages_wanted.saturating_add(1).min(4);
                }
            }
            FetchOutcome::Refused => {
                chat.refused = true;
            }
            FetchOutcome::MethodUnsupported => match fallback {
                Some(capabilities) => self.capabilities = capabilities,
                None => chat.reload_due = Some(FullReloadReason::NoHistoryFetch),
            },
        }

        if let Some(chat) = self.chats.get_mut(&flight.request_id) {
            chat.machine.fetch_finished(input.held, input.backend_last);
        }
    }

    /// The capabilities after the method in use turned out unsupported: range falls back to
    /// cursor; with neither left, `None`.
    fn method_fallback(&self) -> Option<Capabilities> {
        if self.capabilities.range && self.capabilities.cursor {
            Some(Capabilities {
                range: false,
                cursor: true,
            })
        } else {
            None
        }
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

/// Splits `range` into pages of at most `page_limit` sequences, the newest page first.
fn split_newest_first(range: SeqRange, page_limit: u64) -> impl Iterator<Item = SeqRange> {
    let limit = page_limit.max(1);
    let mut next_end = Some(range.end);
    std::iter::from_fn(move || {
        let end = next_end?;
        let start = end.saturating_sub(limit - 1).max(range.start);
        next_end = (start > range.start).then(|| start - 1);
        Some(SeqRange::new(start, end))
    })
}

#[cfg(test)]
mod tests;
