//! The price-time-priority matching engine of one instrument of the
//! simulated venue.
//!
//! Role: turn order entry requests (submit, cancel, reduce, replace) into
//! trades and book changes, reported as [`BookEvent`]s in the order they
//! happen. Owning thread: the venue's matching thread; one engine per
//! instrument, all sharing one [`Ids`].
//!
//! Invariants:
//! - Everything is allocated in [`MatchingEngine::new`]; no request
//!   allocates afterwards (at most `orders_max` orders rest, so the order-ref
//!   map never grows).
//! - The book is never crossed: an incoming order trades until it no longer
//!   crosses before any remainder rests.
//! - Priority is price, then time: the best price trades first and, at one
//!   price, the oldest order. A reduction keeps priority; a replace that
//!   raises the quantity or moves the price goes to the back of the queue.
//! - A refused request ([`Reject`]) changes nothing and emits nothing.
//! - Self-trade is allowed: there is no self-trade prevention, an owner's
//!   incoming order trades with its own resting orders like anyone else's.

use super::levels::LevelSide;
use super::orders::{OrderPool, NIL};
use super::types::{BookEvent, Ids, NewOrder, OrderRef, Reject, Side, Submitted, TimeInForce};
use crate::book::OrderMap;

/// Price-time-priority book of one instrument.
#[derive(Clone, Debug)]
pub struct MatchingEngine {
    pub(super) pool: OrderPool,
    pub(super) refs: OrderMap,
    pub(super) bids: LevelSide,
    pub(super) asks: LevelSide,
}

/// Whether a taker on `taker_side` at `taker_price` trades with a maker
/// resting at `maker_price`.
#[inline]
fn crosses(taker_side: Side, taker_price: i64, maker_price: i64) -> bool {
    match taker_side {
        Side::Buy => taker_price >= maker_price,
        Side::Sell => taker_price <= maker_price,
    }
}

fn validate(price: i64, qty: i64) -> Result<(), Reject> {
    if qty <= 0 {
        return Err(Reject::BadQty);
    }
    if price <= 0 {
        return Err(Reject::BadPrice);
    }
    Ok(())
}

impl MatchingEngine {
    /// An empty book for up to `orders_max` resting orders and `levels_max`
    /// price levels per side.
    pub fn new(orders_max: usize, levels_max: usize) -> MatchingEngine {
        MatchingEngine {
            pool: OrderPool::with_capacity(orders_max),
            refs: OrderMap::with_capacity(orders_max),
            bids: LevelSide::with_capacity(Side::Buy, levels_max),
            asks: LevelSide::with_capacity(Side::Sell, levels_max),
        }
    }

    pub(super) fn levels(&self, side: Side) -> &LevelSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Matches against the opposite side in price-time priority (best price
    /// first, oldest first at a price), emitting one `Executed` per maker
    /// touched, then rests the remainder (Day) emitting `Added`, or expires
    /// it (IOC). Rejections leave the book untouched and emit nothing. If
    /// resting the remainder is impossible (book or levels full) after
    /// something traded, the fills stand and the remainder expires (counted
    /// in `expired_qty`); with no fill, the order is rejected instead.
    pub fn submit(
        &mut self,
        order: NewOrder,
        ids: &mut Ids,
        out: &mut dyn FnMut(&BookEvent),
    ) -> Result<Submitted, Reject> {
        validate(order.price, order.qty)?;
        let filled_qty = self.match_incoming(&order, ids, out);
        let remaining_qty = order.qty - filled_qty;
        let mut submitted = Submitted {
            filled_qty,
            ..Submitted::default()
        };
        if remaining_qty == 0 {
            return Ok(submitted);
        }
        if order.tif == TimeInForce::Ioc {
            submitted.expired_qty = remaining_qty;
            return Ok(submitted);
        }
        match self.check_rest(order.side, order.price, None) {
            Ok(()) => {
                let order_ref = ids.take_order_ref();
                self.rest(order_ref, &order, remaining_qty);
                out(&BookEvent::Added {
                    order_ref,
                    owner: order.owner,
                    client_id: order.client_id,
                    side: order.side,
                    price: order.price,
                    qty: remaining_qty,
                });
                submitted.order_ref = Some(order_ref);
                submitted.rested_qty = remaining_qty;
            }
            Err(reject) if filled_qty == 0 => return Err(reject),
            Err(_) => submitted.expired_qty = remaining_qty,
        }
        Ok(submitted)
    }

    /// Trade `order` against the opposite side while it crosses; returns the
    /// quantity filled.
    fn match_incoming(
        &mut self,
        order: &NewOrder,
        ids: &mut Ids,
        out: &mut dyn FnMut(&BookEvent),
    ) -> i64 {
        let MatchingEngine {
            pool,
            refs,
            bids,
            asks,
        } = self;
        let makers = match order.side {
            Side::Buy => asks,
            Side::Sell => bids,
        };
        let mut remaining_qty = order.qty;
        while remaining_qty > 0 {
            let Some(level) = makers.best_mut() else {
                break;
            };
            if !crosses(order.side, order.price, level.price) {
                break;
            }
            let slot_index = level.queue.head;
            let maker = pool.get_mut(slot_index);
            let traded_qty = remaining_qty.min(maker.leaves);
            maker.leaves -= traded_qty;
            level.qty -= traded_qty;
            remaining_qty -= traded_qty;
            out(&BookEvent::Executed {
                maker_ref: maker.order_ref,
                maker_owner: maker.owner,
                maker_client_id: maker.client_id,
                taker_owner: order.owner,
                taker_client_id: order.client_id,
                side: maker.side,
                price: level.price,
                qty: traded_qty,
                maker_leaves: maker.leaves,
                match_number: ids.take_match_number(),
            });
            if maker.leaves == 0 {
                let removed = refs.remove(maker.order_ref);
                debug_assert_eq!(removed, Some(slot_index), "ref map agrees with the pool");
                pool.unlink(&mut level.queue, slot_index);
                pool.free(slot_index);
                if level.queue.is_empty() {
                    makers.pop_best();
                }
            }
        }
        order.qty - remaining_qty
    }

    /// Check that an order can rest at `price` on `side`. `leaving` is a
    /// slot about to leave the book (a replace), whose level may free up.
    fn check_rest(&self, side: Side, price: i64, leaving: Option<u32>) -> Result<(), Reject> {
        if leaving.is_none() && self.pool.is_full() {
            return Err(Reject::BookFull);
        }
        let levels = self.levels(side);
        if levels.search(price).is_err() && levels.is_full() {
            let frees_level = leaving.is_some_and(|slot_index| {
                let slot = self.pool.get(slot_index);
                levels.search(slot.price).is_ok_and(|index| {
                    let queue = levels.get(index).queue;
                    queue.head == slot_index && queue.tail == slot_index
                })
            });
            if !frees_level {
                return Err(Reject::LevelsFull);
            }
        }
        Ok(())
    }

    /// Rest a new order (after [`MatchingEngine::check_rest`] passed).
    fn rest(&mut self, order_ref: OrderRef, order: &NewOrder, qty: i64) {
        let slot = OrderPool::slot(
            order_ref,
            order.owner,
            order.client_id,
            order.side,
            order.price,
            qty,
        );
        let slot_index = self.pool.alloc(slot).expect("check_rest checked the pool");
        self.queue_at(slot_index);
    }

    /// Queue the allocated, unlinked `slot_index` at the back of its price
    /// level (creating it; [`MatchingEngine::check_rest`] made sure it fits)
    /// and index its ref.
    fn queue_at(&mut self, slot_index: u32) {
        let MatchingEngine {
            pool,
            refs,
            bids,
            asks,
        } = self;
        let slot = *pool.get(slot_index);
        let levels = side_levels(bids, asks, slot.side);
        let level_index = match levels.search(slot.price) {
            Ok(index) => index,
            Err(index) => {
                levels.insert(index, slot.price);
                index
            }
        };
        let level = levels.get_mut(level_index);
        pool.push_back(&mut level.queue, slot_index);
        level.qty += slot.leaves;
        let inserted = refs.insert(slot.order_ref, slot_index);
        assert!(
            inserted,
            "order refs are unique and the map holds orders_max"
        );
    }

    /// Take `slot_index` out of its level (removing an emptied level) and
    /// out of the ref map; the slot stays allocated.
    fn dequeue(&mut self, slot_index: u32) {
        let MatchingEngine {
            pool,
            refs,
            bids,
            asks,
        } = self;
        let slot = *pool.get(slot_index);
        let levels = side_levels(bids, asks, slot.side);
        let level_index = levels
            .search(slot.price)
            .expect("a resting order has a level");
        let level = levels.get_mut(level_index);
        pool.unlink(&mut level.queue, slot_index);
        level.qty -= slot.leaves;
        if level.queue.is_empty() {
            levels.remove(level_index);
        }
        refs.remove(slot.order_ref);
    }

    /// Remove a resting order entirely, emitting `Cancelled{leaves: 0}`;
    /// returns the quantity it had.
    fn remove(&mut self, slot_index: u32, out: &mut dyn FnMut(&BookEvent)) -> i64 {
        let slot = *self.pool.get(slot_index);
        self.dequeue(slot_index);
        self.pool.free(slot_index);
        out(&BookEvent::Cancelled {
            order_ref: slot.order_ref,
            owner: slot.owner,
            client_id: slot.client_id,
            side: slot.side,
            price: slot.price,
            cancelled_qty: slot.leaves,
            leaves: 0,
        });
        slot.leaves
    }

    fn slot_of(&self, order_ref: OrderRef) -> Result<u32, Reject> {
        self.refs.get(order_ref).ok_or(Reject::UnknownOrder)
    }

    /// Removes a resting order; returns its cancelled leaves. Emits
    /// `Cancelled{leaves: 0}`.
    pub fn cancel(
        &mut self,
        order_ref: OrderRef,
        out: &mut dyn FnMut(&BookEvent),
    ) -> Result<i64, Reject> {
        let slot_index = self.slot_of(order_ref)?;
        Ok(self.remove(slot_index, out))
    }

    /// Reduces a resting order's leaves by `qty` keeping its priority
    /// (`Cancelled` with leaves > 0); reducing by >= leaves removes it
    /// (leaves 0). Returns the leaves after.
    pub fn reduce(
        &mut self,
        order_ref: OrderRef,
        qty: i64,
        out: &mut dyn FnMut(&BookEvent),
    ) -> Result<i64, Reject> {
        if qty <= 0 {
            return Err(Reject::BadQty);
        }
        let slot_index = self.slot_of(order_ref)?;
        if qty >= self.pool.get(slot_index).leaves {
            self.remove(slot_index, out);
            return Ok(0);
        }
        Ok(self.reduce_in_place(slot_index, qty, out))
    }

    /// Take `qty` (< leaves) off a resting order keeping its place.
    fn reduce_in_place(
        &mut self,
        slot_index: u32,
        qty: i64,
        out: &mut dyn FnMut(&BookEvent),
    ) -> i64 {
        let slot = self.pool.get_mut(slot_index);
        debug_assert!(
            qty > 0 && qty < slot.leaves,
            "an in-place reduction keeps the order"
        );
        slot.leaves -= qty;
        let slot = *slot;
        let levels = side_levels(&mut self.bids, &mut self.asks, slot.side);
        let level_index = levels
            .search(slot.price)
            .expect("a resting order has a level");
        levels.get_mut(level_index).qty -= qty;
        out(&BookEvent::Cancelled {
            order_ref: slot.order_ref,
            owner: slot.owner,
            client_id: slot.client_id,
            side: slot.side,
            price: slot.price,
            cancelled_qty: qty,
            leaves: slot.leaves,
        });
        slot.leaves
    }

    /// Cancel/replace; `qty` is the new leaves quantity.
    ///
    /// - Same price and `qty` <= current leaves: reduce in place, keeping
    ///   priority (`Cancelled` with leaves > 0; nothing if unchanged). The
    ///   result carries the same ref.
    /// - Otherwise, if the new price does not cross the opposite best:
    ///   `Replaced` with a new ref at the back of its level's queue.
    /// - If it crosses: `Cancelled{leaves: 0}` for the old order, then the
    ///   new price/qty is processed exactly like [`MatchingEngine::submit`]
    ///   (Day, same owner/client_id).
    ///
    /// Refused (nothing changes): `BadQty`, `BadPrice`, `UnknownOrder`, and
    /// `LevelsFull` when a non-crossing replace needs a new level that does
    /// not fit.
    pub fn replace(
        &mut self,
        order_ref: OrderRef,
        price: i64,
        qty: i64,
        ids: &mut Ids,
        out: &mut dyn FnMut(&BookEvent),
    ) -> Result<Submitted, Reject> {
        validate(price, qty)?;
        let slot_index = self.slot_of(order_ref)?;
        let slot = *self.pool.get(slot_index);
        if price == slot.price && qty <= slot.leaves {
            if qty < slot.leaves {
                self.reduce_in_place(slot_index, slot.leaves - qty, out);
            }
            return Ok(Submitted {
                order_ref: Some(order_ref),
                rested_qty: qty,
                ..Submitted::default()
            });
        }
        let opposite_best = self.levels(slot.side.opposite()).best().map(|l| l.price);
        if opposite_best.is_some_and(|best| crosses(slot.side, price, best)) {
            self.remove(slot_index, out);
            let order = NewOrder {
                owner: slot.owner,
                client_id: slot.client_id,
                side: slot.side,
                price,
                qty,
                tif: TimeInForce::Day,
            };
            // Cannot be refused: the price and quantity are valid, a slot was
            // just freed, and the order crosses so at least one lot trades.
            return self.submit(order, ids, out);
        }
        self.check_rest(slot.side, price, Some(slot_index))?;
        self.dequeue(slot_index);
        let new_ref = ids.take_order_ref();
        let moved = self.pool.get_mut(slot_index);
        moved.order_ref = new_ref;
        moved.price = price;
        moved.leaves = qty;
        self.queue_at(slot_index);
        out(&BookEvent::Replaced {
            old_ref: order_ref,
            new_ref,
            owner: slot.owner,
            client_id: slot.client_id,
            side: slot.side,
            old_price: slot.price,
            old_qty: slot.leaves,
            price,
            qty,
        });
        Ok(Submitted {
            order_ref: Some(new_ref),
            rested_qty: qty,
            ..Submitted::default()
        })
    }

    /// Removes every resting order of `owner` (a session that
    /// disconnected), emitting `Cancelled{leaves: 0}` for each, bids then
    /// asks, best price first, oldest first. Returns how many. Cost is
    /// linear in the book: a control path, not a hot one.
    pub fn cancel_all_of(&mut self, owner: u32, out: &mut dyn FnMut(&BookEvent)) -> usize {
        let mut cancelled_count = 0;
        for side in [Side::Buy, Side::Sell] {
            // Best level is last; walking down keeps lower indices valid
            // when a level empties and is removed.
            let mut level_index = self.levels(side).len();
            while level_index > 0 {
                level_index -= 1;
                let mut slot_index = self.levels(side).get(level_index).queue.head;
                while slot_index != NIL {
                    let slot = *self.pool.get(slot_index);
                    let next = slot.next();
                    if slot.owner == owner {
                        self.remove(slot_index, out);
                        cancelled_count += 1;
                    }
                    slot_index = next;
                }
            }
        }
        cancelled_count
    }
}

/// One side's levels, borrowed apart from the rest of the engine's fields.
fn side_levels<'a>(
    bids: &'a mut LevelSide,
    asks: &'a mut LevelSide,
    side: Side,
) -> &'a mut LevelSide {
    match side {
        Side::Buy => bids,
        Side::Sell => asks,
    }
}
