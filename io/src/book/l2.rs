//! L2 book for feeds that send price levels (e.g. Binance depth diffs):
//! absolute quantity per price, zero removes the level.
//!
//! Owning thread: the ingest thread that applies the feed. Invariants: both
//! sides are preallocated and never grow; a side that is full keeps its best
//! `levels_max` levels and counts the truncation (depth beyond it is not
//! tracked); a feed message is applied as one update and the cross check
//! runs at its end ([`L2Book::finish_update`]), because a message that moves
//! both sides may cross transiently while it is half applied.

use super::side::LevelSide;
use super::types::{BookReject, Level, Price, Qty, RejectCounts, Side, StaleFlags};

/// Price-level book for one instrument.
#[derive(Clone, Debug)]
pub struct L2Book {
    bids: LevelSide,
    asks: LevelSide,
    stale: StaleFlags,
    rejects: RejectCounts,
    levels_truncated: u64,
}

impl L2Book {
    /// A book keeping up to `levels_max` levels per side, allocated now.
    pub fn with_capacity(levels_max: usize) -> L2Book {
        L2Book {
            bids: LevelSide::with_capacity(Side::Bid, levels_max),
            asks: LevelSide::with_capacity(Side::Ask, levels_max),
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

    /// The levels of one side.
    pub fn levels(&self, side: Side) -> &LevelSide {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    /// Set the level at `price` to `qty` (zero removes it). A negative
    /// quantity is rejected and counted; a level beyond capacity is counted
    /// as truncated.
    #[inline]
    pub fn set_level(&mut self, side: Side, price: Price, qty: Qty) {
        let levels = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        match levels.set(price, qty) {
            Ok(()) => {}
            Err(BookReject::Capacity) => self.levels_truncated += 1,
            Err(reject) => {
                self.rejects.record(reject);
                self.stale.insert(reject.stale_flag());
            }
        }
    }

    /// End of one feed message: count and flag a crossed book. Returns
    /// `false` when the book is crossed.
    pub fn finish_update(&mut self) -> bool {
        if self.is_crossed() {
            self.rejects.record(BookReject::Crossed);
            self.stale.insert(StaleFlags::CROSSED);
            return false;
        }
        true
    }

    /// Whether the best bid is at or above the best ask.
    pub fn is_crossed(&self) -> bool {
        match (self.bids.best(), self.asks.best()) {
            (Some(bid), Some(ask)) => bid.price >= ask.price,
            _ => false,
        }
    }

    /// Why the book must not be traded on; empty when usable.
    #[inline]
    pub fn stale_flags(&self) -> StaleFlags {
        self.stale
    }

    /// Whether the engine must not trade on this book.
    #[inline]
    pub fn is_stale(&self) -> bool {
        !self.stale.is_empty()
    }

    /// Set stale flags.
    pub fn mark_stale(&mut self, flags: StaleFlags) {
        self.stale.insert(flags);
    }

    /// Clear stale flags once the cause is recovered.
    pub fn clear_stale(&mut self, flags: StaleFlags) {
        self.stale.remove(flags);
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
    use super::*;

    // Setting zero removes a level; best prices follow.
    #[test]
    fn set_and_remove_levels() {
        let mut b = L2Book::with_capacity(8);
        b.set_level(Side::Bid, Price(99), Qty(3));
        b.set_level(Side::Bid, Price(100), Qty(1));
        b.set_level(Side::Ask, Price(101), Qty(2));
        assert!(b.finish_update());
        assert_eq!(b.best_bid().unwrap().price, Price(100));
        b.set_level(Side::Bid, Price(100), Qty(0));
        assert_eq!(b.best_bid().unwrap().price, Price(99));
        assert!(!b.is_stale());
    }

    // A crossed book is counted and flagged at the end of the update.
    #[test]
    fn crossed_update_is_flagged() {
        let mut b = L2Book::with_capacity(8);
        b.set_level(Side::Ask, Price(100), Qty(1));
        b.set_level(Side::Bid, Price(100), Qty(1));
        assert!(!b.finish_update());
        assert!(b.stale_flags().contains(StaleFlags::CROSSED));
        assert_eq!(b.rejects().get(BookReject::Crossed), 1);
    }
}
