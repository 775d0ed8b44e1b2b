//! Reconnect delays: exponential backoff with seeded jitter.
//!
//! Owning thread: the connection's owner. Invariants: the delay before
//! attempt `n` (from 0) lies in `[base/2, base]` where
//! `base = min(initial_ns * 2^n, max_ns)` ("equal jitter": never less than
//! half the base, so a flapping peer is not hammered, and spread so that
//! many clients do not reconnect in lockstep). The jitter comes from a
//! SplitMix64 generator seeded by the caller, so a test sees the same
//! delays every run; no clock and no OS randomness is read here.

/// Exponential backoff with seeded jitter.
#[derive(Clone, Debug)]
pub struct JitteredBackoff {
    initial_ns: u64,
    max_ns: u64,
    base_ns: u64,
    rng_state: u64,
    attempts: u32,
}

impl JitteredBackoff {
    /// Delays start near `initial_ns` and double up to `max_ns`; `seed`
    /// fixes the jitter sequence.
    pub fn new(initial_ns: u64, max_ns: u64, seed: u64) -> JitteredBackoff {
        let initial_ns = initial_ns.max(1);
        JitteredBackoff {
            initial_ns,
            max_ns: max_ns.max(initial_ns),
            base_ns: initial_ns,
            rng_state: seed,
            attempts: 0,
        }
    }

    /// The delay before the next attempt; the base doubles for the one after.
    pub fn next_delay_ns(&mut self) -> u64 {
        let half_ns = self.base_ns / 2;
        let jitter_ns = self.next_random() % (self.base_ns - half_ns + 1);
        let delay_ns = half_ns + jitter_ns;
        self.base_ns = self.base_ns.saturating_mul(2).min(self.max_ns);
        self.attempts = self.attempts.saturating_add(1);
        delay_ns
    }

    /// Back to the initial delay (after a connection that worked).
    pub fn reset(&mut self) {
        self.base_ns = self.initial_ns;
        self.attempts = 0;
    }

    /// Delays handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// SplitMix64 (Steele, Lea, Flood 2014): one add, two multiply-xorshifts.
    fn next_random(&mut self) -> u64 {
        self.rng_state = self.rng_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Delays stay within [base/2, base], the base doubles to the cap, and
    // the same seed gives the same sequence.
    #[test]
    fn bounded_doubling_and_deterministic() {
        let mut a = JitteredBackoff::new(100, 1_000, 42);
        let mut b = JitteredBackoff::new(100, 1_000, 42);
        let bases = [100u64, 200, 400, 800, 1_000, 1_000];
        for base in bases {
            let delay = a.next_delay_ns();
            assert!(delay >= base / 2 && delay <= base, "{delay} vs base {base}");
            assert_eq!(delay, b.next_delay_ns());
        }
        a.reset();
        assert!(a.next_delay_ns() <= 100);
        let mut c = JitteredBackoff::new(100, 1_000, 43);
        let differs = (0..8).any(|_| c.next_delay_ns() != b.next_delay_ns());
        assert!(differs, "another seed gives other jitter");
    }
}
