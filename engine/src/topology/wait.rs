//! What a thread does when its input is empty.
//!
//! Owned by each pipeline thread (a `Copy` value; the thread counts its own
//! empty polls). `spin-hint` spins with the pause hint and never yields:
//! yielding once every 256 empty polls was tried and, in the same bench
//! run, took the stage hop p50 from 250 ns to 2.7–6.3 µs (the harness and
//! the simulated venue took the core at each yield) without a p99 gain that
//! stood out of the noise, so a thread that wants to share its core picks
//! `yield` or `sleep`. `busy-spin` never yields (isolated cores); `yield`
//! yields on every empty poll; `sleep` sleeps.

use crate::config::WaitKind;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Wait {
    kind: WaitKind,
    sleep: Duration,
}

impl Wait {
    pub fn new(kind: WaitKind, sleep_us: u64) -> Wait {
        Wait {
            kind,
            sleep: Duration::from_micros(sleep_us.max(1)),
        }
    }

    pub fn kind(&self) -> WaitKind {
        self.kind
    }

    /// Waits once, by the thread's strategy, without counting empty polls
    /// (`spin-hint` only spins).
    #[inline]
    pub fn idle(&self) {
        match self.kind {
            WaitKind::BusySpin => {}
            WaitKind::SpinHint => std::hint::spin_loop(),
            WaitKind::Yield => std::thread::yield_now(),
            WaitKind::Sleep => std::thread::sleep(self.sleep),
        }
    }

    /// Waits once after the `idle_polls`-th empty poll in a row (from 0):
    /// as [`Wait::idle`], yielding the core only where [`Wait::yields_after`] says.
    #[inline]
    pub fn idle_after(&self, idle_polls: u32) {
        if self.yields_after(idle_polls) {
            std::thread::yield_now();
        } else {
            self.idle();
        }
    }

    /// Whether the wait after the `idle_polls`-th empty poll in a row yields the core.
    #[inline]
    pub fn yields_after(&self, _idle_polls: u32) -> bool {
        matches!(self.kind, WaitKind::Yield)
    }

    /// Waits for room in a full ring: never sleeps longer than the strategy says.
    #[inline]
    pub fn backoff(&self) {
        match self.kind {
            WaitKind::BusySpin | WaitKind::SpinHint => std::hint::spin_loop(),
            WaitKind::Yield | WaitKind::Sleep => std::thread::yield_now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yields(kind: WaitKind, polls: u32) -> Vec<u32> {
        let wait = Wait::new(kind, 1);
        (0..polls).filter(|&n| wait.yields_after(n)).collect()
    }

    // spin-hint keeps its core however long it idles.
    #[test]
    fn spin_hint_never_yields() {
        assert!(yields(WaitKind::SpinHint, 10_000).is_empty());
    }

    // busy-spin (isolated cores) and sleep never yield; yield always does.
    #[test]
    fn other_kinds_keep_their_behaviour() {
        assert!(yields(WaitKind::BusySpin, 1_000).is_empty());
        assert!(yields(WaitKind::Sleep, 1_000).is_empty());
        assert_eq!(yields(WaitKind::Yield, 10).len(), 10);
    }
}
