//! Capped exponential backoff with jitter, and the small deterministic random source behind
//! the jitter.
//!
//! The core reads no clock and no operating-system randomness: the caller seeds the random
//! source, so a simulation with the same seed takes the same decisions every time.

use crate::types::Millis;

/// How retries are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The delay before the first retry.
    pub base_ms: Millis,
    /// The longest delay between two attempts.
    pub cap_ms: Millis,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base_ms: 500,
            cap_ms: 60_000,
        }
    }
}

impl BackoffPolicy {
    /// The delay before attempt number `failures + 1`, after `failures` failures in a row.
    ///
    /// It is drawn uniformly from the upper half of the exponential step ("equal jitter"):
    /// contexts that failed together do not retry together, and a retry never comes sooner
    /// than half the step, so a failing server is not hammered.
    pub fn delay(&self, failures: u32, rng: &mut SplitMix64) -> Millis {
        let exponent = failures.saturating_sub(1).min(30);
        let step = self
            .base_ms
            .saturating_mul(1i64 << exponent)
            .min(self.cap_ms)
            .max(1);
        let half = step / 2;
        half + (rng.next_u64() % (step - half + 1) as u64) as Millis
    }
}

/// SplitMix64: a tiny, fast, seedable generator, good enough for jitter and simulations.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next pseudo-random 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_stop_at_the_cap() {
        let policy = BackoffPolicy {
            base_ms: 100,
            cap_ms: 1_000,
        };
        let mut rng = SplitMix64::new(7);
        for _ in 0..200 {
            let first = policy.delay(1, &mut rng);
            assert!((50..=100).contains(&first), "{first}");
            let third = policy.delay(3, &mut rng);
            assert!((200..=400).contains(&third), "{third}");
            let late = policy.delay(40, &mut rng);
            assert!((500..=1_000).contains(&late), "{late}");
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let xs: Vec<u64> = (0..10).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..10).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
    }
}
