//! The backtest venue: a simulated exchange that matches a strategy's
//! orders against a recorded tape's book, with a queue-position model.
//! `genesis backtest` drives it in tape time; it reads no clock and speaks
//! in plain values ([`Request`] in, [`Reply`] out), so the same tape and the
//! same requests give the same replies.
//!
//! The market is the tape: every [`TapeRecord`] updates the venue's L2 book
//! of its instrument and moves or fills the resting orders it reaches. The
//! strategy's orders never change that book (no market impact, as in
//! hftbacktest): two orders may take the same liquidity.
//!
//! Rules (the risk-averse queue model, hftbacktest's
//! `RiskAverseQueueModel` with partial fills):
//! 1. A new limit order that crosses the book (a buy at or above the best
//!    ask, a sell at or below the best bid) takes liquidity at once: it walks
//!    the opposite levels from the best, filling up to each level's size at
//!    the level's price, while the level's price is within its limit. What is
//!    left rests.
//! 2. A resting order joins the back of its level's queue: the volume ahead
//!    of it is the tape's size at its price when it arrives (0 if none).
//! 3. A print at the order's price (a trade whose taker is on the other
//!    side, or whose side the tape does not say) first takes the volume
//!    ahead; what it takes beyond that fills the order, up to its leaves.
//!    Once filled into, nothing is ahead of it any more.
//! 4. A level change at the order's price that leaves less than the volume
//!    ahead moves the order up: ahead becomes the level's new size (others
//!    ahead of it cancelled). Growth of the level never moves it back.
//! 5. A print through the order's price (a buy taker above a resting sell, a
//!    sell taker below a resting buy) fills all its leaves at its price.
//! 6. When the opposite touch reaches the order's price (the best bid at or
//!    above a resting sell, the best ask at or below a resting buy), it
//!    fills all its leaves at its price.
//! 7. A replace that moves the price or raises the size loses the queue
//!    place (rule 2 again at the new price, and rule 1 if it now crosses); a
//!    replace that only lowers the size keeps it. A replace down to or below
//!    the filled size is rejected.
//! 8. A cancel or replace of an order that is no longer resting (filled,
//!    cancelled) is rejected as unknown: the fill that raced it stands.
//!
//! Resting fills are maker fills at the order's price; crossing fills are
//! taker fills at the levels' prices. Every request is answered: accepted
//! (new, replace), cancelled, or rejected, acceptance before any fill.
//!
//! Owning thread: the backtest's (ingest's). Invariants, asserted in debug
//! builds: the resting count equals the orders the markets hold and never
//! passes `orders_max`; a resting order has positive leaves and volume
//! ahead never negative. Everything is allocated in [`BacktestVenue::new`].

mod market;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

use genesis_io::tape::records::{RecordKind, TapeRecord};
pub use genesis_io::venue::Side;
use market::{Market, Resting};

/// What a strategy asks of the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    New,
    Cancel,
    Replace,
}

/// One order request, as it arrives at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    /// The engine's id of the order.
    pub order_id: u64,
    pub instrument: u16,
    pub side: Side,
    /// Limit price in ticks (new, replace).
    pub price: i64,
    /// Total quantity in lots (new, replace: the new total, filled included).
    pub qty: i64,
}

/// Why the venue refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// The instrument is not one the venue lists.
    UnknownInstrument,
    /// A quantity that is not positive.
    BadQty,
    /// A price that is not positive.
    BadPrice,
    /// `orders_max` orders rest already.
    TooManyOrders,
    /// No resting order has this id (it filled, was cancelled, or never was).
    UnknownOrder,
    /// A replace to a total at or below what already filled.
    QtyBelowFilled,
}

/// What the venue answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A new order or a replace is accepted; `price` and `qty` (total) now work.
    Accepted {
        venue_order_id: u64,
        price: i64,
        qty: i64,
    },
    /// An execution: `maker` for a resting order, else it took liquidity.
    Fill {
        exec_id: u64,
        price: i64,
        qty: i64,
        maker: bool,
    },
    /// A cancel took the order off the book.
    Cancelled,
    /// The request was refused and changed nothing.
    Rejected {
        request: RequestKind,
        reason: RejectReason,
    },
}

/// One answer about one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub order_id: u64,
    pub instrument: u16,
    pub side: Side,
    pub answer: Answer,
}

/// The venue's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BacktestVenueConfig {
    /// Instruments, by index (a record's or request's `instrument`).
    pub instruments: usize,
    /// Most orders resting at once, over all instruments.
    pub orders_max: usize,
    /// Price levels kept per side of each book.
    pub book_levels_max: usize,
}

/// What the venue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VenueCounters {
    pub requests: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub fills_maker: u64,
    pub fills_taker: u64,
    pub lots_filled: u64,
    /// Lots of the volume ahead of resting orders that prints took (rule 3).
    pub lots_ahead_traded: u64,
    /// Lots of the volume ahead that level shrinks removed (rule 4).
    pub lots_ahead_cancelled: u64,
}

/// The ids the venue hands out and its counters: what every market shares.
pub(crate) struct Ledger {
    exec_id_next: u64,
    venue_order_id_next: u64,
    pub(crate) counters: VenueCounters,
}

impl Ledger {
    pub(crate) fn fill(&mut self, order: &Resting, price: i64, qty: i64, maker: bool) -> Reply {
        debug_assert!(qty > 0, "a fill has a quantity");
        let exec_id = self.exec_id_next;
        self.exec_id_next += 1;
        if maker {
            self.counters.fills_maker += 1;
        } else {
            self.counters.fills_taker += 1;
        }
        self.counters.lots_filled += qty as u64;
        Reply {
            order_id: order.order_id,
            instrument: order.instrument,
            side: order.side,
            answer: Answer::Fill {
                exec_id,
                price,
                qty,
                maker,
            },
        }
    }
}

/// The backtest venue (see the module header).
pub struct BacktestVenue {
    markets: Vec<Market>,
    ledger: Ledger,
    resting_count: usize,
    orders_max: usize,
}

impl BacktestVenue {
    pub fn new(config: &BacktestVenueConfig) -> BacktestVenue {
        assert!(
            config.orders_max > 0 && config.book_levels_max > 0,
            "sizes are positive"
        );
        BacktestVenue {
            markets: (0..config.instruments)
                .map(|index| Market::new(index as u16, config.orders_max, config.book_levels_max))
                .collect(),
            ledger: Ledger {
                exec_id_next: 1,
                venue_order_id_next: 1,
                counters: VenueCounters::default(),
            },
            resting_count: 0,
            orders_max: config.orders_max,
        }
    }

    /// The tape moved: update the record's book, then move and fill the
    /// resting orders it reaches (rules 3 to 6). Inlined into the
    /// caller: it runs on every row.
    #[inline(always)]
    pub fn on_record(&mut self, record: &TapeRecord, out: &mut dyn FnMut(Reply)) {
        self.on_record_touch(record, out);
    }

    /// [`BacktestVenue::on_record`], answering the touch the row left as
    /// the row's book delta carries it: [`BacktestVenue::touch`] after a
    /// level change, (0, 0) after a print or for an instrument the venue
    /// does not list (the backtest makes the row's engine event with it,
    /// without looking the market up again).
    #[inline(always)]
    pub fn on_record_touch(
        &mut self,
        record: &TapeRecord,
        out: &mut dyn FnMut(Reply),
    ) -> (i64, i64) {
        let Some(market) = self.markets.get_mut(usize::from(record.instrument)) else {
            return (0, 0);
        };
        let ledger = &mut self.ledger;
        let (filled, touch) = match record.kind {
            RecordKind::Bid => (
                market.on_level(Side::Buy, record, ledger, out),
                market.touch(),
            ),
            RecordKind::Ask => (
                market.on_level(Side::Sell, record, ledger, out),
                market.touch(),
            ),
            RecordKind::TradeBuy => (
                market.on_trade(Some(Side::Buy), record, ledger, out),
                (0, 0),
            ),
            RecordKind::TradeSell => (
                market.on_trade(Some(Side::Sell), record, ledger, out),
                (0, 0),
            ),
            RecordKind::TradeUnknown => (market.on_trade(None, record, ledger, out), (0, 0)),
        };
        self.resting_count -= filled;
        debug_assert!(self.resting_count_is_right(), "resting orders are counted");
        touch
    }

    /// A request arrives: answer it (rules 1, 2, 7, 8).
    pub fn on_request(&mut self, request: &Request, out: &mut dyn FnMut(Reply)) {
        self.ledger.counters.requests += 1;
        let reject = |reason| Reply {
            order_id: request.order_id,
            instrument: request.instrument,
            side: request.side,
            answer: Answer::Rejected {
                request: request.kind,
                reason,
            },
        };
        let Some(market) = self.markets.get_mut(usize::from(request.instrument)) else {
            self.ledger.counters.rejected += 1;
            return out(reject(RejectReason::UnknownInstrument));
        };
        let outcome = match request.kind {
            RequestKind::New if self.resting_count >= self.orders_max => {
                Err(RejectReason::TooManyOrders)
            }
            RequestKind::New => market.new_order(request, &mut self.ledger, out),
            RequestKind::Cancel => market.cancel(request.order_id, &mut self.ledger, out),
            RequestKind::Replace => market.replace(request, &mut self.ledger, out),
        };
        match outcome {
            Ok(change) => self.resting_count = self.resting_count.wrapping_add_signed(change),
            Err(reason) => {
                self.ledger.counters.rejected += 1;
                out(reject(reason));
            }
        }
        debug_assert!(self.resting_count_is_right(), "resting orders are counted");
    }

    /// Orders resting now.
    pub fn resting_count(&self) -> usize {
        self.resting_count
    }

    /// What the venue did so far.
    pub fn counters(&self) -> VenueCounters {
        self.ledger.counters
    }

    /// The venue's book of `instrument` (its view of the tape).
    pub fn book(&self, instrument: u16) -> Option<&genesis_io::book::LadderBook> {
        self.markets.get(usize::from(instrument)).map(Market::book)
    }

    /// The touch of `instrument`'s book as a book delta carries it: (best
    /// bid, best ask), 0 for an empty side.
    #[inline]
    pub fn touch(&self, instrument: u16) -> Option<(i64, i64)> {
        self.markets.get(usize::from(instrument)).map(Market::touch)
    }

    /// Levels dropped because a book side was full, over all books.
    pub fn levels_truncated(&self) -> u64 {
        self.markets
            .iter()
            .map(|market| market.book().levels_truncated())
            .sum()
    }

    /// The volume ahead of a resting order, if it rests.
    pub fn volume_ahead(&self, instrument: u16, order_id: u64) -> Option<i64> {
        self.markets
            .get(usize::from(instrument))?
            .volume_ahead(order_id)
    }

    /// Every row runs the pass over the resting orders, none skipped (for
    /// tests that compare the skip with it).
    #[cfg(test)]
    pub(crate) fn set_full_pass(&mut self, full_pass: bool) {
        for market in &mut self.markets {
            market.set_full_pass(full_pass);
        }
    }

    /// Passes over the resting orders run so far, over all markets (tests).
    #[cfg(test)]
    pub(crate) fn passes(&self) -> u64 {
        self.markets.iter().map(|market| market.passes).sum()
    }

    /// Resting orders counted as held (a walk over the markets: for debug assertions).
    fn resting_count_is_right(&self) -> bool {
        let held: usize = self.markets.iter().map(Market::resting_len).sum();
        held == self.resting_count && held <= self.orders_max
    }
}
