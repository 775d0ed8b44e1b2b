//! A deterministic world for property tests: ingest and the fused stages,
//! fed by the test one input at a time, and a venue the test plays. It
//! answers the requests execution sends, in an order proptest chooses, and
//! fills only what it holds. Time is the test's: every input is stamped by
//! it, never by a clock.
//!
//! The world starts, and can die and start again, through the engine's own
//! start-up rebuild (`run::rebuild`) on its journal: the venue keeps its
//! orders and the requests in flight, as a real venue would, and a snapshot
//! follower can run beside the stages as the snapshot thread does.
//!
//! With reconciliation on ([`World::reconciling`]) the venue plays a FIX
//! venue across the engine's death: the requests in flight reach it (their
//! answers are lost with the session), it may fill and cancel resting
//! orders and take orders entered by someone else for the account while
//! the engine is down ([`World::while_away`]), and every start runs a
//! round as the venue lane does: the gate closes, the mass status answer
//! (resting orders, orders done lately, with CumQty) is fed as `VenueOrder`
//! events, execution's notes are served (status requests answered, missed
//! fills, acks and closes fed back flagged reconciled), and the round
//! completes.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // the follower times snapshots by wall clock

use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::decision::{Action, Intent};
use genesis_engine::event::{
    ControlCommand, Event, Fill, Input, OrderAck, OrderReject, ReconcilePhase, ReconcileStep,
    RejectedRequest, StatusRequestKind, TopOfBook, VenueOrder, VenueOrderState, FLAG_RECONCILED,
};
use genesis_engine::execution::{ExecutionStage, Gateway, OrderRequest, RequestKind, SendError};
use genesis_engine::ingest::{Ingest, NoSource, Sink, Source, Sources};
use genesis_engine::journal_stage::{run_config_path, JournalStage};
use genesis_engine::replay::{save_stages, Replayer, StagesRef};
use genesis_engine::risk::pretrade::worst_abs;
use genesis_engine::risk::RiskStage;
use genesis_engine::run::rebuild::{rebuild, RebuildOptions, Rebuilt, RestartReport};
use genesis_engine::snapshot::{fingerprint, Follower, SnapshotPolicy};
use genesis_engine::strategy::{MarketMaker, Strategy as _, StrategyStage};
use genesis_engine::topology::chain::{Chain, Timed};
use genesis_engine::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use proptest::prelude::*;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const INSTRUMENTS: u16 = 2;
pub const MS: u64 = 1_000_000;

#[derive(Clone, Debug)]
pub enum Step {
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

pub fn step() -> impl Strategy<Value = Step> {
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
pub fn tight_config(dir: &std::path::Path) -> Config {
    let mut config = crate::common::test_config(dir);
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
    config.risk.exec_id_memory = 64;
    config.strategy.market_maker.quote_qty = 5;
    config.strategy.market_maker.max_inventory_lots = 1_000;
    // Small segments: every start scans and preallocates one.
    config.journal.segment_size_mib = 1;
    config
}

/// What execution sent, waiting for the venue's answer.
#[derive(Clone, Default)]
pub struct Wire(pub Arc<Mutex<VecDeque<OrderRequest>>>);

impl Gateway for Wire {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        self.0.lock().unwrap().push_back(*request);
        Ok(())
    }
}

/// Events the test wants ingest to read next.
#[derive(Clone, Default)]
pub struct Inbox(pub Arc<Mutex<VecDeque<Event>>>);

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

/// Ingest's sink: the fused stages, keeping every processed event.
pub struct Fused(pub Chain, pub Vec<Event>);

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
    price: i64,
    leaves: i64,
    filled: i64,
}

impl Resting {
    fn report(&self, state: VenueOrderState) -> VenueOrder {
        VenueOrder {
            order_id: self.order_id,
            price: Price(self.price),
            qty: Qty(self.filled + self.leaves),
            cum_qty: Qty(self.filled),
            state,
        }
    }
}

/// What the venue does to the account while the engine is down.
#[derive(Clone, Debug)]
pub enum Away {
    /// Fills part (or all) of a resting order, chosen by index.
    Fill { pick: usize, qty: i64 },
    /// Cancels a resting order (expiry, a venue purge).
    Cancel { pick: usize },
    /// An order entered for the account by another system.
    Foreign { instrument: u16, side: bool },
}

pub fn away() -> impl Strategy<Value = Away> {
    prop_oneof![
        3 => (any::<usize>(), 1i64..=6).prop_map(|(pick, qty)| Away::Fill { pick, qty }),
        1 => any::<usize>().prop_map(|pick| Away::Cancel { pick }),
        1 => (0..INSTRUMENTS, any::<bool>()).prop_map(|(instrument, side)| Away::Foreign { instrument, side }),
    ]
}

/// Ids of orders entered at the venue by someone else: outside the engine's
/// own range, as an adopted ClOrdID's are.
const FOREIGN_ORDER_ID: u64 = 1 << 62;
/// Orders done lately that a mass status answer tells.
const DONE_TOLD: usize = 16;

/// The test's venue and its record of what it filled.
pub struct Venue {
    resting: Vec<Resting>,
    pub fills: Vec<Event>,
    pub position: [i64; INSTRUMENTS as usize],
    exec_id_next: u64,
    /// Every order id the venue was sent: a restart must never reuse one.
    order_ids: HashSet<u64>,
    /// The orders done last (filled or cancelled), newest last.
    done: VecDeque<(Resting, VenueOrderState)>,
    foreign_next: u64,
}

impl Venue {
    /// The answer to `request`: an ack, a cancel ack, a replace ack, or a reject.
    fn answer(&mut self, request: &OrderRequest, reject: bool) -> Input {
        let found = self
            .resting
            .iter()
            .position(|r| r.order_id == request.order_id);
        let ack = Input::OrderAck(OrderAck {
            order_id: request.order_id,
            venue_order_id: request.order_id.0 + 1_000_000,
            price: request.price,
            qty: request.qty,
        });
        match (request.kind, found, reject) {
            (RequestKind::New, _, false) => {
                assert!(
                    self.order_ids.insert(request.order_id.0),
                    "order id {} sent twice",
                    request.order_id.0
                );
                self.resting.push(Resting {
                    order_id: request.order_id,
                    instrument: request.instrument,
                    side: request.side,
                    price: request.price.0,
                    leaves: request.qty.0,
                    filled: 0,
                });
                ack
            }
            (RequestKind::Cancel, Some(index), false) => {
                let resting = self.resting.remove(index);
                self.note_done(resting, VenueOrderState::Cancelled);
                Input::CancelAck(request.order_id)
            }
            (RequestKind::Replace, Some(index), false) => {
                let resting = &mut self.resting[index];
                resting.leaves = (request.qty.0 - resting.filled).max(0);
                resting.price = request.price.0;
                ack
            }
            (kind, _, _) => Input::OrderReject(OrderReject {
                order_id: request.order_id,
                request: match kind {
                    RequestKind::New => RejectedRequest::New,
                    RequestKind::Cancel => RejectedRequest::Cancel,
                    RequestKind::Replace => RejectedRequest::Replace,
                    other => panic!("the test venue takes no reconciliation request ({other:?}): it has no FIX session"),
                },
                venue_reason: 9,
            }),
        }
    }

    /// Fills part of a resting order at `mids`; the order and the fill.
    fn fill(&mut self, pick: usize, qty: i64, mids: &[i64]) -> Option<(Resting, Fill)> {
        if self.resting.is_empty() {
            return None;
        }
        let index = pick % self.resting.len();
        let resting = &mut self.resting[index];
        let qty = qty.min(resting.leaves);
        resting.leaves -= qty;
        resting.filled += qty;
        let resting = *resting;
        if resting.leaves == 0 {
            self.resting.remove(index);
        }
        let fill = Fill {
            order_id: resting.order_id,
            exec_id: ExecId(self.exec_id_next),
            price: Price(mids[resting.instrument.index()]),
            qty: Qty(qty),
        };
        self.exec_id_next += 1;
        self.position[resting.instrument.index()] += resting.side.sign() * qty;
        if resting.leaves == 0 {
            self.note_done(resting, VenueOrderState::Filled);
        }
        Some((resting, fill))
    }

    fn note_done(&mut self, resting: Resting, state: VenueOrderState) {
        if self.done.len() == DONE_TOLD {
            self.done.pop_front();
        }
        self.done.push_back((resting, state));
    }

    /// What the venue does while the engine is down (nobody hears of it).
    fn act_away(&mut self, away: &Away, mids: &[i64]) {
        match *away {
            Away::Fill { pick, qty } => {
                // The account's own orders: someone else's are cancelled at the next start.
                let own: Vec<usize> = (0..self.resting.len())
                    .filter(|&i| self.resting[i].order_id.0 & FOREIGN_ORDER_ID == 0)
                    .collect();
                if !own.is_empty() {
                    let _ = self.fill(own[pick % own.len()], qty, mids);
                }
            }
            Away::Cancel { pick } if !self.resting.is_empty() => {
                let resting = self.resting.remove(pick % self.resting.len());
                self.note_done(resting, VenueOrderState::Cancelled);
            }
            Away::Cancel { .. } => {}
            Away::Foreign { instrument, side } => {
                self.foreign_next += 1;
                let mid = mids[instrument as usize];
                self.resting.push(Resting {
                    order_id: OrderId(FOREIGN_ORDER_ID | self.foreign_next),
                    instrument: InstrumentId(instrument),
                    side: if side { Side::Buy } else { Side::Sell },
                    price: if side { mid - 2 } else { mid + 2 },
                    leaves: 1,
                    filled: 0,
                });
            }
        }
    }

    /// The account's own orders resting at the venue.
    pub fn own_resting(&self) -> usize {
        self.resting
            .iter()
            .filter(|r| r.order_id.0 & FOREIGN_ORDER_ID == 0)
            .count()
    }

    /// The mass status answer: every resting order, then the orders done lately.
    fn mass_status(&self) -> Vec<(Resting, VenueOrderState)> {
        let resting = self.resting.iter().map(|r| (*r, VenueOrderState::Open));
        resting.chain(self.done.iter().copied()).collect()
    }

    /// The answer to an OrderStatusRequest about `order`.
    fn order_status(&self, request: &OrderRequest) -> VenueOrder {
        let resting = self.resting.iter().find(|r| r.order_id == request.order_id);
        if let Some(resting) = resting {
            return resting.report(VenueOrderState::Open);
        }
        let done = self
            .done
            .iter()
            .rev()
            .find(|(r, _)| r.order_id == request.order_id);
        match done {
            Some((resting, state)) => resting.report(*state),
            None => VenueOrder {
                order_id: request.order_id,
                price: Price(0),
                qty: Qty(0),
                cum_qty: Qty(0),
                state: VenueOrderState::Unknown,
            },
        }
    }
}

pub struct World {
    pub config: Config,
    pub ingest: Ingest,
    pub sink: Fused,
    inbox: Inbox,
    wire: Wire,
    pub venue: Venue,
    pub mids: [i64; INSTRUMENTS as usize],
    pub ts_ns: u64,
    accepted_order_times: Vec<u64>,
    /// The snapshot thread's follower, polled after every input (on this thread).
    pub follower: Option<Follower>,
    policy: Option<SnapshotPolicy>,
    /// The state the last start-up rebuilt at the journal's end (none: flat).
    pub journal_state: Option<Vec<u8>>,
    /// The first sequence of the current run.
    pub run_seq_first: u64,
    /// Each start runs a reconciliation round with the venue (see the header).
    pub reconciling: bool,
    pub dir: tempfile::TempDir,
}

impl World {
    /// A world on a new journal, started as `genesis run` starts (through
    /// the start-up rebuild, on an empty journal); with `policy`, a
    /// snapshot follower runs beside the stages.
    pub fn new(policy: Option<SnapshotPolicy>) -> World {
        World::build(policy, false)
    }

    /// A world whose venue outlives the engine and is reconciled with at
    /// every start (the first too), unknown orders cancelled.
    pub fn reconciling(policy: Option<SnapshotPolicy>) -> World {
        World::build(policy, true)
    }

    fn build(policy: Option<SnapshotPolicy>, reconciling: bool) -> World {
        // In memory where there is a tmpfs: every snapshot and start record
        // is fsynced, and a disk shared with other builds makes that slow.
        let dir = match std::path::Path::new("/dev/shm").is_dir() {
            true => tempfile::tempdir_in("/dev/shm").unwrap(),
            false => tempfile::tempdir().unwrap(),
        };
        let mut config = tight_config(&dir.path().join("journal"));
        config.venue.fix.reconcile_unknown = genesis_engine::config::ReconcileUnknown::Cancel;
        let inbox = Inbox::default();
        let mut world = World {
            ingest: new_ingest(&inbox, &config, 1),
            sink: Fused(empty_chain(), Vec::new()),
            config,
            inbox,
            wire: Wire::default(),
            venue: Venue {
                resting: Vec::new(),
                fills: Vec::new(),
                position: [0; INSTRUMENTS as usize],
                exec_id_next: 1,
                order_ids: HashSet::new(),
                done: VecDeque::new(),
                foreign_next: 0,
            },
            mids: [10_000; INSTRUMENTS as usize],
            ts_ns: 1_000 * 86_400 * 1_000_000_000,
            accepted_order_times: Vec::new(),
            follower: None,
            policy,
            journal_state: None,
            run_seq_first: 1,
            reconciling,
            dir,
        };
        world.start(RebuildOptions::default());
        world
    }

    pub fn risk(&self) -> &RiskStage {
        &self.sink.0.risk.as_ref().unwrap().stage
    }

    pub fn strategy(&self) -> &StrategyStage {
        &self.sink.0.strategy.as_ref().unwrap().stage
    }

    pub fn execution(&self) -> &ExecutionStage {
        &self.sink.0.execution.as_ref().unwrap().stage
    }

    /// Everything a restart carries, as bytes.
    pub fn state(&self) -> Vec<u8> {
        save_stages(StagesRef {
            risk: self.risk(),
            strategy: self.strategy(),
            execution: self.execution(),
            exec_ids: self.ingest.exec_ids(),
        })
    }

    pub fn seq_next(&self) -> u64 {
        self.ingest.seq_next()
    }

    pub fn snapshots_dir(&self) -> std::path::PathBuf {
        self.config.journal.dir.join("snapshots")
    }

    fn feed(&mut self, instrument: InstrumentId, side: Side, input: Input) {
        self.feed_with(Event::new(instrument, side, input));
    }

    fn feed_with(&mut self, mut event: Event) {
        self.ts_ns += 1_000;
        event.ts_recv_ns = self.ts_ns;
        self.inbox.0.lock().unwrap().push_back(event);
        while self.ingest.poll(&mut self.sink) > 0 {}
        // Records reach the page cache, where a follower reads them.
        self.sink.0.on_idle();
        assert_eq!(self.sink.0.fatal, None, "the journal writes");
        if let Some(follower) = &mut self.follower {
            follower.poll(usize::MAX, Instant::now());
            assert!(!follower.is_stopped(), "{:?}", follower.report.stopped);
        }
    }

    pub fn apply(&mut self, step: &Step) {
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
            Step::Answer | Step::Reject => {
                let Some(request) = self.wire.0.lock().unwrap().pop_front() else {
                    return;
                };
                let input = self.venue.answer(&request, matches!(step, Step::Reject));
                self.feed(request.instrument, request.side, input);
            }
            Step::Fill { pick, qty } => {
                let Some((resting, fill)) = self.venue.fill(pick, qty, &self.mids) else {
                    return;
                };
                self.feed(resting.instrument, resting.side, Input::Fill(fill));
                self.venue.fills.push(*self.sink.1.last().unwrap());
            }
            Step::Duplicate { pick } => {
                // Among the fills the exec-id memory still holds.
                let fills = &self.venue.fills;
                let recent = fills.len().min(self.config.risk.exec_id_memory / 2);
                if recent == 0 {
                    return;
                }
                let earlier = fills[fills.len() - recent + pick % recent];
                self.feed(earlier.instrument, earlier.side, earlier.input());
            }
            Step::Control(code) => {
                let command = ControlCommand::from_u8(code).unwrap();
                self.feed(InstrumentId(0), Side::None, Input::Control(command));
            }
            Step::Wait { ms } => self.ts_ns += ms * MS,
        }
    }

    /// Every limit holds now, every accepted intent so far was inside its
    /// limits, and every stage's position is the sum of the venue's fills.
    pub fn check(&mut self) -> Result<(), TestCaseError> {
        let mut gross = 0;
        for index in 0..INSTRUMENTS as usize {
            let instrument = InstrumentId(index as u16);
            let filled = self.venue.position[index];
            prop_assert_eq!(
                self.risk().position(index).0,
                filled,
                "risk position = sum of fills"
            );
            prop_assert_eq!(
                self.execution().position(instrument),
                filled,
                "execution position = sum of fills"
            );
            prop_assert_eq!(
                self.strategy().pretrade().position(instrument).0,
                filled,
                "strategy position = sum of fills"
            );
            let worst = worst_abs(filled, self.execution().orders().exposure(instrument));
            prop_assert!(
                worst <= 12,
                "position limit: worst case {} on instrument {}",
                worst,
                index
            );
            gross += worst;
        }
        prop_assert!(gross <= 20, "gross limit: {}", gross);
        let open = self.execution().orders().open_count();
        prop_assert!(open <= 3, "open orders {}", open);
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

    /// The engine dies (`graceful`: stops, and the snapshot thread writes
    /// its final snapshot) and starts again on its journal, through the
    /// start-up rebuild; the venue keeps its orders and what is in flight.
    pub fn restart(&mut self, options: RebuildOptions, graceful: bool) -> RestartReport {
        self.stop(graceful);
        self.start(options)
    }

    /// The engine stops (`graceful`) or dies; [`World::start`] starts it again.
    pub fn stop(&mut self, graceful: bool) {
        if let Some(mut follower) = self.follower.take() {
            if graceful {
                follower.poll(usize::MAX, Instant::now());
                follower.write_final();
            }
        }
        self.sink.0.finish();
        self.sink.0 = empty_chain();
        if self.reconciling {
            // What was in flight reaches the venue; the answers die with the session.
            let in_flight: Vec<OrderRequest> = self.wire.0.lock().unwrap().drain(..).collect();
            for request in in_flight.iter().filter(|r| !is_note(r.kind)) {
                let _ = self.venue.answer(request, false);
            }
        }
    }

    /// The venue acts on the account while the engine is down.
    pub fn while_away(&mut self, away: &Away) {
        assert!(
            self.reconciling,
            "only a venue that outlives the engine acts meanwhile"
        );
        self.venue.act_away(away, &self.mids);
    }

    /// Opens the journal and builds the stages as `run::run` does: the
    /// state rebuilt at start-up, ingest numbering on and remembering the
    /// exec ids, and the snapshot follower from the start state.
    pub fn start(&mut self, options: RebuildOptions) -> RestartReport {
        let (journal, recovery) = JournalStage::open(&self.config.journal).unwrap();
        let seq_first = recovery.seq_next;
        let path = run_config_path(&self.config.journal.dir, seq_first);
        std::fs::write(path, toml::to_string_pretty(&self.config).unwrap()).unwrap();
        let rebuilt = rebuild(
            &self.config,
            &self.config.journal.dir,
            seq_first,
            market_maker(&self.config),
            Box::new(self.wire.clone()),
            options,
        )
        .unwrap_or_else(|e| panic!("rebuild at {seq_first}: {e:#}"));
        if let Some(policy) = self.policy {
            self.follower = Some(start_follower(&self.config, &rebuilt, seq_first, policy));
        }
        self.ingest = new_ingest(&self.inbox, &self.config, seq_first);
        *self.ingest.exec_ids_mut() = rebuilt.exec_ids;
        let chain = &mut self.sink.0;
        chain.risk = Some(Timed::new(rebuilt.risk, "risk"));
        chain.strategy = Some(Timed::new(rebuilt.strategy, "strategy"));
        chain.execution = Some(Timed::new(rebuilt.execution, "execution"));
        chain.journal = Some(Timed::new(journal, "journal"));
        self.journal_state = rebuilt.journal_state;
        self.run_seq_first = seq_first;
        if self.reconciling {
            self.reconcile();
        }
        rebuilt.report
    }

    fn feed_phase(&mut self, step: ReconcileStep, request: StatusRequestKind) {
        let phase = ReconcilePhase {
            step,
            request,
            requests: 0,
            reports: 0,
        };
        self.feed(InstrumentId(0), Side::None, Input::Reconcile(phase));
    }

    /// The gate closes and the round starts with the mass status request;
    /// the answer comes back and execution's notes are served until the
    /// round completes.
    pub fn reconcile(&mut self) {
        self.reconcile_begin();
        self.reconcile_finish();
    }

    /// The first half of a round: asked, and the mass status answer read.
    pub fn reconcile_begin(&mut self) {
        self.feed_phase(ReconcileStep::Pending, StatusRequestKind::None);
        self.feed_phase(ReconcileStep::Started, StatusRequestKind::MassStatus);
        for (resting, state) in self.venue.mass_status() {
            let report = resting.report(state);
            self.feed(resting.instrument, resting.side, Input::VenueOrder(report));
        }
        self.feed_phase(ReconcileStep::Answered, StatusRequestKind::MassStatus);
    }

    /// The rest: execution's notes served, the venue's answers fed, until
    /// the round completes.
    pub fn reconcile_finish(&mut self) {
        let mut complete = false;
        for _ in 0..64 {
            let requests: Vec<OrderRequest> = self.wire.0.lock().unwrap().drain(..).collect();
            if requests.is_empty() {
                break;
            }
            for request in &requests {
                complete |= self.serve(request);
            }
        }
        assert!(complete, "the round completes");
        assert!(
            self.wire.0.lock().unwrap().is_empty(),
            "every note is served"
        );
    }

    /// Serves one request made during a round; true when it completed the round.
    fn serve(&mut self, request: &OrderRequest) -> bool {
        let key = (request.instrument, request.side);
        let flagged = |input: Input| {
            let mut event = Event::new(key.0, key.1, input);
            event.flags = FLAG_RECONCILED;
            event
        };
        let event = match request.kind {
            RequestKind::Status => {
                let report = self.venue.order_status(request);
                self.feed(key.0, key.1, Input::VenueOrder(report));
                return false;
            }
            RequestKind::StatusListed => {
                self.feed_phase(ReconcileStep::Answered, StatusRequestKind::OrderStatus);
                return false;
            }
            RequestKind::Reconciled => {
                self.feed_phase(ReconcileStep::Complete, StatusRequestKind::None);
                return true;
            }
            RequestKind::ReconciledAck => flagged(Input::OrderAck(OrderAck {
                order_id: request.order_id,
                venue_order_id: 0,
                price: request.price,
                qty: request.qty,
            })),
            RequestKind::ReconciledFill => flagged(Input::Fill(Fill {
                order_id: request.order_id,
                exec_id: ExecId(reconciled_exec_id(request, &self.venue)),
                price: request.price,
                qty: request.qty,
            })),
            RequestKind::ReconciledClose => flagged(Input::CancelAck(request.order_id)),
            _ => {
                let input = self.venue.answer(request, false);
                self.feed(key.0, key.1, input);
                return false;
            }
        };
        self.feed_with(event);
        false
    }
}

/// A missed fill's exec id, as the venue lane makes it: the order and the
/// CumQty the fill brings it to, so the same missed quantity is one fill.
fn reconciled_exec_id(request: &OrderRequest, venue: &Venue) -> u64 {
    let cum = venue.order_status(request).cum_qty.0 as u64;
    0x5245_434f_4e43_494c ^ request.order_id.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ cum
}

fn is_note(kind: RequestKind) -> bool {
    !matches!(
        kind,
        RequestKind::New | RequestKind::Cancel | RequestKind::Replace
    )
}

/// A follower whose replica begins in the run's start state, as the run's
/// snapshot thread does (writing the start state first when events were replayed).
fn start_follower(
    config: &Config,
    rebuilt: &Rebuilt,
    seq_first: u64,
    policy: SnapshotPolicy,
) -> Follower {
    let mut replica = Replayer::fresh(config, market_maker(config), true);
    replica.restore_state(&rebuilt.state).unwrap();
    let fingerprint = fingerprint(config, market_maker(config).name());
    let mut follower = Follower::new(
        &config.journal.dir,
        replica,
        seq_first,
        fingerprint,
        policy,
        None,
        None,
    )
    .unwrap();
    if let Some(start) = &rebuilt.start_snapshot {
        follower.write_start(start);
    }
    follower
}

fn empty_chain() -> Chain {
    Chain {
        clock: EpochClock::new(),
        risk: None,
        strategy: None,
        execution: None,
        journal: None,
        fatal: None,
    }
}

pub fn market_maker(config: &Config) -> Box<MarketMaker> {
    Box::new(MarketMaker::new(
        config.strategy.market_maker.clone(),
        config.instruments.len(),
    ))
}

fn new_ingest(inbox: &Inbox, config: &Config, seq_first: u64) -> Ingest {
    let sources = Sources {
        control: Box::new(NoSource),
        venue: Box::new(NoSource),
        market: Box::new(inbox.clone()),
    };
    let mut ingest = Ingest::new(
        sources,
        EpochClock::new(),
        INSTRUMENTS as usize,
        false,
        config.risk.exec_id_memory,
        0,
    );
    ingest.set_seq_next(seq_first);
    ingest
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
