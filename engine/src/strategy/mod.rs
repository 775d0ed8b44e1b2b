//! Strategy: the [`Strategy`] trait, the [`Actions`] a strategy acts through,
//! and the stage that runs it.
//!
//! A strategy sees every event through one callback per kind and answers
//! with intents (new, cancel, replace) through `Actions`. Each intent is
//! checked by pre-trade risk on the spot: the strategy gets the verdict back
//! as a `Result`, and the intent, accepted or not, is written into the event
//! for execution and the journal. At most [`MAX_INTENTS`] intents fit in one
//! event. Strategies read no clock: `Actions::ts_ns` is the event's time.
//!
//! A restart carries the stage's state (`save_state`/`restore_state`): the
//! pre-trade state with its throttle window, the order replica, the next
//! order id, and the strategy's own state, which a strategy saves through
//! [`Strategy::save_state`] (stateless strategies keep the defaults).

pub mod market_maker;
pub mod touch_quoter;

use crate::config::{Config, StrategyName};
use crate::decision::{Action, ExecResult, Gate, Intent, RejectReason, MAX_INTENTS};
use crate::event::{BookDelta, Event, Fill, Input, OrderAck, OrderReject, TopOfBook};
use crate::orders::{Order, OrderState, OrderTerms, Orders};
use crate::risk::pretrade::{OrderCheck, PreTrade};
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

pub use market_maker::MarketMaker;
pub use touch_quoter::TouchQuoter;

/// The bundled strategy `strategy.name` names: the market maker, the touch quoter, or none.
pub fn from_config(config: &Config) -> Box<dyn Strategy> {
    match config.strategy.name {
        StrategyName::None => Box::new(Idle),
        StrategyName::MarketMaker => Box::new(MarketMaker::new(
            config.strategy.market_maker.clone(),
            config.instruments.len(),
        )),
        StrategyName::TouchQuoter => Box::new(TouchQuoter::new(
            config.strategy.touch_quoter.clone(),
            config.instruments.len(),
        )),
    }
}

/// A trading strategy. Every callback but market data has a do-nothing default.
pub trait Strategy: Send {
    fn name(&self) -> &'static str;

    /// Top of book, trades and book deltas.
    fn on_market_data(&mut self, event: &Event, act: &mut Actions);

    fn on_fill(
        &mut self,
        _instrument: InstrumentId,
        _side: Side,
        _fill: &Fill,
        _act: &mut Actions,
    ) {
    }

    fn on_ack(&mut self, _instrument: InstrumentId, _ack: &OrderAck, _act: &mut Actions) {}

    /// A venue reject of a new order, a cancel or a replace.
    fn on_reject(&mut self, _instrument: InstrumentId, _reject: &OrderReject, _act: &mut Actions) {}

    fn on_cancel_ack(&mut self, _instrument: InstrumentId, _order_id: OrderId, _act: &mut Actions) {
    }

    fn on_timer(&mut self, _timer_id: u64, _act: &mut Actions) {}

    /// Writes what the strategy must remember across a restart (its own
    /// view: quotes it keeps, signals it accumulated). The engine saves it
    /// in snapshots and carries it into the next run; the default, for a
    /// strategy whose decisions depend only on what `Actions` shows, writes
    /// nothing. The bytes must be a function of the state alone (no hash-map
    /// order), so that saving a restored strategy gives the same bytes.
    fn save_state(&self, _out: &mut StateWriter) {}

    /// Reads back what `save_state` wrote, into a strategy built with the
    /// same parameters. Bad bytes are an error, never a panic.
    fn restore_state(&mut self, _input: &mut StateReader<'_>) -> Result<(), StateError> {
        Ok(())
    }

    /// A new instance with the same parameters and no state. The engine runs
    /// it beside the live one, on the snapshot thread, fed the journaled
    /// events (it must decide exactly as the live one). `None`, the default,
    /// turns periodic snapshots off for this strategy: a restart then
    /// replays the journal from the last snapshot written, or from the start.
    fn replica(&self) -> Option<Box<dyn Strategy>> {
        None
    }

    /// For the bundled strategies: hands the strategy itself over, leaving
    /// an empty one of the same parameters behind, so that the stage runs
    /// it by its own type and calls it without a virtual call per event
    /// (see [`StrategyStage::new`]). Any other strategy keeps the default,
    /// `None`, and runs behind its `dyn Strategy`.
    fn take_bundled(&mut self) -> Option<Bundled> {
        None
    }
}

/// A bundled strategy, by its own type (see [`Strategy::take_bundled`]).
pub enum Bundled {
    TouchQuoter(TouchQuoter),
    MarketMaker(MarketMaker),
}

/// A strategy that never trades: for runs that only record, and for tests.
pub struct Idle;

impl Strategy for Idle {
    fn name(&self) -> &'static str {
        "none"
    }

    fn on_market_data(&mut self, _event: &Event, _act: &mut Actions) {}

    fn replica(&self) -> Option<Box<dyn Strategy>> {
        Some(Box::new(Idle))
    }
}

/// What the strategy stage knows beyond the strategy itself.
struct Book {
    pretrade: PreTrade,
    orders: Orders,
    order_id_next: u64,
    intents_overflow: u64,
}

/// The strategy's window on the engine for one event: state to read, intents to make.
pub struct Actions<'a> {
    book: &'a mut Book,
    intents: &'a mut [Intent; MAX_INTENTS],
    used: usize,
    ts_ns: u64,
}

impl Actions<'_> {
    /// The event's time, nanoseconds since the Unix epoch.
    pub fn ts_ns(&self) -> u64 {
        self.ts_ns
    }

    pub fn position(&self, instrument: InstrumentId) -> Qty {
        self.book.pretrade.position(instrument)
    }

    pub fn mid(&self, instrument: InstrumentId) -> Option<Price> {
        self.book.pretrade.mid(instrument)
    }

    /// The gate in force for `instrument`: the stricter of the global and its own.
    pub fn gate(&self, instrument: InstrumentId) -> Gate {
        self.book.pretrade.gate(instrument)
    }

    /// True while the instrument's book is stale: new orders would be refused.
    pub fn is_stale(&self, instrument: InstrumentId) -> bool {
        self.book.pretrade.is_stale(instrument)
    }

    /// A live order, as the engine knows it.
    pub fn order(&self, id: OrderId) -> Option<&Order> {
        self.book.orders.get(id)
    }

    /// Would the order-rate throttle take another new order or replace now?
    /// Strategies that pace themselves check this instead of collecting rejects.
    pub fn throttle_allows(&self) -> bool {
        self.book.pretrade.throttle_allows(self.ts_ns)
    }

    /// Intent slots still free in this event.
    pub fn slots_free(&self) -> usize {
        MAX_INTENTS - self.used
    }

    /// Sends a limit order if pre-trade risk accepts it.
    pub fn new_order(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> Result<OrderId, RejectReason> {
        let check = OrderCheck {
            instrument,
            side,
            price,
            qty,
            leaves_now: 0,
            filled: 0,
            is_new: true,
        };
        let verdict = self
            .book
            .pretrade
            .check(&check, &self.book.orders, self.ts_ns);
        let id = OrderId(self.book.order_id_next);
        self.record(Action::New, id, instrument, side, price, qty, verdict)?;
        self.book.order_id_next += 1;
        let opened = self.book.orders.open_new(id, instrument, side, price, qty);
        debug_assert!(opened.is_ok(), "order ids are fresh");
        self.book.pretrade.record_order(self.ts_ns);
        Ok(id)
    }

    /// Cancels a live order. Cancels are never refused by limits.
    pub fn cancel(&mut self, id: OrderId) -> Result<(), RejectReason> {
        let Some(order) = self.book.orders.get(id).copied() else {
            return Err(RejectReason::OrderNotWorking);
        };
        let verdict = match order.state {
            OrderState::PendingCancel => RejectReason::OrderNotWorking,
            _ => RejectReason::None,
        };
        self.record(
            Action::Cancel,
            id,
            order.instrument,
            order.side,
            order.price,
            order.qty,
            verdict,
        )?;
        let _ = self.book.orders.request_cancel(id);
        Ok(())
    }

    /// [`Actions::cancel`] of an order the caller has just found open and
    /// working (new or partly filled), by the terms it works at: the same
    /// intent and the same request, without looking the order up again.
    pub(crate) fn cancel_working(&mut self, terms: OrderTerms) -> Result<(), RejectReason> {
        debug_assert!(
            self.book
                .orders
                .get(terms.id)
                .is_some_and(|order| order.state.is_working() && OrderTerms::of(order) == terms),
            "the order is open and working, at these terms"
        );
        self.record(
            Action::Cancel,
            terms.id,
            terms.instrument,
            terms.side,
            terms.price,
            terms.qty,
            RejectReason::None,
        )?;
        let _ = self.book.orders.request_cancel(terms.id);
        Ok(())
    }

    /// Moves a working order to a new price and total quantity.
    pub fn replace(&mut self, id: OrderId, price: Price, qty: Qty) -> Result<(), RejectReason> {
        let Some(order) = self.book.orders.get(id).copied() else {
            return Err(RejectReason::OrderNotWorking);
        };
        let verdict = if order.state.is_working() {
            let check = OrderCheck {
                instrument: order.instrument,
                side: order.side,
                price,
                qty,
                leaves_now: order.leaves(),
                filled: order.filled.0,
                is_new: false,
            };
            self.book
                .pretrade
                .check(&check, &self.book.orders, self.ts_ns)
        } else {
            RejectReason::OrderNotWorking
        };
        self.record(
            Action::Replace,
            id,
            order.instrument,
            order.side,
            price,
            qty,
            verdict,
        )?;
        let _ = self.book.orders.request_replace(id, price, qty);
        self.book.pretrade.record_order(self.ts_ns);
        Ok(())
    }

    /// Writes the intent into the next free slot; an accepted one returns Ok.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        action: Action,
        order_id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
        verdict: RejectReason,
    ) -> Result<(), RejectReason> {
        if self.used == MAX_INTENTS {
            self.book.intents_overflow += 1;
            return Err(RejectReason::IntentSlotsFull);
        }
        self.intents[self.used] = Intent {
            order_id,
            price,
            qty,
            instrument,
            action,
            side,
            reject: verdict,
            exec: ExecResult::NotSent,
            reserved: [0; 2],
        };
        self.used += 1;
        match verdict {
            RejectReason::None => Ok(()),
            reason => Err(reason),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyCounters {
    pub intents: u64,
    pub intents_accepted: u64,
    pub intents_overflow: u64,
    /// Pre-trade rejections, indexed by `RejectReason as usize`.
    pub rejects_by_reason: [u64; 32],
}

/// The strategy a stage runs: a bundled one by its own type, so that its
/// callbacks are direct calls the compiler can inline into the stage (the
/// touch quoter's count of a book row is a few instructions, less than a
/// virtual call), any other behind its `dyn Strategy`. The same callbacks
/// run either way. A tag byte of its own (`repr(u8)`): telling the kinds
/// apart is one compare, not a decode of a niche in the strategies' fields.
#[repr(u8)]
enum Runner {
    TouchQuoter(TouchQuoter),
    MarketMaker(MarketMaker),
    Other(Box<dyn Strategy>),
}

/// Calls `$method` on whichever strategy `$runner` holds.
macro_rules! dispatch {
    ($runner:expr, $method:ident($($arg:expr),*)) => {
        match $runner {
            Runner::TouchQuoter(s) => s.$method($($arg),*),
            Runner::MarketMaker(s) => s.$method($($arg),*),
            Runner::Other(s) => s.$method($($arg),*),
        }
    };
}

impl Runner {
    /// A bundled strategy is taken out of its box; any other stays in it.
    fn new(mut strategy: Box<dyn Strategy>) -> Runner {
        match strategy.take_bundled() {
            Some(Bundled::TouchQuoter(quoter)) => Runner::TouchQuoter(quoter),
            Some(Bundled::MarketMaker(maker)) => Runner::MarketMaker(maker),
            None => Runner::Other(strategy),
        }
    }

    fn as_dyn(&self) -> &dyn Strategy {
        match self {
            Runner::TouchQuoter(s) => s,
            Runner::MarketMaker(s) => s,
            Runner::Other(s) => s.as_ref(),
        }
    }

    fn as_dyn_mut(&mut self) -> &mut dyn Strategy {
        match self {
            Runner::TouchQuoter(s) => s,
            Runner::MarketMaker(s) => s,
            Runner::Other(s) => s.as_mut(),
        }
    }

    fn into_box(self) -> Box<dyn Strategy> {
        match self {
            Runner::TouchQuoter(s) => Box::new(s),
            Runner::MarketMaker(s) => Box::new(s),
            Runner::Other(s) => s,
        }
    }
}

/// Runs a strategy on every event, keeping the state pre-trade checks need.
pub struct StrategyStage {
    strategy: Runner,
    book: Book,
    /// Where an event's intents are made before they are copied into it:
    /// the stage's own, so that no event pays for clearing a fresh array
    /// (only the slots made, `..used`, are ever read).
    intents: [Intent; MAX_INTENTS],
    pub counters: StrategyCounters,
}

impl StrategyStage {
    /// A stage running `strategy`; the bundled strategies are recognized by
    /// type and called directly (see `Runner`).
    pub fn new(config: &Config, strategy: Box<dyn Strategy>) -> StrategyStage {
        StrategyStage {
            strategy: Runner::new(strategy),
            intents: [Intent::EMPTY; MAX_INTENTS],
            book: Book {
                pretrade: PreTrade::new(config),
                orders: Orders::for_config(config),
                order_id_next: 1,
                intents_overflow: 0,
            },
            counters: StrategyCounters::default(),
        }
    }

    /// Makes order ids start after `last` (a restart must not reuse ids).
    pub fn set_order_id_floor(&mut self, last: u64) {
        self.book.order_id_next = self.book.order_id_next.max(last + 1);
    }

    /// The id the next new order gets.
    pub fn order_id_next(&self) -> u64 {
        self.book.order_id_next
    }

    pub fn strategy_name(&self) -> &'static str {
        self.strategy.as_dyn().name()
    }

    /// A fresh instance of the strategy, if it offers one (see [`Strategy::replica`]).
    pub fn strategy_replica(&self) -> Option<Box<dyn Strategy>> {
        self.strategy.as_dyn().replica()
    }

    /// The strategy, taken back out of the stage.
    pub fn into_strategy(self) -> Box<dyn Strategy> {
        self.strategy.into_box()
    }

    /// Writes the state a restart carries: pre-trade state, the order
    /// replica, the next order id, and the strategy's own state under its name.
    pub fn save_state(&self, out: &mut StateWriter) {
        self.book.pretrade.save_state(out);
        self.book.orders.save_state(out);
        out.u64(self.book.order_id_next);
        out.str(self.strategy.as_dyn().name());
        let mut own = StateWriter::new();
        self.strategy.as_dyn().save_state(&mut own);
        out.bytes(own.as_bytes());
    }

    /// Reads back what `save_state` wrote. The strategy's own state is
    /// restored only if it was saved under this strategy's name; returns
    /// whether it was (another strategy starts from its own defaults).
    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<bool, StateError> {
        self.book.pretrade.restore_state(input)?;
        self.book.orders.restore_state(input)?;
        self.book.order_id_next = input.u64("strategy.order_id_next")?;
        if self.book.order_id_next == 0 {
            return Err(StateError::Inconsistent {
                what: "strategy stage",
                detail: "the next order id is 0",
            });
        }
        let name = input.str("strategy.name")?;
        let own = input.bytes("strategy.state")?;
        if name != self.strategy.as_dyn().name() {
            return Ok(false);
        }
        let mut own = StateReader::new(own);
        self.strategy.as_dyn_mut().restore_state(&mut own)?;
        own.finish("the strategy's own state")?;
        Ok(true)
    }

    #[inline(always)]
    pub fn on_event(&mut self, ev: &mut Event) {
        // Market data (most events) is read from the event's words; any
        // other input is decoded.
        let input = if let Some(delta) = ev.book_delta() {
            self.observe_book_delta(ev, &delta);
            if let Runner::TouchQuoter(quoter) = &mut self.strategy {
                // The touch quoter on a book row (most events): the calls its
                // `on_market_data` makes, its count inline, and the stage's
                // actions made only while a requote waits.
                if quoter.count_book_delta(ev, &delta) {
                    let mut act = Actions {
                        book: &mut self.book,
                        intents: &mut self.intents,
                        used: 0,
                        ts_ns: ev.ts_recv_ns,
                    };
                    quoter.run_waiting_now(&mut act);
                    let used = act.used;
                    if used > 0 {
                        self.take_intents(ev, used);
                    }
                }
                return;
            }
            Input::BookDelta(delta)
        } else if let Some(top) = ev.top_of_book() {
            let pretrade = &mut self.book.pretrade;
            pretrade.set_gates(ev.instrument, ev.gate_global, ev.gate_instrument);
            mark_top_of_book(pretrade, ev, &top);
            Input::TopOfBook(top)
        } else {
            let input = ev.input();
            self.observe(ev, &input);
            input
        };
        if let Runner::TouchQuoter(quoter) = &self.strategy {
            // Each of the touch quoter's other callbacks only runs the
            // requotes waiting: with none, no call can make an intent.
            if !quoter.has_waiting() {
                return;
            }
        }
        // Intents are made in the stage's scratch slots and copied into the
        // event only when there are some (most events make none): the
        // strategy reads the event itself, not a copy of all its bytes.
        let mut act = Actions {
            book: &mut self.book,
            intents: &mut self.intents,
            used: 0,
            ts_ns: ev.ts_recv_ns,
        };
        let event: &Event = ev;
        let instrument = event.instrument;
        let strategy = &mut self.strategy;
        match input {
            Input::TopOfBook(_) | Input::Trade(_) | Input::BookDelta(_) => {
                dispatch!(strategy, on_market_data(event, &mut act))
            }
            Input::Fill(fill) if !event.is_duplicate() => {
                dispatch!(strategy, on_fill(instrument, event.side, &fill, &mut act))
            }
            Input::OrderAck(ack) => dispatch!(strategy, on_ack(instrument, &ack, &mut act)),
            Input::OrderReject(reject) => {
                dispatch!(strategy, on_reject(instrument, &reject, &mut act))
            }
            Input::CancelAck(id) => dispatch!(strategy, on_cancel_ack(instrument, id, &mut act)),
            Input::Timer(id) => dispatch!(strategy, on_timer(id, &mut act)),
            _ => {}
        }
        let used = act.used;
        if used > 0 {
            self.take_intents(ev, used);
        }
    }

    /// Copies the `used` intents an event made into it (slot by slot: no
    /// `memcpy` call for at most two) and counts them, accepted or by
    /// reject reason.
    #[inline(never)]
    fn take_intents(&mut self, ev: &mut Event, used: usize) {
        const _: () = assert!(MAX_INTENTS == 2, "the copy below names both slots");
        debug_assert!((1..=MAX_INTENTS).contains(&used), "intents were made");
        match used {
            1 => ev.intents[0] = self.intents[0],
            _ => ev.intents = self.intents,
        }
        let intents = &ev.intents[..used.min(MAX_INTENTS)];
        self.counters.intents += intents.len() as u64;
        for intent in intents {
            if intent.is_accepted() {
                self.counters.intents_accepted += 1;
            } else {
                self.counters.rejects_by_reason[intent.reject as usize] += 1;
            }
        }
        self.counters.intents_overflow = self.book.intents_overflow;
    }

    /// Brings positions, mids, gates and the order replica up to date with
    /// the input: market data here, inline; venue messages out of line.
    #[inline(always)]
    fn observe(&mut self, ev: &Event, input: &Input) {
        let book = &mut self.book;
        book.pretrade
            .set_gates(ev.instrument, ev.gate_global, ev.gate_instrument);
        match input {
            Input::TopOfBook(t) => mark_top_of_book(&mut book.pretrade, ev, t),
            Input::BookDelta(d) => mark_book_delta(&mut book.pretrade, ev, d),
            Input::Trade(t) if book.pretrade.mid(ev.instrument).is_none() => {
                book.pretrade.set_mid(ev.instrument, t.price.0);
            }
            Input::Trade(_) => {}
            _ => self.observe_venue(ev, input),
        }
    }

    /// A book row: the gates, and the mid and staleness once the book is
    /// whole with both sides.
    #[inline]
    fn observe_book_delta(&mut self, ev: &Event, d: &BookDelta) {
        let pretrade = &mut self.book.pretrade;
        pretrade.set_gates(ev.instrument, ev.gate_global, ev.gate_instrument);
        mark_book_delta(pretrade, ev, d);
    }

    /// The order replica and positions follow the venue's messages.
    #[inline(never)]
    fn observe_venue(&mut self, ev: &Event, input: &Input) {
        let book = &mut self.book;
        match input {
            Input::Fill(fill) if !ev.is_duplicate() => {
                book.pretrade.apply_fill(ev.instrument, ev.side, fill.qty);
                book.orders.on_fill(ev.side, fill);
            }
            // Execution adopted the order or took the venue's terms (reconciliation).
            Input::OrderAck(ack) if ev.is_reconciled() => {
                book.orders
                    .adopt(ack.order_id, ev.instrument, ev.side, ack.price, ack.qty);
            }
            Input::OrderAck(ack) => {
                book.orders.on_ack(ack);
            }
            Input::OrderReject(reject) => {
                book.orders.on_reject(reject);
            }
            Input::CancelAck(id) => {
                book.orders.on_cancel_ack(*id);
            }
            _ => {}
        }
    }

    /// The stage's replica of the order table.
    pub fn orders(&self) -> &Orders {
        &self.book.orders
    }

    pub fn pretrade(&self) -> &PreTrade {
        &self.book.pretrade
    }
}

/// The mid and staleness a book row leaves, once the book is whole with
/// both sides.
#[inline]
fn mark_book_delta(pretrade: &mut PreTrade, ev: &Event, d: &BookDelta) {
    if d.bid_px.0 > 0 && d.ask_px.0 > 0 && ev.flags & crate::event::FLAG_MESSAGE_CONTINUES == 0 {
        pretrade.set_mid(ev.instrument, (d.bid_px.0 + d.ask_px.0).div_euclid(2));
        pretrade.set_stale(ev.instrument, ev.flags & crate::event::FLAG_STALE != 0);
    }
}

/// The mid and staleness a top of book leaves, when it has both sides.
#[inline]
fn mark_top_of_book(pretrade: &mut PreTrade, ev: &Event, t: &TopOfBook) {
    if t.bid_px.0 > 0 && t.ask_px.0 > 0 {
        pretrade.set_mid(ev.instrument, (t.bid_px.0 + t.ask_px.0).div_euclid(2));
        pretrade.set_stale(ev.instrument, ev.flags & crate::event::FLAG_STALE != 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StrategyName;
    use crate::event::FLAG_MESSAGE_CONTINUES;
    use crate::units::ExecId;

    /// The bundled quoter behind a type the stage does not recognize: the
    /// general path, a virtual call per callback.
    struct Opaque(TouchQuoter);

    impl Strategy for Opaque {
        fn name(&self) -> &'static str {
            self.0.name()
        }
        fn on_market_data(&mut self, event: &Event, act: &mut Actions) {
            self.0.on_market_data(event, act)
        }
        fn on_fill(
            &mut self,
            instrument: InstrumentId,
            side: Side,
            fill: &Fill,
            act: &mut Actions,
        ) {
            self.0.on_fill(instrument, side, fill, act)
        }
        fn on_ack(&mut self, instrument: InstrumentId, ack: &OrderAck, act: &mut Actions) {
            self.0.on_ack(instrument, ack, act)
        }
        fn on_reject(&mut self, instrument: InstrumentId, reject: &OrderReject, act: &mut Actions) {
            self.0.on_reject(instrument, reject, act)
        }
        fn on_cancel_ack(
            &mut self,
            instrument: InstrumentId,
            order_id: OrderId,
            act: &mut Actions,
        ) {
            self.0.on_cancel_ack(instrument, order_id, act)
        }
        fn save_state(&self, out: &mut StateWriter) {
            self.0.save_state(out)
        }
    }

    /// xorshift64*: the test's seeded stream.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A random stream of book rows (some continuing a message) and of the
    /// venue's answers to the orders made so far: acks, cancel acks, fills.
    fn event(state: &mut u64, seq: u64, instruments: u64, orders: &[OrderId]) -> Event {
        let roll = next(state) % 100;
        let instrument = InstrumentId((next(state) % instruments) as u16);
        let order =
            (!orders.is_empty()).then(|| orders[(next(state) % orders.len() as u64) as usize]);
        let price = Price(1_000 + (next(state) % 8) as i64);
        let input = match (roll, order) {
            (0..=14, Some(order_id)) => Input::OrderAck(OrderAck {
                order_id,
                venue_order_id: seq,
                price,
                qty: Qty(1),
            }),
            (15..=24, Some(order_id)) => Input::CancelAck(order_id),
            (25..=29, Some(order_id)) => Input::Fill(Fill {
                order_id,
                exec_id: ExecId(seq),
                price,
                qty: Qty(1),
            }),
            _ => Input::BookDelta(BookDelta {
                price,
                qty: Qty(3),
                bid_px: price,
                ask_px: Price(price.0 + 1 + (next(state) % 3) as i64),
            }),
        };
        let side = if next(state).is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let mut ev = Event::new(instrument, side, input);
        ev.seq = seq;
        ev.ts_recv_ns = 1_000 * seq;
        if next(state).is_multiple_of(10) {
            ev.flags |= FLAG_MESSAGE_CONTINUES;
        }
        ev
    }

    // A cancel by the terms just read (the touch quoter's way, for a
    // working order) makes the intent, the answer and the request the
    // general cancel makes, for a new and a partly filled order, with room
    // for the intent and without (then nothing changes either way).
    #[test]
    fn a_cancel_by_the_terms_read_is_the_general_cancel() {
        let mut config = Config::builtin();
        config.instruments[0].limits.price_band_bps = 10_000;
        let instrument = InstrumentId(0);
        let make = || {
            let mut stage = StrategyStage::new(&config, Box::new(Idle));
            let mut row = Event::new(
                instrument,
                Side::Buy,
                Input::BookDelta(BookDelta {
                    price: Price(1_000),
                    qty: Qty(3),
                    bid_px: Price(1_000),
                    ask_px: Price(1_002),
                }),
            );
            row.ts_recv_ns = 1_000;
            stage.on_event(&mut row);
            let mut intents = [Intent::EMPTY; MAX_INTENTS];
            let mut act = Actions {
                book: &mut stage.book,
                intents: &mut intents,
                used: 0,
                ts_ns: 1_000,
            };
            let ids = [
                act.new_order(instrument, Side::Buy, Price(1_000), Qty(5)),
                act.new_order(instrument, Side::Sell, Price(1_002), Qty(5)),
            ];
            for (seq, id) in ids.into_iter().enumerate() {
                let order_id = id.expect("the order passes pre-trade");
                let mut ack = Event::new(
                    instrument,
                    Side::Buy,
                    Input::OrderAck(OrderAck {
                        order_id,
                        venue_order_id: seq as u64 + 1,
                        price: Price(0),
                        qty: Qty(0),
                    }),
                );
                stage.on_event(&mut ack);
            }
            let mut fill = Event::new(
                instrument,
                Side::Sell,
                Input::Fill(Fill {
                    order_id: OrderId(2),
                    exec_id: ExecId(1),
                    price: Price(1_002),
                    qty: Qty(2),
                }),
            );
            stage.on_event(&mut fill);
            stage
        };
        let saved = |stage: &StrategyStage| {
            let mut out = StateWriter::new();
            stage.save_state(&mut out);
            out.into_bytes()
        };
        for (id, state) in [
            (OrderId(1), OrderState::New),
            (OrderId(2), OrderState::PartiallyFilled),
        ] {
            for used in [0, 1, MAX_INTENTS] {
                let (mut general, mut by_terms) = (make(), make());
                let terms = OrderTerms::of(by_terms.orders().get(id).expect("open"));
                assert_eq!(by_terms.orders().get(id).map(|o| o.state), Some(state));
                let mut answers = Vec::new();
                let mut made = Vec::new();
                for (stage, general) in [(&mut general, true), (&mut by_terms, false)] {
                    let mut intents = [Intent::EMPTY; MAX_INTENTS];
                    let mut act = Actions {
                        book: &mut stage.book,
                        intents: &mut intents,
                        used,
                        ts_ns: 2_000,
                    };
                    answers.push(if general {
                        act.cancel(id)
                    } else {
                        act.cancel_working(terms)
                    });
                    let used_after = act.used;
                    made.push((used_after, intents));
                }
                assert_eq!(answers[0], answers[1], "{id:?} with {used} slots used");
                assert_eq!(made[0], made[1], "{id:?} with {used} slots used");
                assert_eq!(saved(&general), saved(&by_terms), "{id:?}, {used} used");
                assert_eq!(general.orders().exposures(), by_terms.orders().exposures());
                let cancelled = used < MAX_INTENTS;
                assert_eq!(answers[0].is_ok(), cancelled);
                assert_eq!(
                    general.orders().get(id).map(|o| o.state),
                    Some(if cancelled {
                        OrderState::PendingCancel
                    } else {
                        state
                    })
                );
            }
        }
    }

    // The touch quoter called directly (the stage recognizes it) decides
    // exactly as the same quoter behind a virtual call, event for event,
    // and leaves the same state.
    #[test]
    fn a_bundled_strategy_called_directly_decides_as_through_dyn() {
        let mut config = Config::builtin();
        config.strategy.name = StrategyName::TouchQuoter;
        config.strategy.touch_quoter.requote_every_updates = 3;
        for instrument in &mut config.instruments {
            instrument.limits.price_band_bps = 10_000;
        }
        let quoter = || {
            TouchQuoter::new(
                config.strategy.touch_quoter.clone(),
                config.instruments.len(),
            )
        };
        let saved = |stage: &StrategyStage| {
            let mut out = StateWriter::new();
            stage.save_state(&mut out);
            out.as_bytes().to_vec()
        };
        let instruments = config.instruments.len() as u64;
        for seed in [1u64, 7, 0x5EED] {
            let mut direct = StrategyStage::new(&config, from_config(&config));
            let mut general = StrategyStage::new(&config, Box::new(Opaque(quoter())));
            assert!(matches!(direct.strategy, Runner::TouchQuoter(_)));
            assert!(matches!(general.strategy, Runner::Other(_)));
            let mut state = seed;
            let mut orders = Vec::new();
            let mut made = 0;
            for seq in 1..=5_000 {
                let mut one = event(&mut state, seq, instruments, &orders);
                let mut two = one;
                direct.on_event(&mut one);
                general.on_event(&mut two);
                assert_eq!(one, two, "seed {seed}, event {seq}");
                for intent in one.intents.iter().filter(|i| i.action == Action::New) {
                    orders.push(intent.order_id);
                    made += 1;
                }
            }
            assert!(made > 20, "seed {seed}: the stream made {made} orders");
            assert_eq!(saved(&direct), saved(&general), "seed {seed}");
            assert_eq!(direct.counters, general.counters, "seed {seed}");
            let back = direct.into_strategy();
            assert_eq!(back.name(), "touch-quoter");
            let again = StrategyStage::new(&config, back);
            assert!(matches!(again.strategy, Runner::TouchQuoter(_)));
        }
    }
}
