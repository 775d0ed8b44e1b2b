//! One order and its states (the diagram is in the table's module,
//! `orders`): what a live order holds, and what its state says it may do,
//! and its encoding for snapshots and restarts.

use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderState {
    /// Where every order starts (and a preallocated slot's filler).
    #[default]
    PendingNew,
    New,
    PartiallyFilled,
    Filled,
    PendingCancel,
    Cancelled,
    Rejected,
    PendingReplace,
}

impl OrderState {
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Cancelled | OrderState::Rejected
        )
    }

    /// Working at the venue and free to be cancelled or replaced.
    pub fn is_working(self) -> bool {
        matches!(self, OrderState::New | OrderState::PartiallyFilled)
    }

    /// The state's one-byte code in saved state (new codes are only appended).
    pub fn code(self) -> u8 {
        match self {
            OrderState::PendingNew => 0,
            OrderState::New => 1,
            OrderState::PartiallyFilled => 2,
            OrderState::Filled => 3,
            OrderState::PendingCancel => 4,
            OrderState::Cancelled => 5,
            OrderState::Rejected => 6,
            OrderState::PendingReplace => 7,
        }
    }

    pub fn from_code(code: u8) -> Option<OrderState> {
        Some(match code {
            0 => OrderState::PendingNew,
            1 => OrderState::New,
            2 => OrderState::PartiallyFilled,
            3 => OrderState::Filled,
            4 => OrderState::PendingCancel,
            5 => OrderState::Cancelled,
            6 => OrderState::Rejected,
            7 => OrderState::PendingReplace,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub price: Price,
    /// Total ordered quantity.
    pub qty: Qty,
    pub filled: Qty,
    pub state: OrderState,
    /// State to return to if a pending cancel or replace is rejected.
    pub state_before: OrderState,
    /// Price and total quantity a pending replace asks for.
    pub replace_price: Price,
    pub replace_qty: Qty,
    /// The venue's id for the order, from its first ack (0 until then).
    pub venue_order_id: u64,
    /// Replaces requested that left the engine (a request the venue client
    /// refused locally, reason < 0, is taken back): the version the next
    /// replace asks for is one more. A FIX client names version `k` `<id>.r<k>`.
    pub version_sent: u32,
    /// The version the venue accepted last (0: the order as first sent).
    pub version_accepted: u32,
}

/// What a request to the venue names of an order: its id, instrument and
/// side, and the price and total quantity it works at. Opening an order and
/// asking to cancel or replace it answer with these (40 bytes), not with the
/// whole order (88): the callers send a request or drop the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderTerms {
    pub id: OrderId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub price: Price,
    /// Total ordered quantity.
    pub qty: Qty,
}

impl OrderTerms {
    /// The terms `order` works at now.
    #[inline]
    pub fn of(order: &Order) -> OrderTerms {
        OrderTerms {
            id: order.id,
            instrument: order.instrument,
            side: order.side,
            price: order.price,
            qty: order.qty,
        }
    }
}

impl Order {
    /// A new order as it is about to be sent.
    pub fn pending_new(
        id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> Order {
        Order {
            id,
            instrument,
            side,
            price,
            qty,
            filled: Qty(0),
            state: OrderState::PendingNew,
            state_before: OrderState::PendingNew,
            replace_price: price,
            replace_qty: qty,
            venue_order_id: 0,
            version_sent: 0,
            version_accepted: 0,
        }
    }

    pub fn leaves(&self) -> i64 {
        (self.qty.0 - self.filled.0).max(0)
    }

    /// Leaves counted for limits: a pending replace counts at its larger size.
    pub(super) fn exposure(&self) -> i64 {
        if self.state.is_closed() {
            return 0;
        }
        let leaves = self.leaves();
        if self.state == OrderState::PendingReplace {
            return leaves.max(self.replace_qty.0 - self.filled.0).max(0);
        }
        leaves
    }

    pub fn save_state(&self, out: &mut StateWriter) {
        out.u64(self.id.0);
        out.u16(self.instrument.0);
        out.u8(self.side as u8);
        out.i64(self.price.0);
        out.i64(self.qty.0);
        out.i64(self.filled.0);
        out.u8(self.state.code());
        out.u8(self.state_before.code());
        out.i64(self.replace_price.0);
        out.i64(self.replace_qty.0);
        out.u64(self.venue_order_id);
        out.u32(self.version_sent);
        out.u32(self.version_accepted);
    }

    pub fn restore_state(input: &mut StateReader<'_>) -> Result<Order, StateError> {
        let order = Order {
            id: OrderId(input.u64("order.id")?),
            instrument: InstrumentId(input.u16("order.instrument")?),
            side: input.code("order.side", Side::from_u8)?,
            price: Price(input.i64("order.price")?),
            qty: Qty(input.i64("order.qty")?),
            filled: Qty(input.i64("order.filled")?),
            state: input.code("order.state", OrderState::from_code)?,
            state_before: input.code("order.state_before", OrderState::from_code)?,
            replace_price: Price(input.i64("order.replace_price")?),
            replace_qty: Qty(input.i64("order.replace_qty")?),
            venue_order_id: input.u64("order.venue_order_id")?,
            version_sent: input.u32("order.version_sent")?,
            version_accepted: input.u32("order.version_accepted")?,
        };
        let sane = !order.state.is_closed()
            && order.side != Side::None
            && order.filled.0 >= 0
            && order.version_accepted <= order.version_sent;
        if !sane {
            return Err(StateError::Inconsistent {
                what: "order",
                detail:
                    "an open order is closed, has no side, a negative fill or an unsent version",
            });
        }
        Ok(order)
    }

    /// The state a fill or an ack leaves a non-pending order in.
    pub(super) fn filled_state(&self) -> OrderState {
        if self.filled.0 >= self.qty.0 {
            OrderState::Filled
        } else if self.filled.0 > 0 {
            OrderState::PartiallyFilled
        } else {
            OrderState::New
        }
    }
}
