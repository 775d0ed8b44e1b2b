//! A cheap front for the stages' latency histograms: counts kept in the
//! exact bucket layout of [`genesis_histlog::new_latency_histogram`]
//! (1 ns to 100 s, three significant digits) and settled into the
//! `Histogram` in bulk, so a stage pays a bucket index and an increment per
//! event instead of `Histogram::saturating_record` (min, max and total
//! bookkeeping, clamping, generic casts: ~60 instructions, measured with
//! callgrind in `docs/performance.md`).
//!
//! Owned by the stage's thread, like the histogram it fronts. Invariants:
//! every recorded value is counted exactly once in the histogram after
//! [`Tally::settle_into`] (same bucket, so every percentile, the count, min
//! and max read the same as if each value had been recorded directly);
//! `touched` lists each non-zero count once; nothing allocates after
//! [`Tally::new`].

use hdrhistogram::Histogram;

/// log2 of half a bucket's sub-buckets: 2,048 sub-buckets give 3 significant digits.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (2 * SUB_BUCKET_HALF_COUNT as u64) - 1;
/// 64 − unit magnitude (0: the lowest value is 1) − the half-count magnitude − 1.
const LEADING_ZERO_COUNT_BASE: u32 = 64 - SUB_BUCKET_HALF_COUNT_MAGNITUDE - 1;
/// Buckets covering 1 ns to `LATENCY_NS_MAX`: 2,048 · 2^26 > 10^11.
const BUCKET_COUNT: usize = 27;
const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT;
const _: () = assert!((2048u64 << (BUCKET_COUNT - 1)) > genesis_histlog::LATENCY_NS_MAX);
const _: () = assert!((2048u64 << (BUCKET_COUNT - 2)) <= genesis_histlog::LATENCY_NS_MAX);
const _: () = assert!(COUNTS_LEN <= u16::MAX as usize);
/// The counts' array length: `COUNTS_LEN` rounded up to a power of two, so
/// that an index masked by `COUNTS_INDEX_MASK` needs no bounds check (the
/// mask changes no index below `COUNTS_LEN`; the counts past it stay 0).
const COUNTS_CAPACITY: usize = COUNTS_LEN.next_power_of_two();
const COUNTS_INDEX_MASK: usize = COUNTS_CAPACITY - 1;

/// The histogram's index of `value`, as `Histogram::index_for` computes it.
#[inline]
const fn index_of(value: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT
}

/// Where a value past the last bucket is counted: the highest trackable
/// value's bucket, as `saturating_record` clamps it.
const CLAMP_INDEX: usize = index_of(genesis_histlog::LATENCY_NS_MAX);

/// The lowest value of the bucket at `index`, as `Histogram::value_for` computes it.
#[inline]
const fn value_of(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub_bucket as u64) << bucket
}

/// A bucket of the histogram's layout: where one value is counted.
/// Invariant: its index is below `COUNTS_LEN` (made only by `slot_of`,
/// which clamps, and `ONE_NS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(u16);

impl Slot {
    /// The index into the counts: below `COUNTS_LEN`, masked so that the
    /// compiler sees it (the mask changes no index `Slot` can hold).
    #[inline(always)]
    fn index(self) -> usize {
        usize::from(self.0) & COUNTS_INDEX_MASK
    }

    /// The bucket of 1 ns (the lowest value a stage records).
    pub const ONE_NS: Slot = Slot(index_of(1) as u16);

    /// The lowest value the bucket holds (what a settle records for it).
    pub fn lowest_value(self) -> u64 {
        value_of(usize::from(self.0))
    }
}

/// Counts not yet in the histogram.
pub struct Tally {
    /// One count per bucket of the layout (and 0 past it): a [`Slot`]
    /// indexes it with no bounds check.
    counts: Box<[u32; COUNTS_CAPACITY]>,
    /// Indexes whose count is non-zero, each once.
    touched: Vec<u16>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            counts: vec![0; COUNTS_CAPACITY]
                .into_boxed_slice()
                .try_into()
                .expect("the counts' length is the layout's"),
            touched: Vec::with_capacity(COUNTS_LEN),
        }
    }

    /// Makes every page of the counts and of the index list resident now
    /// (see `sys::resident`): left to the kernel, a latency of a magnitude
    /// not seen before lands on a page of its own and makes it resident
    /// minutes into a run. For the tallies a long run records into; the
    /// counts and indexes are unchanged.
    pub fn make_resident(&mut self) {
        crate::sys::resident::touch_pages(&mut self.counts[..COUNTS_LEN]);
        crate::sys::resident::make_spare_resident(&mut self.touched);
    }

    /// The bucket `value` is counted in (clamped like `saturating_record`).
    #[inline]
    pub fn slot_of(value: u64) -> Slot {
        let index = index_of(value);
        Slot(if index < COUNTS_LEN {
            index as u16
        } else {
            CLAMP_INDEX as u16
        })
    }

    /// Counts `value` (clamped like `saturating_record`); returns its bucket,
    /// so that the same value can be counted again with [`Tally::record_slot`].
    /// The caller settles before any count could pass `u32::MAX`.
    #[inline]
    pub fn record(&mut self, value: u64) -> Slot {
        let slot = Tally::slot_of(value);
        self.record_slot(slot);
        slot
    }

    /// Counts one more value in the bucket `slot` (from [`Tally::slot_of`]).
    #[inline]
    pub fn record_slot(&mut self, slot: Slot) {
        let count = &mut self.counts[slot.index()];
        if *count == 0 {
            // Within the capacity reserved in `new`: each index is listed once.
            self.touched.push(slot.0);
        }
        debug_assert!(*count < u32::MAX, "settled before a count overflows");
        *count += 1;
    }

    /// Counts `count` more values in the bucket `slot` at once (repeats of
    /// one measurement, batched by the caller).
    #[inline]
    pub fn record_slot_n(&mut self, slot: Slot, count: u32) {
        if count == 0 {
            return;
        }
        let total = &mut self.counts[slot.index()];
        if *total == 0 {
            self.touched.push(slot.0);
        }
        debug_assert!(
            total.checked_add(count).is_some(),
            "settled before a count overflows"
        );
        *total += count;
    }

    /// True when nothing waits to be settled.
    pub fn is_empty(&self) -> bool {
        self.touched.is_empty()
    }

    /// Moves every count into `histogram` and starts empty.
    pub fn settle_into(&mut self, histogram: &mut Histogram<u64>) {
        for &index in &self.touched {
            let count = std::mem::take(&mut self.counts[usize::from(index)]);
            debug_assert!(count > 0, "a touched index has a count");
            histogram.saturating_record_n(value_of(usize::from(index)), u64::from(count));
        }
        self.touched.clear();
    }

    /// Adds the counts to `histogram`, keeping them (a copy for a reader).
    pub fn add_to(&self, histogram: &mut Histogram<u64>) {
        for &index in &self.touched {
            let count = self.counts[usize::from(index)];
            histogram.saturating_record_n(value_of(usize::from(index)), u64::from(count));
        }
    }
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_histlog::new_latency_histogram;

    fn values() -> Vec<u64> {
        let mut values: Vec<u64> = (0..5_000).collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 64));
        }
        for shift in 0..64 {
            let power = 1u64 << shift;
            values.extend([power - 1, power, power + 1]);
        }
        values.extend([genesis_histlog::LATENCY_NS_MAX, u64::MAX, 137_438_953_471]);
        values
    }

    // Settled counts give the same histogram as recording each value directly, edges and clamping included.
    #[test]
    fn settles_to_the_same_histogram_as_direct_records() {
        let mut direct = new_latency_histogram();
        let mut tallied = new_latency_histogram();
        assert_eq!(direct.distinct_values(), COUNTS_LEN, "the layout matches");
        let mut tally = Tally::new();
        for value in values() {
            direct.saturating_record(value);
            tally.record(value);
        }
        tally.settle_into(&mut tallied);
        assert!(tally.is_empty());
        assert_eq!(tallied, direct);
        assert_eq!(tallied.len(), direct.len());
        assert_eq!((tallied.min(), tallied.max()), (direct.min(), direct.max()));
        for quantile in [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                tallied.value_at_quantile(quantile),
                direct.value_at_quantile(quantile)
            );
        }
    }

    // Counting a bucket n times at once is the same as n single counts.
    #[test]
    fn a_batch_of_counts_equals_single_counts() {
        let (mut single, mut batched) = (Tally::new(), Tally::new());
        let slot = Tally::slot_of(4_321);
        for _ in 0..17 {
            single.record_slot(slot);
        }
        batched.record_slot_n(slot, 0);
        assert!(batched.is_empty(), "a batch of none touches nothing");
        batched.record_slot_n(slot, 9);
        batched.record_slot_n(slot, 8);
        let (mut a, mut b) = (new_latency_histogram(), new_latency_histogram());
        single.settle_into(&mut a);
        batched.settle_into(&mut b);
        assert_eq!(a, b);
        assert_eq!(b.count_at(slot.lowest_value()), 17);
    }

    // A reader's copy sees the pending counts; the tally keeps them for its own settle.
    #[test]
    fn add_to_copies_without_draining() {
        let mut tally = Tally::new();
        tally.record(250);
        tally.record(250);
        tally.record(7_000);
        let mut copy = new_latency_histogram();
        tally.add_to(&mut copy);
        assert_eq!(copy.len(), 3);
        let mut own = new_latency_histogram();
        tally.settle_into(&mut own);
        assert_eq!(own, copy);
        tally.settle_into(&mut own);
        assert_eq!(own.len(), 3, "a second settle adds nothing");
    }
}
