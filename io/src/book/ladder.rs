//! An L2 book kept as a price-indexed ladder: one quantity per tick in a
//! window around the levels held, so setting a level is a slot write, not a
//! search and a shift in a sorted array.
//!
//! It answers exactly what [`L2Book`](super::L2Book) answers for the same
//! updates: the same levels, the same best bid and ask, the same truncation
//! to `levels_max` levels per side (a new level worse than every level of a
//! full side is dropped, a better one evicts the worst; both counted), the
//! same rejects (a negative quantity changes nothing and is counted). A
//! property test holds it to `L2Book` on random updates.
//!
//! Each side is a ring of `window_ticks` slots (a power of two) indexed by
//! the level's price masked by the window, valid while the side's levels
//! span fewer ticks than the window: then no two levels held share a slot,
//! and a price between the worst and the best level held is found by one
//! read. An update that would widen the side past the window moves the
//! side into a sorted [`LevelSide`] (as `L2Book` keeps it); the side comes
//! back to the ladder once its levels span less than half the window (the
//! margin keeps a level that flickers at the edge from moving it back and
//! forth). A book of a dense instrument (most crypto books: consecutive
//! ticks near the touch) stays in the ladder; a sparse one runs as
//! `L2Book` does, plus a test per update.
//!
//! Owning thread: the book's owner. Invariants, asserted in debug builds:
//! in ladder mode only the slots of held levels are non-zero, every one
//! positive, `len` of them, between `worst` and `best` (both held, their
//! distance under the window), and the sorted side is empty; in sorted
//! mode every slot is zero and `len` is 0, so the range test alone tells
//! an update the ladder takes at once from the rest. Every buffer is
//! allocated in [`LadderBook::with_capacity`]; an update never allocates.

use super::side::LevelSide;
use super::types::{BookReject, Level, Price, Qty, RejectCounts, Side, StaleFlags};

/// Ticks a side's ladder covers by default: 16 KiB of quantities per side.
pub const LADDER_TICKS_DEFAULT: usize = 2_048;

/// One side. Prices are held as keys that grow towards the best (the price
/// for bids, its negation for asks), so one code path serves both sides.
#[derive(Clone, Debug)]
struct LadderSide {
    /// The side's negation: 1 for bids, -1 for asks (key = price × sign).
    sign: i64,
    /// Quantity per slot (`key & mask`); zero: no level.
    slots: Vec<i64>,
    mask: i64,
    /// Levels held (ladder mode).
    len: usize,
    /// Keys of the best and worst level held (ladder mode, `len > 0`).
    best: i64,
    worst: i64,
    capacity: usize,
    /// The levels while they span too many ticks for the ladder.
    sorted: LevelSide,
    sorted_mode: bool,
}

impl LadderSide {
    fn new(side: Side, capacity: usize, window_ticks: usize) -> LadderSide {
        assert!(capacity > 0, "a book side needs at least one level");
        assert!(
            window_ticks.is_power_of_two() && window_ticks >= 2,
            "the ladder's window is a power of two"
        );
        LadderSide {
            sign: match side {
                Side::Bid => 1,
                Side::Ask => -1,
            },
            slots: vec![0; window_ticks],
            mask: window_ticks as i64 - 1,
            len: 0,
            best: 0,
            worst: 0,
            capacity,
            sorted: LevelSide::with_capacity(side, capacity),
            sorted_mode: false,
        }
    }

    #[inline(always)]
    fn slot(&self, key: i64) -> usize {
        (key & self.mask) as usize
    }

    /// Whether keys `low..=high` fit the ladder.
    #[inline(always)]
    fn fits(&self, low: i64, high: i64) -> bool {
        high.abs_diff(low) <= self.mask as u64
    }

    #[inline]
    fn best(&self) -> Option<Level> {
        if self.len > 0 {
            return Some(self.level(self.best));
        }
        self.sorted.best()
    }

    /// The best level's price, if any (no quantity read).
    #[inline]
    fn best_price(&self) -> Option<Price> {
        if self.len > 0 {
            return Some(Price(self.best * self.sign));
        }
        self.sorted.best().map(|level| level.price)
    }

    #[inline(always)]
    fn level(&self, key: i64) -> Level {
        Level {
            price: Price(key * self.sign),
            qty: Qty(self.slots[self.slot(key)]),
            order_count: 0,
        }
    }

    fn len(&self) -> usize {
        if self.sorted_mode {
            self.sorted.len()
        } else {
            self.len
        }
    }

    /// The quantity at `price`, 0 if no level.
    #[inline]
    fn qty_at(&self, price: Price) -> i64 {
        if self.sorted_mode {
            return self.sorted.get(price).map_or(0, |level| level.qty.0);
        }
        // As in `set`: a wrapped key is never inside the range.
        let key = price.0.wrapping_mul(self.sign);
        if self.len == 0 || key < self.worst || key > self.best {
            return 0;
        }
        self.slots[self.slot(key)]
    }

    /// [`LevelSide::set`]'s answer for the same side.
    #[inline(always)]
    fn set(&mut self, price: Price, qty: Qty) -> Result<(), BookReject> {
        if qty.0 < 0 {
            return Err(BookReject::NotPositive);
        }
        // Wrapping: only an ask at i64::MIN wraps (to i64::MIN), below
        // every ask's key, so it never lands inside the range; sorted mode
        // holds `len` at 0, so the range test is false there too.
        let key = price.0.wrapping_mul(self.sign);
        if self.len > 0 && self.worst <= key && key <= self.best {
            let slot = self.slot(key);
            if self.slots[slot] != 0 {
                if qty.0 == 0 {
                    self.remove(key);
                } else {
                    self.slots[slot] = qty.0;
                }
                return Ok(());
            }
            if qty.0 == 0 {
                return Ok(());
            }
            // Inside the side's range, so better than the worst level.
            return self.insert_inside(key, qty.0);
        }
        if qty.0 == 0 && !self.sorted_mode {
            // Outside the range of a side on the ladder: no such level.
            return Ok(());
        }
        self.set_outside(price, qty)
    }

    /// An update outside the ladder's range, or of a side in sorted mode.
    #[inline(never)]
    fn set_outside(&mut self, price: Price, qty: Qty) -> Result<(), BookReject> {
        if self.sorted_mode {
            return self.set_sorted(price, qty);
        }
        // An ask at i64::MIN has no key: the sorted side takes it.
        let Some(key) = price.0.checked_mul(self.sign) else {
            return self.set_off_ladder(price, qty);
        };
        // The common case first: a new best or worst level on a side with
        // room, within the window.
        if self.len > 0 && self.len < self.capacity {
            let (worst, best) = (self.worst.min(key), self.best.max(key));
            if self.fits(worst, best) {
                let slot = self.slot(key);
                self.slots[slot] = qty.0;
                (self.len, self.best, self.worst) = (self.len + 1, best, worst);
                debug_assert!(self.is_consistent());
                return Ok(());
            }
        }
        self.insert_outside(key, price, qty)
    }

    /// A new level between the worst and the best held.
    #[inline]
    fn insert_inside(&mut self, key: i64, qty: i64) -> Result<(), BookReject> {
        let truncated = self.len == self.capacity;
        if truncated {
            self.evict_worst();
        }
        let slot = self.slot(key);
        self.slots[slot] = qty;
        self.len += 1;
        self.worst = self.worst.min(key);
        debug_assert!(self.is_consistent());
        if truncated {
            Err(BookReject::Capacity)
        } else {
            Ok(())
        }
    }

    /// A new level better than the best or worse than the worst on an
    /// empty side, a full one, or past the window.
    fn insert_outside(&mut self, key: i64, price: Price, qty: Qty) -> Result<(), BookReject> {
        if self.len == 0 {
            let slot = self.slot(key);
            self.slots[slot] = qty.0;
            (self.len, self.best, self.worst) = (1, key, key);
            return Ok(());
        }
        let full = self.len == self.capacity;
        if full && key < self.worst {
            // Worse than every level of a full side: dropped.
            return Err(BookReject::Capacity);
        }
        if !self.fits(self.worst.min(key), self.best.max(key)) {
            return self.set_off_ladder(price, qty);
        }
        if full {
            // Better than the best (worse than the worst was dropped above).
            self.evict_worst();
        }
        let slot = self.slot(key);
        self.slots[slot] = qty.0;
        if self.len == 0 {
            (self.best, self.worst) = (key, key);
        } else {
            self.best = self.best.max(key);
            self.worst = self.worst.min(key);
        }
        self.len += 1;
        debug_assert!(self.is_consistent());
        if full {
            Err(BookReject::Capacity)
        } else {
            Ok(())
        }
    }

    /// Removes the level at `key` (held), finding the new best or worst.
    #[inline]
    fn remove(&mut self, key: i64) {
        let slot = self.slot(key);
        self.slots[slot] = 0;
        self.len -= 1;
        if self.len > 0 {
            if key == self.best {
                self.best = self.next_held(key, -1);
            } else if key == self.worst {
                self.worst = self.next_held(key, 1);
            }
        }
        debug_assert!(self.is_consistent());
    }

    /// Drops the worst level (a full side taking a better one).
    fn evict_worst(&mut self) {
        let worst = self.worst;
        let slot = self.slot(worst);
        self.slots[slot] = 0;
        self.len -= 1;
        if self.len > 0 {
            self.worst = self.next_held(worst, 1);
        }
    }

    /// The first held key after `key` going by `step` (±1); one exists.
    #[inline]
    fn next_held(&self, key: i64, step: i64) -> i64 {
        let mut next = key + step;
        while self.slots[self.slot(next)] == 0 {
            next += step;
        }
        next
    }

    /// The side leaves the ladder for the sorted levels, then takes the update.
    #[cold]
    fn set_off_ladder(&mut self, price: Price, qty: Qty) -> Result<(), BookReject> {
        debug_assert!(
            self.sorted.is_empty(),
            "the sorted side is empty in ladder mode"
        );
        if self.len > 0 {
            for key in self.worst..=self.best {
                let slot = self.slot(key);
                let held = std::mem::take(&mut self.slots[slot]);
                if held != 0 {
                    // Worst first, each better than the last: always room.
                    let set = self.sorted.set(Price(key * self.sign), Qty(held));
                    debug_assert!(set.is_ok(), "the ladder's levels fit the side");
                }
            }
        }
        self.len = 0;
        self.sorted_mode = true;
        self.sorted.set(price, qty)
    }

    /// An update in sorted mode; the side returns to the ladder when its
    /// levels span less than half the window.
    #[cold]
    fn set_sorted(&mut self, price: Price, qty: Qty) -> Result<(), BookReject> {
        let result = self.sorted.set(price, qty);
        let back = match (self.sorted.best(), self.sorted.worst()) {
            (Some(best), Some(worst)) => {
                let (best, worst) = (
                    best.price.0.checked_mul(self.sign),
                    worst.price.0.checked_mul(self.sign),
                );
                matches!((best, worst), (Some(best), Some(worst))
                    if best.abs_diff(worst) < (self.slots.len() / 2) as u64)
            }
            _ => true,
        };
        if back {
            self.back_to_ladder();
        }
        result
    }

    fn back_to_ladder(&mut self) {
        self.len = 0;
        for level in self.sorted.iter_best_first() {
            let key = level.price.0 * self.sign;
            if self.len == 0 {
                self.best = key;
            }
            self.worst = key;
            let slot = self.slot(key);
            self.slots[slot] = level.qty.0;
            self.len += 1;
        }
        self.sorted.clear();
        self.sorted_mode = false;
        debug_assert!(self.is_consistent());
    }

    fn clear(&mut self) {
        if self.sorted_mode {
            self.sorted.clear();
            self.sorted_mode = false;
        } else if self.len > 0 {
            for key in self.worst..=self.best {
                let slot = self.slot(key);
                self.slots[slot] = 0;
            }
        }
        self.len = 0;
        debug_assert!(self.is_consistent());
    }

    fn iter_best_first(&self) -> LadderLevels<'_> {
        LadderLevels {
            side: self,
            key: self.best,
            left: if self.sorted_mode { 0 } else { self.len },
            sorted: if self.sorted_mode {
                self.sorted.levels_worst_first()
            } else {
                &[]
            }
            .iter()
            .rev(),
        }
    }

    /// The module header's invariants (debug builds; the walk over every
    /// slot only in this crate's tests, as it costs the window per update).
    fn is_consistent(&self) -> bool {
        if cfg!(test) {
            let held = self.slots.iter().filter(|&&qty| qty != 0).count();
            let expected = if self.sorted_mode { 0 } else { self.len };
            if held != expected || self.slots.iter().any(|&qty| qty < 0) {
                return false;
            }
        }
        if self.sorted_mode {
            return self.len == 0 && self.sorted.len() <= self.capacity;
        }
        if self.len == 0 {
            return self.sorted.is_empty();
        }
        self.len <= self.capacity
            && self.fits(self.worst, self.best)
            && self.slots[self.slot(self.best)] > 0
            && self.slots[self.slot(self.worst)] > 0
            && self.sorted.is_empty()
    }
}

/// A side's levels from the best (see [`LadderBook::iter_best_first`]).
pub struct LadderLevels<'a> {
    side: &'a LadderSide,
    key: i64,
    left: usize,
    /// The sorted side's levels (empty in ladder mode).
    sorted: std::iter::Rev<std::slice::Iter<'a, Level>>,
}

impl Iterator for LadderLevels<'_> {
    type Item = Level;

    #[inline]
    fn next(&mut self) -> Option<Level> {
        if self.left == 0 {
            return self.sorted.next().copied();
        }
        while self.side.slots[self.side.slot(self.key)] == 0 {
            self.key -= 1;
        }
        let level = self.side.level(self.key);
        self.left -= 1;
        // Past the worst level only when none is left: wrapping is never read.
        self.key = self.key.wrapping_sub(1);
        Some(level)
    }
}

/// Price-level book for one instrument, kept as a ladder per side (see the
/// module header); the answers of an [`L2Book`](super::L2Book).
#[derive(Clone, Debug)]
pub struct LadderBook {
    bids: LadderSide,
    asks: LadderSide,
    stale: StaleFlags,
    rejects: RejectCounts,
    levels_truncated: u64,
}

impl LadderBook {
    /// A book keeping up to `levels_max` levels per side, ladders of
    /// [`LADDER_TICKS_DEFAULT`] ticks, allocated now.
    pub fn with_capacity(levels_max: usize) -> LadderBook {
        LadderBook::with_window(levels_max, LADDER_TICKS_DEFAULT)
    }

    /// As [`LadderBook::with_capacity`], each side's ladder `window_ticks`
    /// ticks wide (a power of two, at least 2).
    pub fn with_window(levels_max: usize, window_ticks: usize) -> LadderBook {
        LadderBook {
            bids: LadderSide::new(Side::Bid, levels_max, window_ticks),
            asks: LadderSide::new(Side::Ask, levels_max, window_ticks),
            stale: StaleFlags::empty(),
            rejects: RejectCounts::default(),
            levels_truncated: 0,
        }
    }

    /// Best bid level. O(1).
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    /// Best ask level. O(1).
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    /// Best bid price, if any. O(1).
    #[inline]
    pub fn best_bid_price(&self) -> Option<Price> {
        self.bids.best_price()
    }

    /// Best ask price, if any. O(1).
    #[inline]
    pub fn best_ask_price(&self) -> Option<Price> {
        self.asks.best_price()
    }

    /// The quantity at `price` on `side`, 0 if no level.
    #[inline]
    pub fn qty_at(&self, side: Side, price: Price) -> Qty {
        Qty(self.side(side).qty_at(price))
    }

    /// Levels held on `side`.
    pub fn len(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// The levels of `side` from the best.
    pub fn iter_best_first(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.side(side).iter_best_first()
    }

    #[inline(always)]
    fn side(&self, side: Side) -> &LadderSide {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    /// Set the level at `price` to `qty` (zero removes it): as
    /// [`L2Book::set_level`](super::L2Book::set_level).
    #[inline(always)]
    pub fn set_level(&mut self, side: Side, price: Price, qty: Qty) {
        let levels = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        match levels.set(price, qty) {
            Ok(()) => {}
            Err(reject) => self.count(reject),
        }
    }

    #[cold]
    fn count(&mut self, reject: BookReject) {
        if reject == BookReject::Capacity {
            self.levels_truncated += 1;
        } else {
            self.rejects.record(reject);
            self.stale.insert(reject.stale_flag());
        }
    }

    /// Why the book must not be traded on; empty when usable.
    pub fn stale_flags(&self) -> StaleFlags {
        self.stale
    }

    /// Rejected updates per kind.
    pub fn rejects(&self) -> &RejectCounts {
        &self.rejects
    }

    /// Levels dropped or evicted because a side was full.
    pub fn levels_truncated(&self) -> u64 {
        self.levels_truncated
    }

    /// Remove every level (before loading a snapshot); flags stay.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::L2Book;
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Update {
        Set { bid: bool, price: i64, qty: i64 },
        Clear,
    }

    /// Level changes on prices 0–40 (most), now and then far away (the
    /// sorted side) or at the ends of `i64`, and a clear now and then.
    fn update() -> impl Strategy<Value = Update> {
        let price = prop_oneof![
            20 => 0i64..40,
            2 => -1_000i64..1_000,
            1 => prop_oneof![Just(i64::MIN), Just(i64::MIN + 1), Just(i64::MAX), Just(i64::MAX - 1)],
        ];
        prop_oneof![
            40 => (any::<bool>(), price, prop_oneof![3 => Just(0i64), 6 => 1i64..9, 1 => Just(-1i64)])
                .prop_map(|(bid, price, qty)| Update::Set { bid, price, qty }),
            1 => Just(Update::Clear),
        ]
    }

    fn levels_of(book: &L2Book, side: Side) -> Vec<Level> {
        book.levels(side).iter_best_first().copied().collect()
    }

    /// Everything the two books answer, compared.
    fn assert_same(ladder: &LadderBook, book: &L2Book, step: usize) {
        for side in [Side::Bid, Side::Ask] {
            let expected = levels_of(book, side);
            let got: Vec<Level> = ladder.iter_best_first(side).collect();
            assert_eq!(got, expected, "{side:?} levels after update {step}");
            assert_eq!(
                ladder.len(side),
                expected.len(),
                "{side:?} len after update {step}"
            );
            for level in &expected {
                assert_eq!(ladder.qty_at(side, level.price), level.qty);
            }
            for price in [-1i64, 0, 17, 39, 40, i64::MIN, i64::MAX] {
                let qty = book
                    .levels(side)
                    .get(Price(price))
                    .map_or(Qty(0), |l| l.qty);
                assert_eq!(
                    ladder.qty_at(side, Price(price)),
                    qty,
                    "{side:?} at {price}"
                );
            }
        }
        assert_eq!(ladder.best_bid_price(), book.best_bid().map(|l| l.price));
        assert_eq!(ladder.best_ask_price(), book.best_ask().map(|l| l.price));
        assert_eq!(
            ladder.best_bid(),
            book.best_bid(),
            "best bid after update {step}"
        );
        assert_eq!(
            ladder.best_ask(),
            book.best_ask(),
            "best ask after update {step}"
        );
        assert_eq!(
            ladder.levels_truncated(),
            book.levels_truncated(),
            "truncated after update {step}"
        );
        assert_eq!(
            ladder.rejects(),
            book.rejects(),
            "rejects after update {step}"
        );
        assert_eq!(
            ladder.stale_flags(),
            book.stale_flags(),
            "stale flags after update {step}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // The ladder gives the sorted book's answers after every update:
        // the same levels best first, the same touch, the same truncation
        // to `levels_max` (small here, so full sides drop and evict), the
        // same rejects, through windows small enough that sides leave the
        // ladder and come back.
        #[test]
        fn the_ladder_answers_as_the_sorted_book(
            levels_max in 1usize..12,
            window_shift in 1u32..8,
            updates in proptest::collection::vec(update(), 1..400),
        ) {
            let mut ladder = LadderBook::with_window(levels_max, 1 << window_shift);
            let mut book = L2Book::with_capacity(levels_max);
            for (step, update) in updates.iter().enumerate() {
                match *update {
                    Update::Set { bid, price, qty } => {
                        let side = if bid { Side::Bid } else { Side::Ask };
                        ladder.set_level(side, Price(price), Qty(qty));
                        book.set_level(side, Price(price), Qty(qty));
                    }
                    Update::Clear => {
                        ladder.clear();
                        book.clear();
                    }
                }
                assert_same(&ladder, &book, step);
            }
        }
    }

    // A side wider than its window leaves the ladder and comes back once
    // it narrows; the answers stay the sorted book's.
    #[test]
    fn a_wide_side_leaves_the_ladder_and_comes_back() {
        let mut ladder = LadderBook::with_window(8, 16);
        let mut book = L2Book::with_capacity(8);
        let updates = [
            (100, 1),
            (103, 2),
            (130, 3),
            (90, 1),
            (130, 0),
            (90, 0),
            (101, 5),
        ];
        for (step, (price, qty)) in updates.into_iter().enumerate() {
            ladder.set_level(Side::Ask, Price(price), Qty(qty));
            book.set_level(Side::Ask, Price(price), Qty(qty));
            assert_same(&ladder, &book, step);
            let wide = step == 2 || step == 3 || step == 4;
            assert_eq!(ladder.asks.sorted_mode, wide, "sorted after update {step}");
        }
    }

    // A full side drops a worse level and evicts its worst for a better
    // one, counting both, as the sorted book does.
    #[test]
    fn a_full_side_keeps_its_best_levels() {
        let mut ladder = LadderBook::with_capacity(2);
        for (price, qty) in [(10, 1), (11, 1), (9, 1), (12, 1)] {
            ladder.set_level(Side::Bid, Price(price), Qty(qty));
        }
        let prices: Vec<i64> = ladder
            .iter_best_first(Side::Bid)
            .map(|l| l.price.0)
            .collect();
        assert_eq!(prices, vec![12, 11]);
        assert_eq!(ladder.levels_truncated(), 2);
    }
}
