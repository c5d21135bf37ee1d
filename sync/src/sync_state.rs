//! The per-chat sync state machine (SPEC invariants 3, 5, 8 and 10).
//!
//! `Unknown` until the backend's last sequence is known; then validation decides `InSync` or
//! `OutOfSync`; `Fetching` only while a fetch for the chat is in flight. After every merge the
//! chat is validated again, and `OutOfSync` is left only when that validation passes.

use crate::ranges::SeqRanges;
use crate::types::{Seq, SyncState};

/// The outcome of validating a chat's cache against the backend's last sequence.
pub fn validate(held: &SeqRanges, backend_last: Option<Seq>) -> SyncState {
    let Some(last) = backend_last else {
        return SyncState::Unknown;
    };
    // An empty cache of a chat with messages is valid partial history (all of it is older
    // history, loaded on demand), not a sync failure.
    if !held.is_empty() && held.is_partial(last) {
        SyncState::OutOfSync
    } else {
        SyncState::InSync
    }
}

/// The state machine of one chat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncMachine {
    validation: SyncState,
    fetches_in_flight: u32,
}

impl SyncMachine {
    /// A machine in `Unknown`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state to show: `Fetching` while any fetch is in flight, else the last validation.
    pub fn state(&self) -> SyncState {
        if self.fetches_in_flight > 0 {
            SyncState::Fetching
        } else {
            self.validation
        }
    }

    /// The last validation result, ignoring fetches in flight.
    pub fn validation(&self) -> SyncState {
        self.validation
    }

    /// Re-validates against the current cache. Call after every merge and whenever the
    /// backend's last sequence is learned. Returns the new shown state.
    pub fn revalidate(&mut self, held: &SeqRanges, backend_last: Option<Seq>) -> SyncState {
        self.validation = validate(held, backend_last);
        self.state()
    }

    /// A fetch for this chat went out.
    pub fn fetch_started(&mut self) {
        self.fetches_in_flight += 1;
    }

    /// A fetch for this chat ended (merged, failed or skipped); validation runs again.
    pub fn fetch_finished(&mut self, held: &SeqRanges, backend_last: Option<Seq>) -> SyncState {
        self.fetches_in_flight = self.fetches_in_flight.saturating_sub(1);
        self.revalidate(held, backend_last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ranges::set as held;

    #[test]
    fn unknown_until_the_backend_last_sequence_is_known() {
        let mut m = SyncMachine::new();
        assert_eq!(m.state(), SyncState::Unknown);
        assert_eq!(
            m.revalidate(&held(&[(1, 3), (5, 6)]), None),
            SyncState::Unknown
        );
        assert_eq!(
            m.revalidate(&held(&[(1, 3), (5, 6)]), Some(6)),
            SyncState::OutOfSync
        );
    }

    #[test]
    fn fetching_only_while_in_flight_and_out_of_sync_cleared_only_by_validation() {
        let mut m = SyncMachine::new();
        m.revalidate(&held(&[(1, 3)]), Some(10));
        assert_eq!(m.state(), SyncState::OutOfSync);
        m.fetch_started();
        m.fetch_started();
        assert_eq!(m.state(), SyncState::Fetching);
        // One page merged, the other still in flight: still fetching.
        assert_eq!(
            m.fetch_finished(&held(&[(1, 6)]), Some(10)),
            SyncState::Fetching
        );
        // The last page came back short: validation fails, the chat stays out of sync.
        assert_eq!(
            m.fetch_finished(&held(&[(1, 8)]), Some(10)),
            SyncState::OutOfSync
        );
        assert_eq!(m.revalidate(&held(&[(1, 10)]), Some(10)), SyncState::InSync);
    }

    #[test]
    fn leading_gap_and_empty_cache_are_valid_states() {
        assert_eq!(validate(&held(&[(50, 100)]), Some(100)), SyncState::InSync);
        assert_eq!(validate(&SeqRanges::new(), Some(100)), SyncState::InSync);
        assert_eq!(validate(&SeqRanges::new(), Some(0)), SyncState::InSync);
    }
}
