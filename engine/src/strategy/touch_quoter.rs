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

use crate::config::TouchQuoterConfig;
use crate::event::{Event, Fill, Input, OrderAck, OrderReject, FLAG_MESSAGE_CONTINUES};
use crate::strategy::{Actions, Strategy};
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
        TouchQuoter {
            params,
            quoting: vec![Quoting::default(); instrument_count],
            waiting: Vec::with_capacity(instrument_count),
        }
    }

    /// Counts an update and queues a requote on every Nth.
    fn on_update(&mut self, instrument: InstrumentId, touch: Touch) {
        let Some(quoting) = self.quoting.get_mut(instrument.index()) else {
            return;
        };
        quoting.updates += 1;
        if quoting.updates % self.params.requote_every_updates != 0 {
            return;
        }
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

    /// Runs the waiting requotes, oldest first, while the event has intent slots.
    fn run_waiting(&mut self, act: &mut Actions) {
        while let Some(&index) = self.waiting.first() {
            let instrument = InstrumentId(index);
            let touch = self.quoting[instrument.index()]
                .waiting
                .expect("a waiting instrument has its touch");
            if !self.requote(instrument, touch, act) {
                return;
            }
            self.quoting[instrument.index()].waiting = None;
            self.waiting.remove(0);
        }
    }

    /// Both sides at `touch`; false if the intents ran out first.
    fn requote(&mut self, instrument: InstrumentId, touch: Touch, act: &mut Actions) -> bool {
        let position = act.position(instrument).0;
        let lots = self.params.order_lots;
        let limit = self.params.max_position_lots;
        let sides = [
            (Side::Buy, touch.bid, position + lots <= limit),
            (Side::Sell, touch.ask, position - lots >= -limit),
        ];
        for (index, (side, price, wanted)) in sides.into_iter().enumerate() {
            let mut slot = self.quoting[instrument.index()].orders[index];
            let done = self.quote_side(&mut slot, instrument, side, price, wanted, act);
            self.quoting[instrument.index()].orders[index] = slot;
            if !done {
                return false;
            }
        }
        true
    }

    /// Keeps, cancels or replaces one side's order; false if it needed an
    /// intent slot and none was free (what it did so far stands).
    fn quote_side(
        &self,
        slot: &mut Option<OrderId>,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        wanted: bool,
        act: &mut Actions,
    ) -> bool {
        if let Some(order) = slot.and_then(|id| act.order(id).copied()) {
            if (wanted && order.price == price) || !order.state.is_working() {
                return true;
            }
            if act.slots_free() == 0 {
                return false;
            }
            let _ = act.cancel(order.id);
        }
        *slot = None;
        if !wanted {
            return true;
        }
        if act.slots_free() == 0 {
            return false;
        }
        *slot = act
            .new_order(instrument, side, price, Qty(self.params.order_lots))
            .ok();
        true
    }
}

impl Strategy for TouchQuoter {
    fn name(&self) -> &'static str {
        "touch-quoter"
    }

    fn on_market_data(&mut self, event: &Event, act: &mut Actions) {
        if let Input::BookDelta(delta) = event.input() {
            if event.flags & FLAG_MESSAGE_CONTINUES == 0 {
                let touch = Touch {
                    bid: delta.bid_px,
                    ask: delta.ask_px,
                };
                self.on_update(event.instrument, touch);
            }
        }
        self.run_waiting(act);
    }

    fn on_fill(&mut self, _instrument: InstrumentId, _side: Side, _fill: &Fill, act: &mut Actions) {
        self.run_waiting(act);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, StrategyName};
    use crate::decision::Action;
    use crate::event::{BookDelta, OrderAck};
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
}
