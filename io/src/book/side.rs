//! One side of a book: a fixed-capacity array of price levels kept sorted
//! with the best level last.
//!
//! Owning thread: the book's owner. Invariants: `levels.len() <= capacity`
//! and the vector never reallocates (its capacity is reserved up front);
//! prices are strictly increasing towards the best level (bids ascending,
//! asks descending); no level has zero quantity and zero orders.

use super::types::{BookReject, Level, Price, Qty, Side};

/// Levels from the best a search walks before it bisects the rest.
const TOP_PROBE_LEVELS: usize = 8;

/// The levels of one side, best last.
#[derive(Clone, Debug)]
pub struct LevelSide {
    side: Side,
    levels: Vec<Level>,
    capacity: usize,
}

impl LevelSide {
    /// An empty side that can hold `capacity` levels without allocating.
    pub fn with_capacity(side: Side, capacity: usize) -> LevelSide {
        assert!(capacity > 0, "a book side needs at least one level");
        LevelSide {
            side,
            levels: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Which side this is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The best level, if any. O(1).
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.levels.last().copied()
    }

    /// The worst level kept, if any. O(1).
    pub fn worst(&self) -> Option<Level> {
        self.levels.first().copied()
    }

    /// Number of levels held.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the side holds no level.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Maximum number of levels.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Levels from best to worst.
    pub fn iter_best_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.levels.iter().rev()
    }

    /// The levels from the worst to the best.
    pub(super) fn levels_worst_first(&self) -> &[Level] {
        &self.levels
    }

    /// The level at `price`, if present.
    pub fn get(&self, price: Price) -> Option<Level> {
        self.search(price).ok().map(|index| self.levels[index])
    }

    /// Remove every level.
    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Whether `a` is a strictly better price than `b` on this side.
    #[inline]
    pub fn is_better(&self, a: Price, b: Price) -> bool {
        match self.side {
            Side::Bid => a > b,
            Side::Ask => a < b,
        }
    }

    /// Search in the best-last order: `Ok(index)` if found, else the
    /// insertion index. Most updates touch the top few levels, so the
    /// [`TOP_PROBE_LEVELS`] best are walked from the best down first; a
    /// price below them is found by binary search (same answers).
    #[inline]
    fn search(&self, price: Price) -> Result<usize, usize> {
        // One loop per side, so the walk does not ask the side per level.
        match self.side {
            Side::Bid => self.search_from_best(price, |level, price| level > price),
            Side::Ask => self.search_from_best(price, |level, price| level < price),
        }
    }

    /// [`LevelSide::search`] with `is_better` the side's order.
    #[inline(always)]
    fn search_from_best(
        &self,
        price: Price,
        is_better: impl Fn(Price, Price) -> bool,
    ) -> Result<usize, usize> {
        let probe_end = self.levels.len().saturating_sub(TOP_PROBE_LEVELS);
        let (rest, top) = self.levels.split_at(probe_end);
        // Walked as a slice from its end: no bounds check per level.
        for (offset, level) in top.iter().enumerate().rev() {
            if level.price == price {
                return Ok(probe_end + offset);
            }
            if !is_better(level.price, price) {
                return Err(probe_end + offset + 1);
            }
        }
        self.binary_search(rest, price)
    }

    fn binary_search(&self, levels: &[Level], price: Price) -> Result<usize, usize> {
        match self.side {
            Side::Bid => levels.binary_search_by(|l| l.price.cmp(&price)),
            // Asks are stored in descending price order.
            Side::Ask => levels.binary_search_by(|l| price.cmp(&l.price)),
        }
    }

    /// Add `qty_delta` lots and `orders_delta` orders to the level at `price`
    /// (L3 aggregation). The level is created when missing and removed when
    /// both its quantity and order count reach zero.
    pub fn apply_delta(
        &mut self,
        price: Price,
        qty_delta: Qty,
        orders_delta: i32,
    ) -> Result<(), BookReject> {
        match self.search(price) {
            Ok(index) => {
                let level = &mut self.levels[index];
                level.qty.0 += qty_delta.0;
                level.order_count = level.order_count.saturating_add_signed(orders_delta);
                debug_assert!(level.qty.0 >= 0, "level quantity never goes negative");
                if level.order_count == 0 || level.qty.0 <= 0 {
                    self.levels.remove(index);
                }
                Ok(())
            }
            Err(index) => {
                if qty_delta.0 <= 0 || orders_delta <= 0 {
                    return Err(BookReject::NotPositive);
                }
                if self.levels.len() == self.capacity {
                    return Err(BookReject::Capacity);
                }
                let order_count = orders_delta.unsigned_abs();
                self.levels.insert(
                    index,
                    Level {
                        price,
                        qty: qty_delta,
                        order_count,
                    },
                );
                Ok(())
            }
        }
    }

    /// Set the level at `price` to `qty` lots (L2 feeds); zero removes it.
    ///
    /// When the side is full, a new level worse than every level held is
    /// dropped and a better one evicts the worst level: the side keeps the
    /// top `capacity` levels. Returns `Err(Capacity)` in both cases so the
    /// caller can count the truncation; the book stays usable.
    #[inline]
    pub fn set(&mut self, price: Price, qty: Qty) -> Result<(), BookReject> {
        if qty.0 < 0 {
            return Err(BookReject::NotPositive);
        }
        match self.search(price) {
            Ok(index) if qty.0 == 0 => {
                self.levels.remove(index);
                Ok(())
            }
            Ok(index) => {
                self.levels[index].qty = qty;
                Ok(())
            }
            Err(_) if qty.0 == 0 => Ok(()),
            Err(index) => self.insert_level(index, price, qty),
        }
    }

    fn insert_level(&mut self, index: usize, price: Price, qty: Qty) -> Result<(), BookReject> {
        let level = Level {
            price,
            qty,
            order_count: 0,
        };
        if self.levels.len() < self.capacity {
            self.levels.insert(index, level);
            return Ok(());
        }
        if index == 0 {
            // Worse than every level held: drop it.
            return Err(BookReject::Capacity);
        }
        // Evict the worst level (index 0); the insertion point shifts down.
        self.levels.remove(0);
        self.levels.insert(index - 1, level);
        Err(BookReject::Capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bids keep the highest price last, asks the lowest.
    #[test]
    fn best_is_last_on_both_sides() {
        let mut bids = LevelSide::with_capacity(Side::Bid, 4);
        let mut asks = LevelSide::with_capacity(Side::Ask, 4);
        for p in [10, 12, 11] {
            bids.set(Price(p), Qty(1)).unwrap();
            asks.set(Price(p + 10), Qty(1)).unwrap();
        }
        assert_eq!(bids.best().unwrap().price, Price(12));
        assert_eq!(asks.best().unwrap().price, Price(20));
        let order: Vec<i64> = asks.iter_best_first().map(|l| l.price.0).collect();
        assert_eq!(order, vec![20, 21, 22]);
    }

    // A full side drops a worse level and evicts its worst for a better one.
    #[test]
    fn full_side_keeps_top_levels() {
        let mut bids = LevelSide::with_capacity(Side::Bid, 2);
        bids.set(Price(10), Qty(1)).unwrap();
        bids.set(Price(11), Qty(1)).unwrap();
        assert_eq!(bids.set(Price(9), Qty(1)), Err(BookReject::Capacity));
        assert_eq!(bids.set(Price(12), Qty(1)), Err(BookReject::Capacity));
        let prices: Vec<i64> = bids.iter_best_first().map(|l| l.price.0).collect();
        assert_eq!(prices, vec![12, 11]);
    }

    // L3 aggregation removes a level when its last order leaves.
    #[test]
    fn delta_removes_empty_level() {
        let mut asks = LevelSide::with_capacity(Side::Ask, 2);
        asks.apply_delta(Price(5), Qty(3), 1).unwrap();
        asks.apply_delta(Price(5), Qty(2), 1).unwrap();
        assert_eq!(asks.best().unwrap().order_count, 2);
        asks.apply_delta(Price(5), Qty(-3), -1).unwrap();
        asks.apply_delta(Price(5), Qty(-2), -1).unwrap();
        assert!(asks.is_empty());
    }

    // The walk from the best finds what a binary search finds: every
    // present price and every insertion point, both sides, any depth.
    #[test]
    fn search_matches_binary_search() {
        for side in [Side::Bid, Side::Ask] {
            for depth in [0usize, 1, 3, 8, 9, 40] {
                let mut levels = LevelSide::with_capacity(side, 64);
                for i in 0..depth as i64 {
                    levels.set(Price(100 + 3 * i), Qty(1)).unwrap();
                }
                for price in 95..(110 + 3 * depth as i64) {
                    let price = Price(price);
                    let expected = levels.binary_search(&levels.levels, price);
                    assert_eq!(
                        levels.search(price),
                        expected,
                        "{side:?} depth {depth} {price:?}"
                    );
                }
            }
        }
    }
}
