//! What the engine is told of a chat and what it tells about one: the facts read from the
//! chat record before each step ([`ChatFacts`]), the status a view shows ([`ChatStatus`]),
//! and what a push hint means ([`plan_hint`]).

use crate::planner::{ChatInput, Progress};
use crate::ranges::{SeqRange, SeqRanges};
use crate::types::{ChatRecord, Seq, SyncState};

/// What the engine is told of a chat, read from its record just before a step: the held seqs
/// it may trust and the backend's last seq once learned. The driver and the simulation read
/// it the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatFacts {
    /// Held seqs minus those known unreadable.
    pub held: SeqRanges,
    /// The backend's last seq, once learned.
    pub backend_last: Option<Seq>,
}

impl ChatFacts {
    /// The facts of a chat record (none: a chat the cache does not hold).
    pub fn of(record: Option<&ChatRecord>) -> Self {
        record.map_or_else(Self::default, |record| Self {
            held: record.readable_held(),
            backend_last: record.backend_last(),
        })
    }

    /// Whether messages the backend has are missing between or after the cached ones (the
    /// leading gap, older history, is loaded only when the reader asks): a repair is due.
    pub fn needs_repair(&self) -> bool {
        needs_repair(self.input())
    }

    /// As the planner's input.
    pub fn input(&self) -> ChatInput<'_> {
        ChatInput {
            held: &self.held,
            backend_last: self.backend_last,
        }
    }
}

/// What the UI needs to know about a chat's sync, as data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatStatus {
    /// The shown sync state.
    pub sync_state: SyncState,
    /// True only while a history request of this context is on the network.
    pub fetching: bool,
    /// Interior and trailing gaps still missing (where skeleton rows stand).
    pub missing: Vec<SeqRange>,
    /// Older history not cached yet (`1 ..= local_min - 1`).
    pub older: Option<SeqRange>,
    /// Progress of a large repair: messages done / total.
    pub progress: Progress,
}

impl ChatStatus {
    /// Validation still finds messages missing and nothing of this context is fetching them
    /// (the planner backs off after failures): the view offers a retry.
    pub fn is_incomplete(&self) -> bool {
        self.sync_state == SyncState::OutOfSync && !self.fetching && !self.missing.is_empty()
    }
}

/// Whether interior or trailing messages are missing, once the backend's last seq is known.
pub(super) fn needs_repair(input: ChatInput<'_>) -> bool {
    input
        .backend_last
        .is_some_and(|last| input.held.gaps(last).repair_count() > 0)
}

/// What a push hint (a message too large to push, named by seq) means for the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintAction {
    /// The message is cached already: nothing to do.
    AlreadyHeld,
    /// The chat is cached: the hint proves the backend holds `seq`, so everything up to it
    /// that is missing is a gap to repair at once ([`Goal::ProvenGap`]).
    Repair {
        /// The backend's last sequence is at least this.
        backend_last_at_least: Seq,
    },
    /// The chat was never cached: fetch exactly that message ([`Goal::Exact`]); older
    /// history waits for the reader.
    FetchExact(Seq),
}

/// What a hint naming `seq` means for a chat that holds `held`.
pub fn plan_hint(held: &SeqRanges, seq: Seq) -> HintAction {
    if held.contains(seq) {
        HintAction::AlreadyHeld
    } else if held.max().is_some() {
        HintAction::Repair {
            backend_last_at_least: seq,
        }
    } else {
        HintAction::FetchExact(seq)
    }
}
