//! Replay: the journaled inputs of a run fed again through risk, strategy and
//! execution of this build, fused on the calling thread, with the run's
//! config. Every decision must come out byte for byte as journaled; the
//! first that does not is reported. With another strategy or config it is a
//! backtest over recorded data instead, reporting PnL and decision counts.
//!
//! Inputs are taken as journaled — sequence, timestamps, flags (duplicate
//! fills were flagged by the live ingest) — and every decision field is
//! cleared before the stages run. Execution sends to a null gateway; its
//! decisions depend only on its inputs and its own state.
//!
//! A [`Replayer`] is also the engine's replica: it keeps ingest's exec-id
//! memory beside the three stages, so its state ([`state`]) is everything
//! a restart carries. The snapshot thread runs one beside the live stages;
//! start-up and `genesis replay` run one per recorded run, carrying state
//! from run to run as the live starts did.

pub mod state;

use crate::config::Config;
use crate::decision::{Action, RejectReason, MAX_INTENTS};
use crate::event::{Event, EventKind, Input};
use crate::execution::{ExecutionStage, Gateway, NullGateway};
use crate::recent::RecentMap;
use crate::risk::RiskStage;
use crate::state_codec::StateError;
use crate::strategy::{Strategy, StrategyStage};
pub use state::{restore_stages, save_stages, RestoreOutcome, StagesMut, StagesRef};

/// The first event whose decisions differ from the journal's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub seq: u64,
    pub journaled: Event,
    pub produced: Event,
}

/// What a replay or backtest found.
#[derive(Clone, Debug, Default)]
pub struct ReplaySummary {
    pub events: u64,
    pub intents: u64,
    pub accepted: u64,
    pub rejects: u64,
    pub orders_new: u64,
    pub fills: u64,
    pub realized_pnl_units: i128,
    pub unrealized_pnl_units: i128,
    pub divergence: Option<Divergence>,
}

/// The stages of one run being replayed, and ingest's exec-id memory.
pub struct Replayer {
    risk: RiskStage,
    strategy: StrategyStage,
    execution: ExecutionStage,
    exec_ids: RecentMap<()>,
    compare: bool,
    pub summary: ReplaySummary,
}

/// Order ids of a run start at four times its first sequence number at
/// least: at most two intents per event, so a run's ids stay below four
/// times the first sequence of any later run.
pub fn order_id_floor(seq_first: u64) -> u64 {
    seq_first.saturating_mul(4)
}

/// Order ids a run may have sent whose events never reached the journal's
/// page cache when it died: two per event in the rings after the strategy
/// (four rings at most) and in the journal writer's buffer, and with
/// `journal.write_thread` in the buffers handed to its thread and not yet
/// written (four more). A restart starts its ids at least this far past
/// the last journaled one.
pub fn order_id_gap(config: &Config) -> u64 {
    order_id_gap_with(config, config.journal.write_thread)
}

/// [`order_id_gap`] for a start whose own config is gone (another start at
/// the same sequence wrote its config over it): as if it had run the write
/// thread, the wider of the two, since ids cost nothing and a reused
/// ClOrdID would be a duplicate order at the venue.
pub fn order_id_gap_unknown_writer(config: &Config) -> u64 {
    order_id_gap_with(config, true)
}

fn order_id_gap_with(config: &Config, write_thread: bool) -> u64 {
    let frame_bytes = (crate::event::EVENT_BYTES + genesis_journal::FRAME_OVERHEAD_BYTES) as u64;
    let ring_events = config.topology.ring_capacity as u64 * 4;
    let buffers = if write_thread {
        1 + genesis_journal::WRITE_THREAD_BUFFERS_DEFAULT as u64
    } else {
        1
    };
    let buffer_events = buffers * (config.journal.buffer_bytes as u64 / frame_bytes + 1);
    MAX_INTENTS as u64 * (ring_events + buffer_events)
}

impl Replayer {
    /// Fresh stages for a run whose first event is `seq_first`, with the
    /// order-id floor of a run that started flat.
    /// `compare` checks decisions against the journal (replay) or not (backtest).
    pub fn new(
        config: &Config,
        strategy: Box<dyn Strategy>,
        seq_first: u64,
        compare: bool,
    ) -> Replayer {
        let mut replayer = Replayer::fresh(config, strategy, compare);
        replayer
            .strategy
            .set_order_id_floor(order_id_floor(seq_first).saturating_sub(1));
        replayer
    }

    /// Fresh stages with no order-id floor: for state to be restored into.
    pub fn fresh(config: &Config, strategy: Box<dyn Strategy>, compare: bool) -> Replayer {
        Replayer::with_gateway(config, strategy, Box::new(NullGateway), compare)
    }

    /// Fresh stages whose execution sends through `gateway`.
    pub fn with_gateway(
        config: &Config,
        strategy: Box<dyn Strategy>,
        gateway: Box<dyn Gateway>,
        compare: bool,
    ) -> Replayer {
        Replayer {
            risk: RiskStage::new(config),
            strategy: StrategyStage::new(config, strategy),
            execution: ExecutionStage::new(config, gateway),
            exec_ids: RecentMap::with_capacity(config.risk.exec_id_memory),
            compare,
            summary: ReplaySummary::default(),
        }
    }

    /// Runs one journaled event; returns false once a divergence was found.
    pub fn step(&mut self, journaled: &Event) -> bool {
        let mut event = *journaled;
        event.clear_decisions();
        if let Input::Fill(fill) = event.input() {
            // As ingest did when it read the fill: a repeat changes nothing.
            self.exec_ids.insert(fill.exec_id.0, ());
        }
        self.risk.on_event(&mut event);
        self.strategy.on_event(&mut event);
        self.execution.on_event(&mut event);
        self.count(&event);
        if self.compare && event != *journaled {
            self.summary.divergence = Some(Divergence {
                seq: journaled.seq,
                journaled: *journaled,
                produced: event,
            });
            return false;
        }
        true
    }

    /// The state a restart carries (see [`state`]).
    pub fn save_state(&self) -> Vec<u8> {
        save_stages(self.stages())
    }

    /// Replaces the stages' state with `bytes` (what `save_state` wrote).
    pub fn restore_state(&mut self, bytes: &[u8]) -> Result<RestoreOutcome, StateError> {
        restore_stages(
            bytes,
            StagesMut {
                risk: &mut self.risk,
                strategy: &mut self.strategy,
                execution: &mut self.execution,
                exec_ids: &mut self.exec_ids,
            },
        )
    }

    pub fn stages(&self) -> StagesRef<'_> {
        StagesRef {
            risk: &self.risk,
            strategy: &self.strategy,
            execution: &self.execution,
            exec_ids: &self.exec_ids,
        }
    }

    /// State carried into a new run: no reconciliation round of the last
    /// run is under way any more (its gate opens; the new run's venue lane
    /// starts its own round). Live start-up and replay both call it where
    /// a run carries state on.
    pub fn begin_run(&mut self) {
        self.risk.begin_run();
        self.execution.begin_run();
    }

    /// Makes order ids start at `order_id_next` at least (a run boundary).
    pub fn set_order_id_next(&mut self, order_id_next: u64) {
        self.strategy
            .set_order_id_floor(order_id_next.saturating_sub(1));
    }

    pub fn order_id_next(&self) -> u64 {
        self.strategy.order_id_next()
    }

    pub fn risk(&self) -> &RiskStage {
        &self.risk
    }

    pub fn strategy(&self) -> &StrategyStage {
        &self.strategy
    }

    pub fn execution(&self) -> &ExecutionStage {
        &self.execution
    }

    /// The strategy, taken back out of the stages.
    pub fn into_strategy(self) -> Box<dyn Strategy> {
        self.strategy.into_strategy()
    }

    /// The three stages and the exec-id memory, to run live.
    pub fn into_parts(self) -> (RiskStage, StrategyStage, ExecutionStage, RecentMap<()>) {
        (self.risk, self.strategy, self.execution, self.exec_ids)
    }

    fn count(&mut self, event: &Event) {
        let summary = &mut self.summary;
        summary.events += 1;
        if event.kind == EventKind::Fill && !event.is_duplicate() {
            summary.fills += 1;
        }
        for intent in event.intents.iter().filter(|i| !i.is_empty()) {
            summary.intents += 1;
            if intent.reject == RejectReason::None {
                summary.accepted += 1;
                if intent.action == Action::New {
                    summary.orders_new += 1;
                }
            } else {
                summary.rejects += 1;
            }
        }
        summary.realized_pnl_units = self.risk.realized_units();
        summary.unrealized_pnl_units = self.risk.unrealized_units();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Input, TopOfBook};
    use crate::units::{InstrumentId, Price, Qty, Side};

    fn quote(seq: u64, bid: i64) -> Event {
        let mut event = Event::new(
            InstrumentId(0),
            Side::None,
            Input::TopOfBook(TopOfBook {
                bid_px: Price(bid),
                bid_qty: Qty(5),
                ask_px: Price(bid + 2),
                ask_qty: Qty(5),
            }),
        );
        event.seq = seq;
        event.ts_recv_ns = seq * 1_000_000;
        event
    }

    // A recorded stream replays without divergence; a tampered decision is the first divergence.
    #[test]
    fn replay_matches_and_tampering_is_caught() {
        let config = Config::builtin();
        let strategy = || crate::strategy::from_config(&config);
        let mut recorder = Replayer::new(&config, strategy(), 1, false);
        let mut journal = Vec::new();
        for seq in 1..=50 {
            let mut event = quote(seq, 100_000 + (seq as i64 % 7));
            recorder.risk.on_event(&mut event);
            recorder.strategy.on_event(&mut event);
            recorder.execution.on_event(&mut event);
            journal.push(event);
        }
        assert!(
            journal.iter().any(|e| e.intents[0].is_accepted()),
            "the stream has decisions"
        );
        let mut replay = Replayer::new(&config, strategy(), 1, true);
        assert!(journal.iter().all(|e| replay.step(e)));
        assert_eq!(replay.summary.divergence, None);

        let tampered_at = journal
            .iter()
            .position(|e| e.intents[0].is_accepted())
            .unwrap();
        journal[tampered_at].intents[0].price = Price(1);
        let mut replay = Replayer::new(&config, strategy(), 1, true);
        let replayed = journal.iter().take_while(|e| replay.step(e)).count();
        assert_eq!(replayed, tampered_at);
        assert_eq!(
            replay.summary.divergence.unwrap().seq,
            journal[tampered_at].seq
        );
    }

    // With the journal's write thread a crash can also lose the buffers
    // handed to it: the order-id gap covers them, two ids per frame each.
    #[test]
    fn the_order_id_gap_covers_the_write_thread_buffers() {
        let mut config = Config::builtin();
        let frame_bytes =
            (crate::event::EVENT_BYTES + genesis_journal::FRAME_OVERHEAD_BYTES) as u64;
        let buffer_events = config.journal.buffer_bytes as u64 / frame_bytes + 1;
        config.journal.write_thread = false;
        let without = order_id_gap(&config);
        config.journal.write_thread = true;
        let with = order_id_gap(&config);
        let buffers = genesis_journal::WRITE_THREAD_BUFFERS_DEFAULT as u64;
        assert_eq!(with - without, MAX_INTENTS as u64 * buffers * buffer_events);
        // A start whose config is gone is taken to have run the thread,
        // whatever this start's config says.
        config.journal.write_thread = false;
        assert_eq!(order_id_gap_unknown_writer(&config), with);
    }
}
