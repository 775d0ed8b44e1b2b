//! One side of the matching engine's book: a fixed-capacity array of price
//! levels, each with its aggregate quantity and its FIFO order queue.
//!
//! Owning thread: the engine's owner. Invariants: the vector never
//! reallocates (capacity reserved up front, length capped at `levels_max`);
//! levels are sorted with the best last (bids ascending by price, asks
//! descending), so the best level is O(1) and removing it is a `pop`; every
//! level has a non-empty queue and `qty` equal to the sum of its orders'
//! leaves.

use super::orders::Queue;
use super::types::Side;

/// One price level.
#[derive(Clone, Copy, Debug)]
pub(super) struct Level {
    pub(super) price: i64,
    pub(super) qty: i64,
    pub(super) queue: Queue,
}

/// The levels of one side, best last.
#[derive(Clone, Debug)]
pub(super) struct LevelSide {
    side: Side,
    levels: Vec<Level>,
    levels_max: usize,
}

impl LevelSide {
    /// An empty side holding up to `levels_max` levels without allocating.
    pub(super) fn with_capacity(side: Side, levels_max: usize) -> LevelSide {
        assert!(levels_max > 0, "a book side needs at least one level");
        LevelSide {
            side,
            levels: Vec::with_capacity(levels_max),
            levels_max,
        }
    }

    /// Sort key: larger is better on both sides (prices are positive).
    #[inline]
    fn key(&self, price: i64) -> i64 {
        match self.side {
            Side::Buy => price,
            Side::Sell => -price,
        }
    }

    /// `Ok(index)` of the level at `price`, or `Err(index)` where it would go.
    #[inline]
    pub(super) fn search(&self, price: i64) -> Result<usize, usize> {
        let key = self.key(price);
        self.levels
            .binary_search_by_key(&key, |level| self.key(level.price))
    }

    /// Number of levels.
    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether a new level would not fit.
    pub(super) fn is_full(&self) -> bool {
        self.levels.len() == self.levels_max
    }

    /// The best level. O(1).
    #[inline]
    pub(super) fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// The best level, mutable. O(1).
    #[inline]
    pub(super) fn best_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_mut()
    }

    /// Remove the best level. O(1).
    #[inline]
    pub(super) fn pop_best(&mut self) {
        self.levels.pop();
    }

    pub(super) fn get(&self, index: usize) -> &Level {
        &self.levels[index]
    }

    pub(super) fn get_mut(&mut self, index: usize) -> &mut Level {
        &mut self.levels[index]
    }

    /// Insert an empty level at `index` (from [`LevelSide::search`]); the
    /// caller checked [`LevelSide::is_full`] and queues an order at once.
    pub(super) fn insert(&mut self, index: usize, price: i64) {
        assert!(!self.is_full(), "level insert beyond levels_max");
        self.levels.insert(
            index,
            Level {
                price,
                qty: 0,
                queue: Queue::EMPTY,
            },
        );
    }

    /// Remove the (now empty) level at `index`.
    pub(super) fn remove(&mut self, index: usize) {
        debug_assert!(self.levels[index].queue.is_empty(), "removing a live level");
        self.levels.remove(index);
    }

    /// Levels best first.
    pub(super) fn iter_best_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.levels.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bids keep the highest price last, asks the lowest.
    #[test]
    fn best_is_last_on_both_sides() {
        for (side, best) in [(Side::Buy, 103), (Side::Sell, 101)] {
            let mut levels = LevelSide::with_capacity(side, 4);
            for price in [102, 101, 103] {
                let index = levels.search(price).unwrap_err();
                levels.insert(index, price);
            }
            assert_eq!(levels.best().map(|l| l.price), Some(best));
            assert_eq!(levels.search(102), Ok(1));
        }
    }
}
