//! The order table's side of reconciliation with the venue: an order takes
//! the venue's terms or is adopted from it, and closes in the state the
//! venue reports. Execution calls these when it reads the venue's answer;
//! the strategy stage's replica calls them when the flagged events that
//! carry execution's decisions reach it.
//!
//! Same owning thread and invariants as the table (`orders`): exposure stays
//! the sum of the open orders', and an id closed once is never reopened.

use super::{Order, OrderState, Orders};
use crate::decision::Outcome;
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

impl Orders {
    /// The venue works `id` at `price` for `qty` in total (a zero keeps
    /// ours). An open order takes those terms and leaves any pending state
    /// (the request it waited on was lost or refused); an order the table
    /// does not hold is entered working with nothing filled (its fills come
    /// as fills). An id the table closed is not reopened.
    pub fn adopt(
        &mut self,
        id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> Outcome {
        if self.open.contains(id.0) {
            let outcome = self.update(id, |order| {
                if price.0 > 0 {
                    order.price = price;
                }
                if qty.0 > 0 {
                    order.qty = qty;
                }
                order.state = order.filled_state();
                order.state_before = order.state;
                Outcome::Applied
            });
            return self.settle(id, outcome);
        }
        if self.closed_state(id).is_some() {
            return Outcome::LateForClosedOrder;
        }
        if instrument.index() >= self.exposure.len()
            || self.open.len() >= self.open_capacity
            || side == Side::None
            || qty.0 <= 0
        {
            return Outcome::InvalidTransition;
        }
        let order = Order {
            state: OrderState::New,
            state_before: OrderState::New,
            ..Order::pending_new(id, instrument, side, price, qty)
        };
        if !self.open.insert_new(order) {
            // The one id no order may have (the open table's free marker).
            return Outcome::InvalidTransition;
        }
        self.add_exposure(&order, 1);
        debug_assert!(
            self.open.len() <= self.open_capacity,
            "open orders are bounded"
        );
        debug_assert!(self.exposure_is_consistent(instrument));
        Outcome::Applied
    }

    /// Closes an open order in `state` (filled, cancelled or rejected), as the venue reports it.
    pub fn close_as(&mut self, id: OrderId, state: OrderState) -> Outcome {
        assert!(state.is_closed(), "an order closes in a closed state");
        let outcome = self.update(id, |order| {
            order.state = state;
            Outcome::Applied
        });
        self.settle(id, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Fill;
    use crate::units::ExecId;

    const ID: OrderId = OrderId(7);
    const INSTRUMENT: InstrumentId = InstrumentId(0);

    // An order the table never saw is adopted working, counts in the
    // exposure, fills like any other and closes as the venue says.
    #[test]
    fn adopted_order_works_fills_and_closes() {
        let mut orders = Orders::new(1, 4, 4);
        let adopted = orders.adopt(ID, INSTRUMENT, Side::Sell, Price(105), Qty(10));
        assert_eq!(adopted, Outcome::Applied);
        assert_eq!(orders.get(ID).map(|o| o.state), Some(OrderState::New));
        assert_eq!(orders.exposure(INSTRUMENT).sell_lots, 10);
        let fill = Fill {
            order_id: ID,
            exec_id: ExecId(1),
            price: Price(105),
            qty: Qty(4),
        };
        assert_eq!(orders.on_fill(Side::Sell, &fill), Outcome::Applied);
        assert_eq!(orders.exposure(INSTRUMENT).sell_lots, 6);
        assert_eq!(orders.close_as(ID, OrderState::Cancelled), Outcome::Applied);
        assert_eq!(orders.closed_state(ID), Some(OrderState::Cancelled));
        assert_eq!(orders.exposure(INSTRUMENT).sell_lots, 0);
        // Closed once, never reopened.
        assert_eq!(
            orders.adopt(ID, INSTRUMENT, Side::Sell, Price(105), Qty(10)),
            Outcome::LateForClosedOrder
        );
    }

    // An order pending a replace takes the venue's terms and works again.
    #[test]
    fn open_order_takes_the_venue_terms() {
        let mut orders = Orders::new(1, 4, 4);
        orders
            .open_new(ID, INSTRUMENT, Side::Buy, Price(100), Qty(10))
            .unwrap();
        orders.on_ack(&crate::event::OrderAck {
            order_id: ID,
            venue_order_id: 1,
            price: Price(100),
            qty: Qty(10),
        });
        orders.request_replace(ID, Price(101), Qty(12)).unwrap();
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 12);
        assert_eq!(
            orders.adopt(ID, INSTRUMENT, Side::Buy, Price(99), Qty(8)),
            Outcome::Applied
        );
        let order = *orders.get(ID).unwrap();
        assert_eq!(
            (order.state, order.price, order.qty),
            (OrderState::New, Price(99), Qty(8))
        );
        assert_eq!(orders.exposure(INSTRUMENT).buy_lots, 8);
    }

    // No room, no side or no quantity: nothing is entered.
    #[test]
    fn adoption_refuses_what_cannot_be_held() {
        let mut orders = Orders::new(1, 1, 4);
        assert_eq!(
            orders.adopt(ID, INSTRUMENT, Side::None, Price(1), Qty(1)),
            Outcome::InvalidTransition
        );
        assert_eq!(
            orders.adopt(ID, InstrumentId(3), Side::Buy, Price(1), Qty(1)),
            Outcome::InvalidTransition
        );
        orders.adopt(OrderId(1), INSTRUMENT, Side::Buy, Price(1), Qty(1));
        assert_eq!(
            orders.adopt(ID, INSTRUMENT, Side::Buy, Price(1), Qty(1)),
            Outcome::InvalidTransition,
            "the table is full"
        );
    }
}
