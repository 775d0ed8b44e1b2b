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
//!
//! `spin-park` spins as `spin-hint` for a budget of idle time, then parks
//! until the thread before it rings the ring's [`Doorbell`]: the producer
//! unparks only a reader that announced it sleeps, so a spinning reader
//! costs the producer one fence and one load per batch, never a system
//! call. Invariant (no lost wake-up): the reader announces, fences, and
//! looks at the ring once more before it parks; the producer publishes,
//! fences, and then reads the announcement, so at least one of them sees
//! the other's store. A park is still bounded ([`PARK_MAX`]) so idle work
//! (flushes, interval hand-over) keeps running on an idle ring.

use crate::config::WaitKind;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Longest park of a `spin-park` reader: a bound for its idle work, not
/// for a wake-up (the producer's ring wakes it at once).
pub const PARK_MAX: Duration = Duration::from_millis(10);

#[derive(Clone, Copy, Debug)]
pub struct Wait {
    kind: WaitKind,
    sleep: Duration,
    spin_budget: Duration,
}

impl Wait {
    pub fn new(kind: WaitKind, sleep_us: u64) -> Wait {
        Wait {
            kind,
            sleep: Duration::from_micros(sleep_us.max(1)),
            spin_budget: Duration::ZERO,
        }
    }

    /// The idle time a `spin-park` reader spins before it parks.
    pub fn with_spin_budget_us(self, spin_budget_us: u64) -> Wait {
        Wait {
            spin_budget: Duration::from_micros(spin_budget_us),
            ..self
        }
    }

    /// Whether a reader of a ring with this wait parks (its producer rings a doorbell).
    pub fn parks(&self) -> bool {
        matches!(self.kind, WaitKind::SpinPark)
    }

    /// For a `spin-park` reader, after an empty poll: whether it has been
    /// idle (since `idle_since`, set at the first empty poll) longer than
    /// its budget. Reads the clock only on every 64th empty poll.
    #[inline]
    #[allow(clippy::disallowed_methods)] // a thread's idle budget is wall time
    pub fn park_due(&self, idle_polls: u32, idle_since: &mut Option<Instant>) -> bool {
        if !self.parks() || !idle_polls.is_multiple_of(64) {
            return false;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        since.elapsed() >= self.spin_budget
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
            WaitKind::SpinHint | WaitKind::SpinPark => std::hint::spin_loop(),
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
            WaitKind::BusySpin | WaitKind::SpinHint | WaitKind::SpinPark => std::hint::spin_loop(),
            WaitKind::Yield | WaitKind::Sleep => std::thread::yield_now(),
        }
    }
}

/// Where a ring's `spin-park` reader says it sleeps and its producer wakes it.
#[derive(Debug, Default)]
pub struct Doorbell {
    sleeping: AtomicBool,
    reader: OnceLock<std::thread::Thread>,
    /// Times a ring unparked the reader (for tests and the report).
    pub wakes: AtomicU64,
}

impl Doorbell {
    /// The reader's thread registers itself before it first announces.
    pub fn register_reader(&self) {
        let _ = self.reader.set(std::thread::current());
    }

    /// Producer, after publishing: wakes the reader if it said it sleeps.
    #[inline]
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            if let Some(reader) = self.reader.get() {
                reader.unpark();
            }
            self.wakes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reader: says it is about to sleep. It must look at the ring once
    /// more before [`Doorbell::sleep`] (what the producer published before
    /// it saw the announcement is there).
    #[inline]
    pub fn announce(&self) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Reader: found work after announcing.
    #[inline]
    pub fn withdraw(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Reader, announced and with the ring seen empty since: parks until
    /// rung (or `max`). False if it was rung already (it did not park).
    pub fn sleep(&self, max: Duration) -> bool {
        if !self.sleeping.load(Ordering::Acquire) {
            return false;
        }
        std::thread::park_timeout(max);
        true
    }

    /// Whether the reader says it sleeps.
    pub fn is_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::Acquire)
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
        assert!(yields(WaitKind::SpinPark, 1_000).is_empty());
    }

    // Only spin-park parks; its budget is checked on every 64th empty poll.
    #[test]
    fn only_spin_park_parks_and_only_past_its_budget() {
        let mut since = None;
        assert!(!Wait::new(WaitKind::SpinHint, 1).park_due(0, &mut since));
        let wait = Wait::new(WaitKind::SpinPark, 1).with_spin_budget_us(0);
        assert!(!wait.park_due(1, &mut since), "not on the polls between");
        assert!(wait.park_due(64, &mut since));
        let mut since = None;
        let patient = Wait::new(WaitKind::SpinPark, 1).with_spin_budget_us(60_000_000);
        assert!(!patient.park_due(0, &mut since), "inside its budget");
    }

    // A reader that announced is woken by the next ring, once; a reader
    // that did not announce costs the producer no wake-up.
    #[test]
    fn a_ring_wakes_only_an_announced_reader() {
        let bell = Doorbell::default();
        bell.register_reader();
        bell.ring();
        assert_eq!(bell.wakes.load(Ordering::Relaxed), 0);
        bell.announce();
        assert!(bell.is_sleeping());
        bell.ring();
        bell.ring();
        assert_eq!(bell.wakes.load(Ordering::Relaxed), 1);
        assert!(
            !bell.sleep(Duration::from_secs(60)),
            "rung: it does not park"
        );
    }
}
