//! The simulated venue's exchange: one price-time-priority matching engine
//! per instrument (`genesis_io::venue::MatchingEngine`) and the participants
//! that trade on it.
//!
//! - The **liquidity provider** quotes the market's flow: every top of book
//!   it hands over moves the provider's bid and ask orders there (ITCH
//!   order replace), at the top's sizes.
//! - The **taker** turns every trade print of the flow into an
//!   immediate-or-cancel order at the print's price, so prints trade against
//!   whatever rests there first in price-time order, the sessions' orders
//!   included.
//! - The **sessions** are the engines under test, over FIX, each its own
//!   participant (`OWNER_SESSION + n`): their requests come in through
//!   [`Exchange::submit`], and their acks, fills, cancel acks and rejects
//!   wait in a reply queue as [`Reply`]s, tagged with the session, for the
//!   FIX side to encode. Two sessions can trade with each other. A session
//!   names its orders by a key of its FIX side's choosing (one key for
//!   every version of an order).
//!
//! Every change to a book is handed to the market-data outputs (ITCH over
//! MoldUDP64, Binance-compatible WebSocket) as it happens, so the feed is
//! the book, the session's own orders included, as on a real venue.
//!
//! Owning thread: the simulator's thread. It is a simulator, not the hot
//! path: the reply queue and the session's order table may grow.
//! A session that disconnects has its resting orders cancelled
//! (cancel-on-disconnect) unless its FIX side keeps them for the
//! participant's return; either way the exchange remembers each
//! participant's fills, net position per instrument, and its orders, live
//! and recently done, to answer status requests ([`status`]).
//!
//! Invariants, asserted: a session order's fills never exceed its quantity;
//! the liquidity provider's remembered quotes are its own resting orders or
//! nothing; after every operation no book is crossed.

mod sessions;
mod status;
#[cfg(test)]
mod tests;

pub use status::{OrderView, ParticipantTotals, ViewState};

use crate::flow::Top;
pub use genesis_io::venue::Side;
use genesis_io::venue::{BookEvent, Ids, MatchingEngine, NewOrder, OrderRef, TimeInForce};
use std::collections::{HashMap, VecDeque};

/// Participants (the matching engine's `owner`).
pub const OWNER_LIQUIDITY: u32 = 1;
pub const OWNER_TAKER: u32 = 2;
/// The first FIX session; session `n` (from 0) is `OWNER_SESSION + n`.
pub const OWNER_SESSION: u32 = 3;

/// Price levels per side each instrument's book holds.
pub const BOOK_LEVELS_MAX: usize = 1_024;

/// Largest price (ticks) and quantity (lots) a session may send: the feed
/// carries shares as u32, and prices times any tick scale stay far from
/// overflow; anything larger is refused, not wrapped.
pub const PRICE_TICKS_MAX: i64 = 1 << 40;
pub const QTY_LOTS_MAX: i64 = u32::MAX as i64;

/// Reason codes of a refusal, FIX's own (shared with the engine): a
/// refused new order carries OrdRejReason(103), a refused cancel or replace
/// CxlRejReason(102).
pub use genesis_io::fix::reasons as reason;

/// Done orders remembered (over all participants), for status requests about them.
pub const DONE_MEMORY: usize = 4_096;

/// Room asked of the session-order table: it holds up to [`DONE_MEMORY`]
/// done orders plus the live ones, and hashbrown cleans the tombstones that
/// removals leave by rehashing in place only while the table is at most half
/// full; past that it doubles, a 1.5 MiB allocation minutes into a run. This
/// room gives 16,384 buckets, half-full at 7,168 entries: the done orders
/// and 3,072 live ones.
const SESSION_ORDERS_ROOM: usize = 3 * DONE_MEMORY;

/// What a session asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    New,
    Cancel,
    Replace,
}

/// One request from a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    /// The session's key for the order (the same for all its versions).
    pub order: u64,
    /// Index of the instrument; out of range for a symbol the venue does not list.
    pub instrument: usize,
    pub side: Side,
    /// Limit price in ticks (new and replace).
    pub price: i64,
    /// Total quantity in lots (a replace gives the new total, FIX's OrderQty).
    pub qty: i64,
}

/// What the exchange answers a session about one of its orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A new order or a replace was accepted at this price and total quantity.
    Accepted { order: u64, price: i64, qty: i64 },
    /// Part or all of the order traded.
    Fill { order: u64, price: i64, qty: i64 },
    /// The order left the book: cancelled, or what could not rest expired.
    Cancelled { order: u64 },
    /// The request was refused, for FIX's `reason` code ([`reason`]).
    Rejected {
        order: u64,
        request: RequestKind,
        reason: i64,
    },
}

impl Answer {
    /// The session's key of the order the answer is about.
    pub fn order(&self) -> u64 {
        match *self {
            Answer::Accepted { order, .. }
            | Answer::Fill { order, .. }
            | Answer::Cancelled { order }
            | Answer::Rejected { order, .. } => order,
        }
    }
}

/// Where the exchange's book changes go (ITCH, WebSocket).
pub trait MarketDataOut {
    /// One change to `instrument`'s book; `book` is its state after the
    /// whole operation that caused it.
    fn on_book_event(
        &mut self,
        instrument: usize,
        event: &BookEvent,
        book: &MatchingEngine,
        now_ns: u64,
    );
    /// The operation is complete: `instrument`'s book is consistent again.
    fn on_operation_done(&mut self, instrument: usize, book: &MatchingEngine, now_ns: u64);
}

#[derive(Clone, Copy, Debug)]
struct SessionOrder {
    instrument: usize,
    side: Side,
    /// Limit price (ticks).
    price: i64,
    /// Its reference in the book while it rests.
    order_ref: Option<OrderRef>,
    /// Total quantity (FIX OrderQty) and what of it has traded.
    qty: i64,
    filled: i64,
    /// Σ price × qty of its fills (ticks × lots), for AvgPx.
    notional: i128,
    /// Set once the order is done with; it is then only remembered.
    done: Option<ViewState>,
}

impl SessionOrder {
    /// What the table is filled with once to make it resident.
    fn placeholder() -> SessionOrder {
        SessionOrder {
            instrument: usize::MAX,
            side: Side::Buy,
            price: 0,
            order_ref: None,
            qty: 0,
            filled: 0,
            notional: 0,
            done: None,
        }
    }
}

/// A reply to a session: the answer, which session and instrument it is
/// for, and the order's totals after it (FIX CumQty and LeavesQty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub session: u32,
    /// Index of the instrument (out of range when the request named an unknown one).
    pub instrument: usize,
    pub side: Side,
    pub answer: Answer,
    pub cum_qty: i64,
    pub leaves_qty: i64,
    /// The acceptance is of a replace (FIX ExecType Replaced), not a new order.
    pub replaced: bool,
}

/// Counters of the exchange, for the simulator's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExchangeCounters {
    pub executions: u64,
    pub session_fills: u64,
    pub session_rejects: u64,
    pub liquidity_rejects: u64,
}

pub struct Exchange {
    books: Vec<MatchingEngine>,
    ids: Ids,
    /// The liquidity provider's resting [bid, ask] per instrument.
    quotes: Vec<[Option<OrderRef>; 2]>,
    /// The sessions' live orders, and the last [`DONE_MEMORY`] done ones,
    /// by session and the session's order key.
    session_orders: HashMap<(u32, u64), SessionOrder>,
    /// Done orders, oldest first (what `session_orders` forgets first).
    done_keys: VecDeque<(u32, u64)>,
    /// Each session's fills and net position.
    totals: HashMap<u32, ParticipantTotals>,
    /// Replies to the sessions, oldest first.
    replies: VecDeque<Reply>,
    /// The session whose request is being handled.
    session: u32,
    /// The request's order left the book on arrival (traded out, or the
    /// remainder expired): forgotten once its fills are out, with the
    /// expired quantity if any.
    done_on_arrival: Option<(u64, i64)>,
    /// Book events of the operation in progress (reused).
    scratch: Vec<BookEvent>,
    now_ns: u64,
    pub counters: ExchangeCounters,
}

impl Exchange {
    /// Books for `instrument_count` instruments, `orders_max` resting orders each.
    pub fn new(instrument_count: usize, orders_max: usize) -> Exchange {
        assert!(orders_max > 0, "a book holds at least one order");
        Exchange {
            books: (0..instrument_count)
                .map(|_| MatchingEngine::new(orders_max, BOOK_LEVELS_MAX))
                .collect(),
            ids: Ids::default(),
            quotes: vec![[None, None]; instrument_count],
            session_orders: resident_table(SESSION_ORDERS_ROOM),
            done_keys: VecDeque::with_capacity(DONE_MEMORY),
            totals: HashMap::new(),
            replies: VecDeque::with_capacity(4_096),
            session: OWNER_SESSION,
            done_on_arrival: None,
            scratch: Vec::with_capacity(256),
            now_ns: 0,
            counters: ExchangeCounters::default(),
        }
    }

    pub fn book(&self, instrument: usize) -> Option<&MatchingEngine> {
        self.books.get(instrument)
    }

    pub fn instrument_count(&self) -> usize {
        self.books.len()
    }

    /// The highest resting buy and lowest resting sell of the sessions on
    /// `instrument` (`None`: none on that side): the prices a move of the
    /// market must reach to trade them.
    pub fn session_resting_prices(&self, instrument: usize) -> (Option<i64>, Option<i64>) {
        let Some(book) = self.books.get(instrument) else {
            return (None, None);
        };
        let best_of = |side: Side| {
            let mut best = None;
            book.for_each_order(side, &mut |_, order| {
                if best.is_none() && order.owner >= OWNER_SESSION {
                    best = Some(order.price);
                }
            });
            best
        };
        (best_of(Side::Buy), best_of(Side::Sell))
    }

    /// The sessions' orders still live (resting, or not yet answered):
    /// while there are any, the market must be followed for them to trade.
    pub fn session_orders_live(&self) -> usize {
        // Every done key is among the remembered orders (a reused key may
        // have replaced a done one: then this reads one low).
        self.session_orders
            .len()
            .saturating_sub(self.done_keys.len())
    }

    /// The next reply to a session (ack, fill, cancel ack, reject), oldest
    /// first, with the session it is for.
    pub fn pop_reply(&mut self) -> Option<Reply> {
        self.replies.pop_front()
    }

    /// The liquidity provider quotes a new top of book.
    pub fn on_top(
        &mut self,
        instrument: usize,
        top: &Top,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) {
        if instrument >= self.books.len() || top.bid_px <= 0 || top.ask_px <= top.bid_px {
            return;
        }
        self.now_ns = now_ns;
        let bid = (Side::Buy, top.bid_px, top.bid_qty.max(1));
        let ask = (Side::Sell, top.ask_px, top.ask_qty.max(1));
        // Move the side that leads first, so the two quotes never cross each other.
        let rising = self.books[instrument]
            .best_ask()
            .is_none_or(|(price, _)| top.ask_px >= price);
        let order = if rising { [ask, bid] } else { [bid, ask] };
        for (side, price, qty) in order {
            self.quote(instrument, side, price, qty);
        }
        self.dispatch(instrument, out);
    }

    fn quote(&mut self, instrument: usize, side: Side, price: i64, qty: i64) {
        let slot = usize::from(side == Side::Sell);
        let live = self.quotes[instrument][slot].filter(|order_ref| {
            self.books[instrument]
                .order(*order_ref)
                .is_some_and(|order| order.owner == OWNER_LIQUIDITY)
        });
        let scratch = &mut self.scratch;
        let result = match live {
            Some(order_ref) => {
                self.books[instrument].replace(order_ref, price, qty, &mut self.ids, &mut |event| {
                    scratch.push(*event)
                })
            }
            None => self.books[instrument].submit(
                NewOrder {
                    owner: OWNER_LIQUIDITY,
                    client_id: slot as u64,
                    side,
                    price,
                    qty,
                    tif: TimeInForce::Day,
                },
                &mut self.ids,
                &mut |event| scratch.push(*event),
            ),
        };
        self.quotes[instrument][slot] = match result {
            Ok(submitted) => submitted.order_ref,
            Err(_) => {
                self.counters.liquidity_rejects += 1;
                // A quote that could not move must not stay behind, stale.
                if let Some(order_ref) = live {
                    let scratch = &mut self.scratch;
                    let _ =
                        self.books[instrument].cancel(order_ref, &mut |event| scratch.push(*event));
                }
                None
            }
        };
    }

    /// The taker prints a trade: an immediate-or-cancel order at `price`.
    pub fn on_print(
        &mut self,
        instrument: usize,
        aggressor: Side,
        price: i64,
        qty: i64,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) {
        if instrument >= self.books.len() || price <= 0 || qty <= 0 {
            return;
        }
        self.now_ns = now_ns;
        let scratch = &mut self.scratch;
        let _ = self.books[instrument].submit(
            NewOrder {
                owner: OWNER_TAKER,
                client_id: 0,
                side: aggressor,
                price,
                qty,
                tif: TimeInForce::Ioc,
            },
            &mut self.ids,
            &mut |event| scratch.push(*event),
        );
        self.dispatch(instrument, out);
    }

    /// `session` went away: its resting orders are cancelled, its replies dropped.
    pub fn session_closed(&mut self, session: u32, now_ns: u64, out: &mut dyn MarketDataOut) {
        assert!(
            session >= OWNER_SESSION,
            "sessions own from OWNER_SESSION up"
        );
        self.now_ns = now_ns;
        for instrument in 0..self.books.len() {
            let scratch = &mut self.scratch;
            self.books[instrument].cancel_all_of(session, &mut |event| scratch.push(*event));
            self.dispatch(instrument, out);
        }
        let live: Vec<(u32, u64)> = self
            .session_orders
            .iter()
            .filter(|((owner, _), order)| *owner == session && order.done.is_none())
            .map(|(key, _)| *key)
            .collect();
        for key in live {
            self.retire(key, ViewState::Cancelled);
        }
        self.replies.retain(|reply| reply.session != session);
    }

    /// The order is done with: remembered among the last [`DONE_MEMORY`].
    fn retire(&mut self, key: (u32, u64), state: ViewState) {
        let Some(order) = self.session_orders.get_mut(&key) else {
            return;
        };
        if order.done.is_some() {
            return;
        }
        order.done = Some(state);
        order.order_ref = None;
        if self.done_keys.len() == DONE_MEMORY {
            if let Some(oldest) = self.done_keys.pop_front() {
                self.session_orders.remove(&oldest);
            }
        }
        self.done_keys.push_back(key);
    }

    /// Hands the operation's book events to the outputs and turns the
    /// sessions' executions into fills.
    fn dispatch(&mut self, instrument: usize, out: &mut dyn MarketDataOut) {
        let mut events = std::mem::take(&mut self.scratch);
        for event in &events {
            out.on_book_event(instrument, event, &self.books[instrument], self.now_ns);
            if let BookEvent::Executed {
                maker_ref,
                maker_owner,
                maker_client_id,
                taker_owner,
                taker_client_id,
                side,
                price,
                qty,
                maker_leaves,
                ..
            } = *event
            {
                self.counters.executions += 1;
                if maker_owner >= OWNER_SESSION {
                    self.session_fill(maker_owner, instrument, maker_client_id, side, price, qty);
                    if maker_leaves == 0 {
                        self.retire((maker_owner, maker_client_id), ViewState::Filled);
                    }
                }
                if taker_owner >= OWNER_SESSION {
                    let taker_side = side.opposite();
                    let client_id = taker_client_id;
                    self.session_fill(taker_owner, instrument, client_id, taker_side, price, qty);
                }
                if maker_owner == OWNER_LIQUIDITY && maker_leaves == 0 {
                    for quote in &mut self.quotes[instrument] {
                        if *quote == Some(maker_ref) {
                            *quote = None;
                        }
                    }
                }
            }
        }
        if !events.is_empty() {
            let book = &self.books[instrument];
            debug_assert!(
                book.best_bid()
                    .zip(book.best_ask())
                    .is_none_or(|((bid, _), (ask, _))| bid < ask),
                "a book is never crossed after an operation"
            );
            out.on_operation_done(instrument, book, self.now_ns);
        }
        events.clear();
        self.scratch = events;
    }

    fn session_fill(
        &mut self,
        session: u32,
        instrument: usize,
        order: u64,
        side: Side,
        price: i64,
        qty: i64,
    ) {
        self.counters.session_fills += 1;
        let totals = self
            .totals
            .entry(session)
            .or_insert_with(|| ParticipantTotals::new(self.books.len()));
        totals.fills += 1;
        if let Some(position) = totals.positions.get_mut(instrument) {
            *position += if side == Side::Buy { qty } else { -qty };
        }
        let (cum_qty, leaves_qty) = match self.session_orders.get_mut(&(session, order)) {
            Some(resting) => {
                resting.filled += qty;
                resting.notional += i128::from(price) * i128::from(qty);
                assert!(
                    resting.filled <= resting.qty,
                    "an order never fills beyond its quantity"
                );
                (resting.filled, resting.qty - resting.filled)
            }
            None => (qty, 0),
        };
        self.reply_to(
            session,
            instrument,
            side,
            Answer::Fill { order, price, qty },
            cum_qty,
            leaves_qty,
        );
    }
}

/// A session-order table with room for `room` entries, every bucket's page
/// written once now (filled with placeholders, then cleared: clearing keeps
/// the allocation), so that orders landing in new buckets later do not make
/// it resident page by page after warm-up.
fn resident_table(room: usize) -> HashMap<(u32, u64), SessionOrder> {
    let mut table = HashMap::with_capacity(room);
    let capacity = table.capacity();
    for key in 0..capacity as u64 {
        table.insert((u32::MAX, key), SessionOrder::placeholder());
    }
    debug_assert_eq!(
        table.capacity(),
        capacity,
        "placeholders fit the room asked for"
    );
    table.clear();
    table
}
