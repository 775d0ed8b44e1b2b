//! One instrument of the backtest venue: the tape's L2 book (a
//! price-indexed ladder, [`LadderBook`], which answers as `L2Book` does) and
//! the orders resting on it, with the queue rules of the module header (`super`).
//!
//! Owning thread: the venue's. Invariants, asserted in debug builds: every
//! resting order has positive leaves and a volume ahead that is not
//! negative; resting orders keep their arrival order (a filled one is
//! removed in place), so replies come out in that order. The order list is
//! allocated at construction and never grows past `orders_max`.
//!
//! Most rows reach no resting order, so each market keeps the range of its
//! resting orders' prices per side ([`Reach`], put right whenever an order
//! joins, leaves or moves) and a row outside it skips the pass over the
//! orders: a level change away from every order's price whose touch
//! reaches none, or a print that no order's side takes at or through its
//! price. The pass runs on every row that may move or fill an order, so
//! the replies, the queues and the counters are the full pass's (a property
//! test runs both on random tapes).

use super::{Answer, Ledger, RejectReason, Reply, Request, Side, VenueCounters};
use genesis_io::book::{self, LadderBook};
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

/// The lowest and highest price of one side's resting orders; empty
/// (`low > high`) when the side has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PriceRange {
    low: i64,
    high: i64,
}

impl PriceRange {
    const EMPTY: PriceRange = PriceRange {
        low: i64::MAX,
        high: i64::MIN,
    };

    #[inline]
    fn holds(self, price: i64) -> bool {
        self.low <= price && price <= self.high
    }

    #[inline]
    fn with(self, price: i64) -> PriceRange {
        PriceRange {
            low: self.low.min(price),
            high: self.high.max(price),
        }
    }
}

/// Where a market's resting orders are: what a row must reach to move or
/// fill any of them (rules 3 to 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reach {
    buys: PriceRange,
    sells: PriceRange,
}

impl Reach {
    const NONE: Reach = Reach {
        buys: PriceRange::EMPTY,
        sells: PriceRange::EMPTY,
    };

    fn of(resting: &[Resting]) -> Reach {
        resting
            .iter()
            .fold(Reach::NONE, |reach, order| match order.side {
                Side::Buy => Reach {
                    buys: reach.buys.with(order.price),
                    ..reach
                },
                Side::Sell => Reach {
                    sells: reach.sells.with(order.price),
                    ..reach
                },
            })
    }

    /// Whether a level change at `price` on `side` may move an order's
    /// queue (rule 4: an order at that price on that side).
    #[inline(always)]
    fn holds(self, side: Side, price: i64) -> bool {
        match side {
            Side::Buy => self.buys.holds(price),
            Side::Sell => self.sells.holds(price),
        }
    }

    /// Whether the touch `best_bid` / `best_ask` (`i64::MIN` / `i64::MAX`
    /// for an empty side) may fill an order (rule 6: the ask at or below a
    /// buy, the bid at or above a sell). An empty range's bounds make a
    /// false answer unless a price is at the end of `i64`, and a true one
    /// only costs the general pass.
    #[inline(always)]
    fn touch_reaches(self, best_bid: i64, best_ask: i64) -> bool {
        (best_ask <= self.buys.high) | (best_bid >= self.sells.low)
    }

    /// Whether a print at `price` by `taker` may take the queue of or fill
    /// an order (rules 3 and 5: a buy at or above it hit by a sell or
    /// unknown taker, a sell at or below it hit by a buy or unknown taker).
    #[inline(always)]
    fn trade_reaches(self, taker: Option<Side>, price: i64) -> bool {
        let buys = taker != Some(Side::Buy) && price <= self.buys.high;
        let sells = taker != Some(Side::Sell) && price >= self.sells.low;
        buys || sells
    }
}

pub(crate) struct Market {
    instrument: u16,
    book: LadderBook,
    resting: Vec<Resting>,
    /// Where `resting` is, kept with it.
    reach: Reach,
    /// Every row runs the pass over the orders, its general loop (tests
    /// compare it with the skip and with the rule-4 loop).
    full_pass: bool,
    /// Passes over the orders run (tests check that rows skip them).
    #[cfg(test)]
    pub(crate) passes: u64,
}

impl Market {
    pub(crate) fn new(instrument: u16, orders_max: usize, levels_max: usize) -> Market {
        Market {
            instrument,
            book: LadderBook::with_capacity(levels_max),
            resting: Vec::with_capacity(orders_max),
            reach: Reach::NONE,
            full_pass: false,
            #[cfg(test)]
            passes: 0,
        }
    }

    /// Runs the pass over the orders on every row (for tests).
    #[cfg(test)]
    pub(crate) fn set_full_pass(&mut self, full_pass: bool) {
        self.full_pass = full_pass;
    }

    /// Puts the reach right after the resting orders changed.
    #[inline]
    fn resting_changed(&mut self) {
        self.reach = Reach::of(&self.resting);
    }

    pub(crate) fn book(&self) -> &LadderBook {
        &self.book
    }

    /// The book's touch as a book delta carries it: (best bid, best ask),
    /// 0 for an empty side.
    #[inline(always)]
    pub(crate) fn touch(&self) -> (i64, i64) {
        (
            self.book.best_bid_price().map_or(0, |price| price.0),
            self.book.best_ask_price().map_or(0, |price| price.0),
        )
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
        self.book.qty_at(book_side(side), book::Price(price)).0
    }

    /// A level change (rules 4 and 6); returns how many orders left the book.
    #[inline(always)]
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
        let best_bid = self.book.best_bid_price().map(|price| price.0);
        let best_ask = self.book.best_ask_price().map(|price| price.0);
        debug_assert_eq!(
            self.reach,
            Reach::of(&self.resting),
            "the reach follows the orders"
        );
        // Most rows that reach an order reach it for rule 4 alone: the
        // touch reaches none (no buy at or above the ask, no sell at or
        // below the bid), so none fills and only the queues at the row's
        // price may move. The full pass (tests) always takes the general
        // loop.
        if self.full_pass
            || self
                .reach
                .touch_reaches(best_bid.unwrap_or(i64::MIN), best_ask.unwrap_or(i64::MAX))
        {
            return self.level_pass(side, record, (best_bid, best_ask), ledger, out);
        }
        if self.reach.holds(side, record.price) {
            self.queue_pass(side, record.price, record.qty, &mut ledger.counters);
        }
        0
    }

    /// Rule 4 alone, for a level change whose touch reaches no order: the
    /// queues of the orders at `price` on `side` shrink to `qty` (out of
    /// line: most rows skip it).
    #[inline(never)]
    fn queue_pass(&mut self, side: Side, price: i64, qty: i64, counters: &mut VenueCounters) {
        #[cfg(test)]
        {
            self.passes += 1;
        }
        for order in &mut self.resting {
            if order.side == side && order.price == price && qty < order.ahead {
                counters.lots_ahead_cancelled += (order.ahead - qty) as u64;
                order.ahead = qty.max(0);
            }
        }
    }

    /// The pass of a level change over the resting orders (rules 4 and 6),
    /// with the touch after it, when the touch may fill one (out of line:
    /// most rows skip it).
    #[inline(never)]
    fn level_pass(
        &mut self,
        side: Side,
        record: &TapeRecord,
        (best_bid, best_ask): (Option<i64>, Option<i64>),
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> usize {
        #[cfg(test)]
        {
            self.passes += 1;
        }
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
        if left > 0 {
            self.resting_changed();
        }
        left
    }

    /// A print (rules 3 and 5); `taker` is None when the tape does not say.
    #[inline(always)]
    pub(crate) fn on_trade(
        &mut self,
        taker: Option<Side>,
        record: &TapeRecord,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> usize {
        debug_assert_eq!(
            self.reach,
            Reach::of(&self.resting),
            "the reach follows the orders"
        );
        if self.resting.is_empty()
            || !(self.full_pass || self.reach.trade_reaches(taker, record.price))
        {
            return 0;
        }
        self.trade_pass(taker, record, ledger, out)
    }

    /// The pass of a print over the resting orders (rules 3 and 5), out
    /// of line (most prints skip it).
    #[inline(never)]
    fn trade_pass(
        &mut self,
        taker: Option<Side>,
        record: &TapeRecord,
        ledger: &mut Ledger,
        out: &mut dyn FnMut(Reply),
    ) -> usize {
        #[cfg(test)]
        {
            self.passes += 1;
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
        if left > 0 {
            self.resting_changed();
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
        // One more order: the reach only widens.
        match order.side {
            Side::Buy => self.reach.buys = self.reach.buys.with(order.price),
            Side::Sell => self.reach.sells = self.reach.sells.with(order.price),
        }
        Ok(1)
    }

    /// Rule 1: fills `order` against the opposite levels it crosses. Most
    /// orders rest at or behind the touch: the opposite best alone says
    /// that nothing crosses, and the walk over the levels is skipped.
    #[inline]
    fn take_liquidity(&self, order: &mut Resting, ledger: &mut Ledger, out: &mut dyn FnMut(Reply)) {
        let best = match order.side {
            Side::Buy => self.book.best_ask_price(),
            Side::Sell => self.book.best_bid_price(),
        };
        if best.is_some_and(|best| crosses(order, best.0)) {
            self.take_crossed(order, ledger, out);
        }
    }

    /// [`Market::take_liquidity`]'s walk, for an order that crosses.
    #[inline(never)]
    fn take_crossed(&self, order: &mut Resting, ledger: &mut Ledger, out: &mut dyn FnMut(Reply)) {
        let opposite = match order.side {
            Side::Buy => book::Side::Ask,
            Side::Sell => book::Side::Bid,
        };
        for level in self.book.iter_best_first(opposite) {
            if !crosses(order, level.price.0) || order.leaves() == 0 {
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
        self.resting_changed();
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
            self.resting_changed();
            return Ok(-1);
        }
        order.ahead = self.depth(order.side, order.price);
        self.resting.push(order);
        self.resting_changed();
        Ok(0)
    }
}

/// Whether an opposite level at `price` is within `order`'s limit (rule 1).
#[inline(always)]
fn crosses(order: &Resting, price: i64) -> bool {
    match order.side {
        Side::Buy => price <= order.price,
        Side::Sell => price >= order.price,
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
