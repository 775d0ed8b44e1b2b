//! Order-rate throttle: at most `limit` orders in any sliding window of event time.
//!
//! A ring holds the times of the last `limit` accepted orders; an order is
//! allowed when the ring is not full or its oldest entry left the window.
//! Allocated once at start-up.

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
        if self.len < capacity {
            self.times_ns[(self.head_index + self.len) % capacity] = ts_ns;
            self.len += 1;
        } else {
            self.times_ns[self.head_index] = ts_ns;
            self.head_index = (self.head_index + 1) % capacity;
        }
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
}
