//! Circuit breaker for one instrument: halt after the mid moves `move_ticks`
//! or more within `window_ns` of event time, for `halt_ns`.
//!
//! Sliding minimum and maximum come from two monotonic deques, preallocated
//! as fixed rings of a power-of-two capacity (a slot is a mask away; no
//! wrap-around branches, no growth). If a window holds more samples than
//! the capacity, the oldest are dropped early, which can only shorten the
//! window a move is measured over.
//!
//! State that survives a restart: both deques and the end of a halt; the
//! trip count is a per-run counter and is not carried.

use crate::state_codec::{StateError, StateReader, StateWriter};

/// Samples one window can hold before the oldest are dropped.
pub const BREAKER_SAMPLES_MAX: usize = 4_096;
const _: () = assert!(BREAKER_SAMPLES_MAX.is_power_of_two());
const SLOT_MASK: usize = BREAKER_SAMPLES_MAX - 1;

/// A window sample: (event time, mid).
type Sample = (u64, i64);

/// A double-ended queue of at most [`BREAKER_SAMPLES_MAX`] samples in a
/// fixed ring. Invariants: `head` and every slot index are masked below the
/// capacity; `len <= BREAKER_SAMPLES_MAX`; a push never finds it full (the
/// breaker drops the oldest sample first).
struct Samples {
    slots: Box<[Sample; BREAKER_SAMPLES_MAX]>,
    head: usize,
    len: usize,
}

impl Samples {
    fn new() -> Samples {
        // Resident now: the cursor walks the ring at the pace of mid
        // changes, which would make its pages resident over minutes.
        let slots: Box<[Sample]> =
            crate::sys::resident::resident_vec(BREAKER_SAMPLES_MAX, (0, 0)).into_boxed_slice();
        let Ok(slots) = slots.try_into() else {
            unreachable!("the vector has the ring's length");
        };
        Samples {
            slots,
            head: 0,
            len: 0,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn at(&self, offset: usize) -> Sample {
        self.slots[(self.head + offset) & SLOT_MASK]
    }

    #[inline]
    fn front(&self) -> Option<Sample> {
        (self.len > 0).then(|| self.at(0))
    }

    #[inline]
    fn back(&self) -> Option<Sample> {
        (self.len > 0).then(|| self.at(self.len - 1))
    }

    #[inline]
    fn back_mut(&mut self) -> Option<&mut Sample> {
        let index = (self.head + self.len.checked_sub(1)?) & SLOT_MASK;
        Some(&mut self.slots[index])
    }

    #[inline]
    fn pop_front(&mut self) {
        debug_assert!(self.len > 0, "pops only a present sample");
        self.head = (self.head + 1) & SLOT_MASK;
        self.len -= 1;
    }

    #[inline]
    fn pop_back(&mut self) {
        debug_assert!(self.len > 0, "pops only a present sample");
        self.len -= 1;
    }

    #[inline]
    fn push_back(&mut self, sample: Sample) {
        debug_assert!(
            self.len < BREAKER_SAMPLES_MAX,
            "the oldest sample is dropped first"
        );
        self.slots[(self.head + self.len) & SLOT_MASK] = sample;
        self.len += 1;
    }

    fn clear(&mut self) {
        (self.head, self.len) = (0, 0);
    }

    fn iter(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..self.len).map(|offset| self.at(offset))
    }
}

impl PartialEq for Samples {
    fn eq(&self, other: &Samples) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Samples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

pub struct CircuitBreaker {
    move_ticks: i64,
    window_ns: u64,
    halt_ns: u64,
    /// (ts, mid) with increasing mids: the front is the window minimum.
    minima: Samples,
    /// (ts, mid) with decreasing mids: the front is the window maximum.
    maxima: Samples,
    halted_until_ns: u64,
    pub trips: u64,
}

impl CircuitBreaker {
    /// `move_ticks == 0` turns the breaker off.
    pub fn new(move_ticks: i64, window_ns: u64, halt_ns: u64) -> CircuitBreaker {
        CircuitBreaker {
            move_ticks,
            window_ns,
            halt_ns,
            minima: Samples::new(),
            maxima: Samples::new(),
            halted_until_ns: 0,
            trips: 0,
        }
    }

    /// Feeds a mid at `ts_ns`; returns true while the instrument is halted.
    /// A breaker that is off answers inline (risk feeds it every book row).
    #[inline]
    pub fn on_mid(&mut self, ts_ns: u64, mid: i64) -> bool {
        if self.move_ticks == 0 {
            return false;
        }
        self.on_mid_on(ts_ns, mid)
    }

    /// [`CircuitBreaker::on_mid`] for a breaker that is on.
    #[inline(never)]
    fn on_mid_on(&mut self, ts_ns: u64, mid: i64) -> bool {
        if self.is_halted(ts_ns) {
            return true;
        }
        let window_start = ts_ns.saturating_sub(self.window_ns);
        if self.is_last_mid(mid) {
            self.on_same_mid(ts_ns, mid, window_start)
        } else {
            self.on_any_mid(ts_ns, mid, window_start)
        }
    }

    /// The general path: expire, keep both deques monotonic, push, check.
    fn on_any_mid(&mut self, ts_ns: u64, mid: i64, window_start: u64) -> bool {
        for deque in [&mut self.minima, &mut self.maxima] {
            while deque.front().is_some_and(|(ts, _)| ts < window_start)
                || deque.len() == BREAKER_SAMPLES_MAX
            {
                deque.pop_front();
            }
        }
        while self.minima.back().is_some_and(|(_, m)| m >= mid) {
            self.minima.pop_back();
        }
        self.minima.push_back((ts_ns, mid));
        while self.maxima.back().is_some_and(|(_, m)| m <= mid) {
            self.maxima.pop_back();
        }
        self.maxima.push_back((ts_ns, mid));
        self.check_window(ts_ns, mid)
    }

    /// True when `mid` is the last mid fed (both deques end with it).
    #[inline]
    fn is_last_mid(&self, mid: i64) -> bool {
        self.minima.back().is_some_and(|(_, m)| m == mid)
            && self.maxima.back().is_some_and(|(_, m)| m == mid)
    }

    /// `on_mid` for the mid fed last, with the same result and the same
    /// deques as the general path: there each deque drops its expired
    /// front (and one more sample when full), pops its last sample (equal
    /// to `mid`) and pushes `(ts_ns, mid)`; here the last sample takes the
    /// new time in place, which no expiry can then drop. The window's
    /// extremes change only by expiry, so the check runs as before.
    fn on_same_mid(&mut self, ts_ns: u64, mid: i64, window_start: u64) -> bool {
        for deque in [&mut self.minima, &mut self.maxima] {
            if let Some(last) = deque.back_mut() {
                last.0 = ts_ns;
            }
            while deque.front().is_some_and(|(ts, _)| ts < window_start)
                || deque.len() == BREAKER_SAMPLES_MAX
            {
                deque.pop_front();
            }
        }
        self.check_window(ts_ns, mid)
    }

    /// Trips if the window's extremes are `move_ticks` or more apart.
    #[inline]
    fn check_window(&mut self, ts_ns: u64, mid: i64) -> bool {
        let low = self.minima.front().map_or(mid, |(_, m)| m);
        let high = self.maxima.front().map_or(mid, |(_, m)| m);
        if high - low >= self.move_ticks {
            self.trips += 1;
            self.halted_until_ns = ts_ns.saturating_add(self.halt_ns);
            self.minima.clear();
            self.maxima.clear();
            return true;
        }
        false
    }

    pub fn is_halted(&self, ts_ns: u64) -> bool {
        ts_ns < self.halted_until_ns
    }

    pub fn save_state(&self, out: &mut StateWriter) {
        out.u64(self.halted_until_ns);
        for deque in [&self.minima, &self.maxima] {
            out.count(deque.len());
            for (ts_ns, mid) in deque.iter() {
                out.u64(ts_ns);
                out.i64(mid);
            }
        }
    }

    /// Reads back what `save_state` wrote, into the preallocated deques.
    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        self.halted_until_ns = input.u64("breaker.halted_until_ns")?;
        for deque in [&mut self.minima, &mut self.maxima] {
            deque.clear();
            let count = input.count("breaker.samples", BREAKER_SAMPLES_MAX)?;
            for _ in 0..count {
                let ts_ns = input.u64("breaker.sample_ts_ns")?;
                let mid = input.i64("breaker.sample_mid")?;
                deque.push_back((ts_ns, mid));
            }
        }
        // The deques' mids are strictly monotonic by construction (their times
        // need not be: sources stamp events as they read them).
        let monotonic = |deque: &Samples, rising: bool| {
            deque
                .iter()
                .zip(deque.iter().skip(1))
                .all(|(a, b)| if rising { a.1 < b.1 } else { a.1 > b.1 })
        };
        if !monotonic(&self.minima, true) || !monotonic(&self.maxima, false) {
            return Err(StateError::Inconsistent {
                what: "circuit breaker",
                detail: "its window samples are out of order",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A move of the threshold within the window halts; the halt lifts after halt_ns.
    #[test]
    fn trips_on_fast_move_and_reopens() {
        let mut b = CircuitBreaker::new(10, 1_000, 5_000);
        assert!(!b.on_mid(0, 100));
        assert!(!b.on_mid(500, 109));
        assert!(b.on_mid(900, 90));
        assert_eq!(b.trips, 1);
        assert!(b.is_halted(5_899));
        assert!(!b.on_mid(5_900, 90));
    }

    // The same move spread over more than the window does not trip.
    #[test]
    fn slow_move_does_not_trip() {
        let mut b = CircuitBreaker::new(10, 1_000, 5_000);
        for step in 0..20 {
            assert!(!b.on_mid(step * 600, 100 + step as i64), "step {step}");
        }
    }

    // The path for a repeated mid leaves the same deques and gives the same
    // answers as the general path, expiry, full deques and trips included.
    #[test]
    fn the_repeated_mid_path_matches_the_general_path() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..40 {
            let window_ns = 1 + next() % 5_000;
            let mut fast = CircuitBreaker::new(12, window_ns, 3_000);
            let mut general = CircuitBreaker::new(12, window_ns, 3_000);
            let (mut ts, mut mid) = (1_000u64, 500i64);
            for step in 0..3_000 {
                let r = next();
                // Times mostly rise but may step back (sources stamp as they read).
                ts = (ts + r % 400).saturating_sub((r >> 20) % 3 * 150);
                if (r >> 8) % 3 == 0 {
                    mid += ((r >> 12) % 7) as i64 - 3;
                }
                let expected = if general.move_ticks == 0 || general.is_halted(ts) {
                    general.is_halted(ts)
                } else {
                    general.on_any_mid(ts, mid, ts.saturating_sub(window_ns))
                };
                assert_eq!(fast.on_mid(ts, mid), expected, "round {round} step {step}");
                let (mut a, mut b) = (StateWriter::new(), StateWriter::new());
                fast.save_state(&mut a);
                general.save_state(&mut b);
                assert_eq!(a.as_bytes(), b.as_bytes(), "round {round} step {step}");
            }
        }
    }

    // A deque full of rising mids within the window drops its oldest sample
    // on a repeated mid, as the general path does.
    #[test]
    fn a_full_window_drops_its_oldest_sample_on_a_repeat() {
        let mut fast = CircuitBreaker::new(i64::MAX, u64::MAX / 2, 1);
        let mut general = CircuitBreaker::new(i64::MAX, u64::MAX / 2, 1);
        for step in 0..BREAKER_SAMPLES_MAX as i64 + 5 {
            fast.on_mid(10 + step as u64, step);
            general.on_mid(10 + step as u64, step);
        }
        let last = BREAKER_SAMPLES_MAX as i64 + 4;
        assert!(!fast.on_mid(99_999, last));
        assert!(!general.on_any_mid(99_999, last, 0));
        assert_eq!(fast.minima, general.minima);
        assert_eq!(fast.maxima, general.maxima);
        assert_eq!(fast.minima.len(), BREAKER_SAMPLES_MAX - 1);
    }
}
