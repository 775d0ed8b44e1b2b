//! ITCH 5.0 messages from the simulated venue's matching engine: the one
//! mapping from [`BookEvent`]s (ticks, lots) to the wire's messages (4-decimal
//! prices, shares), used for the live feed and for GLIMPSE snapshots alike,
//! so both always describe the same book.
//!
//! Owning thread: the venue's (pure functions). Mapping: a resting order is
//! an add order ('A'), an execution an order executed ('E', with the
//! venue's match number), a partial cancel an order cancel ('X'), a full
//! one an order delete ('D'), a cancel/replace an order replace ('U').
//! Quantities go out as shares = lots and prices as ticks times
//! `price4_per_tick`, both clamped into the wire's `u32`.

use super::message::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderReplace, Price4, StockDirectory, StockSymbol, SystemEvent,
};
use crate::venue::{BookEvent, MatchingEngine, Side};

/// One resting order as a snapshot carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotOrder {
    /// Order reference number.
    pub order_ref: u64,
    /// Side.
    pub side: BuySell,
    /// Displayed shares.
    pub shares: u32,
    /// Limit price.
    pub price: Price4,
}

/// The resting orders a snapshot describes, per instrument, in price-time
/// order (bids best first, then asks best first, oldest first at a price).
pub trait RestingOrders {
    /// Call `f` for every resting order of instrument `instrument_index`.
    fn for_each_order(&self, instrument_index: usize, f: &mut dyn FnMut(SnapshotOrder));
}

impl<F> RestingOrders for F
where
    F: Fn(usize, &mut dyn FnMut(SnapshotOrder)),
{
    fn for_each_order(&self, instrument_index: usize, f: &mut dyn FnMut(SnapshotOrder)) {
        self(instrument_index, f)
    }
}

/// How one instrument of the venue appears on the ITCH feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItchInstrument {
    /// Locate code of the instrument for the session.
    pub stock_locate: u16,
    /// Symbol.
    pub stock: StockSymbol,
    /// 1/10,000 price units in one tick (100 for a 0.01 tick).
    pub price4_per_tick: i64,
}

impl ItchInstrument {
    fn header(&self, timestamp_ns: u64) -> MessageHeader {
        MessageHeader {
            stock_locate: self.stock_locate,
            tracking_number: 0,
            timestamp_ns,
        }
    }

    /// A price in ticks as ITCH's fixed point, clamped into `u32`.
    pub fn price4(&self, ticks: i64) -> Price4 {
        let units = ticks.saturating_mul(self.price4_per_tick);
        Price4(units.clamp(0, i64::from(u32::MAX)) as u32)
    }

    /// The stock directory message ('R') that binds the locate to the symbol.
    pub fn directory(&self, timestamp_ns: u64) -> ItchMessage {
        ItchMessage::StockDirectory(StockDirectory {
            header: self.header(timestamp_ns),
            stock: self.stock,
            market_category: b'Q',
            financial_status: b'N',
            round_lot_size: 1,
            round_lots_only: b'N',
            issue_classification: b'C',
            issue_sub_type: *b"Z ",
            authenticity: b'P',
            short_sale_threshold: b'N',
            ipo_flag: b'N',
            luld_reference_price_tier: b'1',
            etp_flag: b'N',
            etp_leverage_factor: 0,
            inverse_indicator: b'N',
        })
    }

    /// An add order ('A') for a resting order.
    pub fn add_order(&self, order: &SnapshotOrder, timestamp_ns: u64) -> ItchMessage {
        ItchMessage::AddOrder(AddOrder {
            header: self.header(timestamp_ns),
            order_ref: order.order_ref,
            side: order.side,
            shares: order.shares,
            stock: self.stock,
            price: order.price,
            attribution: None,
        })
    }

    /// The ITCH message that reports `event` (see the module docs).
    pub fn book_event_message(&self, event: &BookEvent, timestamp_ns: u64) -> ItchMessage {
        let header = self.header(timestamp_ns);
        match *event {
            BookEvent::Added {
                order_ref,
                side,
                price,
                qty,
                ..
            } => self.add_order(
                &SnapshotOrder {
                    order_ref,
                    side: buy_sell(side),
                    shares: shares(qty),
                    price: self.price4(price),
                },
                timestamp_ns,
            ),
            BookEvent::Executed {
                maker_ref,
                qty,
                match_number,
                ..
            } => ItchMessage::OrderExecuted(OrderExecuted {
                header,
                order_ref: maker_ref,
                executed_shares: shares(qty),
                match_number,
            }),
            BookEvent::Cancelled {
                order_ref,
                cancelled_qty,
                leaves,
                ..
            } if leaves > 0 => ItchMessage::OrderCancel(OrderCancel {
                header,
                order_ref,
                cancelled_shares: shares(cancelled_qty),
            }),
            BookEvent::Cancelled { order_ref, .. } => {
                ItchMessage::OrderDelete(OrderDelete { header, order_ref })
            }
            BookEvent::Replaced {
                old_ref,
                new_ref,
                price,
                qty,
                ..
            } => ItchMessage::OrderReplace(OrderReplace {
                header,
                original_order_ref: old_ref,
                new_order_ref: new_ref,
                shares: shares(qty),
                price: self.price4(price),
            }),
        }
    }

    /// Every resting order of `book` in price-time order: bids best first,
    /// then asks best first, oldest first at each price.
    pub fn for_each_resting_order(&self, book: &MatchingEngine, f: &mut dyn FnMut(SnapshotOrder)) {
        for side in [Side::Buy, Side::Sell] {
            book.for_each_order(side, &mut |order_ref, order| {
                f(SnapshotOrder {
                    order_ref,
                    side: buy_sell(order.side),
                    shares: shares(order.leaves),
                    price: self.price4(order.price),
                });
            });
        }
    }
}

/// A system event message ('S') with no locate.
pub fn system_event(event_code: u8, timestamp_ns: u64) -> ItchMessage {
    ItchMessage::SystemEvent(SystemEvent {
        header: MessageHeader {
            stock_locate: 0,
            tracking_number: 0,
            timestamp_ns,
        },
        event_code,
    })
}

fn buy_sell(side: Side) -> BuySell {
    match side {
        Side::Buy => BuySell::Buy,
        Side::Sell => BuySell::Sell,
    }
}

fn shares(lots: i64) -> u32 {
    lots.clamp(0, i64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::{Ids, NewOrder, TimeInForce};

    // Resting orders come out bids then asks, best price first, oldest
    // first at a price, priced in 1/10,000 units.
    #[test]
    fn resting_orders_in_price_time_order() {
        let instrument = ItchInstrument {
            stock_locate: 3,
            stock: StockSymbol::from_str_padded("ABC").unwrap(),
            price4_per_tick: 100,
        };
        let mut book = MatchingEngine::new(16, 8);
        let mut ids = Ids::default();
        let mut submit = |side, price, qty| {
            let order = NewOrder {
                owner: 1,
                client_id: 0,
                side,
                price,
                qty,
                tif: TimeInForce::Day,
            };
            book.submit(order, &mut ids, &mut |_| {}).unwrap();
        };
        submit(Side::Buy, 99, 1);
        submit(Side::Buy, 100, 2);
        submit(Side::Buy, 100, 3);
        submit(Side::Sell, 102, 4);
        submit(Side::Sell, 101, 5);
        let mut seen = Vec::new();
        instrument.for_each_resting_order(&book, &mut |o| {
            seen.push((o.side, o.price.0, o.shares, o.order_ref))
        });
        assert_eq!(
            seen,
            vec![
                (BuySell::Buy, 10_000, 2, 2),
                (BuySell::Buy, 10_000, 3, 3),
                (BuySell::Buy, 9_900, 1, 1),
                (BuySell::Sell, 10_100, 5, 5),
                (BuySell::Sell, 10_200, 4, 4),
            ]
        );
    }
}
