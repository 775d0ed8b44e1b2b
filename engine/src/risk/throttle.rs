//! Order-rate throttle: at most `limit` orders in any sliding window of event time.
//!
//! A ring holds the times of the last `limit` accepted orders; an order is
//! allowed when the ring is not full or its oldest entry left the window.
//! Allocated once at start-up. Its state (the times, oldest first) is saved
//! and restored for restarts; a smaller limit keeps the newest times.

use crate::state_codec::{StateError, StateReader, StateWriter};

/// Most order times a saved throttle may list (the config caps the limit at 2^24).
const SAVED_TIMES_MAX: usize = 1 << 24;

pub struct Throttle {
    times_ns: Box<[u64]>,
    head_index: usize,
    len: usize,
    window_ns: u64,
}

impl Throttle {
    pub fn new(limit: usize, window_ns: u64) -> Throttle {
        assert!(limit > 0, "throttle limit is positive");
        Throttle {
            times_ns: vec![0; limit].into_boxed_slice(),
            head_index: 0,
            len: 0,
            window_ns,
        }
    }

    /// Would an order at `ts_ns` stay within the limit?
    #[inline]
    pub fn allows(&self, ts_ns: u64) -> bool {
        self.len < self.times_ns.len()
            || ts_ns.saturating_sub(self.times_ns[self.head_index]) >= self.window_ns
    }

    /// Records an accepted order at `ts_ns`.
    #[inline]
    pub fn record(&mut self, ts_ns: u64) {
        let capacity = self.times_ns.len();
        // Both sums stay below twice the capacity: one subtraction wraps
        // them, where `%` would divide by a runtime value.
        let wrap = |index: usize| {
            if index >= capacity {
                index - capacity
            } else {
                index
            }
        };
        if self.len < capacity {
            self.times_ns[wrap(self.head_index + self.len)] = ts_ns;
            self.len += 1;
        } else {
            self.times_ns[self.head_index] = ts_ns;
            self.head_index = wrap(self.head_index + 1);
        }
        debug_assert!(self.head_index < capacity && self.len <= capacity);
    }

    /// Orders counted in the window ending at `ts_ns`.
    pub fn count_in_window(&self, ts_ns: u64) -> usize {
        let capacity = self.times_ns.len();
        (0..self.len)
            .filter(|i| {
                ts_ns.saturating_sub(self.times_ns[(self.head_index + i) % capacity])
                    < self.window_ns
            })
            .count()
    }

    /// The recorded times, oldest first.
    fn times_oldest_first(&self) -> impl Iterator<Item = u64> + '_ {
        let capacity = self.times_ns.len();
        (0..self.len).map(move |i| self.times_ns[(self.head_index + i) % capacity])
    }

    pub fn save_state(&self, out: &mut StateWriter) {
        out.count(self.len);
        for ts_ns in self.times_oldest_first() {
            out.u64(ts_ns);
        }
    }

    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        let count = input.count("throttle.times", SAVED_TIMES_MAX)?;
        let skipped = count.saturating_sub(self.times_ns.len());
        self.head_index = 0;
        self.len = 0;
        // Event times need not rise (sources stamp as they read): kept as recorded.
        for index in 0..count {
            let ts_ns = input.u64("throttle.time_ns")?;
            if index >= skipped {
                self.record(ts_ns);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The third order inside one window is refused; after the window slides it is allowed.
    #[test]
    fn sliding_window_limits_rate() {
        let mut t = Throttle::new(2, 1_000);
        assert!(t.allows(0));
        t.record(0);
        t.record(400);
        assert!(!t.allows(999));
        assert!(t.allows(1_000));
        t.record(1_000);
        assert!(!t.allows(1_399));
        assert!(t.allows(1_400));
        assert_eq!(t.count_in_window(1_200), 2);
    }

    // A restored throttle refuses and allows exactly as the saved one; a
    // smaller limit keeps the newest times.
    #[test]
    fn restored_throttle_decides_alike() {
        let mut t = Throttle::new(3, 1_000);
        for ts in [0, 100, 900, 1_200] {
            t.record(ts);
        }
        let mut out = StateWriter::new();
        t.save_state(&mut out);
        let bytes = out.into_bytes();
        let mut back = Throttle::new(3, 1_000);
        back.restore_state(&mut StateReader::new(&bytes)).unwrap();
        for ts in [1_099, 1_100, 1_899, 1_900] {
            assert_eq!(back.allows(ts), t.allows(ts), "at {ts}");
        }
        let mut again = StateWriter::new();
        back.save_state(&mut again);
        assert_eq!(again.into_bytes(), bytes);
        let mut small = Throttle::new(1, 1_000);
        small.restore_state(&mut StateReader::new(&bytes)).unwrap();
        assert!(!small.allows(2_199) && small.allows(2_200));
    }
}
