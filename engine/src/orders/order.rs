//! One order and its states (the diagram is in the table's module,
//! `orders`): what a live order holds, and what its state says it may do.

use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
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
}

impl Order {
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
