//! When a tab waiting for live leadership takes it over from a leader that stopped answering.
//!
//! Leadership is a Web Lock held for as long as the leader lives. The browser releases a
//! dead context's locks, but not those of a page it froze (a background tab under energy
//! saving, a page on its way into the back/forward cache): such a leader keeps the lock and
//! runs nothing, so without a bound every other tab would wait, without a live stream,
//! until the frozen page thaws. A waiting tab therefore asks the leader now and then whether
//! it is alive (a [`LeaseMessage::Probe`] on a broadcast channel); a running leader answers
//! at once from its message handler ([`LeaseMessage::Alive`]), which timer throttling in
//! background tabs does not delay. A probe left unanswered for [`ANSWER_WITHIN_MS`] means the
//! leader runs nothing, and the waiting tab steals the lock ([`WatchAction::TakeOver`]); the
//! frozen leader learns it lost the lock when it thaws, and queues again as a follower.
//!
//! Any `Alive` seen after a probe counts, whoever it answered: a new leader announces itself
//! with one as it takes over, so followers that probed the same frozen leader at the same
//! moment do not all steal from each other in turn.

use serde::{Deserialize, Serialize};

use crate::types::Millis;

/// How often a waiting tab asks whether the leader is alive.
pub const PROBE_EVERY_MS: Millis = 10_000;

/// How long a running leader may take to answer a probe. Message handlers run within
/// milliseconds even in throttled background tabs; seconds only pass for a page that runs
/// nothing at all.
pub const ANSWER_WITHIN_MS: Millis = 3_000;

/// The first probe follows the start of a wait after this long: a lock that is free is
/// granted well before, and a healthy leader's answer needs no sooner question.
pub const FIRST_PROBE_AFTER_MS: Millis = 1_000;

/// What tabs of one database say to each other about leadership (JSON on the lease channel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LeaseMessage {
    /// A waiting tab asks whether the leader is alive.
    Probe {
        /// Chosen by the asking tab, echoed by the answer.
        nonce: u64,
    },
    /// The leader is alive: an answer to a probe, or a new leader announcing itself (nonce 0).
    Alive {
        /// The probe's nonce (0 for an announcement).
        nonce: u64,
    },
}

/// Decoded flat, without serde's buffering (see [`crate::tagged`]).
impl<'de> Deserialize<'de> for LeaseMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        enum Tag {
            Probe,
            Alive,
        }
        crate::deserialize_unit_variants!(Tag {
            Probe = "probe",
            Alive = "alive",
        });
        #[derive(Deserialize)]
        #[serde(remote = "Self")]
        struct Flat {
            kind: Tag,
            nonce: Option<u64>,
        }
        let flat = Flat::deserialize(crate::object_only::ObjectOnly(deserializer))?;
        let nonce = crate::tagged::required(flat.nonce, "nonce")?;
        Ok(match flat.kind {
            Tag::Probe => LeaseMessage::Probe { nonce },
            Tag::Alive => LeaseMessage::Alive { nonce },
        })
    }
}

/// What the waiting tab does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchAction {
    /// Nothing until `until` (or until a message arrives).
    Wait {
        /// When to poll again.
        until: Millis,
    },
    /// Post `Probe { nonce }` on the lease channel, then poll again.
    Probe {
        /// The nonce to send.
        nonce: u64,
    },
    /// The leader did not answer in time: steal the lock.
    TakeOver,
}

/// A waiting tab's view of the leader: when it last asked, and whether an answer came.
#[derive(Clone, Debug)]
pub struct LeaderWatch {
    probe_every: Millis,
    answer_within: Millis,
    next_probe_at: Millis,
    asked: Option<(u64, Millis)>,
    next_nonce: u64,
}

impl LeaderWatch {
    /// A watch starting at `now` with the default timings; `first_nonce` should be random
    /// (nonces of different tabs need not differ, but a tab's own must not repeat).
    pub fn new(now: Millis, first_nonce: u64) -> Self {
        Self::with_timings(
            now,
            first_nonce,
            FIRST_PROBE_AFTER_MS,
            PROBE_EVERY_MS,
            ANSWER_WITHIN_MS,
        )
    }

    /// A watch with explicit timings (tests use short ones).
    pub fn with_timings(
        now: Millis,
        first_nonce: u64,
        first_probe_after: Millis,
        probe_every: Millis,
        answer_within: Millis,
    ) -> Self {
        Self {
            probe_every,
            answer_within,
            next_probe_at: now.saturating_add(first_probe_after),
            asked: None,
            // Zero is the announcement's nonce.
            next_nonce: first_nonce.max(1),
        }
    }

    /// A lease message arrived from another tab. Any `Alive` proves a running leader (an
    /// answer to this tab's probe or another's, or a new leader's announcement): the next
    /// probe waits a full interval. Other tabs' probes change nothing.
    pub fn on_message(&mut self, message: &LeaseMessage, now: Millis) {
        if let LeaseMessage::Alive { .. } = message {
            self.asked = None;
            self.next_probe_at = now.saturating_add(self.probe_every);
        }
    }

    /// What to do at `now`.
    pub fn poll(&mut self, now: Millis) -> WatchAction {
        if let Some((_, asked_at)) = self.asked {
            let deadline = asked_at.saturating_add(self.answer_within);
            return if now >= deadline {
                WatchAction::TakeOver
            } else {
                WatchAction::Wait { until: deadline }
            };
        }
        if now < self.next_probe_at {
            return WatchAction::Wait {
                until: self.next_probe_at,
            };
        }
        let nonce = self.next_nonce;
        self.next_nonce = self.next_nonce.wrapping_add(1).max(1);
        self.asked = Some((nonce, now));
        WatchAction::Probe { nonce }
    }
}

/// The leader's answer to a lease message: `Alive` with the probe's nonce, nothing for
/// anything else (another leader's announcement, for instance).
pub fn answer(message: &LeaseMessage) -> Option<LeaseMessage> {
    match message {
        LeaseMessage::Probe { nonce } => Some(LeaseMessage::Alive { nonce: *nonce }),
        LeaseMessage::Alive { .. } => None,
    }
}

/// What a new leader posts as it takes the lock.
pub const ANNOUNCEMENT: LeaseMessage = LeaseMessage::Alive { nonce: 0 };

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> LeaderWatch {
        LeaderWatch::with_timings(0, 7, 1_000, 10_000, 3_000)
    }

    #[test]
    fn the_first_probe_waits_for_a_normal_grant() {
        let mut w = watch();
        assert_eq!(w.poll(0), WatchAction::Wait { until: 1_000 });
        assert_eq!(w.poll(999), WatchAction::Wait { until: 1_000 });
        assert_eq!(w.poll(1_000), WatchAction::Probe { nonce: 7 });
    }

    #[test]
    fn an_answered_probe_postpones_the_next_one() {
        let mut w = watch();
        assert_eq!(w.poll(1_000), WatchAction::Probe { nonce: 7 });
        assert_eq!(w.poll(2_000), WatchAction::Wait { until: 4_000 });
        w.on_message(&LeaseMessage::Alive { nonce: 7 }, 1_005);
        assert_eq!(w.poll(1_010), WatchAction::Wait { until: 11_005 });
        assert_eq!(w.poll(11_005), WatchAction::Probe { nonce: 8 });
    }

    #[test]
    fn an_unanswered_probe_takes_over_after_the_answer_time() {
        let mut w = watch();
        assert_eq!(w.poll(1_000), WatchAction::Probe { nonce: 7 });
        assert_eq!(w.poll(3_999), WatchAction::Wait { until: 4_000 });
        assert_eq!(w.poll(4_000), WatchAction::TakeOver);
        // A tab whose own timers were held back (a throttled background tab) takes over at
        // its next poll, however late.
        assert_eq!(w.poll(90_000), WatchAction::TakeOver);
    }

    #[test]
    fn any_alive_after_a_probe_counts_as_an_answer() {
        let mut w = watch();
        assert_eq!(w.poll(1_000), WatchAction::Probe { nonce: 7 });
        // Another tab took over and announced itself: no need to steal again.
        w.on_message(&ANNOUNCEMENT, 2_000);
        assert_eq!(w.poll(4_000), WatchAction::Wait { until: 12_000 });
    }

    #[test]
    fn probes_of_other_tabs_change_nothing_for_a_follower() {
        let mut w = watch();
        w.on_message(&LeaseMessage::Probe { nonce: 3 }, 500);
        assert_eq!(w.poll(1_000), WatchAction::Probe { nonce: 7 });
        w.on_message(&LeaseMessage::Probe { nonce: 3 }, 1_500);
        assert_eq!(w.poll(4_000), WatchAction::TakeOver);
    }

    #[test]
    fn the_leader_answers_probes_only() {
        assert_eq!(
            answer(&LeaseMessage::Probe { nonce: 9 }),
            Some(LeaseMessage::Alive { nonce: 9 })
        );
        assert_eq!(answer(&ANNOUNCEMENT), None);
    }

    #[test]
    fn nonces_never_repeat_and_never_are_zero() {
        let mut w = LeaderWatch::with_timings(0, u64::MAX, 0, 0, 0);
        assert_eq!(w.poll(0), WatchAction::Probe { nonce: u64::MAX });
        w.on_message(&LeaseMessage::Alive { nonce: u64::MAX }, 0);
        assert_eq!(w.poll(0), WatchAction::Probe { nonce: 1 });
        let mut zero = LeaderWatch::with_timings(0, 0, 0, 0, 0);
        assert_eq!(zero.poll(0), WatchAction::Probe { nonce: 1 });
    }

    #[test]
    fn messages_travel_as_tagged_json() {
        let text = serde_json::to_string(&LeaseMessage::Probe { nonce: 5 }).unwrap();
        assert_eq!(text, r#"{"kind":"probe","nonce":5}"#);
        let back: LeaseMessage = crate::json::from_str(r#"{"kind":"alive","nonce":5}"#).unwrap();
        assert_eq!(back, LeaseMessage::Alive { nonce: 5 });
    }
}
