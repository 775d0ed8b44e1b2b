//! Read-only views of a [`MatchingEngine`]: best prices, level
//! aggregates, resting orders in priority order.
//!
//! Owning thread: the engine's owner (the views borrow it). Invariants:
//! nothing here changes the book or allocates; best bid/ask are O(1).

use super::matching::MatchingEngine;
use super::orders::NIL;
use super::types::{OrderRef, RestingOrder, Side};

impl MatchingEngine {
    /// Best bid as (price, aggregate qty). O(1).
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best().map(|l| (l.price, l.qty))
    }

    /// Best ask as (price, aggregate qty). O(1).
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best().map(|l| (l.price, l.qty))
    }

    /// Aggregate quantity at `price` on `side`; 0 if no level.
    pub fn level_qty(&self, side: Side, price: i64) -> i64 {
        let levels = self.levels(side);
        levels
            .search(price)
            .map_or(0, |index| levels.get(index).qty)
    }

    /// Number of price levels on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        self.levels(side).len()
    }

    /// Levels as (price, aggregate qty), best first, at most `levels_max_out`.
    pub fn for_each_level(&self, side: Side, levels_max_out: usize, f: &mut dyn FnMut(i64, i64)) {
        for level in self.levels(side).iter_best_first().take(levels_max_out) {
            f(level.price, level.qty);
        }
    }

    /// Resting orders of `side` in priority order (best price first, oldest
    /// first at a price).
    pub fn for_each_order(&self, side: Side, f: &mut dyn FnMut(OrderRef, RestingOrder)) {
        for level in self.levels(side).iter_best_first() {
            let mut index = level.queue.head;
            while index != NIL {
                let slot = self.pool.get(index);
                f(slot.order_ref, slot.resting());
                index = slot.next();
            }
        }
    }

    /// The resting order with this ref, if any.
    pub fn order(&self, order_ref: OrderRef) -> Option<RestingOrder> {
        let slot_index = self.refs.get(order_ref)?;
        Some(self.pool.get(slot_index).resting())
    }

    /// Number of resting orders.
    pub fn order_count(&self) -> usize {
        self.pool.live_count()
    }
}
