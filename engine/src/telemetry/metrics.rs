//! Per-stage latency histograms, and their hand-off to the reporter thread.
//!
//! Each stage's thread owns its `StageMetrics` outright: recording touches no
//! shared memory and never allocates (fixed-bound histograms). When a
//! reporter is attached, the stage rotates its interval every time the
//! reporter offers an empty set: it swaps its histograms with the empty ones
//! (moving vectors, copying nothing) and hands the full set back through a
//! lock-free queue. The stage checks for an offer every 1,024 events and
//! whenever it runs dry, so an interval ends within ~1,024 events of the
//! reporter's tick.
//!
//! Every event is counted exactly, but not recorded into the histograms
//! one by one: `record` counts into a [`Tally`] in the histograms' own
//! bucket layout (a bucket index and an increment), settled into the
//! histograms in bulk when the stage hands an interval to the reporter, on
//! [`StageMetrics::settle`] (the chain's `finish` calls it), and at least
//! every [`SETTLE_EVERY_MAX`] events; a clone includes what is pending.
//! Settling often would cost as much as recording each value directly, so
//! the public histograms lag while a stage runs.
//!
//! A stage of a fused chain is not timed on every event (see
//! `topology::chain`): an event it was not timed on is still counted, once,
//! in the buckets of the last values measured ([`StageMetrics::record_repeat`],
//! [`StageMetrics::record_since_recv`]), so every count stays exact and the
//! distribution is that of the measured sample; `repeated_events` says how
//! many events were counted so. Repeats are batched: a stage keeps a count
//! of repeats per histogram and adds it to the last bucket in one step
//! before that bucket changes, and before any settle, rotation or clone.
//! A repeat counted without a clock ([`StageMetrics::record_repeat_unclocked`],
//! on most events of ingest and of a chain's last stage) bumps one counter,
//! the events since the last rotation look: the events it passed since the
//! last other count are all such repeats, and are folded into the four
//! repeat counts at the next other count, settle, rotation or clone.

use crate::event::{Event, FLAG_LAP_SAMPLE};
use crate::telemetry::tally::{Slot, Tally};
use crossbeam_queue::ArrayQueue;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;

/// Events between two looks for a rotation offer.
const ROTATE_CHECK_EVERY: u32 = 1_024;
/// Most events between two settles (a tally's count stays far below `u32::MAX`).
pub const SETTLE_EVERY_MAX: u32 = 1 << 24;

/// An empty latency histogram: 1 ns to 100 s, three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    genesis_histlog::new_latency_histogram()
}

/// One interval of one stage: what travels between stage and reporter.
pub struct Interval {
    pub since_recv_ns: Histogram<u64>,
    pub processing_ns: Histogram<u64>,
    /// Epoch ns when the interval began and ended (the stage's clock).
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Interval {
    pub fn new() -> Interval {
        Interval {
            since_recv_ns: new_histogram(),
            processing_ns: new_histogram(),
            start_ns: 0,
            end_ns: 0,
        }
    }
}

impl Default for Interval {
    fn default() -> Interval {
        Interval::new()
    }
}

/// The stage's ends of the two queues it shares with the reporter.
#[derive(Clone)]
pub struct Exchange {
    /// Empty sets the reporter offers.
    pub fresh: Arc<ArrayQueue<Box<Interval>>>,
    /// Full sets the stage hands back.
    pub full: Arc<ArrayQueue<Box<Interval>>>,
}

impl Exchange {
    pub fn new() -> Exchange {
        Exchange {
            fresh: Arc::new(ArrayQueue::new(2)),
            full: Arc::new(ArrayQueue::new(4)),
        }
    }
}

impl Default for Exchange {
    fn default() -> Exchange {
        Exchange::new()
    }
}

/// What one stage measured (since the last rotation, if a reporter is attached).
pub struct StageMetrics {
    pub name: &'static str,
    /// From `ts_recv_ns` to the stage's exit.
    pub since_recv_ns: Histogram<u64>,
    /// The stage's own processing time per event.
    pub processing_ns: Histogram<u64>,
    interval_start_ns: u64,
    /// Events counted since the last look for a rotation offer.
    events_since_check: u32,
    /// `events_since_check` when a count last went through anything but
    /// [`StageMetrics::record_repeat_unclocked`]: the events after it are
    /// repeats not yet folded into the repeat counts below.
    unclocked_mark: u32,
    events_since_settle: u32,
    exchange: Option<Exchange>,
    /// Counts not yet settled into the histograms (see the module header).
    since_recv_tally: Tally,
    processing_tally: Tally,
    /// Buckets of the last values measured: what an event timed only in
    /// part counts again (see [`StageMetrics::record_since_recv`]).
    since_recv_last: Slot,
    processing_last: Slot,
    /// Repeats of `since_recv_last` / `processing_last` not yet in the tallies.
    since_recv_repeats: u32,
    processing_repeats: u32,
    /// True once a value was measured (not repeated) since the stage began.
    measured_any: bool,
    /// `events_since_check` from which a repeat needs the clock (see
    /// [`StageMetrics::repeat_needs_clock`]): 0 until a value was measured,
    /// then the count at which a rotation look is due. One compare per event.
    clock_due_at: u32,
    /// Events counted as repeats, but for the unfolded ones (see
    /// [`StageMetrics::repeated_events`]).
    repeated_events: u64,
    since_recv_repeated_events: u64,
    /// Set by a chain on its last stage while ingest's polls come back
    /// full: that stage's time since receipt is then measured on the
    /// sample too, like its processing time.
    pub since_recv_on_sample: bool,
}

impl Clone for StageMetrics {
    /// A copy of the figures, settled and detached from any reporter.
    fn clone(&self) -> StageMetrics {
        let unclocked = self.unclocked_pending();
        let mut since_recv_ns = self.since_recv_ns.clone();
        let mut processing_ns = self.processing_ns.clone();
        self.since_recv_tally.add_to(&mut since_recv_ns);
        self.processing_tally.add_to(&mut processing_ns);
        for (histogram, slot, repeats) in [
            (
                &mut since_recv_ns,
                self.since_recv_last,
                self.since_recv_repeats + unclocked,
            ),
            (
                &mut processing_ns,
                self.processing_last,
                self.processing_repeats + unclocked,
            ),
        ] {
            histogram.saturating_record_n(slot.lowest_value(), u64::from(repeats));
        }
        StageMetrics {
            name: self.name,
            since_recv_ns,
            processing_ns,
            interval_start_ns: self.interval_start_ns,
            events_since_check: 0,
            unclocked_mark: 0,
            events_since_settle: 0,
            exchange: None,
            since_recv_tally: Tally::new(),
            processing_tally: Tally::new(),
            since_recv_last: self.since_recv_last,
            processing_last: self.processing_last,
            since_recv_repeats: 0,
            processing_repeats: 0,
            measured_any: self.measured_any,
            clock_due_at: self.clock_due_at,
            repeated_events: self.repeated_events(),
            since_recv_repeated_events: self.since_recv_repeated_events(),
            since_recv_on_sample: self.since_recv_on_sample,
        }
    }
}

impl StageMetrics {
    pub fn new(name: &'static str) -> StageMetrics {
        StageMetrics {
            name,
            since_recv_ns: new_histogram(),
            processing_ns: new_histogram(),
            interval_start_ns: 0,
            events_since_check: 0,
            unclocked_mark: 0,
            events_since_settle: 0,
            exchange: None,
            since_recv_tally: Tally::new(),
            processing_tally: Tally::new(),
            since_recv_last: Slot::ONE_NS,
            processing_last: Slot::ONE_NS,
            since_recv_repeats: 0,
            processing_repeats: 0,
            measured_any: false,
            clock_due_at: 0,
            repeated_events: 0,
            since_recv_repeated_events: 0,
            since_recv_on_sample: false,
        }
    }

    /// Makes the tallies' pages resident now (see [`Tally::make_resident`]).
    pub fn make_resident(&mut self) {
        self.since_recv_tally.make_resident();
        self.processing_tally.make_resident();
    }

    /// Connects this stage to a reporter; intervals start at `now_ns`.
    pub fn attach(&mut self, exchange: Exchange, now_ns: u64) {
        self.exchange = Some(exchange);
        self.interval_start_ns = now_ns;
    }

    /// Counts one event, both spans measured.
    #[inline]
    pub fn record(&mut self, now_ns: u64, since_recv_ns: u64, processing_ns: u64) {
        self.fold_unclocked();
        self.record_folded(now_ns, since_recv_ns, processing_ns);
    }

    /// Counts one event, both spans measured, after counting as repeats
    /// (in the buckets measured before it) the events that bring
    /// [`StageMetrics::repeated_events`] up to `repeated_target`: the same
    /// as [`StageMetrics::record_repeats`] of the difference (if any,
    /// without a rotation look) then [`StageMetrics::record`], in one step.
    /// A chain's timed event catches its earlier stages up to its last
    /// stage's count so (see `topology::chain`).
    #[inline]
    pub fn record_caught_up(
        &mut self,
        repeated_target: u64,
        now_ns: u64,
        since_recv_ns: u64,
        processing_ns: u64,
    ) {
        debug_assert!(
            repeated_target >= self.repeated_events(),
            "the last stage leads"
        );
        // The events not counted yet and the unclocked repeats not folded
        // yet: every one a full repeat of the last measured buckets.
        let new = u32::try_from(repeated_target - self.repeated_events)
            .expect("at most a batch and a rotation look's span behind");
        debug_assert!(
            new == self.unclocked_pending() || self.measured_any,
            "a repeat follows a measurement"
        );
        self.since_recv_repeats += new;
        self.processing_repeats += new;
        self.repeated_events = repeated_target;
        self.since_recv_repeated_events += u64::from(new);
        // The unclocked ones are counted in `events_since_check` already,
        // the others not: either way it ends `new` past the last fold.
        self.events_since_check = self.unclocked_mark + new;
        self.unclocked_mark = self.events_since_check;
        self.record_folded(now_ns, since_recv_ns, processing_ns);
    }

    /// [`StageMetrics::record`] once the unclocked repeats are folded.
    #[inline(always)]
    fn record_folded(&mut self, now_ns: u64, since_recv_ns: u64, processing_ns: u64) {
        self.add_repeats_to_tallies();
        self.since_recv_last = self.since_recv_tally.record(since_recv_ns.max(1));
        self.processing_last = self.processing_tally.record(processing_ns.max(1));
        self.set_measured();
        self.counted(now_ns);
    }

    /// Counts one event whose processing span is the same span as its
    /// time since receipt (ingest: its exit is the hand-off).
    #[inline]
    pub fn record_same(&mut self, now_ns: u64, since_recv_ns: u64) {
        self.flush_repeats();
        let slot = self.since_recv_tally.record(since_recv_ns.max(1));
        self.processing_tally.record_slot(slot);
        (self.since_recv_last, self.processing_last) = (slot, slot);
        self.set_measured();
        self.counted(now_ns);
    }

    /// Counts one event whose time since receipt was measured but whose
    /// processing was not (a chain times its stages on a sample of events):
    /// the processing count goes to the last measured value's bucket.
    #[inline]
    pub fn record_since_recv(&mut self, now_ns: u64, since_recv_ns: u64) {
        debug_assert!(self.measured_any, "a repeat follows a measurement");
        self.fold_unclocked();
        if self.since_recv_repeats > 0 {
            self.flush_repeats();
        }
        self.since_recv_last = self.since_recv_tally.record(since_recv_ns.max(1));
        self.processing_repeats += 1;
        self.repeated_events += 1;
        self.counted(now_ns);
    }

    /// Counts one event that was not timed: both counts go to the last
    /// measured values' buckets, so every event is still counted once.
    #[inline]
    pub fn record_repeat(&mut self, now_ns: u64) {
        debug_assert!(self.measured_any, "a repeat follows a measurement");
        self.fold_unclocked();
        self.since_recv_repeats += 1;
        self.processing_repeats += 1;
        self.repeated_events += 1;
        self.since_recv_repeated_events += 1;
        self.counted(now_ns);
    }

    /// Counts `n` events that were not timed at once, as `n` calls of
    /// [`StageMetrics::record_repeat`] would (a chain counts the stages
    /// before its last in batches). With `now_ns` it looks for a rotation if
    /// one is due; without, the next count with a time looks.
    #[inline]
    pub fn record_repeats(&mut self, n: u32, now_ns: Option<u64>) {
        debug_assert!(self.measured_any, "a repeat follows a measurement");
        debug_assert!(n > 0, "a batch counts at least one event");
        self.fold_unclocked();
        self.since_recv_repeats += n;
        self.processing_repeats += n;
        self.repeated_events += u64::from(n);
        self.since_recv_repeated_events += u64::from(n);
        match now_ns {
            Some(now_ns) => {
                self.events_since_check += n - 1;
                self.unclocked_mark = self.events_since_check;
                self.counted(now_ns);
            }
            None => {
                self.events_since_check += n;
                self.unclocked_mark = self.events_since_check;
            }
        }
    }

    /// True when the next event must be counted with a clock reading: no
    /// value was measured yet (nothing to repeat), or the count reaches a
    /// look for a rotation offer, which needs the time the interval ends.
    #[inline]
    pub fn repeat_needs_clock(&self) -> bool {
        debug_assert_eq!(
            self.events_since_check >= self.clock_due_at,
            !self.measured_any || self.events_since_check + 1 >= ROTATE_CHECK_EVERY,
            "the kept threshold decides as the two conditions"
        );
        self.events_since_check >= self.clock_due_at
    }

    /// A value was measured: from now on a repeat has buckets to repeat and
    /// needs the clock only for a rotation look.
    #[inline]
    fn set_measured(&mut self) {
        self.measured_any = true;
        self.clock_due_at = ROTATE_CHECK_EVERY - 1;
    }

    /// [`StageMetrics::record_repeat`] without a clock reading: only when
    /// [`StageMetrics::repeat_needs_clock`] is false, so no rotation is due.
    /// One increment: the repeat counts take it at the next fold (see the
    /// module header).
    #[inline]
    pub fn record_repeat_unclocked(&mut self) {
        debug_assert!(
            !self.repeat_needs_clock(),
            "a repeat without a clock is never due to rotate"
        );
        self.events_since_check += 1;
    }

    /// Events counted by [`StageMetrics::record_repeat_unclocked`] and not
    /// yet folded into the repeat counts.
    #[inline]
    fn unclocked_pending(&self) -> u32 {
        self.events_since_check - self.unclocked_mark
    }

    /// Folds the repeats counted without a clock into the repeat counts:
    /// each was a full repeat (both spans) of the last measured buckets.
    #[inline]
    fn fold_unclocked(&mut self) {
        let unclocked = self.unclocked_pending();
        self.since_recv_repeats += unclocked;
        self.processing_repeats += unclocked;
        self.repeated_events += u64::from(unclocked);
        self.since_recv_repeated_events += u64::from(unclocked);
        self.unclocked_mark = self.events_since_check;
    }

    /// Events counted (in one histogram or both) as a repeat of the last
    /// measured values rather than measured themselves.
    #[inline]
    pub fn repeated_events(&self) -> u64 {
        self.repeated_events + u64::from(self.unclocked_pending())
    }

    /// Of [`StageMetrics::repeated_events`], the events whose time since
    /// receipt was repeated too (a chain's stages before the last on every
    /// untimed event; its last stage only while ingest is behind: see
    /// `topology::chain`).
    #[inline]
    pub fn since_recv_repeated_events(&self) -> u64 {
        self.since_recv_repeated_events + u64::from(self.unclocked_pending())
    }

    /// Events counted since the last look for a rotation offer (a chain
    /// catches its earlier stages up when this passes a multiple of its batch).
    #[inline]
    pub fn events_since_check(&self) -> u32 {
        self.events_since_check
    }

    /// Adds the batched repeats to the tallies, in the last measured buckets.
    // Always inlined: out of line (as the fold made it bigger), each
    // measured count paid a call for what is mostly two zero checks.
    #[inline(always)]
    fn flush_repeats(&mut self) {
        self.fold_unclocked();
        self.add_repeats_to_tallies();
    }

    /// The batched repeats into the tallies, once the unclocked ones are folded.
    #[inline(always)]
    fn add_repeats_to_tallies(&mut self) {
        let since_recv = std::mem::take(&mut self.since_recv_repeats);
        let processing = std::mem::take(&mut self.processing_repeats);
        self.since_recv_tally
            .record_slot_n(self.since_recv_last, since_recv);
        self.processing_tally
            .record_slot_n(self.processing_last, processing);
    }

    /// True once an event was measured: until then nothing may be repeated.
    #[inline]
    pub fn measured_any(&self) -> bool {
        self.measured_any
    }

    /// Counts one event not counted by `record_repeat_unclocked` (the
    /// caller folded those first).
    #[inline]
    fn counted(&mut self, now_ns: u64) {
        debug_assert_eq!(self.unclocked_pending(), 0, "folded before counting");
        self.events_since_check += 1;
        self.unclocked_mark = self.events_since_check;
        if self.events_since_check >= ROTATE_CHECK_EVERY {
            self.rotate_if_offered(now_ns);
        }
    }

    /// Moves the pending counts into the public histograms.
    pub fn settle(&mut self) {
        self.flush_repeats();
        self.since_recv_tally.settle_into(&mut self.since_recv_ns);
        self.processing_tally.settle_into(&mut self.processing_ns);
        self.events_since_settle = 0;
    }

    /// Hands the interval (settled) to the reporter if it offered an empty set.
    #[inline]
    pub fn rotate_if_offered(&mut self, now_ns: u64) {
        self.fold_unclocked();
        self.events_since_settle += self.events_since_check;
        self.events_since_check = 0;
        self.unclocked_mark = 0;
        if self.events_since_settle >= SETTLE_EVERY_MAX {
            self.settle();
        }
        let Some(mut spare) = self.exchange.as_ref().and_then(|e| e.fresh.pop()) else {
            return;
        };
        self.settle();
        std::mem::swap(&mut self.since_recv_ns, &mut spare.since_recv_ns);
        std::mem::swap(&mut self.processing_ns, &mut spare.processing_ns);
        spare.start_ns = self.interval_start_ns;
        spare.end_ns = now_ns;
        self.interval_start_ns = now_ns;
        // The reporter offers one set per interval and drains `full` before
        // offering again, so there is always room; if not, the set is dropped
        // (freed), which loses one interval of figures but never blocks.
        if let Some(exchange) = &self.exchange {
            let _ = exchange.full.push(spare);
        }
    }

    /// When the current interval began (epoch ns).
    pub fn interval_start_ns(&self) -> u64 {
        self.interval_start_ns
    }
}

/// The percentiles every report shows.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub p99_99: u64,
    pub max: u64,
}

impl Percentiles {
    /// Uses `value_at_quantile`, which matches the Java and Python HdrHistogram readers.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            p99_99: histogram.value_at_quantile(0.9999),
            max: histogram.max(),
        }
    }
}

/// On average one event in this many is timed stage by stage (see `topology::chain`).
pub const LAP_SAMPLE_EVERY: u64 = 16;

/// The gap's draw takes the chance of a sampled event as one nibble of 16
/// being zero.
const _: () = assert!(LAP_SAMPLE_EVERY == 16);

/// The 1-in-[`LAP_SAMPLE_EVERY`] sample of events, by countdown: the first
/// event is on it, then the gaps between sampled events are drawn at random
/// (geometric, mean 16: each event is on the sample with probability 1/16,
/// independently of the others and of what it carries, so a requote every
/// Nth update cannot alias with it). An event pays a compare and a
/// decrement; one draw is made per sampled event.
///
/// Ingest asks [`LapSampler::next_is_sampled`] as it numbers an event,
/// carries the answer in the event ([`mark_lap_sample`]) so that ingest and
/// every chain of a pipelined plan time the same events
/// (`topology::chain`), and calls [`LapSampler::advance`] only once the
/// hand-off succeeded: an event offered again after a refused hand-off gets
/// the same answer. The backtest driver times its hand-overs with
/// [`LapSampler::take`].
#[derive(Debug, Clone)]
pub struct LapSampler {
    /// Events left until the next sampled one (1: the next is).
    countdown: u64,
    /// Draws made so far (the next gap's key).
    draws: u64,
}

impl Default for LapSampler {
    fn default() -> LapSampler {
        LapSampler::new()
    }
}

impl LapSampler {
    /// A sample whose first event is on it.
    pub const fn new() -> LapSampler {
        LapSampler {
            countdown: 1,
            draws: 0,
        }
    }

    /// A sample whose gaps come from draw stream `stream` (stream 0 is
    /// [`LapSampler::new`]'s): two samplers of different streams counting
    /// the same events choose them independently, so one figure timed on
    /// the first sample does not always carry the second's timing cost.
    pub const fn with_stream(stream: u32) -> LapSampler {
        LapSampler {
            countdown: 1,
            draws: (stream as u64) << 40,
        }
    }

    /// Whether the next event is on the sample; counts nothing, so asking
    /// again before [`LapSampler::advance`] gives the same answer.
    #[inline(always)]
    pub fn next_is_sampled(&self) -> bool {
        self.countdown == 1
    }

    /// Counts the next event as taken: past a sampled one, draws the gap
    /// to the one after.
    #[inline(always)]
    pub fn advance(&mut self) {
        if self.countdown == 1 {
            self.countdown = self.draw_gap();
        } else {
            self.countdown -= 1;
        }
    }

    /// Whether the next event is on the sample; counts it.
    #[inline(always)]
    pub fn take(&mut self) -> bool {
        let sampled = self.next_is_sampled();
        self.advance();
        sampled
    }

    /// The events from one sampled event to the next: each a trial that
    /// succeeds with probability 1/16 (a nibble of a splitmix word that is
    /// zero), so the gap is geometric with mean 16.
    #[cold]
    #[inline(never)]
    fn draw_gap(&mut self) -> u64 {
        let mut gap = 0;
        loop {
            self.draws += 1;
            let word = splitmix64(self.draws);
            // The lowest flagged nibble is the lowest zero one (a borrow
            // can flag a nibble only above a zero one).
            let zero_nibbles =
                word.wrapping_sub(0x1111_1111_1111_1111) & !word & 0x8888_8888_8888_8888;
            if zero_nibbles != 0 {
                return gap + u64::from(zero_nibbles.trailing_zeros() / 4) + 1;
            }
            gap += 16;
        }
    }
}

/// splitmix64 of `key`: a well-mixed word for the lap sample's draws.
#[inline]
fn splitmix64(key: u64) -> u64 {
    let mut z = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Sets or clears `event`'s [`FLAG_LAP_SAMPLE`]: ingest calls it as it
/// numbers the event, with its [`LapSampler`]'s answer (an event numbered
/// again after a refused hand-off is marked again, the same way).
#[inline(always)]
pub fn mark_lap_sample(event: &mut Event, sampled: bool) {
    if sampled {
        event.flags |= FLAG_LAP_SAMPLE;
    } else {
        event.flags &= !FLAG_LAP_SAMPLE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Without an offer nothing rotates; with one, the full set comes back and recording starts afresh.
    #[test]
    fn rotation_swaps_on_offer() {
        let mut metrics = StageMetrics::new("risk");
        let exchange = Exchange::new();
        metrics.attach(exchange.clone(), 100);
        metrics.record(150, 10, 5);
        metrics.rotate_if_offered(200);
        assert!(exchange.full.is_empty());
        assert_eq!(
            metrics.clone().since_recv_ns.len(),
            1,
            "a clone counts what is pending"
        );
        exchange.fresh.push(Box::new(Interval::new())).ok().unwrap();
        metrics.rotate_if_offered(300);
        let full = exchange.full.pop().unwrap();
        assert_eq!((full.start_ns, full.end_ns), (100, 300));
        assert_eq!(full.since_recv_ns.len(), 1);
        assert_eq!(metrics.since_recv_ns.len(), 0);
        assert_eq!(metrics.interval_start_ns(), 300);
    }

    // Without a reporter, pending counts reach the histograms on `settle`, each value in its bucket.
    #[test]
    fn settle_without_a_reporter() {
        let mut metrics = StageMetrics::new("journal");
        for value in [1, 40, 40, 2_500, 1_000_000] {
            metrics.record(0, value, value / 2);
        }
        assert_eq!(metrics.since_recv_ns.len(), 0, "still pending");
        metrics.settle();
        let mut direct = new_histogram();
        for value in [1u64, 40, 40, 2_500, 1_000_000] {
            direct.saturating_record(value);
        }
        assert_eq!(metrics.since_recv_ns, direct);
        assert_eq!(metrics.processing_ns.len(), 5);
    }

    // A repeat counts the event again in the buckets of the last measured
    // values; `record_same` counts one span in both histograms.
    #[test]
    fn repeats_count_in_the_last_measured_buckets() {
        let mut metrics = StageMetrics::new("strategy");
        assert!(!metrics.measured_any());
        metrics.record(0, 500, 40);
        metrics.record_repeat(0);
        metrics.record_since_recv(0, 9_000);
        metrics.settle();
        assert_eq!(metrics.since_recv_ns.count_at(500), 2);
        assert_eq!(metrics.since_recv_ns.count_at(9_000), 1);
        assert_eq!(metrics.processing_ns.count_at(40), 3);
        assert_eq!(metrics.processing_ns.len(), 3);
        assert_eq!(metrics.repeated_events(), 2);
        let mut ingest = StageMetrics::new("ingest");
        ingest.record_same(0, 700);
        ingest.record_repeat(0);
        ingest.settle();
        assert_eq!(ingest.since_recv_ns.count_at(700), 2);
        assert_eq!(ingest.processing_ns.count_at(700), 2);
    }

    // A repeat counted without a clock needs one first (nothing measured
    // yet) and again each time a rotation look is due; in between it counts
    // in the last measured buckets like any repeat.
    #[test]
    fn unclocked_repeats_ask_for_the_clock_when_due() {
        let mut metrics = StageMetrics::new("ingest");
        assert!(metrics.repeat_needs_clock(), "nothing measured yet");
        metrics.record_same(0, 700);
        let mut clocked = 1u64;
        for event in 1..10_000u64 {
            if metrics.repeat_needs_clock() {
                metrics.record_same(event, 900);
                clocked += 1;
            } else {
                metrics.record_repeat_unclocked();
            }
        }
        metrics.settle();
        assert_eq!(metrics.since_recv_ns.len(), 10_000);
        assert_eq!(metrics.processing_ns.len(), 10_000);
        assert_eq!(metrics.repeated_events(), 10_000 - clocked);
        // One clocked count per rotation look (every 1,024 events).
        assert_eq!(clocked, 1 + 10_000 / u64::from(ROTATE_CHECK_EVERY));
        assert!(metrics.since_recv_ns.count_at(700) >= 1_000);
    }

    // Batched repeats land in the buckets of the measurement they repeat,
    // across new measurements, clones, rotations and settles.
    #[test]
    fn batched_repeats_keep_their_buckets() {
        let mut metrics = StageMetrics::new("execution");
        let exchange = Exchange::new();
        metrics.attach(exchange.clone(), 0);
        metrics.record(0, 300, 30);
        (0..5).for_each(|_| metrics.record_repeat(0));
        metrics.record_since_recv(0, 6_000);
        metrics.record_since_recv(0, 7_000);
        let copy = metrics.clone();
        assert_eq!(
            copy.since_recv_ns.count_at(300),
            6,
            "a clone sees pending repeats"
        );
        assert_eq!(copy.processing_ns.count_at(30), 8);
        exchange.fresh.push(Box::new(Interval::new())).ok().unwrap();
        metrics.rotate_if_offered(10);
        let first = exchange.full.pop().unwrap();
        assert_eq!(first.since_recv_ns, copy.since_recv_ns);
        assert_eq!(first.processing_ns, copy.processing_ns);
        metrics.record_repeat(20);
        metrics.record(20, 80_000, 900);
        metrics.record_repeat(20);
        metrics.settle();
        assert_eq!(
            metrics.since_recv_ns.count_at(7_000),
            1,
            "repeat of the last since-recv"
        );
        assert_eq!(metrics.processing_ns.count_at(30), 1);
        assert_eq!(metrics.since_recv_ns.count_at(80_000), 2);
        assert_eq!(metrics.processing_ns.count_at(900), 2);
        assert_eq!(metrics.since_recv_ns.len(), 3);
        assert_eq!(metrics.repeated_events(), 9);
    }

    // About one event in 16 is sampled, evenly across any period in the
    // input (a requote every 8th update must not alias with the sample),
    // the gaps geometric (about 1 in 16 is a single event), the first event
    // on it; asking again before advancing gives the same answer.
    #[test]
    fn the_lap_sample_is_one_in_16_at_random() {
        let mut sampler = LapSampler::new();
        assert!(sampler.next_is_sampled(), "the first event is sampled");
        let events = 1_600_000u64;
        let period = 8u64;
        let mut chosen = vec![0u64; period as usize];
        let mut gaps_of_one = 0u64;
        let mut last = None;
        for seq in 0..events {
            let sampled = sampler.next_is_sampled();
            assert_eq!(sampler.next_is_sampled(), sampled, "asked again");
            sampler.advance();
            if sampled {
                chosen[(seq % period) as usize] += 1;
                gaps_of_one += u64::from(last == Some(seq.wrapping_sub(1)));
                last = Some(seq);
            }
        }
        let timed: u64 = chosen.iter().sum();
        let per_class = events / period / LAP_SAMPLE_EVERY;
        for (class, &count) in chosen.iter().enumerate() {
            let off = count.abs_diff(per_class);
            assert!(
                off < per_class / 20,
                "class {class}: {count} of ~{per_class}"
            );
        }
        let share_of_one = gaps_of_one as f64 / timed as f64;
        assert!(
            (0.05..=0.075).contains(&share_of_one),
            "gaps are geometric (1 in 16 is a single event): {share_of_one}"
        );
        let mut again = LapSampler::new();
        let taken: Vec<bool> = (0..1_000).map(|_| again.take()).collect();
        let mut stepped = LapSampler::new();
        let asked: Vec<bool> = (0..1_000)
            .map(|_| {
                let sampled = stepped.next_is_sampled();
                stepped.advance();
                sampled
            })
            .collect();
        assert_eq!(taken, asked, "take is ask then advance");
    }

    // Two samplers of different streams counting the same events pick them
    // independently: about 1 in 16 of one's events is on the other's sample
    // too (all of them would be if they shared draws), and stream 0 is `new`.
    #[test]
    fn lap_samples_of_different_streams_are_independent() {
        let events = 1_600_000u64;
        let mut ingest = LapSampler::new();
        let mut stream0 = LapSampler::with_stream(0);
        let mut driver = LapSampler::with_stream(1);
        let (mut ingest_timed, mut both) = (0u64, 0u64);
        for _ in 0..events {
            let a = ingest.take();
            assert_eq!(stream0.take(), a, "stream 0 is new()'s");
            let b = driver.take();
            ingest_timed += u64::from(a);
            both += u64::from(a && b);
        }
        let expected = ingest_timed / LAP_SAMPLE_EVERY;
        assert!(
            both.abs_diff(expected) < expected / 10,
            "{both} events on both samples, ~{expected} if independent (of {ingest_timed})"
        );
    }

    /// Everything a stage's figures show: the settled histograms (through
    /// a clone, which includes what is pending), the repeat counts and the
    /// count toward the next rotation look.
    fn figures(metrics: &StageMetrics) -> (Histogram<u64>, Histogram<u64>, u64, u64, u32) {
        let copy = metrics.clone();
        (
            copy.since_recv_ns,
            copy.processing_ns,
            metrics.repeated_events(),
            metrics.since_recv_repeated_events(),
            metrics.events_since_check(),
        )
    }

    /// The counts a stage keeps beside its histograms (cheap to compare
    /// after every step; the histograms are compared at the end).
    fn counts(metrics: &StageMetrics) -> (u64, u64, u32, u32, u32, Slot, Slot) {
        (
            metrics.repeated_events(),
            metrics.since_recv_repeated_events(),
            metrics.events_since_check(),
            metrics.since_recv_repeats + metrics.unclocked_pending(),
            metrics.processing_repeats + metrics.unclocked_pending(),
            metrics.since_recv_last,
            metrics.processing_last,
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        // A timed event caught up in one step counts what the general path
        // counts: the repeats that bring the stage to the last stage's count
        // (`record_repeats`, if any), then the measured values (`record`).
        // Both stages see the same stream of unclocked repeats, batched
        // repeats, measured counts and rotation looks in between.
        #[test]
        fn record_caught_up_counts_as_repeats_then_record(
            steps in proptest::collection::vec((0u8..5, 0u32..70, 1u64..5_000_000), 1..200),
        ) {
            let (mut general, mut fused) = (StageMetrics::new("risk"), StageMetrics::new("risk"));
            // What the last stage has counted as repeats: the target.
            let mut target = 0u64;
            let mut now_ns = 1_000u64;
            for (step, (kind, n, value)) in steps.into_iter().enumerate() {
                now_ns += value;
                let measured = general.measured_any();
                match kind {
                    // Repeats counted by the last stage only, not yet here.
                    0 if measured => target += u64::from(n),
                    // Unclocked repeats here and at the last stage.
                    1 if measured => {
                        for _ in 0..n {
                            if general.repeat_needs_clock() {
                                break;
                            }
                            general.record_repeat_unclocked();
                            fused.record_repeat_unclocked();
                            target += 1;
                        }
                    }
                    // A batched catch-up with a rotation look.
                    2 if measured && target > general.repeated_events() => {
                        let behind = u32::try_from(target - general.repeated_events()).unwrap();
                        general.record_repeats(behind, Some(now_ns));
                        fused.record_repeats(behind, Some(now_ns));
                    }
                    // A timed event, both ways.
                    _ => {
                        let behind = target - general.repeated_events();
                        if behind > 0 {
                            general.record_repeats(u32::try_from(behind).unwrap(), None);
                        }
                        general.record(now_ns, value, value / 3 + u64::from(n));
                        fused.record_caught_up(target, now_ns, value, value / 3 + u64::from(n));
                    }
                }
                proptest::prop_assert_eq!(counts(&general), counts(&fused), "after step {}", step);
            }
            proptest::prop_assert_eq!(figures(&general), figures(&fused));
        }
    }
}
