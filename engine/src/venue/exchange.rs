//! The simulated venue's exchange: one price-time-priority matching engine
//! per instrument (`genesis_io::venue::MatchingEngine`) and the participants
//! that trade on it.
//!
//! - The **liquidity provider** quotes the seeded random walk: every top of
//!   book the walk makes moves its bid and ask orders there (ITCH order
//!   replace), at the walk's sizes.
//! - The **taker** turns every trade print of the walk into an
//!   immediate-or-cancel order at the print's price, so prints trade against
//!   whatever rests there first in price-time order, the engine's orders
//!   included.
//! - The **sessions** are the engines under test, over FIX, each its own
//!   participant (`OWNER_SESSION + n`): their requests come in through
//!   [`Exchange::submit`], and their acks, fills, cancel acks and rejects
//!   wait in a reply queue as engine [`Event`]s, tagged with the session,
//!   for the FIX side to encode. Two sessions can trade with each other.
//!
//! Every change to a book is handed to the market-data outputs (ITCH over
//! MoldUDP64, Binance-compatible WebSocket) as it happens, so the feed is
//! the book, the session's own orders included, as on a real venue.
//!
//! Owning thread: the simulator's thread. It is a simulator, not the hot
//! path: the reply queue and the session's order table may grow.
//! A session that disconnects has its resting orders cancelled
//! (cancel-on-disconnect), so a standalone simulator never keeps orders
//! nobody will hear about.

use crate::event::{
    venue_reason, Event, Fill, Input, OrderAck, OrderReject, RejectedRequest, TopOfBook,
};
use crate::execution::gateway::{OrderRequest, RequestKind};
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use genesis_io::venue::{
    BookEvent, Ids, MatchingEngine, NewOrder, OrderRef, Reject, Side as BookSide, TimeInForce,
};
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
    /// Its reference in the book while it rests.
    order_ref: Option<OrderRef>,
    /// Total quantity (FIX OrderQty) and what of it has traded.
    qty: i64,
    filled: i64,
}

/// A reply to a session: the engine event, which session it is for, and the
/// order's totals after it (FIX CumQty and LeavesQty).
#[derive(Clone, Copy, Debug)]
pub struct Reply {
    pub session: u32,
    pub event: Event,
    pub cum_qty: i64,
    pub leaves_qty: i64,
    /// The ack is for a replace (FIX ExecType Replaced), not a new order.
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
    /// The sessions' live orders, by session and the engine's order id.
    session_orders: HashMap<(u32, u64), SessionOrder>,
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

fn book_side(side: Side) -> BookSide {
    if side == Side::Sell {
        BookSide::Sell
    } else {
        BookSide::Buy
    }
}

fn engine_side(side: BookSide) -> Side {
    match side {
        BookSide::Buy => Side::Buy,
        BookSide::Sell => Side::Sell,
    }
}

impl Exchange {
    /// Books for `instrument_count` instruments, `orders_max` resting orders each.
    pub fn new(instrument_count: usize, orders_max: usize) -> Exchange {
        Exchange {
            books: (0..instrument_count)
                .map(|_| MatchingEngine::new(orders_max, BOOK_LEVELS_MAX))
                .collect(),
            ids: Ids::default(),
            quotes: vec![[None, None]; instrument_count],
            session_orders: HashMap::with_capacity(4_096),
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

    /// The next reply to a session (ack, fill, cancel ack, reject), oldest
    /// first, with the session it is for.
    pub fn pop_reply(&mut self) -> Option<Reply> {
        self.replies.pop_front()
    }

    /// The liquidity provider quotes a new top of book.
    pub fn on_top(
        &mut self,
        instrument: usize,
        top: &TopOfBook,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) {
        if instrument >= self.books.len() || top.bid_px.0 <= 0 || top.ask_px.0 <= top.bid_px.0 {
            return;
        }
        self.now_ns = now_ns;
        let bid = (BookSide::Buy, top.bid_px.0, top.bid_qty.0.max(1));
        let ask = (BookSide::Sell, top.ask_px.0, top.ask_qty.0.max(1));
        // Move the side that leads first, so the two quotes never cross each other.
        let rising = self.books[instrument]
            .best_ask()
            .is_none_or(|(price, _)| top.ask_px.0 >= price);
        let order = if rising { [ask, bid] } else { [bid, ask] };
        for (side, price, qty) in order {
            self.quote(instrument, side, price, qty);
        }
        self.dispatch(instrument, out);
    }

    fn quote(&mut self, instrument: usize, side: BookSide, price: i64, qty: i64) {
        let slot = usize::from(side == BookSide::Sell);
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
                side: book_side(aggressor),
                price,
                qty,
                tif: TimeInForce::Ioc,
            },
            &mut self.ids,
            &mut |event| scratch.push(*event),
        );
        self.dispatch(instrument, out);
    }

    /// One request from `session` (`OWNER_SESSION + n`); its replies wait
    /// in the reply queue.
    pub fn submit(
        &mut self,
        session: u32,
        request: OrderRequest,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) {
        debug_assert!(
            session >= OWNER_SESSION,
            "sessions own from OWNER_SESSION up"
        );
        self.now_ns = now_ns;
        self.session = session;
        let instrument = request.instrument.index();
        if instrument >= self.books.len() {
            let (kind, reason) = match request.kind {
                RequestKind::New => (RejectedRequest::New, venue_reason::UNKNOWN_SYMBOL),
                RequestKind::Cancel => (RejectedRequest::Cancel, venue_reason::UNKNOWN_ORDER),
                RequestKind::Replace => (RejectedRequest::Replace, venue_reason::UNKNOWN_ORDER),
            };
            return self.reject(&request, kind, reason);
        }
        match request.kind {
            RequestKind::New => self.session_new(&request),
            RequestKind::Cancel => self.session_cancel(&request),
            RequestKind::Replace => self.session_replace(&request),
        }
        self.dispatch(instrument, out);
        if let Some((order_id, expired_qty)) = self.done_on_arrival.take() {
            // What could not rest expired: the session hears it after the fills.
            if expired_qty > 0 {
                self.reply(
                    request.instrument,
                    request.side,
                    Input::CancelAck(OrderId(order_id)),
                );
            }
            self.session_orders.remove(&(self.session, order_id));
        }
    }

    /// `session` went away: its resting orders are cancelled, its replies dropped.
    pub fn session_closed(&mut self, session: u32, now_ns: u64, out: &mut dyn MarketDataOut) {
        self.now_ns = now_ns;
        for instrument in 0..self.books.len() {
            let scratch = &mut self.scratch;
            self.books[instrument].cancel_all_of(session, &mut |event| scratch.push(*event));
            self.dispatch(instrument, out);
        }
        self.session_orders
            .retain(|(owner, _), _| *owner != session);
        self.replies.retain(|reply| reply.session != session);
    }

    /// A reply to the current session; its totals are the order's now.
    fn reply(&mut self, instrument: InstrumentId, side: Side, input: Input) {
        self.reply_marked(instrument, side, input, false);
    }

    fn reply_marked(&mut self, instrument: InstrumentId, side: Side, input: Input, replaced: bool) {
        let order_id = match input {
            Input::OrderAck(ack) => ack.order_id,
            Input::CancelAck(order_id) => order_id,
            Input::OrderReject(reject) => reject.order_id,
            _ => OrderId(0),
        };
        let (qty, filled) = self
            .session_orders
            .get(&(self.session, order_id.0))
            .map_or((0, 0), |order| (order.qty, order.filled));
        let leaves_qty = match input {
            Input::OrderAck(_) => qty - filled,
            _ => 0,
        };
        self.reply_to(self.session, instrument, side, input, filled, leaves_qty);
        if let Some(last) = self.replies.back_mut() {
            last.replaced = replaced;
        }
    }

    fn reply_to(
        &mut self,
        session: u32,
        instrument: InstrumentId,
        side: Side,
        input: Input,
        cum_qty: i64,
        leaves_qty: i64,
    ) {
        let mut event = Event::new(instrument, side, input);
        event.ts_venue_ns = self.now_ns;
        self.replies.push_back(Reply {
            session,
            event,
            cum_qty,
            leaves_qty,
            replaced: false,
        });
    }

    fn reject(&mut self, request: &OrderRequest, kind: RejectedRequest, reason: i64) {
        self.counters.session_rejects += 1;
        let reject = OrderReject {
            order_id: request.order_id,
            request: kind,
            venue_reason: reason,
        };
        self.reply(request.instrument, request.side, Input::OrderReject(reject));
    }

    fn session_new(&mut self, request: &OrderRequest) {
        let reason = if request.qty.0 <= 0 || request.qty.0 > QTY_LOTS_MAX {
            Some(venue_reason::INCORRECT_QTY)
        } else if request.price.0 <= 0 || request.price.0 > PRICE_TICKS_MAX {
            Some(venue_reason::OTHER)
        } else if self
            .session_orders
            .contains_key(&(self.session, request.order_id.0))
        {
            Some(venue_reason::DUPLICATE_ORDER)
        } else {
            None
        };
        if let Some(reason) = reason {
            return self.reject(request, RejectedRequest::New, reason);
        }
        let instrument = request.instrument.index();
        let order = NewOrder {
            owner: self.session,
            client_id: request.order_id.0,
            side: book_side(request.side),
            price: request.price.0,
            qty: request.qty.0,
            tif: TimeInForce::Day,
        };
        let scratch = &mut self.scratch;
        let result =
            self.books[instrument].submit(order, &mut self.ids, &mut |event| scratch.push(*event));
        match result {
            Ok(submitted) => {
                self.session_orders.insert(
                    (self.session, request.order_id.0),
                    SessionOrder {
                        instrument,
                        order_ref: submitted.order_ref,
                        qty: request.qty.0,
                        filled: 0,
                    },
                );
                if submitted.order_ref.is_none() {
                    self.done_on_arrival = Some((request.order_id.0, submitted.expired_qty));
                }
                // The ack goes out before the fills the order took on arrival.
                let ack = OrderAck {
                    order_id: request.order_id,
                    venue_order_id: submitted.order_ref.unwrap_or(0),
                    price: request.price,
                    qty: request.qty,
                };
                self.reply(request.instrument, request.side, Input::OrderAck(ack));
            }
            Err(reject) => self.reject(request, RejectedRequest::New, new_reason_of(reject)),
        }
    }

    fn session_cancel(&mut self, request: &OrderRequest) {
        let Some(order) = self.live_session_order(request) else {
            return self.reject(
                request,
                RejectedRequest::Cancel,
                venue_reason::UNKNOWN_ORDER,
            );
        };
        let Some(order_ref) = order.order_ref else {
            return self.reject(
                request,
                RejectedRequest::Cancel,
                venue_reason::UNKNOWN_ORDER,
            );
        };
        let scratch = &mut self.scratch;
        match self.books[order.instrument].cancel(order_ref, &mut |event| scratch.push(*event)) {
            Ok(_) => {
                self.reply(
                    request.instrument,
                    request.side,
                    Input::CancelAck(request.order_id),
                );
                self.session_orders
                    .remove(&(self.session, request.order_id.0));
            }
            Err(reject) => self.reject(request, RejectedRequest::Cancel, cancel_reason_of(reject)),
        }
    }

    fn session_replace(&mut self, request: &OrderRequest) {
        let Some(order) = self.live_session_order(request) else {
            return self.reject(
                request,
                RejectedRequest::Replace,
                venue_reason::UNKNOWN_ORDER,
            );
        };
        let Some(order_ref) = order.order_ref else {
            return self.reject(
                request,
                RejectedRequest::Replace,
                venue_reason::UNKNOWN_ORDER,
            );
        };
        // FIX gives the new total quantity; the book takes what is left of it.
        let leaves = request.qty.0 - order.filled;
        if leaves <= 0 || request.qty.0 > QTY_LOTS_MAX {
            return self.reject(request, RejectedRequest::Replace, venue_reason::OTHER);
        }
        if request.price.0 <= 0 || request.price.0 > PRICE_TICKS_MAX {
            return self.reject(request, RejectedRequest::Replace, venue_reason::OTHER);
        }
        let scratch = &mut self.scratch;
        let result = self.books[order.instrument].replace(
            order_ref,
            request.price.0,
            leaves,
            &mut self.ids,
            &mut |event| scratch.push(*event),
        );
        match result {
            Ok(submitted) => {
                let key = (self.session, request.order_id.0);
                if let Some(entry) = self.session_orders.get_mut(&key) {
                    entry.order_ref = submitted.order_ref;
                    entry.qty = request.qty.0;
                }
                if submitted.order_ref.is_none() {
                    self.done_on_arrival = Some((request.order_id.0, submitted.expired_qty));
                }
                // Queued before the fills the replacement takes (sent at dispatch).
                let ack = OrderAck {
                    order_id: request.order_id,
                    venue_order_id: order_ref,
                    price: request.price,
                    qty: request.qty,
                };
                self.reply_marked(request.instrument, request.side, Input::OrderAck(ack), true);
            }
            Err(reject) => self.reject(request, RejectedRequest::Replace, cancel_reason_of(reject)),
        }
    }

    fn live_session_order(&self, request: &OrderRequest) -> Option<SessionOrder> {
        self.session_orders
            .get(&(self.session, request.order_id.0))
            .copied()
            .filter(|order| order.instrument == request.instrument.index())
    }

    /// Hands the operation's book events to the outputs and turns the
    /// session's executions into fills.
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
                        self.session_orders.remove(&(maker_owner, maker_client_id));
                    }
                }
                if taker_owner >= OWNER_SESSION {
                    let taker_side = match side {
                        BookSide::Buy => BookSide::Sell,
                        BookSide::Sell => BookSide::Buy,
                    };
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
            out.on_operation_done(instrument, &self.books[instrument], self.now_ns);
        }
        events.clear();
        self.scratch = events;
    }

    fn session_fill(
        &mut self,
        session: u32,
        instrument: usize,
        order_id: u64,
        side: BookSide,
        price: i64,
        qty: i64,
    ) {
        self.counters.session_fills += 1;
        let (cum_qty, leaves_qty) = match self.session_orders.get_mut(&(session, order_id)) {
            Some(order) => {
                order.filled += qty;
                (order.filled, order.qty - order.filled)
            }
            None => (qty, 0),
        };
        // The FIX side numbers ExecIDs (unique across venue restarts).
        let exec_id = ExecId(0);
        let fill = Fill {
            order_id: OrderId(order_id),
            exec_id,
            price: Price(price),
            qty: Qty(qty),
        };
        self.reply_to(
            session,
            InstrumentId(instrument as u16),
            engine_side(side),
            Input::Fill(fill),
            cum_qty,
            leaves_qty,
        );
    }
}

/// OrdRejReason(103) for a refused new order.
fn new_reason_of(reject: Reject) -> i64 {
    match reject {
        Reject::BadQty => venue_reason::INCORRECT_QTY,
        Reject::BookFull | Reject::LevelsFull => venue_reason::EXCEEDS_LIMIT,
        Reject::BadPrice | Reject::UnknownOrder => venue_reason::OTHER,
    }
}

/// CxlRejReason(102) for a refused cancel or replace.
fn cancel_reason_of(reject: Reject) -> i64 {
    match reject {
        Reject::UnknownOrder => venue_reason::UNKNOWN_ORDER,
        _ => venue_reason::OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what the market-data outputs would publish.
    #[derive(Default)]
    struct Tape {
        events: Vec<(usize, BookEvent)>,
        operations: usize,
    }

    impl MarketDataOut for Tape {
        fn on_book_event(
            &mut self,
            instrument: usize,
            event: &BookEvent,
            _: &MatchingEngine,
            _: u64,
        ) {
            self.events.push((instrument, *event));
        }
        fn on_operation_done(&mut self, _: usize, _: &MatchingEngine, _: u64) {
            self.operations += 1;
        }
    }

    fn top(bid: i64, ask: i64) -> TopOfBook {
        TopOfBook {
            bid_px: Price(bid),
            bid_qty: Qty(10),
            ask_px: Price(ask),
            ask_qty: Qty(10),
        }
    }

    fn request(kind: RequestKind, order: u64, side: Side, price: i64, qty: i64) -> OrderRequest {
        OrderRequest {
            kind,
            order_id: OrderId(order),
            instrument: InstrumentId(0),
            side,
            price: Price(price),
            qty: Qty(qty),
            ts_trigger_ns: 0,
        }
    }

    fn replies(exchange: &mut Exchange) -> Vec<Input> {
        std::iter::from_fn(|| exchange.pop_reply().map(|r| r.event.input())).collect()
    }

    // The liquidity provider's quotes move by replace, and the book follows the walk.
    #[test]
    fn quotes_follow_the_walk() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.on_top(0, &top(100, 102), 1, &mut tape);
        exchange.on_top(0, &top(101, 103), 2, &mut tape);
        let book = exchange.book(0).unwrap();
        assert_eq!(book.best_bid(), Some((101, 10)));
        assert_eq!(book.best_ask(), Some((103, 10)));
        assert_eq!(book.order_count(), 2);
        assert!(tape
            .events
            .iter()
            .any(|(_, e)| matches!(e, BookEvent::Replaced { .. })));
    }

    // A session order that crosses the quote is acked, then filled at the quote's price.
    #[test]
    fn crossing_order_acks_then_fills_at_the_resting_price() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.on_top(0, &top(100, 102), 1, &mut tape);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 7, Side::Buy, 105, 4),
            2,
            &mut tape,
        );
        let got = replies(&mut exchange);
        assert!(matches!(got[0], Input::OrderAck(ack) if ack.order_id == OrderId(7)));
        assert!(matches!(got[1], Input::Fill(f) if f.price == Price(102) && f.qty == Qty(4)));
        assert_eq!(got.len(), 2);
        assert_eq!(exchange.book(0).unwrap().best_ask(), Some((102, 6)));
    }

    // At one price the earlier order trades first: the taker's print fills the
    // provider's older quote before the session's later order at that price.
    #[test]
    fn prints_fill_in_price_time_order() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.on_top(0, &top(100, 102), 1, &mut tape);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 1, Side::Buy, 100, 5),
            2,
            &mut tape,
        );
        let _ = replies(&mut exchange);
        exchange.on_print(0, Side::Sell, 100, 12, 3, &mut tape);
        let got = replies(&mut exchange);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(got[0], Input::Fill(f) if f.qty == Qty(2) && f.order_id == OrderId(1)));
        assert_eq!(exchange.book(0).unwrap().best_bid(), Some((100, 3)));
    }

    // Replace answers with an ack; cancel with a cancel ack; then the order is unknown.
    #[test]
    fn replace_then_cancel_then_unknown() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.on_top(0, &top(100, 110), 1, &mut tape);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 1, Side::Sell, 108, 5),
            2,
            &mut tape,
        );
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Replace, 1, Side::Sell, 107, 5),
            3,
            &mut tape,
        );
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Cancel, 1, Side::Sell, 0, 5),
            4,
            &mut tape,
        );
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Cancel, 1, Side::Sell, 0, 5),
            5,
            &mut tape,
        );
        let got = replies(&mut exchange);
        assert!(matches!(got[0], Input::OrderAck(_)));
        assert!(matches!(got[1], Input::OrderAck(a) if a.price == Price(107)));
        assert_eq!(got[2], Input::CancelAck(OrderId(1)));
        assert!(matches!(got[3], Input::OrderReject(r)
            if r.request == RejectedRequest::Cancel && r.venue_reason == venue_reason::UNKNOWN_ORDER));
        assert_eq!(exchange.book(0).unwrap().best_ask(), Some((110, 10)));
    }

    // A replace that crosses trades at once; its fills count against the new total.
    #[test]
    fn crossing_replace_fills_and_partial_fill_counts_against_the_total() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.on_top(0, &top(100, 102), 1, &mut tape);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 1, Side::Buy, 99, 15),
            2,
            &mut tape,
        );
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Replace, 1, Side::Buy, 102, 15),
            3,
            &mut tape,
        );
        let got = replies(&mut exchange);
        assert!(matches!(got[2], Input::Fill(f) if f.qty == Qty(10) && f.price == Price(102)));
        // 10 of 15 filled: a replace down to 10 leaves nothing and is refused.
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Replace, 1, Side::Buy, 102, 10),
            4,
            &mut tape,
        );
        let got = replies(&mut exchange);
        assert!(matches!(got[0], Input::OrderReject(r) if r.venue_reason == venue_reason::OTHER));
    }

    // When the session goes away its resting orders leave the book, and the feed says so.
    #[test]
    fn session_orders_are_cancelled_on_disconnect() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.on_top(0, &top(100, 110), 1, &mut tape);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 1, Side::Buy, 101, 5),
            2,
            &mut tape,
        );
        assert_eq!(exchange.book(0).unwrap().best_bid(), Some((101, 5)));
        exchange.session_closed(OWNER_SESSION, 3, &mut tape);
        assert_eq!(exchange.book(0).unwrap().best_bid(), Some((100, 10)));
        assert!(matches!(
            tape.events.last(),
            Some((
                0,
                BookEvent::Cancelled {
                    leaves: 0,
                    owner: OWNER_SESSION,
                    ..
                }
            ))
        ));
        assert!(exchange.pop_reply().is_none());
    }

    // What trades on arrival is filled; a remainder that cannot rest (every
    // level taken) expires, and the session hears it after its fills: no
    // order stays open in the engine that the venue has dropped.
    #[test]
    fn remainder_that_cannot_rest_expires_and_is_reported() {
        let (mut exchange, mut tape) = (Exchange::new(1, 4_096), Tape::default());
        exchange.on_top(0, &top(100, 5_000), 1, &mut tape);
        for (index, price) in (1_001..1_001 + BOOK_LEVELS_MAX as i64 - 1).enumerate() {
            let order = request(RequestKind::New, 1_000 + index as u64, Side::Sell, price, 1);
            exchange.submit(OWNER_SESSION, order, 2, &mut tape);
        }
        let _ = replies(&mut exchange);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 1, Side::Sell, 100, 15),
            3,
            &mut tape,
        );
        let got = replies(&mut exchange);
        assert!(matches!(got[0], Input::OrderAck(_)), "{got:?}");
        assert!(matches!(got[1], Input::Fill(f) if f.qty == Qty(10) && f.price == Price(100)));
        assert_eq!(got[2], Input::CancelAck(OrderId(1)), "the 5 left expired");
        assert_eq!(got.len(), 3);
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Cancel, 1, Side::Sell, 0, 15),
            4,
            &mut tape,
        );
        assert!(matches!(replies(&mut exchange)[0], Input::OrderReject(r)
            if r.venue_reason == venue_reason::UNKNOWN_ORDER));
    }

    // Two sessions are two participants: one's buy takes the other's resting
    // sell, each hears its own fill; one going away leaves the other's orders.
    #[test]
    fn two_sessions_trade_with_each_other() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        let (a, b) = (OWNER_SESSION, OWNER_SESSION + 1);
        exchange.submit(
            a,
            request(RequestKind::New, 1, Side::Sell, 105, 5),
            1,
            &mut tape,
        );
        exchange.submit(
            b,
            request(RequestKind::New, 1, Side::Buy, 101, 3),
            2,
            &mut tape,
        );
        exchange.submit(
            b,
            request(RequestKind::New, 2, Side::Buy, 106, 2),
            3,
            &mut tape,
        );
        let got: Vec<(u32, Input)> =
            std::iter::from_fn(|| exchange.pop_reply().map(|r| (r.session, r.event.input())))
                .collect();
        let fills: Vec<(u32, u64, i64, i64)> = got
            .iter()
            .filter_map(|(s, input)| match input {
                Input::Fill(f) => Some((*s, f.order_id.0, f.price.0, f.qty.0)),
                _ => None,
            })
            .collect();
        assert_eq!(fills, [(a, 1, 105, 2), (b, 2, 105, 2)], "{got:?}");
        exchange.session_closed(a, 4, &mut tape);
        let book = exchange.book(0).unwrap();
        assert_eq!(book.best_ask(), None, "a's rest is gone");
        assert_eq!(book.best_bid(), Some((101, 3)), "b's order stays");
        // b's order 1 is still b's to cancel.
        exchange.submit(
            b,
            request(RequestKind::Cancel, 1, Side::Buy, 0, 3),
            5,
            &mut tape,
        );
        assert!(matches!(exchange.pop_reply(), Some(r) if r.session == b
            && r.event.input() == Input::CancelAck(OrderId(1))));
    }

    // Bad requests are refused with the venue's reason, and nothing reaches the book.
    #[test]
    fn bad_requests_are_refused() {
        let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 1, Side::Buy, 100, 0),
            1,
            &mut tape,
        );
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, 2, Side::Buy, 0, 5),
            1,
            &mut tape,
        );
        let mut unknown = request(RequestKind::New, 3, Side::Buy, 100, 5);
        unknown.instrument = InstrumentId(9);
        exchange.submit(OWNER_SESSION, unknown, 1, &mut tape);
        let huge = request(RequestKind::New, 4, Side::Buy, 100, i64::MAX / 2);
        exchange.submit(OWNER_SESSION, huge, 1, &mut tape);
        let reasons: Vec<i64> = replies(&mut exchange)
            .into_iter()
            .map(|input| match input {
                Input::OrderReject(r) => r.venue_reason,
                other => panic!("expected a reject, got {other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                venue_reason::INCORRECT_QTY,
                venue_reason::OTHER,
                venue_reason::UNKNOWN_SYMBOL,
                venue_reason::INCORRECT_QTY
            ]
        );
        assert!(tape.events.is_empty());
    }
}
