//! The planner's vocabulary: its configuration, what the driver tells it of a chat, the
//! commands it emits, how a fetch ended, and the progress and counters it reports.

use crate::backoff::BackoffPolicy;
use crate::ranges::{SeqRange, SeqRanges};
use crate::types::{Millis, RequestId, Seq};

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
