//! How one fetch command becomes HTTP requests, and how their replies and failures become the
//! outcome the planner is told.
//!
//! The glue holds the chat's cross-context lock, re-reads what the chat holds, and asks
//! [`requests_for`] what is still to be asked; it performs each [`HistoryRequest`] in turn,
//! merges the reply through the one ingest path (which accepts only messages within
//! [`HistoryRequest::accept`]), adds it to a [`FetchTally`], and reports the tally's outcome,
//! or the [`Failure`]'s, to [`super::Engine::handle_fetch_result`].

use crate::planner::{FetchCommand, FetchMethod, FetchOutcome, Planner};
use crate::protocol::MAX_SEQ;
use crate::ranges::{SeqRange, SeqRanges};
use crate::types::Seq;

/// One history request on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryQuery {
    /// `from_seq`/`to_seq`: exactly the range.
    Range {
        /// First sequence asked for.
        from: Seq,
        /// Last sequence asked for.
        to: Seq,
    },
    /// `before_seq`/`limit`: up to `limit` messages below `before`, the newest first.
    Before {
        /// Messages below this sequence.
        before: Seq,
        /// At most this many.
        limit: u64,
    },
}

/// A request to make, with the missing range it is for and what a valid reply may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryRequest {
    /// The missing sequences this request is for.
    pub range: SeqRange,
    /// What to send.
    pub query: HistoryQuery,
    /// The sequences a reply may carry: anything outside is a hostile or broken reply.
    pub accept: SeqRange,
}

/// The requests still to make for `command` once the chat's lock is held and the chat holds
/// `held`: one per range still missing (another tab or the service worker may have fetched
/// the rest meanwhile), newest first. Empty: report [`FetchOutcome::AlreadyHeld`].
pub fn requests_for(command: &FetchCommand, held: &SeqRanges) -> Vec<HistoryRequest> {
    let remaining = Planner::trim(command, held);
    remaining
        .ranges()
        .iter()
        .rev()
        .map(|range| match command.method {
            FetchMethod::Range => HistoryRequest {
                range: *range,
                query: HistoryQuery::Range {
                    from: range.start,
                    to: range.end,
                },
                accept: *range,
            },
            // The cursor returns up to `limit` messages below `before`: any of them (down to
            // 1) is a valid answer.
            FetchMethod::Cursor => HistoryRequest {
                range: *range,
                query: HistoryQuery::Before {
                    before: range.end + 1,
                    limit: range.len(),
                },
                accept: SeqRange::new(1, range.end),
            },
        })
        .collect()
}

/// The request of a full reload: the newest page of the chat (below the backend's last
/// sequence when known), swapped for the cached copy in one transaction.
pub fn reload_request(backend_last: Option<Seq>, page_limit: u64) -> HistoryRequest {
    let before = backend_last.map_or(MAX_SEQ, |last| (last + 1).min(MAX_SEQ));
    let below = SeqRange::new(1, before.saturating_sub(1).max(1));
    HistoryRequest {
        range: below,
        query: HistoryQuery::Before {
            before,
            limit: page_limit,
        },
        accept: below,
    }
}

/// The replies of one fetch command so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchTally {
    received: SeqRanges,
    last_seq: Seq,
    page_limit: Option<u64>,
}

impl FetchTally {
    /// Adds a merged reply: the sequences it carried, the chat's last sequence it stated and
    /// the server's page limit.
    pub fn add(&mut self, seqs: impl IntoIterator<Item = Seq>, last_seq: Seq, page_limit: u64) {
        for seq in seqs {
            self.received.insert(seq);
        }
        self.last_seq = self.last_seq.max(last_seq);
        self.page_limit = Some(page_limit);
    }

    /// The outcome once every request of the command was answered and merged.
    pub fn outcome(self) -> FetchOutcome {
        FetchOutcome::Received {
            received: self.received,
            last_seq: self.last_seq,
            page_limit: self.page_limit,
        }
    }
}

/// Why a history request failed, as far as the sync cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No reply, a timeout or a 5xx: retry after the backoff.
    Transient,
    /// A reply that failed validation: retry after the backoff, never merge it.
    Invalid,
    /// Refused for good, with the HTTP status.
    Refused(u16),
    /// The server does not support the fetch method.
    Unsupported,
}

impl Failure {
    /// What the planner is told.
    pub fn outcome(self) -> FetchOutcome {
        match self {
            Failure::Transient | Failure::Invalid => FetchOutcome::Failed,
            Failure::Refused(_) => FetchOutcome::Refused,
            Failure::Unsupported => FetchOutcome::MethodUnsupported,
        }
    }

    /// Whether the cache lets go of the chat: a 403 on its history means the chat was taken
    /// from this agent (reassigned), so its messages, record, unsent messages and files go.
    pub fn revokes_chat(self) -> bool {
        self == Failure::Refused(403)
    }
}
