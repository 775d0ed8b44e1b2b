//! Reconnect delays that double after each failure, up to a cap.
//!
//! Owning thread: the thread that owns the connection. Invariant: the delay
//! stays within `[initial_ns, max_ns]`; pure arithmetic on caller time.

/// Exponential reconnect backoff.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    initial_ns: u64,
    max_ns: u64,
    current_ns: u64,
}

impl Backoff {
    /// Starts at `initial_ns` and doubles up to `max_ns`.
    pub fn new(initial_ns: u64, max_ns: u64) -> Backoff {
        let max_ns = max_ns.max(initial_ns);
        Backoff {
            initial_ns,
            max_ns,
            current_ns: initial_ns,
        }
    }

    /// The delay before the next attempt; doubles the one after.
    pub fn next_delay_ns(&mut self) -> u64 {
        let delay_ns = self.current_ns;
        self.current_ns = self.current_ns.saturating_mul(2).min(self.max_ns);
        delay_ns
    }

    /// Back to the initial delay (after a successful logon).
    pub fn reset(&mut self) {
        self.current_ns = self.initial_ns;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps_then_resets() {
        // 10, 20, 40, 50, 50, then 10 again after a reset.
        let mut backoff = Backoff::new(10, 50);
        let delays: Vec<u64> = (0..5).map(|_| backoff.next_delay_ns()).collect();
        assert_eq!(delays, [10, 20, 40, 50, 50]);
        backoff.reset();
        assert_eq!(backoff.next_delay_ns(), 10);
    }
}
