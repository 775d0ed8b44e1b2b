//! L3 book: every resting order by id, with L2 price levels aggregated from
//! the orders (quantity and order count per price).
//!
//! Owning thread: the ingest thread that applies the feed. Invariants: the
//! order pool, its free list, the id map and both level arrays are allocated
//! in [`L3Book::with_capacity`] and never grow; every resting order is in the
//! id map and contributes its open quantity to exactly one level; a rejected
//! update is counted and sets a sticky stale flag, and never panics.

use super::order_map::OrderMap;
use super::side::LevelSide;
use super::types::{BookReject, Level, Price, Qty, RejectCounts, Side, StaleFlags};

/// One resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    /// Venue order id (ITCH order reference number).
    pub id: u64,
    /// Side the order rests on.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Open quantity.
    pub qty: Qty,
}

impl Default for Order {
    fn default() -> Order {
        Order {
            id: 0,
            side: Side::Bid,
            price: Price(0),
            qty: Qty(0),
        }
    }
}

/// Order-by-order book for one instrument.
#[derive(Clone, Debug)]
pub struct L3Book {
    orders: Vec<Order>,
    slots_free: Vec<u32>,
    ids: OrderMap,
    bids: LevelSide,
    asks: LevelSide,
    stale: StaleFlags,
    rejects: RejectCounts,
    updates_applied: u64,
}

impl L3Book {
    /// A book holding up to `orders_max` orders and `levels_max` levels per
    /// side, all allocated now.
    pub fn with_capacity(orders_max: usize, levels_max: usize) -> L3Book {
        assert!(
            orders_max > 0 && orders_max < u32::MAX as usize,
            "orders_max out of range"
        );
        let slots_free = (0..orders_max as u32).rev().collect();
        L3Book {
            orders: vec![Order::default(); orders_max],
            slots_free,
            ids: OrderMap::with_capacity(orders_max),
            bids: LevelSide::with_capacity(Side::Bid, levels_max),
            asks: LevelSide::with_capacity(Side::Ask, levels_max),
            stale: StaleFlags::empty(),
            rejects: RejectCounts::default(),
            updates_applied: 0,
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

    /// The levels of one side (best first through `iter_best_first`).
    pub fn levels(&self, side: Side) -> &LevelSide {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    /// The resting order with this id.
    pub fn order(&self, id: u64) -> Option<Order> {
        self.ids.get(id).map(|slot| self.orders[slot as usize])
    }

    /// Number of resting orders.
    pub fn order_count(&self) -> usize {
        self.ids.len()
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

    /// Set stale flags (the feed handler does this on a sequence gap).
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

    /// Updates applied without rejection.
    pub fn updates_applied(&self) -> u64 {
        self.updates_applied
    }

    /// Remove every order and level (before a rebuild); flags and counters stay.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.bids.clear();
        self.asks.clear();
        self.slots_free.clear();
        self.slots_free.extend((0..self.orders.len() as u32).rev());
    }

    /// Add a new order.
    pub fn add(&mut self, id: u64, side: Side, price: Price, qty: Qty) -> Result<(), BookReject> {
        let result = self.add_inner(id, side, price, qty);
        self.finish(result)
    }

    /// Execute or cancel `qty` of an order; the order leaves at zero.
    pub fn reduce(&mut self, id: u64, qty: Qty) -> Result<(), BookReject> {
        let result = self.reduce_inner(id, qty);
        self.finish(result)
    }

    /// Remove an order.
    pub fn delete(&mut self, id: u64) -> Result<(), BookReject> {
        let result = self.remove_order(id).map(|_| ());
        self.finish(result)
    }

    /// Replace an order by a new id, price and quantity on the same side
    /// (ITCH `U`: the new order loses time priority).
    pub fn replace(
        &mut self,
        id_old: u64,
        id_new: u64,
        price: Price,
        qty: Qty,
    ) -> Result<(), BookReject> {
        let result = self.replace_inner(id_old, id_new, price, qty);
        self.finish(result)
    }

    fn finish(&mut self, result: Result<(), BookReject>) -> Result<(), BookReject> {
        match result {
            Ok(()) => self.updates_applied += 1,
            Err(reject) => {
                self.rejects.record(reject);
                self.stale.insert(reject.stale_flag());
            }
        }
        result
    }

    fn side_mut(&mut self, side: Side) -> &mut LevelSide {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    fn is_crossed(&self) -> bool {
        match (self.bids.best(), self.asks.best()) {
            (Some(bid), Some(ask)) => bid.price >= ask.price,
            _ => false,
        }
    }

    fn add_inner(&mut self, id: u64, side: Side, price: Price, qty: Qty) -> Result<(), BookReject> {
        if qty.0 <= 0 || price.0 <= 0 {
            return Err(BookReject::NotPositive);
        }
        if self.ids.get(id).is_some() {
            return Err(BookReject::DuplicateOrder);
        }
        let Some(&slot) = self.slots_free.last() else {
            return Err(BookReject::Capacity);
        };
        self.side_mut(side).apply_delta(price, qty, 1)?;
        let inserted = self.ids.insert(id, slot);
        debug_assert!(inserted, "id checked absent and pool slot available");
        self.slots_free.pop();
        self.orders[slot as usize] = Order {
            id,
            side,
            price,
            qty,
        };
        // The order is kept (it is what the venue says); a cross means the
        // book missed something, so it is flagged, not silently repaired.
        if self.is_crossed() {
            return Err(BookReject::Crossed);
        }
        Ok(())
    }

    fn reduce_inner(&mut self, id: u64, qty: Qty) -> Result<(), BookReject> {
        if qty.0 <= 0 {
            return Err(BookReject::NotPositive);
        }
        let Some(slot) = self.ids.get(id) else {
            return Err(BookReject::UnknownOrder);
        };
        let order = self.orders[slot as usize];
        if qty.0 >= order.qty.0 {
            self.remove_order(id)?;
            return if qty.0 > order.qty.0 {
                Err(BookReject::Overfill)
            } else {
                Ok(())
            };
        }
        self.orders[slot as usize].qty.0 -= qty.0;
        let side = order.side;
        self.side_mut(side).apply_delta(order.price, Qty(-qty.0), 0)
    }

    fn remove_order(&mut self, id: u64) -> Result<Order, BookReject> {
        let slot = self.ids.remove(id).ok_or(BookReject::UnknownOrder)?;
        let order = self.orders[slot as usize];
        self.slots_free.push(slot);
        let side = order.side;
        self.side_mut(side)
            .apply_delta(order.price, Qty(-order.qty.0), -1)?;
        Ok(order)
    }

    fn replace_inner(
        &mut self,
        id_old: u64,
        id_new: u64,
        price: Price,
        qty: Qty,
    ) -> Result<(), BookReject> {
        let Some(slot) = self.ids.get(id_old) else {
            return Err(BookReject::UnknownOrder);
        };
        if id_new != id_old && self.ids.get(id_new).is_some() {
            return Err(BookReject::DuplicateOrder);
        }
        let side = self.orders[slot as usize].side;
        self.remove_order(id_old)?;
        self.add_inner(id_new, side, price, qty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> L3Book {
        L3Book::with_capacity(16, 8)
    }

    // Two orders at one price aggregate into one level with two orders.
    #[test]
    fn orders_aggregate_into_levels() {
        let mut b = book();
        b.add(1, Side::Bid, Price(100), Qty(5)).unwrap();
        b.add(2, Side::Bid, Price(100), Qty(7)).unwrap();
        b.add(3, Side::Ask, Price(101), Qty(1)).unwrap();
        let best = b.best_bid().unwrap();
        assert_eq!(
            (best.price, best.qty, best.order_count),
            (Price(100), Qty(12), 2)
        );
        assert_eq!(b.best_ask().unwrap().price, Price(101));
        assert!(!b.is_stale());
    }

    // Partial execution reduces the level; full execution removes the order.
    #[test]
    fn reduce_then_remove() {
        let mut b = book();
        b.add(1, Side::Ask, Price(100), Qty(5)).unwrap();
        b.reduce(1, Qty(2)).unwrap();
        assert_eq!(b.best_ask().unwrap().qty, Qty(3));
        b.reduce(1, Qty(3)).unwrap();
        assert!(b.best_ask().is_none());
        assert_eq!(b.order_count(), 0);
    }

    // A replace moves the order to a new id and price, same side.
    #[test]
    fn replace_moves_order() {
        let mut b = book();
        b.add(1, Side::Bid, Price(100), Qty(5)).unwrap();
        b.replace(1, 2, Price(99), Qty(4)).unwrap();
        assert!(b.order(1).is_none());
        assert_eq!(b.order(2).unwrap().price, Price(99));
        assert_eq!(b.best_bid().unwrap().qty, Qty(4));
    }

    // An unknown id is counted and marks the book stale, without panicking.
    #[test]
    fn unknown_order_marks_stale() {
        let mut b = book();
        assert_eq!(b.delete(42), Err(BookReject::UnknownOrder));
        assert_eq!(b.rejects().get(BookReject::UnknownOrder), 1);
        assert!(b.stale_flags().contains(StaleFlags::INCONSISTENT));
    }

    // A crossing add is kept but flags the book crossed.
    #[test]
    fn crossing_add_marks_stale() {
        let mut b = book();
        b.add(1, Side::Ask, Price(100), Qty(5)).unwrap();
        assert_eq!(
            b.add(2, Side::Bid, Price(100), Qty(1)),
            Err(BookReject::Crossed)
        );
        assert!(b.stale_flags().contains(StaleFlags::CROSSED));
    }

    // A full pool rejects the add and flags capacity.
    #[test]
    fn pool_capacity_is_enforced() {
        let mut b = L3Book::with_capacity(1, 8);
        b.add(1, Side::Bid, Price(10), Qty(1)).unwrap();
        assert_eq!(
            b.add(2, Side::Bid, Price(10), Qty(1)),
            Err(BookReject::Capacity)
        );
        assert!(b.stale_flags().contains(StaleFlags::CAPACITY));
    }
}
