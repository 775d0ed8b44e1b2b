//! The order table: the order state machine and the live orders, shared by
//! execution (authoritative) and the strategy stage's replica.
//!
//! ```text
//! PendingNew ──ack──> New ──fill──> PartiallyFilled ──fill──> Filled
//!     │                │  └─cancel─> PendingCancel ──ack──> Cancelled
//!     └──reject──> Rejected └─replace─> PendingReplace ──ack──> New/PartiallyFilled
//! ```
//! A fill is applied in any live state, so a fill that races a cancel or a
//! replace completes the order; a cancel or replace reject puts the order
//! back in the state it left. Closed orders are remembered for a while so
//! that a late message for them is recognised rather than called unknown.
//!
//! Both the open orders ([`open`]) and the memory of closed ones
//! ([`closed`]) are found by the id's low bits, not by hashing: engine order
//! ids are issued in sequence, so each order's replies read one slot.
//!
//! Two replicas of this table exist, fed by the same inputs: execution's,
//! which is authoritative and sends, and the strategy stage's, which lets
//! pre-trade checks count open exposure without waiting for execution.
//!
//! Invariants, asserted (in debug builds, after every change): an order is
//! never both open and closed; no more than `open_capacity` are open; each
//! instrument's exposure is the sum of its open orders' exposures, never
//! negative. A restore checks the same and refuses state that breaks them.
//!
//! Carried across a restart (`save_state`/`restore_state`): the open orders
//! with their states, versions and venue ids, in id order, and the memory
//! of closed orders (ids with final states). Exposure is recomputed from
//! the orders.

use crate::decision::{ExecResult, Outcome};
use crate::event::{venue_reason, Fill, OrderAck, OrderReject, RejectedRequest};
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

mod closed;
pub mod lineage;
mod open;
mod order;
mod reconcile;

use closed::ClosedOrders;
use open::{Held, OpenOrders};

pub use lineage::Lineage;
pub use order::{Order, OrderState, OrderTerms};

/// Open buy and sell quantity of one instrument, for limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    pub buy_lots: i64,
    pub sell_lots: i64,
}

pub struct Orders {
    open: OpenOrders,
    closed: ClosedOrders,
    exposure: Vec<Exposure>,
    open_capacity: usize,
}

impl Orders {
    pub fn new(instrument_count: usize, open_capacity: usize, closed_memory: usize) -> Orders {
        Orders {
            open: OpenOrders::with_capacity(open_capacity),
            closed: ClosedOrders::with_capacity(closed_memory),
            exposure: vec![Exposure::default(); instrument_count],
            open_capacity,
        }
    }

    /// Sized from config: room for twice the open-order limit, and the closed orders among the last 16k ids.
    pub fn for_config(config: &crate::config::Config) -> Orders {
        Orders::new(
            config.instruments.len(),
            config.risk.max_open_orders * 2 + 16,
            16_384,
        )
    }

    #[inline]
    pub fn get(&self, id: OrderId) -> Option<&Order> {
        self.open.get(id.0)
    }

    /// The final state of a recently closed order.
    #[inline]
    pub fn closed_state(&self, id: OrderId) -> Option<OrderState> {
        self.closed.get(id.0)
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    pub fn exposure(&self, instrument: InstrumentId) -> Exposure {
        self.exposure
            .get(instrument.index())
            .copied()
            .unwrap_or_default()
    }

    /// Every instrument's exposure, by instrument index.
    #[inline]
    pub fn exposures(&self) -> &[Exposure] {
        &self.exposure
    }

    pub fn iter_open(&self) -> impl Iterator<Item = &Order> {
        self.open.iter()
    }

    /// Whether a new order `id` on `instrument` may be opened: an id open
    /// or closed before is a duplicate; an unknown instrument or a full
    /// table refuses the send.
    #[inline(always)]
    fn may_open(&self, id: OrderId, instrument: InstrumentId) -> Result<(), ExecResult> {
        if self.closed_state(id).is_some() || self.open.contains(id.0) {
            return Err(ExecResult::DuplicateOrderId);
        }
        if instrument.index() >= self.exposure.len() || self.open.len() >= self.open_capacity {
            return Err(ExecResult::SendFailed);
        }
        Ok(())
    }

    /// Records a new order about to be sent; the terms it is sent on
    /// (always inlined: its two callers, one per table, each pay no call,
    /// and the strategy's replica, which drops the terms, copies nothing).
    #[inline(always)]
    pub fn open_new(
        &mut self,
        id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> Result<OrderTerms, ExecResult> {
        if let Some(index) = self.open.free_slot_for(id.0) {
            // The common open: the id's slot is free and nothing spilled,
            // so the id is not open; `may_open`'s other checks, in its
            // order, then the order written in that slot.
            if self.closed_state(id).is_some() {
                return Err(ExecResult::DuplicateOrderId);
            }
            if instrument.index() >= self.exposure.len() || self.open.len() >= self.open_capacity {
                return Err(ExecResult::SendFailed);
            }
            self.open
                .open_in_free_slot(index, id, instrument, side, price, qty);
        } else {
            self.may_open(id, instrument)?;
            if !self
                .open
                .insert_pending_new(id, instrument, side, price, qty)
            {
                // Only the free-slot marker is refused here.
                return Err(ExecResult::DuplicateOrderId);
            }
        }
        // A pending new order's exposure is its quantity (nothing filled).
        self.add_lots(instrument, side, qty.0.max(0));
        debug_assert!(
            self.open.len() <= self.open_capacity,
            "open orders are bounded"
        );
        debug_assert!(self.exposure_is_consistent(instrument));
        Ok(OrderTerms {
            id,
            instrument,
            side,
            price,
            qty,
        })
    }

    /// [`Orders::open_new`] through the general insert: the order built,
    /// copied into the table and its exposure read back (the reference its
    /// in-place open is tested against).
    #[cfg(test)]
    fn open_new_general(
        &mut self,
        id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> Result<OrderTerms, ExecResult> {
        self.may_open(id, instrument)?;
        let order = Order::pending_new(id, instrument, side, price, qty);
        if !self.open.insert_absent(order) {
            return Err(ExecResult::DuplicateOrderId);
        }
        self.add_exposure(&order, 1);
        Ok(OrderTerms::of(&order))
    }

    /// Marks a cancel as requested; the order must be live and not already
    /// being cancelled. The terms the order works at (inlined: the
    /// strategy's replica drops them).
    #[inline]
    pub fn request_cancel(&mut self, id: OrderId) -> Result<OrderTerms, ExecResult> {
        // The common cancel, of a pending new or working order: it stays
        // open and its exposure (its leaves, pending cancel or not) does not
        // change, so its slot changes in place, without the exposure before
        // and after. A pending replace's exposure may shrink: the general
        // update.
        if let Some(order) = self.open.get_mut(id.0) {
            if matches!(
                order.state,
                OrderState::PendingNew | OrderState::New | OrderState::PartiallyFilled
            ) {
                order.state_before = order.state;
                order.state = OrderState::PendingCancel;
                return Ok(OrderTerms::of(order));
            }
        }
        self.request_cancel_general(id)
    }

    /// [`Orders::request_cancel`] for every state (the reference its fast
    /// path is tested against).
    #[inline(never)]
    fn request_cancel_general(&mut self, id: OrderId) -> Result<OrderTerms, ExecResult> {
        self.update(id, |order| match order.state {
            OrderState::PendingNew
            | OrderState::New
            | OrderState::PartiallyFilled
            | OrderState::PendingReplace => {
                order.state_before = order.state;
                order.state = OrderState::PendingCancel;
                Ok(OrderTerms::of(order))
            }
            _ => Err(ExecResult::OrderNotWorking),
        })
        .unwrap_or_else(|| Err(self.missing(id)))
    }

    /// Marks a replace as requested; only a working order can be replaced,
    /// and not below its fills. The terms the order works at until the
    /// venue accepts the replace.
    pub fn request_replace(
        &mut self,
        id: OrderId,
        price: Price,
        qty: Qty,
    ) -> Result<OrderTerms, ExecResult> {
        self.update(id, |order| {
            if !order.state.is_working() || qty.0 <= order.filled.0 {
                return Err(ExecResult::OrderNotWorking);
            }
            order.state_before = order.state;
            order.state = OrderState::PendingReplace;
            order.replace_price = price;
            order.replace_qty = qty;
            order.version_sent += 1;
            Ok(OrderTerms::of(order))
        })
        .unwrap_or_else(|| Err(self.missing(id)))
    }

    fn missing(&self, id: OrderId) -> ExecResult {
        if self.closed_state(id).is_some() {
            ExecResult::OrderNotWorking
        } else {
            ExecResult::UnknownOrder
        }
    }

    #[inline(always)]
    pub fn on_ack(&mut self, ack: &OrderAck) -> Outcome {
        // The common ack, a new order's before it filled in full: the order
        // stays open and its exposure (its leaves) does not change, so its
        // slot changes in place, without the exposure before and after.
        if let Some(order) = self.open.get_mut(ack.order_id.0) {
            if order.state == OrderState::PendingNew && order.filled.0 < order.qty.0 {
                order.state = order.filled_state();
                order.venue_order_id = ack.venue_order_id;
                debug_assert!(!order.state.is_closed(), "the order stays open");
                let instrument = order.instrument;
                debug_assert!(self.exposure_is_consistent(instrument));
                return Outcome::Applied;
            }
        }
        self.on_ack_general(ack)
    }

    /// [`Orders::on_ack`] for every state (the reference its fast path is
    /// tested against).
    #[inline(never)]
    fn on_ack_general(&mut self, ack: &OrderAck) -> Outcome {
        let outcome = self.update(ack.order_id, |order| match order.state {
            OrderState::PendingNew => {
                order.state = order.filled_state();
                order.venue_order_id = ack.venue_order_id;
                Outcome::Applied
            }
            OrderState::PendingReplace => {
                // A venue that does not echo the price (FIX's ExecutionReport
                // carries OrderQty but may omit Price) leaves it zero: keep ours.
                order.price = if ack.price.0 > 0 {
                    ack.price
                } else {
                    order.replace_price
                };
                order.qty = if ack.qty.0 > 0 {
                    ack.qty
                } else {
                    order.replace_qty
                };
                order.state = order.filled_state();
                order.version_accepted = order.version_sent;
                Outcome::Applied
            }
            // The ack of the new order overtook by our cancel: it stays pending cancel.
            OrderState::PendingCancel if order.state_before == OrderState::PendingNew => {
                order.state_before = OrderState::New;
                order.venue_order_id = ack.venue_order_id;
                Outcome::Applied
            }
            _ => Outcome::InvalidTransition,
        });
        self.settle(ack.order_id, outcome)
    }

    #[inline(always)]
    pub fn on_fill(&mut self, side: Side, fill: &Fill) -> Outcome {
        // The common fill, on a working order's side and within its leaves:
        // the exposure (the leaves) falls by the fill, the state follows the
        // filled quantity, and the order closes only when filled in full.
        if let Some((order, held)) = self.open.find_mut(fill.order_id.0) {
            if order.state.is_working()
                && side == order.side
                && fill.qty.0 > 0
                && fill.qty.0 <= order.qty.0 - order.filled.0
            {
                order.filled = Qty(order.filled.0 + fill.qty.0);
                order.state = order.filled_state();
                let (instrument, state) = (order.instrument, order.state);
                self.add_lots(instrument, side, -fill.qty.0);
                if state == OrderState::Filled {
                    self.close_held(fill.order_id, held, state);
                }
                debug_assert!(self.exposure_is_consistent(instrument));
                return Outcome::Applied;
            }
        }
        self.on_fill_general(side, fill)
    }

    /// [`Orders::on_fill`] for every state (the reference its fast path is
    /// tested against).
    #[inline(never)]
    fn on_fill_general(&mut self, side: Side, fill: &Fill) -> Outcome {
        let outcome = self.update(fill.order_id, |order| {
            if side != order.side {
                return Outcome::InvalidTransition;
            }
            order.filled = Qty(order.filled.0 + fill.qty.0);
            let overfilled = order.filled.0 > order.qty.0;
            match order.state {
                // A fill racing our cancel or replace: the order may complete under it.
                OrderState::PendingCancel | OrderState::PendingReplace
                    if order.filled.0 < order.qty.0 =>
                {
                    order.state_before = order.filled_state();
                }
                _ => order.state = order.filled_state(),
            }
            if overfilled {
                Outcome::Overfill
            } else {
                Outcome::Applied
            }
        });
        self.settle(fill.order_id, outcome)
    }

    #[inline(always)]
    pub fn on_cancel_ack(&mut self, id: OrderId) -> Outcome {
        // The common cancel ack, of an order that is not pending a replace:
        // its exposure is its leaves, all of which it gives back as it closes.
        if let Some((order, held)) = self.open.find_mut(id.0) {
            if order.state != OrderState::PendingReplace {
                let (instrument, side, leaves) = (order.instrument, order.side, order.leaves());
                self.add_lots(instrument, side, -leaves);
                self.close_held(id, held, OrderState::Cancelled);
                debug_assert!(self.exposure_is_consistent(instrument));
                return Outcome::Applied;
            }
        }
        self.on_cancel_ack_general(id)
    }

    /// [`Orders::on_cancel_ack`] for every state (the reference its fast
    /// path is tested against).
    #[inline(never)]
    fn on_cancel_ack_general(&mut self, id: OrderId) -> Outcome {
        let outcome = self.update(id, |order| {
            order.state = OrderState::Cancelled;
            Outcome::Applied
        });
        self.settle(id, outcome)
    }

    pub fn on_reject(&mut self, reject: &OrderReject) -> Outcome {
        let outcome = self.update(reject.order_id, |order| {
            match (reject.request, order.state) {
                // The venue does not know the order: it is not live there,
                // whatever this table thought (a venue restart, a purge, a
                // fill we have not read yet). Closed; a fill still in flight
                // is applied as a late message, and positions count it.
                (RejectedRequest::Cancel | RejectedRequest::Replace, _)
                    if reject.venue_reason == venue_reason::UNKNOWN_ORDER =>
                {
                    order.state = OrderState::Cancelled;
                    Outcome::Applied
                }
                (RejectedRequest::New, OrderState::PendingNew)
                | (RejectedRequest::New, OrderState::PendingCancel)
                    if order.filled.0 == 0 =>
                {
                    order.state = OrderState::Rejected;
                    Outcome::Applied
                }
                (RejectedRequest::Cancel, OrderState::PendingCancel) => {
                    order.state = order.state_before;
                    Outcome::Applied
                }
                (RejectedRequest::Replace, OrderState::PendingReplace) => {
                    order.state = order.state_before;
                    if reject.venue_reason < 0 {
                        // Refused by the venue client itself: it never left.
                        order.version_sent = order.version_sent.saturating_sub(1);
                    }
                    Outcome::Applied
                }
                // A cancel reject for an order that filled meanwhile: nothing to undo.
                (RejectedRequest::Cancel, _) => Outcome::Applied,
                _ => Outcome::InvalidTransition,
            }
        });
        self.settle(reject.order_id, outcome)
    }

    /// Applies `change` to an open order, keeping the exposure totals right.
    /// One look-up in the table: the order is changed in its slot, and
    /// taken out only when it closes.
    /// Reads back only what it needs from the changed order (no copy of it).
    fn update<T>(&mut self, id: OrderId, change: impl FnOnce(&mut Order) -> T) -> Option<T> {
        debug_assert!(
            self.open.get(id.0).is_none() || self.closed_state(id).is_none(),
            "an open order is not among the closed"
        );
        let slot = self.open.get_mut(id.0)?;
        let exposure_before = slot.exposure();
        let (instrument, side) = (slot.instrument, slot.side);
        let result = change(slot);
        debug_assert!(
            slot.id == id && slot.instrument == instrument && slot.side == side,
            "a change keeps the order's identity, instrument and side"
        );
        let (exposure_after, state) = (slot.exposure(), slot.state);
        let change_lots = exposure_after - exposure_before;
        if change_lots != 0 {
            self.add_lots(instrument, side, change_lots);
        }
        if state.is_closed() {
            self.close(id, state);
        }
        debug_assert!(self.exposure_is_consistent(instrument));
        Some(result)
    }

    /// Moves an open order to the memory of closed ones, in its final `state`.
    #[inline(always)]
    fn close(&mut self, id: OrderId, state: OrderState) {
        debug_assert!(state.is_closed(), "a closed order is in a final state");
        self.open.remove(id.0);
        self.closed.insert(id.0, state);
    }

    /// [`Orders::close`] of an order held where [`OpenOrders::find_mut`]
    /// found it.
    #[inline(always)]
    fn close_held(&mut self, id: OrderId, held: Held, state: OrderState) {
        debug_assert!(state.is_closed(), "a closed order is in a final state");
        self.open.remove_held(id.0, held);
        self.closed.insert(id.0, state);
    }

    /// The outcome for a message about `id`, given what `update` found.
    fn settle(&self, id: OrderId, outcome: Option<Outcome>) -> Outcome {
        match outcome {
            Some(outcome) => outcome,
            None if self.closed_state(id).is_some() => Outcome::LateForClosedOrder,
            None => Outcome::UnknownOrder,
        }
    }

    /// Writes the open orders (by id) and the closed-order memory.
    pub fn save_state(&self, out: &mut StateWriter) {
        let mut open: Vec<&Order> = self.open.iter().collect();
        open.sort_unstable_by_key(|order| order.id.0);
        out.count(open.len());
        for order in open {
            order.save_state(out);
        }
        self.closed.save_state(out);
    }

    /// Reads back what `save_state` wrote and recomputes the exposure.
    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        self.open.clear();
        self.exposure.fill(Exposure::default());
        let count = input.count("open orders", self.open_capacity)?;
        for _ in 0..count {
            let order = Order::restore_state(input)?;
            if order.instrument.index() >= self.exposure.len() {
                return Err(StateError::Shape {
                    what: "instrument index of an order (below the instrument count)",
                    expected: self.exposure.len() as u64,
                    found: u64::from(order.instrument.0),
                });
            }
            if !self.open.insert_new(order) {
                return Err(StateError::Inconsistent {
                    what: "order table",
                    detail: "an order id is listed twice",
                });
            }
            self.add_exposure(&order, 1);
        }
        self.closed.restore_state(input)?;
        let overlap = self
            .open
            .iter()
            .any(|order| self.closed_state(order.id).is_some());
        let exposure_ok = (0..self.exposure.len())
            .all(|index| self.exposure_is_consistent(InstrumentId(index as u16)));
        if overlap || !exposure_ok {
            return Err(StateError::Inconsistent {
                what: "order table",
                detail: "an order is both open and closed, or exposure went negative",
            });
        }
        Ok(())
    }

    fn add_exposure(&mut self, order: &Order, sign: i64) {
        self.add_lots(order.instrument, order.side, order.exposure() * sign);
    }

    /// Adds `lots` (negative: takes them) to one side of an instrument's exposure.
    fn add_lots(&mut self, instrument: InstrumentId, side: Side, lots: i64) {
        let Some(exposure) = self.exposure.get_mut(instrument.index()) else {
            return;
        };
        match side {
            Side::Buy => exposure.buy_lots += lots,
            Side::Sell => exposure.sell_lots += lots,
            Side::None => {}
        }
        debug_assert!(
            exposure.buy_lots >= 0 && exposure.sell_lots >= 0,
            "exposure never goes negative"
        );
    }

    /// The instrument's exposure totals equal the sum over its open orders
    /// (a walk over the open orders: for debug assertions).
    fn exposure_is_consistent(&self, instrument: InstrumentId) -> bool {
        let mut sum = Exposure::default();
        for order in self
            .open
            .iter()
            .filter(|order| order.instrument == instrument)
        {
            match order.side {
                Side::Buy => sum.buy_lots += order.exposure(),
                Side::Sell => sum.sell_lots += order.exposure(),
                Side::None => {}
            }
        }
        self.exposure
            .get(instrument.index())
            .is_none_or(|exposure| *exposure == sum)
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::ExecId;

    const ID: OrderId = OrderId(7);
    const INSTRUMENT: InstrumentId = InstrumentId(0);

    fn table_with_order(qty: i64) -> Orders {
        let mut orders = Orders::new(1, 16, 16);
        orders
            .open_new(ID, INSTRUMENT, Side::Buy, Price(100), Qty(qty))
            .unwrap();
        orders
    }

    fn ack(price: i64, qty: i64) -> OrderAck {
        OrderAck {
            order_id: ID,
            venue_order_id: 1,
            price: Price(price),
            qty: Qty(qty),
        }
    }

    fn fill(exec: u64, qty: i64) -> Fill {
        Fill {
            order_id: ID,
            exec_id: ExecId(exec),
            price: Price(100),
            qty: Qty(qty),
        }
    }

    fn reject(request: RejectedRequest) -> OrderReject {
        OrderReject {
            order_id: ID,
            request,
            venue_reason: 0,
        }
    }

    fn state(orders: &Orders) -> Option<OrderState> {
        orders.get(ID).map(|o| o.state).or(orders.closed_state(ID))
    }

    // pending-new → new → partially filled → filled, with exposure following the leaves.
    #[test]
    fn new_ack_partial_fill_complete() {
        let mut orders = table_with_order(10);
        assert_eq!(state(&orders), Some(OrderState::PendingNew));
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 10);
        assert_eq!(orders.on_ack(&ack(100, 10)), Outcome::Applied);
        assert_eq!(state(&orders), Some(OrderState::New));
        assert_eq!(orders.on_fill(Side::Buy, &fill(1, 4)), Outcome::Applied);
        assert_eq!(state(&orders), Some(OrderState::PartiallyFilled));
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 6);
        assert_eq!(orders.on_fill(Side::Buy, &fill(2, 6)), Outcome::Applied);
        assert_eq!(state(&orders), Some(OrderState::Filled));
        assert_eq!(orders.open_count(), 0);
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 0);
    }

    // A replace or cancel the venue refuses because it does not know the
    // order closes it; refused for another reason, the order stays working.
    #[test]
    fn unknown_at_the_venue_closes_the_order() {
        for request in [RejectedRequest::Replace, RejectedRequest::Cancel] {
            let mut orders = table_with_order(10);
            orders.on_ack(&ack(100, 10));
            let pending = match request {
                RejectedRequest::Replace => orders.request_replace(ID, Price(101), Qty(10)),
                _ => orders.request_cancel(ID),
            };
            assert!(pending.is_ok(), "{request:?}");
            let refused = OrderReject {
                venue_reason: venue_reason::OTHER,
                ..reject(request)
            };
            assert_eq!(orders.on_reject(&refused), Outcome::Applied);
            assert_eq!(state(&orders), Some(OrderState::New), "{request:?}");
            let _ = match request {
                RejectedRequest::Replace => orders.request_replace(ID, Price(101), Qty(10)),
                _ => orders.request_cancel(ID),
            };
            let unknown = OrderReject {
                venue_reason: venue_reason::UNKNOWN_ORDER,
                ..reject(request)
            };
            assert_eq!(orders.on_reject(&unknown), Outcome::Applied);
            assert_eq!(state(&orders), Some(OrderState::Cancelled), "{request:?}");
            assert_eq!(orders.open_count(), 0);
            assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 0);
            // A fill still in flight arrives late, and is reported so.
            assert_eq!(
                orders.on_fill(Side::Buy, &fill(9, 2)),
                Outcome::LateForClosedOrder
            );
        }
    }

    // pending-new → rejected by the venue closes the order and frees its exposure.
    #[test]
    fn venue_reject_of_new_order() {
        let mut orders = table_with_order(10);
        assert_eq!(
            orders.on_reject(&reject(RejectedRequest::New)),
            Outcome::Applied
        );
        assert_eq!(state(&orders), Some(OrderState::Rejected));
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 0);
    }

    // new → pending-cancel → cancelled.
    #[test]
    fn cancel_then_cancel_ack() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        assert!(orders.request_cancel(ID).is_ok());
        assert_eq!(state(&orders), Some(OrderState::PendingCancel));
        // A second cancel while one is pending is refused.
        assert_eq!(orders.request_cancel(ID), Err(ExecResult::OrderNotWorking));
        assert_eq!(orders.on_cancel_ack(ID), Outcome::Applied);
        assert_eq!(state(&orders), Some(OrderState::Cancelled));
    }

    // Cancel/fill race: the fill that completes the order arrives while the cancel is pending;
    // the venue's cancel reject that follows is recognised as late, not unknown.
    #[test]
    fn fill_completes_order_under_pending_cancel() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        orders.request_cancel(ID).unwrap();
        assert_eq!(orders.on_fill(Side::Buy, &fill(1, 10)), Outcome::Applied);
        assert_eq!(state(&orders), Some(OrderState::Filled));
        assert_eq!(
            orders.on_reject(&reject(RejectedRequest::Cancel)),
            Outcome::LateForClosedOrder
        );
        assert_eq!(orders.on_cancel_ack(ID), Outcome::LateForClosedOrder);
    }

    // Cancel/fill race: a partial fill under a pending cancel, then the cancel ack: cancelled with the fill kept.
    #[test]
    fn partial_fill_under_pending_cancel_then_cancelled() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        orders.request_cancel(ID).unwrap();
        orders.on_fill(Side::Buy, &fill(1, 3));
        assert_eq!(state(&orders), Some(OrderState::PendingCancel));
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 7);
        orders.on_cancel_ack(ID);
        assert_eq!(state(&orders), Some(OrderState::Cancelled));
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 0);
    }

    // A cancel reject puts the order back where it was, including a fill that came meanwhile.
    #[test]
    fn cancel_reject_restores_state() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        orders.request_cancel(ID).unwrap();
        orders.on_fill(Side::Buy, &fill(1, 2));
        assert_eq!(
            orders.on_reject(&reject(RejectedRequest::Cancel)),
            Outcome::Applied
        );
        assert_eq!(state(&orders), Some(OrderState::PartiallyFilled));
    }

    // A cancel sent before the new order's ack: the ack keeps it pending cancel.
    #[test]
    fn ack_overtaken_by_cancel() {
        let mut orders = table_with_order(10);
        orders.request_cancel(ID).unwrap();
        assert_eq!(orders.on_ack(&ack(100, 10)), Outcome::Applied);
        assert_eq!(state(&orders), Some(OrderState::PendingCancel));
        orders.on_cancel_ack(ID);
        assert_eq!(state(&orders), Some(OrderState::Cancelled));
    }

    // Replace: pending-replace counts the larger size; the ack applies the new price and size.
    #[test]
    fn replace_then_ack() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        orders.request_replace(ID, Price(101), Qty(15)).unwrap();
        assert_eq!(state(&orders), Some(OrderState::PendingReplace));
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 15);
        assert_eq!(orders.on_ack(&ack(101, 15)), Outcome::Applied);
        let order = *orders.get(ID).unwrap();
        assert_eq!(
            (order.state, order.price, order.qty),
            (OrderState::New, Price(101), Qty(15))
        );
    }

    // A replace reject restores the order; a replace below the filled quantity is refused up front.
    #[test]
    fn replace_reject_and_invalid_replace() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        orders.on_fill(Side::Buy, &fill(1, 4));
        assert_eq!(
            orders.request_replace(ID, Price(100), Qty(4)),
            Err(ExecResult::OrderNotWorking)
        );
        orders.request_replace(ID, Price(99), Qty(8)).unwrap();
        assert_eq!(
            orders.on_reject(&reject(RejectedRequest::Replace)),
            Outcome::Applied
        );
        let order = *orders.get(ID).unwrap();
        assert_eq!(
            (order.state, order.price, order.qty),
            (OrderState::PartiallyFilled, Price(100), Qty(10))
        );
    }

    // A fill that completes the order while a replace is pending closes it.
    #[test]
    fn fill_completes_order_under_pending_replace() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        orders.request_replace(ID, Price(101), Qty(12)).unwrap();
        orders.on_fill(Side::Buy, &fill(1, 10));
        assert_eq!(state(&orders), Some(OrderState::Filled));
        assert_eq!(orders.on_ack(&ack(101, 12)), Outcome::LateForClosedOrder);
    }

    // Fills for orders never seen are reported as unknown; more than ordered is an overfill.
    #[test]
    fn unknown_order_and_overfill() {
        let mut orders = table_with_order(10);
        let stranger = Fill {
            order_id: OrderId(999),
            ..fill(1, 1)
        };
        assert_eq!(orders.on_fill(Side::Buy, &stranger), Outcome::UnknownOrder);
        orders.on_ack(&ack(100, 10));
        assert_eq!(orders.on_fill(Side::Buy, &fill(2, 12)), Outcome::Overfill);
        assert_eq!(state(&orders), Some(OrderState::Filled));
    }

    // An order id can be used once only, even after the order closed.
    #[test]
    fn duplicate_order_id_is_refused() {
        let mut orders = table_with_order(10);
        assert_eq!(
            orders.open_new(ID, INSTRUMENT, Side::Sell, Price(1), Qty(1)),
            Err(ExecResult::DuplicateOrderId)
        );
        orders.on_reject(&reject(RejectedRequest::New));
        assert_eq!(
            orders.open_new(ID, INSTRUMENT, Side::Sell, Price(1), Qty(1)),
            Err(ExecResult::DuplicateOrderId)
        );
    }

    // An order that stays open while many newer ids open and close (the
    // ones mapping to its slot spill past it) keeps working; a recently
    // closed id answers late, an id never sent answers unknown.
    #[test]
    fn a_long_lived_order_beside_many_short_ones() {
        let mut orders = table_with_order(10);
        orders.on_ack(&ack(100, 10));
        for id in 8..3_000 {
            let id = OrderId(id);
            orders
                .open_new(id, INSTRUMENT, Side::Sell, Price(101), Qty(1))
                .unwrap();
            assert_eq!(orders.on_cancel_ack(id), Outcome::Applied);
        }
        assert_eq!(orders.open_count(), 1);
        assert_eq!(orders.exposure(INSTRUMENT).sell_lots, 0);
        assert_eq!(orders.on_fill(Side::Buy, &fill(1, 10)), Outcome::Applied);
        assert_eq!(orders.open_count(), 0);
        // The memory holds 16 ids: a newer closed id keeps the old one's slot.
        assert_eq!(state(&orders), None);
        assert_eq!(
            orders.on_cancel_ack(OrderId(2_999)),
            Outcome::LateForClosedOrder
        );
        assert_eq!(orders.on_cancel_ack(OrderId(9_999)), Outcome::UnknownOrder);
        assert_eq!(
            orders.open_new(OrderId(2_999), INSTRUMENT, Side::Buy, Price(1), Qty(1)),
            Err(ExecResult::DuplicateOrderId)
        );
    }

    // Open orders in their slots and spilled past them, and the closed
    // memory, survive a save and restore; saving again gives the same bytes.
    #[test]
    fn save_restore_with_spilled_orders() {
        let mut orders = Orders::new(1, 16, 64);
        for id in [1, 2, 3, 1 + 32, 1 + 64] {
            orders
                .open_new(OrderId(id), INSTRUMENT, Side::Buy, Price(100), Qty(2))
                .unwrap();
        }
        orders.on_cancel_ack(OrderId(2));
        let mut out = StateWriter::new();
        orders.save_state(&mut out);
        let bytes = out.into_bytes();
        let mut back = Orders::new(1, 16, 64);
        back.restore_state(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(back.open_count(), 4);
        assert_eq!(back.exposure(INSTRUMENT).buy_lots, 8);
        assert!(back.get(OrderId(1 + 64)).is_some());
        assert_eq!(back.closed_state(OrderId(2)), Some(OrderState::Cancelled));
        let mut again = StateWriter::new();
        back.save_state(&mut again);
        assert_eq!(again.into_bytes(), bytes);
    }

    // A fill on the wrong side for the order is not applied.
    #[test]
    fn wrong_side_fill_is_invalid() {
        let mut orders = table_with_order(10);
        assert_eq!(
            orders.on_fill(Side::Sell, &fill(1, 1)),
            Outcome::InvalidTransition
        );
        assert_eq!(orders.get(ID).unwrap().filled, Qty(0));
    }
}
