//! One instrument of the backtest venue: the tape's L2 book and the orders
//! resting on it, with the queue rules of the module header (`super`).
//!
//! Owning thread: the venue's. Invariants, asserted in debug builds: every
//! resting order has positive leaves and a volume ahead that is not
//! negative; resting orders keep their arrival order (a filled one is
//! removed in place), so replies come out in that order. The order list is
//! allocated at construction and never grows past `orders_max`.

use super::{Answer, Ledger, RejectReason, Reply, Request, Side};
use genesis_io::book::{self, L2Book};
use genesis_io::tape::records::TapeRecord;

/// One order resting at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resting {
    pub(crate) order_id: u64,
    pub(crate) venue_order_id: u64,
    pub(crate) instrument: u16,
    pub(crate) side: Side,
    pub(crate) price: i64,
    /// Total ordered, filled included.
    pub(crate) qty: i64,
    pub(crate) filled: i64,
    /// Lots of the tape's queue ahead of it at its price.
    pub(crate) ahead: i64,
}

impl Resting {
    fn leaves(&self) -> i64 {
        self.qty - self.filled
    }
}

fn book_side(side: Side) -> book::Side {
    match side {
        Side::Buy => book::Side::Bid,
        Side::Sell => book::Side::Ask,
    }
}

pub(crate) struct Market {
    instrument: u16,
    book: L2Book,
    resting: Vec<Resting>,
}

impl Market {
    pub(crate) fn new(instrument: u16, orders_max: usize, levels_max: usize) -> Market {
        Market {
            instrument,
            book: L2Book::with_capacity(levels_max),
            resting: Vec::with_capacity(orders_max),
        }
    }

    pub(crate) fn book(&self) -> &L2Book {
        &self.book
    }

    pub(crate) fn resting_len(&self) -> usize {
        self.resting.len()
    }

    pub(crate) fn volume_ahead(&self, order_id: u64) -> Option<i64> {
        self.resting
            .iter()
            .find(|o| o.order_id == order_id)
            .map(|o| o.ahead)
    }

    /// The tape's size at `price` on `side`.
    fn depth(&self, side: Side, price: i64) -> i64 {
        self.book
            .levels(book_side(side))
            .get(book::Price(price))
            .map_or(0, |level| level.qty.0)
    }

    /// A level change (rules 4 and 6); returns how many orders left the book.
    #[inline]
    pub(crate) fn on_level(
        &mut self,
        side: Side,
        record: &TapeRecord,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> usize {
        if record.starts_snapshot() {
            self.book.clear();
        }
        self.book.set_level(
            book_side(side),
            book::Price(record.price),
            book::Qty(record.qty),
        );
        if self.resting.is_empty() {
            return 0;
        }
        let best_bid = self.book.best_bid().map(|level| level.price.0);
        let best_ask = self.book.best_ask().map(|level| level.price.0);
        // One pass in arrival order: each order's queue moves (rule 4),
        // then it fills if the opposite touch reached it (rule 6). A fill
        // changes only its own order, so this is the order two passes
        // would give, replies included.
        let mut left = 0;
        let mut index = 0;
        while index < self.resting.len() {
            let order = &mut self.resting[index];
            if order.side == side && order.price == record.price && record.qty < order.ahead {
                ledger.counters.lots_ahead_cancelled += (order.ahead - record.qty) as u64;
                order.ahead = record.qty.max(0);
            }
            let reached = match order.side {
                Side::Buy => best_ask.is_some_and(|ask| ask <= order.price),
                Side::Sell => best_bid.is_some_and(|bid| bid >= order.price),
            };
            let leaves = order.leaves();
            if reached && self.fill(index, leaves, ledger, out) {
                left += 1;
                continue;
            }
            index += 1;
        }
        left
    }

    /// A print (rules 3 and 5); `taker` is None when the tape does not say.
    #[inline]
    pub(crate) fn on_trade(
        &mut self,
        taker: Option<Side>,
        record: &TapeRecord,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> usize {
        if self.resting.is_empty() {
            return 0;
        }
        let (price, qty) = (record.price, record.qty);
        let mut left = 0;
        let mut index = 0;
        while index < self.resting.len() {
            let order = &mut self.resting[index];
            let hit = taker.is_none_or(|taker| taker != order.side);
            let through = match order.side {
                Side::Buy => price < order.price,
                Side::Sell => price > order.price,
            };
            let fill = if !hit {
                0
            } else if through {
                order.leaves()
            } else if price == order.price {
                advance(order, qty, ledger)
            } else {
                0
            };
            if fill > 0 && self.fill(index, fill, ledger, out) {
                left += 1;
                continue;
            }
            index += 1;
        }
        left
    }

    /// Fills `qty` of the order at `index` as a maker; true if it left the book.
    fn fill(
        &mut self,
        index: usize,
        qty: i64,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> bool {
        let order = &mut self.resting[index];
        debug_assert!(qty > 0 && qty <= order.leaves(), "a fill fits the leaves");
        order.filled += qty;
        order.ahead = 0;
        out(ledger.fill(order, order.price, qty, true));
        if order.leaves() == 0 {
            self.resting.remove(index);
            return true;
        }
        false
    }

    /// A new order (rules 1 and 2); the change in resting orders, or why not.
    pub(crate) fn new_order(
        &mut self,
        request: &Request,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> Result<isize, RejectReason> {
        check_order(request.price, request.qty)?;
        let venue_order_id = ledger.venue_order_id_next;
        ledger.venue_order_id_next += 1;
        ledger.counters.accepted += 1;
        let mut order = Resting {
            order_id: request.order_id,
            venue_order_id,
            instrument: self.instrument,
            side: request.side,
            price: request.price,
            qty: request.qty,
            filled: 0,
            ahead: 0,
        };
        out(accepted(&order));
        self.take_liquidity(&mut order, ledger, out);
        if order.leaves() == 0 {
            return Ok(0);
        }
        order.ahead = self.depth(order.side, order.price);
        debug_assert!(
            self.resting.len() < self.resting.capacity(),
            "orders_max is checked by the venue"
        );
        self.resting.push(order);
        Ok(1)
    }

    /// Rule 1: fills `order` against the opposite levels it crosses.
    fn take_liquidity(&self, order: &mut Resting, ledger: &mut Ledger, out: &mut dyn FnMut(Reply)) {
        let opposite = match order.side {
            Side::Buy => self.book.levels(book::Side::Ask),
            Side::Sell => self.book.levels(book::Side::Bid),
        };
        for level in opposite.iter_best_first() {
            let crosses = match order.side {
                Side::Buy => level.price.0 <= order.price,
                Side::Sell => level.price.0 >= order.price,
            };
            if !crosses || order.leaves() == 0 {
                break;
            }
            let qty = order.leaves().min(level.qty.0);
            if qty > 0 {
                order.filled += qty;
                out(ledger.fill(order, level.price.0, qty, false));
            }
        }
    }

    /// A cancel (rule 8): the change in resting orders, or why not.
    pub(crate) fn cancel(
        &mut self,
        order_id: u64,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> Result<isize, RejectReason> {
        let index = self
            .resting
            .iter()
            .position(|o| o.order_id == order_id)
            .ok_or(RejectReason::UnknownOrder)?;
        let order = self.resting.remove(index);
        ledger.counters.cancelled += 1;
        out(Reply {
            order_id,
            instrument: self.instrument,
            side: order.side,
            answer: Answer::Cancelled,
        });
        Ok(-1)
    }

    /// A replace (rules 7 and 8): the change in resting orders, or why not.
    pub(crate) fn replace(
        &mut self,
        request: &Request,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> Result<isize, RejectReason> {
        check_order(request.price, request.qty)?;
        let index = self
            .resting
            .iter()
            .position(|o| o.order_id == request.order_id)
            .ok_or(RejectReason::UnknownOrder)?;
        let mut order = self.resting[index];
        if request.qty <= order.filled {
            return Err(RejectReason::QtyBelowFilled);
        }
        let keeps_place =
            request.price == order.price && request.qty - order.filled <= order.leaves();
        order.qty = request.qty;
        order.price = request.price;
        ledger.counters.accepted += 1;
        out(accepted(&order));
        if keeps_place {
            self.resting[index] = order;
            return Ok(0);
        }
        self.resting.remove(index);
        self.take_liquidity(&mut order, ledger, out);
        if order.leaves() == 0 {
            return Ok(-1);
        }
        order.ahead = self.depth(order.side, order.price);
        self.resting.push(order);
        Ok(0)
    }
}

/// Rule 3 for one order: a print of `qty` at its price takes the volume
/// ahead first; the lots it fills.
fn advance(order: &mut Resting, qty: i64, ledger: &mut Ledger) -> i64 {
    debug_assert!(order.ahead >= 0, "volume ahead is never negative");
    if qty <= order.ahead {
        order.ahead -= qty;
        ledger.counters.lots_ahead_traded += qty as u64;
        return 0;
    }
    ledger.counters.lots_ahead_traded += order.ahead as u64;
    let beyond = qty - order.ahead;
    order.ahead = 0;
    beyond.min(order.leaves())
}

/// A price and size the venue takes.
fn check_order(price: i64, qty: i64) -> Result<(), RejectReason> {
    if qty <= 0 {
        return Err(RejectReason::BadQty);
    }
    if price <= 0 {
        return Err(RejectReason::BadPrice);
    }
    Ok(())
}

fn accepted(order: &Resting) -> Reply {
    Reply {
        order_id: order.order_id,
        instrument: order.instrument,
        side: order.side,
        answer: Answer::Accepted {
            venue_order_id: order.venue_order_id,
            price: order.price,
            qty: order.qty,
        },
    }
}
