//! Property: for any sequence of market data, venue replies (acks, fills,
//! cancel acks, rejects, duplicates) and kill-switch commands, the engine
//! never breaches a limit, and every stage's position equals the sum of the
//! fills the venue sent, each counted once.
//!
//! The test plays the venue: it answers the requests execution sends, in an
//! order proptest chooses, and fills only what it holds.

mod common;

use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::decision::{Action, Intent};
use genesis_engine::event::{
    ControlCommand, Event, Input, OrderReject, RejectedRequest, TopOfBook,
};
use genesis_engine::execution::{ExecutionStage, Gateway, OrderRequest, RequestKind, SendError};
use genesis_engine::ingest::{Ingest, NoSource, Sink, Source, Sources};
use genesis_engine::risk::pretrade::worst_abs;
use genesis_engine::risk::RiskStage;
use genesis_engine::strategy::{MarketMaker, StrategyStage};
use genesis_engine::topology::chain::{Chain, Timed};
use genesis_engine::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

const INSTRUMENTS: u16 = 2;
const MS: u64 = 1_000_000;

#[derive(Clone, Debug)]
enum Step {
    /// Move an instrument's mid by `delta` ticks with a spread of 1..=3.
    Market {
        instrument: u16,
        delta: i64,
        spread: i64,
    },
    /// Answer the oldest unanswered request (ack, cancel ack, or replace ack).
    Answer,
    /// Reject the oldest unanswered request.
    Reject,
    /// Fill part of a resting order, chosen by index.
    Fill {
        pick: usize,
        qty: i64,
    },
    /// Send an earlier fill again.
    Duplicate {
        pick: usize,
    },
    Control(u8),
    /// Let event time pass.
    Wait {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..INSTRUMENTS, -3i64..=3, 1i64..=3).prop_map(|(instrument, delta, spread)| Step::Market { instrument, delta, spread }),
        4 => Just(Step::Answer),
        1 => Just(Step::Reject),
        4 => (any::<usize>(), 1i64..=6).prop_map(|(pick, qty)| Step::Fill { pick, qty }),
        1 => any::<usize>().prop_map(|pick| Step::Duplicate { pick }),
        1 => (1u8..=4).prop_map(Step::Control),
        2 => (1u64..400).prop_map(|ms| Step::Wait { ms }),
    ]
}

/// Limits small enough that the market maker runs into every one of them.
fn tight_config(dir: &std::path::Path) -> Config {
    let mut config = common::test_config(dir);
    for instrument in &mut config.instruments {
        instrument.limits.max_order_qty = 5;
        instrument.limits.position_limit = 12;
        instrument.limits.price_band_bps = 5;
        instrument.limits.stop_loss = 300;
        instrument.limits.breaker_move_ticks = 12;
    }
    config.risk.max_open_orders = 3;
    config.risk.gross_position_limit = 20;
    config.risk.orders_per_window = 10;
    config.risk.daily_loss_limit = 2_000;
    config.strategy.market_maker.quote_qty = 5;
    config.strategy.market_maker.max_inventory_lots = 1_000;
    config
}

#[derive(Clone, Default)]
struct Wire(Arc<Mutex<VecDeque<OrderRequest>>>);

impl Gateway for Wire {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        self.0.lock().unwrap().push_back(*request);
        Ok(())
    }
}

/// Events the test wants ingest to read next.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<VecDeque<Event>>>);

impl Source for Inbox {
    fn poll(&mut self, _clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let mut queue = self.0.lock().unwrap();
        let mut emitted = 0;
        while emitted < budget {
            let Some(event) = queue.pop_front() else {
                break;
            };
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

struct Fused(Chain, Vec<Event>);

impl Sink for Fused {
    fn offer(&mut self, event: &Event) -> bool {
        let mut copy = *event;
        self.0.process(&mut copy);
        self.1.push(copy);
        true
    }
}

#[derive(Clone, Copy)]
struct Resting {
    order_id: OrderId,
    instrument: InstrumentId,
    side: Side,
    leaves: i64,
}

/// The test's venue and its record of what it filled.
struct Venue {
    resting: Vec<Resting>,
    fills: Vec<Event>,
    position: [i64; INSTRUMENTS as usize],
    exec_id_next: u64,
}

struct World {
    config: Config,
    ingest: Ingest,
    sink: Fused,
    inbox: Inbox,
    wire: Wire,
    venue: Venue,
    mids: [i64; INSTRUMENTS as usize],
    ts_ns: u64,
    accepted_order_times: Vec<u64>,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let config = tight_config(dir.path());
        let wire = Wire::default();
        let inbox = Inbox::default();
        let sources = Sources {
            control: Box::new(NoSource),
            venue: Box::new(NoSource),
            market: Box::new(inbox.clone()),
        };
        let clock = EpochClock::new();
        let ingest = Ingest::new(
            sources,
            clock.clone(),
            INSTRUMENTS as usize,
            false,
            1_024,
            0,
        );
        let strategy = MarketMaker::new(config.strategy.market_maker.clone(), INSTRUMENTS as usize);
        let chain = Chain {
            clock,
            risk: Some(Timed::new(RiskStage::new(&config), "risk")),
            strategy: Some(Timed::new(
                StrategyStage::new(&config, Box::new(strategy)),
                "strategy",
            )),
            execution: Some(Timed::new(
                ExecutionStage::new(&config, Box::new(wire.clone())),
                "execution",
            )),
            journal: None,
            fatal: None,
        };
        World {
            config,
            ingest,
            sink: Fused(chain, Vec::new()),
            inbox,
            wire,
            venue: Venue {
                resting: Vec::new(),
                fills: Vec::new(),
                position: [0; INSTRUMENTS as usize],
                exec_id_next: 1,
            },
            mids: [10_000; INSTRUMENTS as usize],
            ts_ns: 1_000 * 86_400 * 1_000_000_000,
            _dir: dir,
            accepted_order_times: Vec::new(),
        }
    }

    fn feed(&mut self, instrument: InstrumentId, side: Side, input: Input) {
        self.ts_ns += 1_000;
        let mut event = Event::new(instrument, side, input);
        event.ts_recv_ns = self.ts_ns;
        self.inbox.0.lock().unwrap().push_back(event);
        while self.ingest.poll(&mut self.sink) > 0 {}
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Market {
                instrument,
                delta,
                spread,
            } => {
                let mid = &mut self.mids[instrument as usize];
                *mid = (*mid + delta).max(100);
                let (bid, ask) = (*mid - spread / 2, *mid - spread / 2 + spread);
                let top = TopOfBook {
                    bid_px: Price(bid),
                    bid_qty: Qty(10),
                    ask_px: Price(ask),
                    ask_qty: Qty(10),
                };
                self.feed(InstrumentId(instrument), Side::None, Input::TopOfBook(top));
            }
            Step::Answer | Step::Reject => self.answer(matches!(step, Step::Reject)),
            Step::Fill { pick, qty } => {
                if self.venue.resting.is_empty() {
                    return;
                }
                let index = pick % self.venue.resting.len();
                let resting = &mut self.venue.resting[index];
                let qty = qty.min(resting.leaves);
                resting.leaves -= qty;
                let resting = *resting;
                if resting.leaves == 0 {
                    self.venue.resting.remove(index);
                }
                let fill = genesis_engine::event::Fill {
                    order_id: resting.order_id,
                    exec_id: ExecId(self.venue.exec_id_next),
                    price: Price(self.mids[resting.instrument.index()]),
                    qty: Qty(qty),
                };
                self.venue.exec_id_next += 1;
                self.venue.position[resting.instrument.index()] += resting.side.sign() * qty;
                self.feed(resting.instrument, resting.side, Input::Fill(fill));
                self.venue.fills.push(*self.sink.1.last().unwrap());
            }
            Step::Duplicate { pick } => {
                if self.venue.fills.is_empty() {
                    return;
                }
                let earlier = self.venue.fills[pick % self.venue.fills.len()];
                self.feed(earlier.instrument, earlier.side, earlier.input());
            }
            Step::Control(code) => {
                let command = ControlCommand::from_u8(code).unwrap();
                self.feed(InstrumentId(0), Side::None, Input::Control(command));
            }
            Step::Wait { ms } => self.ts_ns += ms * MS,
        }
    }

    /// Answers (or rejects) the oldest request execution sent.
    fn answer(&mut self, reject: bool) {
        let Some(request) = self.wire.0.lock().unwrap().pop_front() else {
            return;
        };
        let found = self
            .venue
            .resting
            .iter()
            .position(|r| r.order_id == request.order_id);
        let kind = match request.kind {
            RequestKind::New => RejectedRequest::New,
            RequestKind::Cancel => RejectedRequest::Cancel,
            RequestKind::Replace => RejectedRequest::Replace,
            // Reconciliation notes: this venue never reconciles.
            _ => return,
        };
        let input = match (request.kind, found, reject) {
            (RequestKind::New, _, false) => {
                self.venue.resting.push(Resting {
                    order_id: request.order_id,
                    instrument: request.instrument,
                    side: request.side,
                    leaves: request.qty.0,
                });
                Input::OrderAck(genesis_engine::event::OrderAck {
                    order_id: request.order_id,
                    venue_order_id: 1,
                    price: request.price,
                    qty: request.qty,
                })
            }
            (RequestKind::Cancel, Some(index), false) => {
                self.venue.resting.remove(index);
                Input::CancelAck(request.order_id)
            }
            (RequestKind::Replace, Some(index), false) => {
                let order = self
                    .sink
                    .0
                    .execution
                    .as_ref()
                    .unwrap()
                    .stage
                    .orders()
                    .get(request.order_id)
                    .copied();
                let filled = order.map_or(0, |o| o.filled.0);
                self.venue.resting[index].leaves = (request.qty.0 - filled).max(0);
                Input::OrderAck(genesis_engine::event::OrderAck {
                    order_id: request.order_id,
                    venue_order_id: 1,
                    price: request.price,
                    qty: request.qty,
                })
            }
            _ => Input::OrderReject(OrderReject {
                order_id: request.order_id,
                request: kind,
                venue_reason: 9,
            }),
        };
        self.feed(request.instrument, request.side, input);
    }

    /// Every limit holds now, and every accepted intent so far was inside its limits.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let chain = &self.sink.0;
        let exec = &chain.execution.as_ref().unwrap().stage;
        let risk = &chain.risk.as_ref().unwrap().stage;
        let strategy = &chain.strategy.as_ref().unwrap().stage;
        let mut gross = 0;
        for index in 0..INSTRUMENTS as usize {
            let instrument = InstrumentId(index as u16);
            let filled = self.venue.position[index];
            prop_assert_eq!(
                risk.position(index).0,
                filled,
                "risk position = sum of fills"
            );
            prop_assert_eq!(
                exec.position(instrument),
                filled,
                "execution position = sum of fills"
            );
            prop_assert_eq!(
                strategy.pretrade().position(instrument).0,
                filled,
                "strategy position = sum of fills"
            );
            let worst = worst_abs(filled, exec.orders().exposure(instrument));
            prop_assert!(
                worst <= 12,
                "position limit: worst case {} on instrument {}",
                worst,
                index
            );
            gross += worst;
        }
        prop_assert!(gross <= 20, "gross limit: {}", gross);
        prop_assert!(
            exec.orders().open_count() <= 3,
            "open orders {}",
            exec.orders().open_count()
        );
        let events: Vec<Event> = self.sink.1.drain(..).collect();
        for event in events {
            for intent in event.intents.iter().filter(|i| i.is_accepted()) {
                check_intent(intent, &self.config, &self.mids)?;
                if matches!(intent.action, Action::New | Action::Replace) {
                    self.accepted_order_times.push(event.ts_recv_ns);
                }
            }
        }
        let times = &self.accepted_order_times;
        for (i, &t) in times.iter().enumerate() {
            let in_window = times[..=i].iter().filter(|&&s| t - s < 1_000 * MS).count();
            prop_assert!(in_window <= 10, "throttle: {} orders within 1 s", in_window);
        }
        Ok(())
    }
}

fn check_intent(intent: &Intent, config: &Config, mids: &[i64]) -> Result<(), TestCaseError> {
    if intent.action == Action::Cancel {
        return Ok(());
    }
    let limits = &config.instruments[intent.instrument.index()].limits;
    prop_assert!(
        intent.qty.0 > 0 && intent.qty.0 <= limits.max_order_qty,
        "qty {:?}",
        intent
    );
    let mid = mids[intent.instrument.index()];
    // The mid in force when the intent was made is the latest market step's:
    // every step is fed and checked before the next.
    let band = (mid * limits.price_band_bps / 10_000).max(1);
    prop_assert!(
        (intent.price.0 - mid).abs() <= band,
        "price {:?} vs mid {}",
        intent,
        mid
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_limit_is_breached_and_positions_equal_fills(steps in proptest::collection::vec(step(), 1..400)) {
        let mut world = World::new();
        for step in &steps {
            world.apply(step);
            world.check()?;
        }
    }
}

// The property is not vacuous: a long deterministic run trades, gets filled,
// and runs into the position and open-order limits.
#[test]
fn long_run_exercises_the_limits() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut world = World::new();
    for _ in 0..3_000 {
        let step = step().new_tree(&mut runner).unwrap().current();
        world.apply(&step);
        world.check().unwrap();
    }
    let strategy = &world.sink.0.strategy.as_ref().unwrap().stage.counters;
    let exec = &world.sink.0.execution.as_ref().unwrap().stage.counters;
    let rejects = |reason: genesis_engine::decision::RejectReason| {
        strategy.rejects_by_reason[reason as usize]
    };
    assert!(exec.orders_sent > 20 && exec.fills > 20, "{exec:?}");
    assert!(
        rejects(genesis_engine::decision::RejectReason::PositionLimit) > 0,
        "{strategy:?}"
    );
    assert!(
        rejects(genesis_engine::decision::RejectReason::MaxOpenOrders) > 0,
        "{strategy:?}"
    );
}
