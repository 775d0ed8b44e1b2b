//! Circuit breaker for one instrument: halt after the mid moves `move_ticks`
//! or more within `window_ns` of event time, for `halt_ns`.
//!
//! Sliding minimum and maximum come from two monotonic deques, preallocated
//! as fixed rings of a power-of-two capacity (a slot is a mask away; no
//! wrap-around branches, no growth). If a window holds more samples than
//! the capacity, the oldest are dropped early, which can only shorten the
//! window a move is measured over.
//!
//! Every mid, repeated or not, takes one path: expire the fronts, pop the
//! dominated samples from the backs, push, compare the fronts. The pops
//! read the last three mids of a deque at once and count without a branch
//! (a slot before the front holds a sentinel no pop takes); only a jump
//! that pops all three loops. The mids of a book's random walk move a tick
//! or repeat at random, which branches on them mispredicted (about 0.7 a
//! mid, docs/performance.md "Sixteenth round"). A mid of `i64::MIN` or
//! `i64::MAX`, no price, is taken as one tick inside so it never equals a
//! sentinel, and a move too large for an `i64` counts as `i64::MAX`.
//!
//! Owned by the risk stage's thread (and the snapshot thread's replica).
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
/// fixed ring, monotonic in its mids. `head` and `end` are positions that
/// only count up (wrapping) and are masked to a slot when used: the samples
/// are at positions `head..end`. Invariants: `end - head <=
/// BREAKER_SAMPLES_MAX`; a push never finds it full (`expire` drops the
/// oldest sample first); whenever it is not full, the slot before `head`
/// holds `sentinel`, a mid no pop takes, so the pops at the back stop at
/// the front without comparing positions.
struct Samples {
    slots: Box<[Sample; BREAKER_SAMPLES_MAX]>,
    head: usize,
    end: usize,
    /// `i64::MIN` for the minima (popped while `>= mid`), `i64::MAX` for the
    /// maxima (popped while `<= mid`); the breaker's mids lie strictly
    /// between.
    sentinel: i64,
}

impl Samples {
    fn new(sentinel: i64) -> Samples {
        // Resident now: the cursor walks the ring at the pace of mid
        // changes, which would make its pages resident over minutes.
        let slots: Box<[Sample]> =
            crate::sys::resident::resident_vec(BREAKER_SAMPLES_MAX, (0, 0)).into_boxed_slice();
        let Ok(slots) = slots.try_into() else {
            unreachable!("the vector has the ring's length");
        };
        let mut samples = Samples {
            slots,
            head: 0,
            end: 0,
            sentinel,
        };
        samples.clear();
        samples
    }

    #[inline]
    fn len(&self) -> usize {
        self.end.wrapping_sub(self.head)
    }

    #[inline]
    fn at(&self, position: usize) -> Sample {
        self.slots[position & SLOT_MASK]
    }

    /// The front's mid (the window's extreme); stale when empty.
    #[inline]
    fn front_mid(&self) -> i64 {
        self.slots[self.head & SLOT_MASK].1
    }

    /// Drops the samples older than `window_start` from the front, and the
    /// oldest one more when the ring is full (a push must find room). The
    /// slot left behind takes the sentinel.
    #[inline(always)]
    fn expire(&mut self, window_start: u64) {
        while (self.slots[self.head & SLOT_MASK].0 < window_start
            || self.len() == BREAKER_SAMPLES_MAX)
            && self.end != self.head
        {
            self.slots[self.head & SLOT_MASK].1 = self.sentinel;
            self.head = self.head.wrapping_add(1);
        }
    }

    /// Pops from the back every sample whose mid `dominated` answers true
    /// for, then pushes `(ts_ns, mid)`. The last three mids are read at
    /// once, from slots that depend only on `end`, and the pops among them
    /// counted without a branch: a mid that moves a tick or repeats pops at
    /// most two samples (the previous mid, and the new mid's own level if
    /// the window holds it), and whether it does is as random as the walk,
    /// which a branch per pop would mispredict and a pop that waits for the
    /// one before would make a chain of loads. Only when all three pop (a
    /// jump) does a loop pop the rest. The mids are monotonic, so a sample
    /// pops only if the one after it does; the sentinel before `head`
    /// never pops, which stops the count at the front whatever the slots
    /// before it hold.
    #[inline(always)]
    fn push_after(&mut self, ts_ns: u64, mid: i64, dominated: impl Fn(i64) -> bool) {
        debug_assert!(
            self.len() < BREAKER_SAMPLES_MAX,
            "expire leaves room for the push"
        );
        debug_assert!(!dominated(self.sentinel), "no pop takes the sentinel");
        let end = self.end;
        let pops_at = |back: usize| dominated(self.slots[end.wrapping_sub(back) & SLOT_MASK].1);
        let (last, second, third) = (pops_at(1), pops_at(2), pops_at(3));
        let all_three = last & second & third;
        let pops = usize::from(last) + usize::from(last & second) + usize::from(all_three);
        let mut end = end.wrapping_sub(pops);
        if all_three {
            while dominated(self.slots[end.wrapping_sub(1) & SLOT_MASK].1) {
                end = end.wrapping_sub(1);
            }
        }
        debug_assert!(
            self.len() >= self.end.wrapping_sub(end),
            "pops stop at the front"
        );
        self.slots[end & SLOT_MASK] = (ts_ns, mid);
        self.end = end.wrapping_add(1);
    }

    /// Appends a sample as saved (restore checks the order afterwards).
    fn push_back(&mut self, sample: Sample) {
        debug_assert!(
            self.len() < BREAKER_SAMPLES_MAX,
            "restore counts the samples"
        );
        self.slots[self.end & SLOT_MASK] = sample;
        self.end = self.end.wrapping_add(1);
    }

    /// Empties the deque and puts the sentinel before its first slot.
    fn clear(&mut self) {
        (self.head, self.end) = (0, 0);
        self.slots[SLOT_MASK].1 = self.sentinel;
    }

    fn iter(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..self.len()).map(|offset| self.at(self.head.wrapping_add(offset)))
    }
}

impl PartialEq for Samples {
    fn eq(&self, other: &Samples) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
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
            minima: Samples::new(i64::MIN),
            maxima: Samples::new(i64::MAX),
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

    /// [`CircuitBreaker::on_mid`] for a breaker that is on: expire, keep
    /// both deques monotonic, push, check. A repeated mid takes the same
    /// path (its last sample is popped and pushed again with the new time):
    /// a separate path for it cost a mispredicted branch on a third of the
    /// mids of a random walk, more than the pop and push it saved.
    #[inline(never)]
    fn on_mid_on(&mut self, ts_ns: u64, mid: i64) -> bool {
        if self.is_halted(ts_ns) {
            return true;
        }
        // Strictly between the sentinels (a mid this far out is a broken
        // price whichever way it is stored).
        let mid = mid.clamp(i64::MIN + 1, i64::MAX - 1);
        let window_start = ts_ns.saturating_sub(self.window_ns);
        self.minima.expire(window_start);
        self.maxima.expire(window_start);
        self.minima.push_after(ts_ns, mid, |m| m >= mid);
        self.maxima.push_after(ts_ns, mid, |m| m <= mid);
        self.check_window(ts_ns)
    }

    /// Trips if the window's extremes are `move_ticks` or more apart. Both
    /// deques hold at least the sample just pushed.
    #[inline]
    fn check_window(&mut self, ts_ns: u64) -> bool {
        debug_assert!(self.minima.len() > 0 && self.maxima.len() > 0);
        let low = self.minima.front_mid();
        let high = self.maxima.front_mid();
        // Saturating: mids more than `i64::MAX` apart (no prices) trip
        // instead of wrapping to a negative move.
        if high.saturating_sub(low) >= self.move_ticks {
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
    use proptest::prelude::*;
    use std::collections::VecDeque;

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

    /// What both oracles share: the limits, the halt and the trip count.
    struct Halt {
        move_ticks: i64,
        window_ns: u64,
        halt_ns: u64,
        until_ns: u64,
        trips: u64,
    }

    impl Halt {
        fn new(move_ticks: i64, window_ns: u64, halt_ns: u64) -> Halt {
            Halt {
                move_ticks,
                window_ns,
                halt_ns,
                until_ns: 0,
                trips: 0,
            }
        }

        /// The answer when the mid is not looked at: the breaker is off,
        /// or halted.
        fn answer_without_mid(&self, ts_ns: u64) -> Option<bool> {
            match (self.move_ticks, ts_ns < self.until_ns) {
                (0, _) => Some(false),
                (_, halted) => halted.then_some(true),
            }
        }

        fn window_start(&self, ts_ns: u64) -> u64 {
            ts_ns.saturating_sub(self.window_ns)
        }

        /// Trips when the window's extremes are `move_ticks` apart.
        /// Saturating: mids more than `i64::MAX` apart (no prices) trip
        /// instead of wrapping to a negative move.
        fn trips_on(&mut self, ts_ns: u64, low: i64, high: i64) -> bool {
            if high.saturating_sub(low) < self.move_ticks {
                return false;
            }
            self.trips += 1;
            self.until_ns = ts_ns.saturating_add(self.halt_ns);
            true
        }
    }

    /// The oracle for times that never step back: every sample fed since
    /// the last trip that is still in the window, in a plain vector, and
    /// its extremes found by a scan.
    struct Naive {
        halt: Halt,
        samples: Vec<(u64, i64)>,
    }

    impl Naive {
        fn new(move_ticks: i64, window_ns: u64, halt_ns: u64) -> Naive {
            Naive {
                halt: Halt::new(move_ticks, window_ns, halt_ns),
                samples: Vec::new(),
            }
        }

        fn on_mid(&mut self, ts_ns: u64, mid: i64) -> bool {
            if let Some(answer) = self.halt.answer_without_mid(ts_ns) {
                return answer;
            }
            let window_start = self.halt.window_start(ts_ns);
            self.samples.retain(|&(ts, _)| ts >= window_start);
            self.samples.push((ts_ns, mid));
            let low = self.samples.iter().map(|&(_, m)| m).min().unwrap_or(mid);
            let high = self.samples.iter().map(|&(_, m)| m).max().unwrap_or(mid);
            let tripped = self.halt.trips_on(ts_ns, low, high);
            if tripped {
                self.samples.clear();
            }
            tripped
        }
    }

    /// The breaker as it was before its branch-free pops, in its plainest
    /// form (two `VecDeque`s, a loop per pop): the oracle for what the
    /// naive window cannot stand for, times that step back (a sample then
    /// leaves only from the front of its deque) and full deques.
    struct Previous {
        halt: Halt,
        minima: VecDeque<(u64, i64)>,
        maxima: VecDeque<(u64, i64)>,
    }

    impl Previous {
        fn new(move_ticks: i64, window_ns: u64, halt_ns: u64) -> Previous {
            Previous {
                halt: Halt::new(move_ticks, window_ns, halt_ns),
                minima: VecDeque::new(),
                maxima: VecDeque::new(),
            }
        }

        fn on_mid(&mut self, ts_ns: u64, mid: i64) -> bool {
            if let Some(answer) = self.halt.answer_without_mid(ts_ns) {
                return answer;
            }
            let window_start = self.halt.window_start(ts_ns);
            for deque in [&mut self.minima, &mut self.maxima] {
                while deque.front().is_some_and(|&(ts, _)| ts < window_start)
                    || deque.len() == BREAKER_SAMPLES_MAX
                {
                    deque.pop_front();
                }
            }
            while self.minima.back().is_some_and(|&(_, m)| m >= mid) {
                self.minima.pop_back();
            }
            self.minima.push_back((ts_ns, mid));
            while self.maxima.back().is_some_and(|&(_, m)| m <= mid) {
                self.maxima.pop_back();
            }
            self.maxima.push_back((ts_ns, mid));
            let low = self.minima.front().map_or(mid, |&(_, m)| m);
            let high = self.maxima.front().map_or(mid, |&(_, m)| m);
            let tripped = self.halt.trips_on(ts_ns, low, high);
            if tripped {
                self.minima.clear();
                self.maxima.clear();
            }
            tripped
        }

        /// The bytes `CircuitBreaker::save_state` writes for this state.
        fn state(&self) -> Vec<u8> {
            let mut out = StateWriter::new();
            out.u64(self.halt.until_ns);
            for deque in [&self.minima, &self.maxima] {
                out.count(deque.len());
                for &(ts_ns, mid) in deque {
                    out.u64(ts_ns);
                    out.i64(mid);
                }
            }
            out.as_bytes().to_vec()
        }
    }

    fn saved(breaker: &CircuitBreaker) -> Vec<u8> {
        let mut out = StateWriter::new();
        breaker.save_state(&mut out);
        out.as_bytes().to_vec()
    }

    /// One step of a generated stream: how far time moves (back when
    /// `back_ns` exceeds `forward_ns`), and the mid's step.
    #[derive(Debug, Clone, Copy)]
    struct Step {
        forward_ns: u64,
        back_ns: u64,
        mid_step: i64,
    }

    /// Mostly one-tick moves and repeats, as a random walk of a book's mid
    /// makes them; sometimes a jump of up to 40 ticks either way; time
    /// mostly a little forward, sometimes by more than a window.
    fn steps(back_ns_max: u64) -> impl Strategy<Value = Vec<Step>> {
        let mid_step = prop_oneof![
            8 => -1i64..=1,
            1 => -40i64..=40,
        ];
        let forward_ns = prop_oneof![
            8 => 0u64..200,
            1 => 0u64..5_000,
        ];
        prop::collection::vec(
            (forward_ns, 0..=back_ns_max, mid_step).prop_map(|(forward_ns, back_ns, mid_step)| {
                Step {
                    forward_ns,
                    back_ns,
                    mid_step,
                }
            }),
            1..1_500,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        // With times that never step back, the breaker halts exactly when
        // the extremes of every sample in the window (a plain scan of them
        // all) are `move_ticks` apart, and not while halted; expiries,
        // trips and reopenings included. The streams stay below the
        // deques' capacity, so no sample is dropped early.
        #[test]
        fn halts_exactly_when_the_window_extremes_are_move_ticks_apart(
            move_ticks in 1i64..30,
            window_ns in 1u64..3_000,
            halt_ns in 0u64..3_000,
            start_mid in -50i64..50,
            steps in steps(0),
        ) {
            let mut breaker = CircuitBreaker::new(move_ticks, window_ns, halt_ns);
            let mut naive = Naive::new(move_ticks, window_ns, halt_ns);
            let (mut ts_ns, mut mid) = (1_000u64, start_mid);
            for (index, step) in steps.iter().enumerate() {
                ts_ns += step.forward_ns;
                mid += step.mid_step;
                prop_assert_eq!(
                    breaker.on_mid(ts_ns, mid),
                    naive.on_mid(ts_ns, mid),
                    "step {} at {} ns, mid {}", index, ts_ns, mid
                );
                prop_assert_eq!(breaker.trips, naive.halt.trips);
            }
        }

        // With times that step back too, the breaker answers as the
        // previous algorithm did and saves the same bytes after every mid.
        #[test]
        fn answers_and_saves_as_the_previous_algorithm(
            move_ticks in 0i64..30,
            window_ns in 1u64..3_000,
            halt_ns in 0u64..3_000,
            steps in steps(400),
        ) {
            let mut breaker = CircuitBreaker::new(move_ticks, window_ns, halt_ns);
            let mut previous = Previous::new(move_ticks, window_ns, halt_ns);
            let (mut ts_ns, mut mid) = (1_000u64, 500i64);
            for (index, step) in steps.iter().enumerate() {
                ts_ns = (ts_ns + step.forward_ns).saturating_sub(step.back_ns);
                mid += step.mid_step;
                prop_assert_eq!(breaker.on_mid(ts_ns, mid), previous.on_mid(ts_ns, mid), "step {}", index);
                prop_assert_eq!(saved(&breaker), previous.state(), "step {}", index);
            }
        }
    }

    // Deques at capacity (a window of rising, then falling mids longer
    // than the ring) drop their oldest samples as the previous algorithm
    // did, through the ring's wrap, and restore from what they save.
    #[test]
    fn full_deques_drop_their_oldest_samples_as_before() {
        let mut breaker = CircuitBreaker::new(i64::MAX, u64::MAX / 2, 1);
        let mut previous = Previous::new(i64::MAX, u64::MAX / 2, 1);
        let mut mids: Vec<i64> = (0..BREAKER_SAMPLES_MAX as i64 * 2).collect();
        mids.extend((0..BREAKER_SAMPLES_MAX as i64 * 3).rev());
        mids.extend([7, 7, 7, 8, 6]);
        let mut full = (false, false);
        for (step, &mid) in mids.iter().enumerate() {
            let ts_ns = 10 + step as u64;
            assert!(!breaker.on_mid(ts_ns, mid));
            assert!(!previous.on_mid(ts_ns, mid));
            full.0 |= breaker.minima.len() == BREAKER_SAMPLES_MAX;
            full.1 |= breaker.maxima.len() == BREAKER_SAMPLES_MAX;
            if step % 997 == 0 || step + 8 > mids.len() {
                assert_eq!(saved(&breaker), previous.state(), "step {step}");
            }
        }
        assert_eq!(full, (true, true), "both deques ran full");
        let mut restored = CircuitBreaker::new(i64::MAX, u64::MAX / 2, 1);
        let bytes = saved(&breaker);
        restored
            .restore_state(&mut StateReader::new(&bytes))
            .expect("a saved state restores");
        assert_eq!(restored.minima, breaker.minima);
        assert_eq!(restored.maxima, breaker.maxima);
        // A restored full ring goes on as the previous algorithm would.
        let mut full = CircuitBreaker::new(i64::MAX, u64::MAX / 2, 1);
        let mut full_previous = Previous::new(i64::MAX, u64::MAX / 2, 1);
        for step in 0..BREAKER_SAMPLES_MAX as i64 {
            assert!(!full.on_mid(10 + step as u64, step));
            assert!(!full_previous.on_mid(10 + step as u64, step));
        }
        let bytes = saved(&full);
        let mut restored = CircuitBreaker::new(i64::MAX, u64::MAX / 2, 1);
        restored
            .restore_state(&mut StateReader::new(&bytes))
            .expect("a full saved state restores");
        assert_eq!(restored.minima.len(), BREAKER_SAMPLES_MAX);
        for (step, mid) in [5_000, 3, 3, 4_090, -7, 12].into_iter().enumerate() {
            let ts_ns = 99_999 + step as u64;
            assert!(!restored.on_mid(ts_ns, mid));
            assert!(!full_previous.on_mid(ts_ns, mid));
            assert_eq!(saved(&restored), full_previous.state(), "step {step}");
        }
    }

    // A trip after the ring's positions wrapped: `clear` writes the
    // sentinel into the slot before the new front (the ring's last slot,
    // which still holds a mid from before the wrap), so falling mids after
    // the halt stop popping at the front, as the previous algorithm does.
    #[test]
    fn a_trip_after_the_ring_wrapped_pops_no_stale_slot() {
        let (move_ticks, window_ns, halt_ns) = (10_000, u64::MAX / 2, 3);
        let mut breaker = CircuitBreaker::new(move_ticks, window_ns, halt_ns);
        let mut previous = Previous::new(move_ticks, window_ns, halt_ns);
        // Rising mids fill the minima past its capacity (its oldest are
        // dropped, so no trip), then a jump trips; after the halt, mids at
        // or below the stale one in the ring's last slot (4,095).
        let mut mids: Vec<i64> = (0..BREAKER_SAMPLES_MAX as i64 + 904).collect();
        mids.push(20_000);
        mids.extend([1, 1, 4_000, 3_999, 3_999, 100, 5_000, 4_500, 99]);
        for (step, &mid) in mids.iter().enumerate() {
            let ts_ns = 10 + step as u64;
            assert_eq!(
                breaker.on_mid(ts_ns, mid),
                previous.on_mid(ts_ns, mid),
                "step {step}, mid {mid}"
            );
            if step + 11 > mids.len() {
                assert_eq!(saved(&breaker), previous.state(), "step {step}");
            }
        }
        assert_eq!(breaker.trips, 1, "the jump tripped once");
        assert_eq!(breaker.minima.len(), 1, "99 is the window's only minimum");
    }

    // Mids at the ends of the `i64` range (no prices, but a feed may send
    // anything) neither panic nor pop past the sentinels: the move between
    // them trips, and what the deques hold restores.
    #[test]
    fn extreme_mids_trip_and_keep_the_deques_sound() {
        let mut breaker = CircuitBreaker::new(5, 1_000, 10);
        assert!(!breaker.on_mid(100, i64::MIN));
        assert!(!breaker.on_mid(101, i64::MIN));
        assert!(breaker.on_mid(102, i64::MAX), "a move past i64::MAX trips");
        assert!(!breaker.on_mid(200, i64::MAX));
        assert!(!breaker.on_mid(201, i64::MAX));
        assert!(breaker.on_mid(202, 0));
        assert_eq!(breaker.trips, 2);
        for (step, mid) in [i64::MIN, i64::MIN, i64::MIN + 1, i64::MIN]
            .into_iter()
            .enumerate()
        {
            assert!(!breaker.on_mid(300 + step as u64, mid), "step {step}");
        }
        assert_eq!(breaker.minima.len(), 1);
        assert_eq!(breaker.maxima.len(), 1);
        let bytes = saved(&breaker);
        let mut restored = CircuitBreaker::new(5, 1_000, 10);
        restored
            .restore_state(&mut StateReader::new(&bytes))
            .expect("a saved state restores");
        assert_eq!(saved(&restored), bytes);
    }
}
