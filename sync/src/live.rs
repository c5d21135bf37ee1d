//! The live channel's decisions, sans-IO: what the leader tab's Server-Sent Events connection
//! shows as its status, when it reconnects by itself, and which chats a catch-up repairs.
//!
//! The browser's `EventSource` reconnects on its own (sending `Last-Event-ID`) while its
//! `readyState` stays `CONNECTING`; when it gives up (`CLOSED`, e.g. after a 5xx or a 401)
//! the glue must open a new one, and it waits the [`BackoffPolicy`]'s capped, jittered delay
//! first so a failing server is not hammered by every open browser at once. After every
//! successful (re)connect the glue runs a catch-up, because a fresh connection cannot name the
//! last event it saw and messages may have been missed while it was down.

use crate::backoff::{BackoffPolicy, SplitMix64};

pub mod worker_wire;
use crate::ranges::SeqRanges;
use crate::types::{Millis, Seq};

/// What the live channel of one tab is doing, for the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveStatus {
    /// Another tab holds the connection; changes arrive through the broadcast channel.
    Follower,
    /// This tab leads and is opening its first connection.
    Connecting,
    /// This tab leads and its stream is open.
    Connected,
    /// This tab leads and the stream is down; `attempt` counts failures in a row.
    Reconnecting {
        /// Failures since the stream was last open (1 for the first).
        attempt: u32,
    },
    /// The server no longer knows the session (signed out elsewhere, expired): the stream
    /// is not reopened and the tab must show sign-in.
    SignedOut,
}

impl LiveStatus {
    /// Whether the start's catch-up (the live worker runs it for its page) may be left to the
    /// channel: `Some(true)` once the stream is open (its own catch-up runs
    /// right after the open, reading the chat list then, so nothing that arrived between the
    /// two is missed, and a second one would fetch the list again a few milliseconds later),
    /// `Some(false)` when the stream failed or the session ended (the start's catch-up runs,
    /// or learns that the session ended), `None` while it is not known yet (following, or
    /// leading and still connecting: a stream that never opens never catches up).
    pub fn covers_start_catch_up(self) -> Option<bool> {
        match self {
            Self::Connected => Some(true),
            Self::Reconnecting { .. } | Self::SignedOut => Some(false),
            Self::Follower | Self::Connecting => None,
        }
    }
}

/// How long a starting live worker waits for its channel's stream to open before it runs
/// the start's catch-up for its page. A leader's Web Lock is granted within a millisecond or two and its
/// stream opens one round trip later; a follower never opens one, so a follower (whose
/// leader may be another page that caught up long ago) and a leader on a slow network catch
/// up themselves after this, the follower's start view still painted from the cache at once.
pub const LEAD_WAIT_MS: Millis = 500;

/// What happened to the stream, as the glue observed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamSignal {
    /// The stream opened (`open` event).
    Opened,
    /// An error while the browser keeps reconnecting by itself (`readyState` CONNECTING).
    Retrying,
    /// The browser gave up (`readyState` CLOSED): the glue must open a new stream.
    Closed,
    /// Before reopening, the server answered that the session is gone (401/403).
    SessionEnded,
}

/// What the glue must do after a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveAction {
    /// Nothing: wait for the next signal.
    Wait,
    /// The stream is open: check every cached chat against the backend and repair gaps.
    CatchUp,
    /// Open a new stream after `after_ms` milliseconds (asking the server first whether
    /// the session still stands: a stream refused with 401 looks like any other failure).
    Reconnect {
        /// The delay before the new connection.
        after_ms: Millis,
    },
    /// Stop for good: the session ended.
    Stop,
}

/// The live channel's reconnect policy for the delays between connections: the first retry
/// after about a second, never more than 30 s apart.
pub const LIVE_BACKOFF: BackoffPolicy = BackoffPolicy {
    base_ms: 1_000,
    cap_ms: 30_000,
};

/// The state of one leader's connection.
#[derive(Clone, Debug)]
pub struct LiveConnection {
    policy: BackoffPolicy,
    rng: SplitMix64,
    failures: u32,
    status: LiveStatus,
}

impl LiveConnection {
    /// A follower's connection state; `seed` drives the jitter.
    pub fn new(policy: BackoffPolicy, seed: u64) -> Self {
        Self {
            policy,
            rng: SplitMix64::new(seed),
            failures: 0,
            status: LiveStatus::Follower,
        }
    }

    /// The current status.
    pub fn status(&self) -> LiveStatus {
        self.status
    }

    /// This tab won the leadership: it opens its first connection.
    pub fn lead(&mut self) -> LiveStatus {
        self.failures = 0;
        self.status = LiveStatus::Connecting;
        self.status
    }

    /// Applies what the stream reported and says what to do next.
    pub fn on_signal(&mut self, signal: StreamSignal) -> LiveAction {
        if self.status == LiveStatus::SignedOut {
            // Nothing revives a channel whose session ended: a new sign-in starts a new one.
            return LiveAction::Stop;
        }
        match signal {
            StreamSignal::SessionEnded => {
                self.status = LiveStatus::SignedOut;
                LiveAction::Stop
            }
            StreamSignal::Opened => {
                self.failures = 0;
                self.status = LiveStatus::Connected;
                LiveAction::CatchUp
            }
            StreamSignal::Retrying => {
                self.failures = self.failures.saturating_add(1);
                self.status = LiveStatus::Reconnecting {
                    attempt: self.failures,
                };
                LiveAction::Wait
            }
            StreamSignal::Closed => {
                self.failures = self.failures.saturating_add(1);
                self.status = LiveStatus::Reconnecting {
                    attempt: self.failures,
                };
                LiveAction::Reconnect {
                    after_ms: self.policy.delay(self.failures, &mut self.rng),
                }
            }
        }
    }
}

/// How many times in a row a failed catch-up is tried again before it waits for the next
/// (re)connect, the next push or the next `online` event.
pub const CATCH_UP_ATTEMPTS: u32 = 6;

/// After `failures` failed catch-ups in a row: the delay before the next attempt, or `None`
/// to stop (the attempts are spent, or the session ended, which no retry can mend). A failed
/// catch-up leaves trailing gaps of chats nobody has open stale until something else runs
/// one, so it is retried on the live channel's capped, jittered backoff.
pub fn catch_up_retry(failures: u32, session_ended: bool, rng: &mut SplitMix64) -> Option<Millis> {
    if session_ended || failures == 0 || failures >= CATCH_UP_ATTEMPTS {
        return None;
    }
    Some(LIVE_BACKOFF.delay(failures, rng))
}

/// Coalesces catch-up requests: at most one catch-up runs at a time, and connects made while
/// it runs make it run exactly once more (the running one may have read the chat list
/// before the latest disconnect, so it cannot stand for them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CatchUpTurns {
    running: bool,
    again: bool,
}

impl CatchUpTurns {
    /// Asks for a catch-up; true when the caller must start one (none is running).
    pub fn request(&mut self) -> bool {
        if self.running {
            self.again = true;
            false
        } else {
            self.running = true;
            true
        }
    }

    /// The running catch-up finished a round; true when it must run another.
    pub fn finished(&mut self) -> bool {
        let again = std::mem::take(&mut self.again);
        self.running = again;
        again
    }
}

/// How many sequences a catch-up must fetch for a chat: its interior gaps and its trailing
/// gap up to the backend's last seq. Zero for a chat with nothing cached (opening it loads
/// it) or whose last seq is unknown; the leading gap (older history) never counts, since
/// it is fetched only when the reader scrolls to it.
pub fn catch_up_missing(held: &SeqRanges, backend_last: Option<Seq>) -> u64 {
    match backend_last {
        Some(last) if !held.is_empty() => held.gaps(last).repair_count(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> LiveConnection {
        LiveConnection::new(LIVE_BACKOFF, 11)
    }

    #[test]
    fn only_an_open_stream_covers_the_start_catch_up() {
        let mut connection = connection();
        assert_eq!(
            connection.status().covers_start_catch_up(),
            None,
            "a follower"
        );
        assert_eq!(
            connection.lead().covers_start_catch_up(),
            None,
            "connecting: the stream may never open"
        );
        connection.on_signal(StreamSignal::Opened);
        assert_eq!(connection.status().covers_start_catch_up(), Some(true));
        connection.on_signal(StreamSignal::Closed);
        assert_eq!(
            connection.status().covers_start_catch_up(),
            Some(false),
            "reconnecting: the start's catch-up runs"
        );
        connection.on_signal(StreamSignal::SessionEnded);
        assert_eq!(connection.status().covers_start_catch_up(), Some(false));
    }

    #[test]
    fn a_follower_leads_connects_and_catches_up() {
        let mut live = connection();
        assert_eq!(live.status(), LiveStatus::Follower);
        assert_eq!(live.lead(), LiveStatus::Connecting);
        assert_eq!(live.on_signal(StreamSignal::Opened), LiveAction::CatchUp);
        assert_eq!(live.status(), LiveStatus::Connected);
    }

    #[test]
    fn the_browsers_own_retries_count_attempts_without_a_new_stream() {
        let mut live = connection();
        live.lead();
        live.on_signal(StreamSignal::Opened);
        assert_eq!(live.on_signal(StreamSignal::Retrying), LiveAction::Wait);
        assert_eq!(live.status(), LiveStatus::Reconnecting { attempt: 1 });
        assert_eq!(live.on_signal(StreamSignal::Retrying), LiveAction::Wait);
        assert_eq!(live.status(), LiveStatus::Reconnecting { attempt: 2 });
        // The browser got through: a catch-up covers what was missed meanwhile.
        assert_eq!(live.on_signal(StreamSignal::Opened), LiveAction::CatchUp);
        assert_eq!(live.status(), LiveStatus::Connected);
    }

    #[test]
    fn a_closed_stream_reconnects_after_a_capped_jittered_delay_that_resets_on_open() {
        let mut live = connection();
        live.lead();
        let mut delays = Vec::new();
        for attempt in 1..=10u32 {
            match live.on_signal(StreamSignal::Closed) {
                LiveAction::Reconnect { after_ms } => delays.push(after_ms),
                other => panic!("attempt {attempt}: {other:?}"),
            }
            assert_eq!(live.status(), LiveStatus::Reconnecting { attempt });
        }
        assert!((500..=1_000).contains(&delays[0]), "{delays:?}");
        assert!((1_000..=2_000).contains(&delays[1]), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= 30_000), "{delays:?}");
        assert!(delays[9] >= 15_000, "capped, not reset: {delays:?}");
        live.on_signal(StreamSignal::Opened);
        match live.on_signal(StreamSignal::Closed) {
            LiveAction::Reconnect { after_ms } => assert!(after_ms <= 1_000, "{after_ms}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(live.status(), LiveStatus::Reconnecting { attempt: 1 });
    }

    #[test]
    fn two_leaders_with_different_seeds_do_not_retry_in_step() {
        let mut a = LiveConnection::new(LIVE_BACKOFF, 1);
        let mut b = LiveConnection::new(LIVE_BACKOFF, 2);
        let delays = |live: &mut LiveConnection| -> Vec<LiveAction> {
            (0..6)
                .map(|_| live.on_signal(StreamSignal::Closed))
                .collect()
        };
        assert_ne!(delays(&mut a), delays(&mut b));
    }

    #[test]
    fn catch_ups_never_overlap_and_a_connect_during_one_runs_one_more() {
        let mut turns = CatchUpTurns::default();
        assert!(turns.request(), "the first starts");
        assert!(!turns.request(), "a second waits");
        assert!(!turns.request(), "a third joins the second");
        assert!(turns.finished(), "one more round");
        assert!(!turns.finished(), "and no more");
        assert!(turns.request(), "idle again: the next starts");
        assert!(!turns.finished());
    }

    #[test]
    fn catch_up_counts_interior_and_trailing_gaps_never_older_history() {
        let mut held = SeqRanges::new();
        for seq in (10..=20).chain(25..=30) {
            held.insert(seq);
        }
        // 21..=24 interior, 31..=35 trailing; 1..=9 is older history and not counted.
        assert_eq!(catch_up_missing(&held, Some(35)), 9);
        assert_eq!(catch_up_missing(&held, Some(30)), 4);
        assert_eq!(catch_up_missing(&held, None), 0);
        assert_eq!(catch_up_missing(&SeqRanges::new(), Some(35)), 0);
        let mut whole = SeqRanges::new();
        for seq in 1..=35 {
            whole.insert(seq);
        }
        assert_eq!(catch_up_missing(&whole, Some(35)), 0);
    }

    #[test]
    fn an_ended_session_stops_the_channel_for_good() {
        let mut connection = LiveConnection::new(LIVE_BACKOFF, 7);
        connection.lead();
        assert!(matches!(
            connection.on_signal(StreamSignal::Closed),
            LiveAction::Reconnect { .. }
        ));
        assert_eq!(
            connection.on_signal(StreamSignal::SessionEnded),
            LiveAction::Stop
        );
        assert_eq!(connection.status(), LiveStatus::SignedOut);
        for signal in [
            StreamSignal::Opened,
            StreamSignal::Retrying,
            StreamSignal::Closed,
        ] {
            assert_eq!(connection.on_signal(signal), LiveAction::Stop, "{signal:?}");
            assert_eq!(connection.status(), LiveStatus::SignedOut);
        }
    }

    #[test]
    fn a_failed_catch_up_is_retried_on_backoff_then_waits() {
        let mut rng = SplitMix64::new(3);
        let mut previous = 0;
        for failures in 1..CATCH_UP_ATTEMPTS {
            let delay = catch_up_retry(failures, false, &mut rng).expect("retried");
            assert!((LIVE_BACKOFF.base_ms / 2..=LIVE_BACKOFF.cap_ms).contains(&delay));
            assert!(delay * 2 >= previous, "grows: {previous} then {delay}");
            previous = delay;
        }
        assert_eq!(catch_up_retry(CATCH_UP_ATTEMPTS, false, &mut rng), None);
        assert_eq!(catch_up_retry(0, false, &mut rng), None, "nothing failed");
        assert_eq!(catch_up_retry(1, true, &mut rng), None, "signed out");
    }
}
