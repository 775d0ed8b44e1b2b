//! What the exchange tells about a participant's orders and trading: a
//! view of one order, live or recently done (for FIX status requests),
//! every live order of a participant (for a mass status request and the
//! end-of-run summary), the participant's fills and net position; and what
//! the venue does to resting orders on its own (an operator's cancels,
//! trades that sweep them), so a test can make the venue move while a
//! participant is away.
//!
//! Same owning thread as the exchange.

use super::{Answer, Exchange, MarketDataOut, SessionOrder, Side, OWNER_SESSION, OWNER_TAKER};
use genesis_io::venue::{NewOrder, TimeInForce};

/// An order's state as a status request reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewState {
    /// Resting in the book.
    Live,
    Filled,
    /// Cancelled by its owner or the venue, or expired.
    Cancelled,
}

/// One session order, as the exchange knows it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderView {
    pub instrument: usize,
    pub side: Side,
    /// Limit price (ticks).
    pub price: i64,
    /// Total quantity and what of it traded (lots).
    pub qty: i64,
    pub filled: i64,
    /// Still working (0 once done).
    pub leaves: i64,
    /// Average fill price in ticks, rounded down (0 with no fill).
    pub avg_px_ticks: i64,
    pub state: ViewState,
}

/// A participant's trading so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParticipantTotals {
    /// Fills sent to it (each execution of one of its orders).
    pub fills: u64,
    /// Net position per instrument (lots, buys positive).
    pub positions: Vec<i64>,
}

impl ParticipantTotals {
    pub(super) fn new(instrument_count: usize) -> ParticipantTotals {
        ParticipantTotals {
            fills: 0,
            positions: vec![0; instrument_count],
        }
    }
}

fn view_of(order: &SessionOrder) -> OrderView {
    let state = order.done.unwrap_or(ViewState::Live);
    let avg_px_ticks = if order.filled > 0 {
        (order.notional / i128::from(order.filled)) as i64
    } else {
        0
    };
    OrderView {
        instrument: order.instrument,
        side: order.side,
        price: order.price,
        qty: order.qty,
        filled: order.filled,
        leaves: if state == ViewState::Live {
            order.qty - order.filled
        } else {
            0
        },
        avg_px_ticks,
        state,
    }
}

impl Exchange {
    /// The order `session` knows by `key`, live or among the recently done.
    pub fn session_order(&self, session: u32, key: u64) -> Option<OrderView> {
        self.session_orders.get(&(session, key)).map(view_of)
    }

    /// Every live order of `session`, by key.
    pub fn live_session_orders(&self, session: u32) -> Vec<(u64, OrderView)> {
        let mut live: Vec<(u64, OrderView)> = self
            .session_orders
            .iter()
            .filter(|((owner, _), order)| *owner == session && order.done.is_none())
            .map(|((_, key), order)| (*key, view_of(order)))
            .collect();
        live.sort_unstable_by_key(|(key, _)| *key);
        live
    }

    /// `session`'s orders that are done (filled or cancelled), oldest
    /// first, the newest `max` of them: done from the moment the book
    /// retired them, whether their replies have gone out yet or not.
    pub fn done_session_orders(&self, session: u32, max: usize) -> Vec<(u64, OrderView)> {
        let mut done: Vec<(u64, OrderView)> = self
            .done_keys
            .iter()
            .rev()
            .filter(|(owner, _)| *owner == session)
            .filter_map(|key| Some((key.1, view_of(self.session_orders.get(key)?))))
            .take(max)
            .collect();
        done.reverse();
        done
    }

    /// `session`'s fills and net position per instrument.
    pub fn participant_totals(&self, session: u32) -> ParticipantTotals {
        self.totals
            .get(&session)
            .cloned()
            .unwrap_or_else(|| ParticipantTotals::new(self.books.len()))
    }

    /// Live session orders, every `every`-th in (session, key) order.
    fn every_nth_live(&self, every: usize) -> Vec<(u32, u64)> {
        let mut live: Vec<(u32, u64)> = self
            .session_orders
            .iter()
            .filter(|(_, order)| order.done.is_none() && order.order_ref.is_some())
            .map(|(key, _)| *key)
            .collect();
        live.sort_unstable();
        live.into_iter().step_by(every.max(1)).collect()
    }

    /// The venue cancels every `every`-th resting session order (an
    /// operator, an expiry); owners hear an unsolicited cancel. Returns how many.
    pub fn venue_cancel_every(
        &mut self,
        every: usize,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) -> usize {
        self.now_ns = now_ns;
        let chosen = self.every_nth_live(every);
        for (session, key) in &chosen {
            let Some(order) = self.session_orders.get(&(*session, *key)).copied() else {
                continue;
            };
            let Some(order_ref) = order.order_ref else {
                continue;
            };
            let scratch = &mut self.scratch;
            let _ = self.books[order.instrument].cancel(order_ref, &mut |e| scratch.push(*e));
            self.dispatch(order.instrument, out);
            let (cum_qty, side) = (order.filled, order.side);
            let answer = Answer::Cancelled { order: *key };
            self.reply_to(*session, order.instrument, side, answer, cum_qty, 0);
            self.retire((*session, *key), ViewState::Cancelled);
        }
        chosen.len()
    }

    /// The taker trades through every `every`-th resting session order: an
    /// immediate-or-cancel order at its price for everything resting at
    /// that price or better on its side, so it fills whole (and whatever
    /// is ahead of it). Returns how many orders were swept.
    pub fn venue_fill_every(
        &mut self,
        every: usize,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) -> usize {
        self.now_ns = now_ns;
        let chosen = self.every_nth_live(every);
        for key in &chosen {
            let Some(order) = self.session_orders.get(key).copied() else {
                continue;
            };
            if order.done.is_some() {
                continue;
            }
            let book = &self.books[order.instrument];
            let mut sweep_qty = 0;
            book.for_each_level(order.side, usize::MAX, &mut |price, qty| {
                let at_or_better = match order.side {
                    Side::Buy => price >= order.price,
                    Side::Sell => price <= order.price,
                };
                if at_or_better {
                    sweep_qty += qty;
                }
            });
            let scratch = &mut self.scratch;
            let _ = self.books[order.instrument].submit(
                NewOrder {
                    owner: OWNER_TAKER,
                    client_id: 0,
                    side: order.side.opposite(),
                    price: order.price,
                    qty: sweep_qty.max(1),
                    tif: TimeInForce::Ioc,
                },
                &mut self.ids,
                &mut |e| scratch.push(*e),
            );
            self.dispatch(order.instrument, out);
        }
        chosen.len()
    }

    /// Sessions that ever held an order or traded, ascending.
    pub fn sessions_seen(&self) -> Vec<u32> {
        let mut sessions: Vec<u32> = self
            .session_orders
            .keys()
            .map(|(owner, _)| *owner)
            .chain(self.totals.keys().copied())
            .filter(|owner| *owner >= OWNER_SESSION)
            .collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions
    }
}
