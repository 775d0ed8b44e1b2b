//! What a thread does when its input is empty.
//!
//! Owned by each pipeline thread (a `Copy` value; the thread counts its own
//! empty polls). `spin-hint` spins with the pause hint but yields the core
//! once every [`SPIN_POLLS_PER_YIELD`] empty polls in a row (about 10 µs of
//! idleness here): where the pipeline's threads fill the machine (two hot
//! threads on two vCPUs), a runnable thread waiting for one of their cores
//! — a helper, or the other pipeline thread when an unpinned plan stacks
//! both on one CPU — then gets it in the pipeline's idle time, within
//! microseconds, instead of when the scheduler's slice ends (milliseconds,
//! with events queued behind). Alone on its CPU, a yield returns at once.
//! `busy-spin` never yields (isolated cores); `yield` yields on every
//! empty poll; `sleep` sleeps.

use crate::config::WaitKind;
use std::time::Duration;

/// Empty polls in a row between two yields of a `spin-hint` thread.
pub const SPIN_POLLS_PER_YIELD: u32 = 256;

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
    /// as [`Wait::idle`], except that `spin-hint` yields the core on every
    /// [`SPIN_POLLS_PER_YIELD`]-th.
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
    pub fn yields_after(&self, idle_polls: u32) -> bool {
        match self.kind {
            WaitKind::BusySpin | WaitKind::Sleep => false,
            WaitKind::SpinHint => idle_polls > 0 && idle_polls.is_multiple_of(SPIN_POLLS_PER_YIELD),
            WaitKind::Yield => true,
        }
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

    // spin-hint spins through the first empty polls, then yields once per
    // SPIN_POLLS_PER_YIELD polls in a row; never on the first.
    #[test]
    fn spin_hint_yields_once_per_threshold() {
        let polls = 4 * SPIN_POLLS_PER_YIELD;
        assert_eq!(
            yields(WaitKind::SpinHint, polls),
            vec![
                SPIN_POLLS_PER_YIELD,
                2 * SPIN_POLLS_PER_YIELD,
                3 * SPIN_POLLS_PER_YIELD
            ]
        );
    }

    // busy-spin (isolated cores) and sleep never yield; yield always does.
    #[test]
    fn other_kinds_keep_their_behaviour() {
        assert!(yields(WaitKind::BusySpin, 1_000).is_empty());
        assert!(yields(WaitKind::Sleep, 1_000).is_empty());
        assert_eq!(yields(WaitKind::Yield, 10).len(), 10);
    }
}
