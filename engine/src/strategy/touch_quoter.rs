//! The bundled touch quoter: the race's market maker, the same strategy
//! `perf/race/` runs on hftbacktest and NautilusTrader.
//!
//! Per instrument it counts book updates: book deltas that end a feed
//! message (a snapshot's rows count once; trades are not updates). On every
//! `requote_every_updates`-th it requotes the instrument at the touch the
//! update left: a buy of `order_lots` at the best bid, a sell at the best
//! ask (none while either side of the book is empty). Per side:
//! - an order still working at the touch is kept (its queue place too);
//! - an order with a request in flight (pending new, cancel or replace) is
//!   left alone until the venue answers;
//! - otherwise the order is cancelled, and a new one sent at the touch;
//! - a side whose fill would take the position past `max_position_lots`
//!   either way is not quoted (its order is cancelled).
//!
//! An event holds two intents, a requote of both sides may need four
//! (cancel and new, twice): what does not fit waits for the next event,
//! any event, and is taken up first there, at the touch of its update.
//!
//! Invariants, asserted in debug builds: at most one requote waits per
//! instrument, and the waiting list names each instrument once.
//!
//! Carried across a restart and kept in snapshots (`save_state`, with a
//! `replica` for the snapshot thread): per instrument the update count, the
//! order on each side and the requote waiting, then the waiting list in
//! its order. A restore refuses a list that breaks the invariants.

use crate::config::TouchQuoterConfig;
use crate::event::{BookDelta, Event, Fill, OrderAck, OrderReject, FLAG_MESSAGE_CONTINUES};
use crate::orders::OrderTerms;
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::strategy::{Actions, Bundled, Strategy};
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

/// The touch an update left: best bid and best ask, ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Touch {
    bid: Price,
    ask: Price,
}

/// One instrument's quoting state.
#[derive(Clone, Copy, Debug, Default)]
struct Quoting {
    updates: u64,
    /// Updates left until the next requote (`requote_every_updates` less
    /// `updates` modulo it): a countdown, not a division per update.
    updates_to_requote: u64,
    /// The strategy's order on each side: buy, sell.
    orders: [Option<OrderId>; 2],
    /// A requote that did not fit in its event's intents.
    waiting: Option<Touch>,
}

pub struct TouchQuoter {
    params: TouchQuoterConfig,
    quoting: Vec<Quoting>,
    /// Instruments whose requote waits, oldest first.
    waiting: Vec<u16>,
}

impl TouchQuoter {
    pub fn new(params: TouchQuoterConfig, instrument_count: usize) -> TouchQuoter {
        assert!(
            params.requote_every_updates > 0,
            "requote_every_updates is validated positive"
        );
        let first = Quoting {
            updates_to_requote: params.requote_every_updates,
            ..Quoting::default()
        };
        TouchQuoter {
            params,
            quoting: vec![first; instrument_count],
            waiting: Vec::with_capacity(instrument_count),
        }
    }

    /// Counts an update and queues a requote on every Nth (the count
    /// inline, the queueing a call).
    #[inline(always)]
    fn on_update(&mut self, instrument: InstrumentId, touch: Touch) {
        let Some(quoting) = self.quoting.get_mut(instrument.index()) else {
            return;
        };
        quoting.updates += 1;
        quoting.updates_to_requote -= 1;
        if quoting.updates_to_requote == 0 {
            self.requote_due(instrument, touch);
        }
    }

    /// The Nth update: the requote waits for intent slots at this touch.
    #[inline(never)]
    fn requote_due(&mut self, instrument: InstrumentId, touch: Touch) {
        let quoting = &mut self.quoting[instrument.index()];
        quoting.updates_to_requote = self.params.requote_every_updates;
        debug_assert!(quoting
            .updates
            .is_multiple_of(self.params.requote_every_updates));
        if touch.bid.0 <= 0 || touch.ask.0 <= 0 {
            return;
        }
        if quoting.waiting.replace(touch).is_none() {
            self.waiting.push(instrument.0);
        }
        debug_assert!(
            self.waiting.len() <= self.quoting.len(),
            "each instrument waits once"
        );
    }

    /// A book row: an update if it ends its feed message (counted, and
    /// every Nth queues a requote); whether a requote waits now (this row's
    /// or one that did not fit in an earlier event).
    #[inline(always)]
    pub(super) fn count_book_delta(&mut self, event: &Event, delta: &BookDelta) -> bool {
        if event.flags & FLAG_MESSAGE_CONTINUES == 0 {
            let touch = Touch {
                bid: delta.bid_px,
                ask: delta.ask_px,
            };
            self.on_update(event.instrument, touch);
        }
        self.has_waiting()
    }

    /// Whether a requote waits for intent slots.
    #[inline(always)]
    pub(super) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Runs the waiting requotes, oldest first, while the event has intent
    /// slots. Most events find none waiting: that is decided inline.
    #[inline(always)]
    fn run_waiting(&mut self, act: &mut Actions) {
        if !self.waiting.is_empty() {
            self.run_waiting_now(act);
        }
    }

    /// The requotes done leave the list at once, at the end (most often the
    /// whole list: no element moves). Each instrument's state is looked up
    /// once per requote.
    #[inline(never)]
    pub(super) fn run_waiting_now(&mut self, act: &mut Actions) {
        let (lots, limit) = (self.params.order_lots, self.params.max_position_lots);
        let mut done = 0;
        while let Some(&index) = self.waiting.get(done) {
            let instrument = InstrumentId(index);
            let quoting = &mut self.quoting[instrument.index()];
            let touch = quoting.waiting.expect("a waiting instrument has its touch");
            if !requote(quoting, instrument, touch, lots, limit, act) {
                break;
            }
            quoting.waiting = None;
            done += 1;
        }
        // Most often every waiting requote ran: the list empties without
        // the drain's shift of what is left.
        if done == self.waiting.len() {
            self.waiting.clear();
        } else {
            self.waiting.drain(..done);
        }
    }
}

/// Both sides of one instrument at `touch`, buy then sell, orders of
/// `lots` within `limit` lots of position either way; false if the
/// intents ran out first (what was done so far stands).
#[inline(always)]
fn requote(
    quoting: &mut Quoting,
    instrument: InstrumentId,
    touch: Touch,
    lots: i64,
    limit: i64,
    act: &mut Actions,
) -> bool {
    let position = act.position(instrument).0;
    let [buy, sell] = &mut quoting.orders;
    quote_side(
        buy,
        instrument,
        Side::Buy,
        touch.bid,
        position + lots <= limit,
        lots,
        act,
    ) && quote_side(
        sell,
        instrument,
        Side::Sell,
        touch.ask,
        position - lots >= -limit,
        lots,
        act,
    )
}

/// Keeps, cancels or replaces one side's order; false if it needed an
/// intent slot and none was free (what it did so far stands).
#[inline(always)]
fn quote_side(
    slot: &mut Option<OrderId>,
    instrument: InstrumentId,
    side: Side,
    price: Price,
    wanted: bool,
    lots: i64,
    act: &mut Actions,
) -> bool {
    // One look-up of the order: its price and state decide, and a working
    // order that must go is cancelled by the terms read here.
    if let Some((terms, state)) = slot.and_then(|id| {
        act.order(id)
            .map(|order| (OrderTerms::of(order), order.state))
    }) {
        if (wanted && terms.price == price) || !state.is_working() {
            return true;
        }
        if act.slots_free() == 0 {
            return false;
        }
        let _ = act.cancel_working(terms);
    }
    *slot = None;
    if !wanted {
        return true;
    }
    if act.slots_free() == 0 {
        return false;
    }
    *slot = act.new_order(instrument, side, price, Qty(lots)).ok();
    true
}

impl Strategy for TouchQuoter {
    fn name(&self) -> &'static str {
        "touch-quoter"
    }

    // Inlined into the stage (which calls it directly): most book rows
    // only count an update.
    #[inline]
    fn on_market_data(&mut self, event: &Event, act: &mut Actions) {
        if let Some(delta) = event.book_delta() {
            self.count_book_delta(event, &delta);
        }
        self.run_waiting(act);
    }

    fn on_fill(&mut self, _instrument: InstrumentId, _side: Side, _fill: &Fill, act: &mut Actions) {
        self.run_waiting(act);
    }

    fn take_bundled(&mut self) -> Option<Bundled> {
        let empty = TouchQuoter {
            params: self.params.clone(),
            quoting: Vec::new(),
            waiting: Vec::new(),
        };
        Some(Bundled::TouchQuoter(std::mem::replace(self, empty)))
    }

    fn on_ack(&mut self, _instrument: InstrumentId, _ack: &OrderAck, act: &mut Actions) {
        self.run_waiting(act);
    }

    fn on_reject(&mut self, _instrument: InstrumentId, _reject: &OrderReject, act: &mut Actions) {
        self.run_waiting(act);
    }

    fn on_cancel_ack(&mut self, _instrument: InstrumentId, _order_id: OrderId, act: &mut Actions) {
        self.run_waiting(act);
    }

    fn on_timer(&mut self, _timer_id: u64, act: &mut Actions) {
        self.run_waiting(act);
    }

    fn save_state(&self, out: &mut StateWriter) {
        out.count(self.quoting.len());
        for quoting in &self.quoting {
            out.u64(quoting.updates);
            for order in quoting.orders {
                out.option_u64(order.map(|id| id.0));
            }
            out.option_i64(quoting.waiting.map(|touch| touch.bid.0));
            out.option_i64(quoting.waiting.map(|touch| touch.ask.0));
        }
        out.count(self.waiting.len());
        for index in &self.waiting {
            out.u16(*index);
        }
    }

    fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        input.count_exact("instruments", self.quoting.len())?;
        for quoting in &mut self.quoting {
            quoting.updates = input.u64("touch_quoter.updates")?;
            let every = self.params.requote_every_updates;
            quoting.updates_to_requote = every - quoting.updates % every;
            for order in &mut quoting.orders {
                *order = input.option_u64("touch_quoter.order")?.map(OrderId);
            }
            let bid = input.option_i64("touch_quoter.waiting_bid")?;
            let ask = input.option_i64("touch_quoter.waiting_ask")?;
            quoting.waiting = match (bid, ask) {
                (Some(bid), Some(ask)) => Some(Touch {
                    bid: Price(bid),
                    ask: Price(ask),
                }),
                (None, None) => None,
                _ => return Err(inconsistent("a waiting touch has one side only")),
            };
        }
        let count = input.count("touch_quoter.waiting", self.quoting.len())?;
        self.waiting.clear();
        for _ in 0..count {
            let index = input.u16("touch_quoter.waiting_instrument")?;
            let waits = self
                .quoting
                .get(usize::from(index))
                .is_some_and(|q| q.waiting.is_some());
            if !waits || self.waiting.contains(&index) {
                return Err(inconsistent(
                    "the waiting list names an instrument twice, or one with no requote waiting",
                ));
            }
            self.waiting.push(index);
        }
        if self.quoting.iter().filter(|q| q.waiting.is_some()).count() != self.waiting.len() {
            return Err(inconsistent(
                "a waiting requote is missing from the waiting list",
            ));
        }
        Ok(())
    }

    fn replica(&self) -> Option<Box<dyn Strategy>> {
        Some(Box::new(TouchQuoter::new(
            self.params.clone(),
            self.quoting.len(),
        )))
    }
}

fn inconsistent(detail: &'static str) -> StateError {
    StateError::Inconsistent {
        what: "touch quoter",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, StrategyName};
    use crate::decision::Action;
    use crate::event::{BookDelta, Input, OrderAck};
    use crate::strategy::StrategyStage;

    fn stage(every: u64) -> StrategyStage {
        let mut config = Config::builtin();
        config.strategy.name = StrategyName::TouchQuoter;
        config.strategy.touch_quoter.requote_every_updates = every;
        config.instruments[0].limits.price_band_bps = 10_000;
        StrategyStage::new(&config, crate::strategy::from_config(&config))
    }

    fn delta(bid: i64, ask: i64, flags: u8) -> Event {
        let mut event = Event::new(
            InstrumentId(0),
            Side::Buy,
            Input::BookDelta(BookDelta {
                price: Price(bid),
                qty: Qty(5),
                bid_px: Price(bid),
                ask_px: Price(ask),
            }),
        );
        event.flags = flags;
        event.ts_recv_ns = 1_000;
        event
    }

    fn ack(order_id: OrderId, price: i64) -> Event {
        let input = Input::OrderAck(OrderAck {
            order_id,
            venue_order_id: 1,
            price: Price(price),
            qty: Qty(1),
        });
        Event::new(InstrumentId(0), Side::Buy, input)
    }

    fn actions(event: &Event) -> Vec<(Action, Side, i64)> {
        event
            .intents
            .iter()
            .filter(|i| !i.is_empty())
            .map(|i| (i.action, i.side, i.price.0))
            .collect()
    }

    // Only every Nth complete update requotes; a snapshot's continuing rows do not count.
    #[test]
    fn requotes_every_nth_update() {
        let mut stage = stage(3);
        let mut events = [
            delta(100, 102, FLAG_MESSAGE_CONTINUES),
            delta(100, 102, 0),
            delta(100, 102, 0),
        ];
        for event in &mut events[..2] {
            stage.on_event(event);
            assert!(actions(event).is_empty());
        }
        stage.on_event(&mut events[2]);
        assert!(actions(&events[2]).is_empty(), "two updates so far");
        let mut third = delta(100, 102, 0);
        stage.on_event(&mut third);
        assert_eq!(
            actions(&third),
            vec![
                (Action::New, Side::Buy, 100),
                (Action::New, Side::Sell, 102)
            ]
        );
    }

    // A moved touch cancels and replaces both sides; what does not fit goes out on the next event.
    #[test]
    fn four_intents_spread_over_two_events() {
        let mut stage = stage(1);
        let mut first = delta(100, 102, 0);
        stage.on_event(&mut first);
        let ids: Vec<OrderId> = first.intents.iter().map(|i| i.order_id).collect();
        for (id, price) in ids.iter().zip([100, 102]) {
            stage.on_event(&mut ack(*id, price));
        }
        let mut moved = delta(101, 103, 0);
        stage.on_event(&mut moved);
        assert_eq!(
            actions(&moved),
            vec![
                (Action::Cancel, Side::Buy, 100),
                (Action::New, Side::Buy, 101)
            ]
        );
        let mut next = ack(OrderId(999), 0);
        stage.on_event(&mut next);
        assert_eq!(
            actions(&next),
            vec![
                (Action::Cancel, Side::Sell, 102),
                (Action::New, Side::Sell, 103)
            ]
        );
        // The touch did not move again: both orders are kept.
        let mut same = delta(101, 103, 0);
        stage.on_event(&mut same);
        assert!(actions(&same).is_empty(), "orders in flight are left alone");
    }

    fn saved(stage: &StrategyStage) -> Vec<u8> {
        let mut out = StateWriter::new();
        stage.save_state(&mut out);
        out.into_bytes()
    }

    // Saved mid-requote (one requote waiting, orders on both sides) and
    // restored into a fresh stage, the quoter decides exactly as the
    // original on every later event, and saves the same bytes.
    #[test]
    fn restored_state_decides_as_the_original() {
        let mut original = stage(1);
        let mut first = delta(100, 102, 0);
        original.on_event(&mut first);
        let ids: Vec<OrderId> = first.intents.iter().map(|i| i.order_id).collect();
        for (id, price) in ids.iter().zip([100, 102]) {
            original.on_event(&mut ack(*id, price));
        }
        // The touch moves: two of four intents go out, the rest waits.
        original.on_event(&mut delta(101, 103, 0));
        let bytes = saved(&original);
        let mut restored = stage(1);
        let mut input = StateReader::new(&bytes);
        assert!(restored.restore_state(&mut input).unwrap(), "same strategy");
        input.finish("stage").unwrap();
        assert_eq!(
            saved(&restored),
            bytes,
            "restore then save gives the bytes back"
        );
        let later = [ack(OrderId(999), 0), delta(101, 103, 0), delta(99, 104, 0)];
        for event in later {
            let (mut a, mut b) = (event, event);
            original.on_event(&mut a);
            restored.on_event(&mut b);
            assert_eq!(actions(&a), actions(&b));
            assert_eq!(
                a.intents.iter().map(|i| i.order_id).collect::<Vec<_>>(),
                b.intents.iter().map(|i| i.order_id).collect::<Vec<_>>()
            );
        }
        assert!(
            !actions(&later_first(&bytes)).is_empty(),
            "the waiting requote was carried"
        );
        assert_eq!(saved(&original), saved(&restored));
        assert!(TouchQuoter::new(Default::default(), 1).replica().is_some());
    }

    /// The first event after restoring `bytes` into a fresh stage.
    fn later_first(bytes: &[u8]) -> Event {
        let mut restored = stage(1);
        restored
            .restore_state(&mut StateReader::new(bytes))
            .unwrap();
        let mut event = ack(OrderId(999), 0);
        restored.on_event(&mut event);
        event
    }

    // A waiting list that breaks the invariants is refused, not trusted.
    #[test]
    fn inconsistent_state_is_refused() {
        let mut out = StateWriter::new();
        out.count(2);
        for _ in 0..2 {
            out.u64(0);
            out.option_u64(None);
            out.option_u64(None);
            out.option_i64(None);
            out.option_i64(None);
        }
        out.count(1);
        out.u16(1);
        let bytes = out.into_bytes();
        let mut fresh = TouchQuoter::new(Default::default(), 2);
        let refused = fresh.restore_state(&mut StateReader::new(&bytes));
        assert!(
            matches!(refused, Err(StateError::Inconsistent { .. })),
            "{refused:?}"
        );
    }
}
