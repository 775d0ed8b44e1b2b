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

use crate::config::Config;
use crate::decision::{Action, RejectReason};
use crate::event::{Event, EventKind};
use crate::execution::{ExecutionStage, NullGateway};
use crate::risk::RiskStage;
use crate::strategy::{Strategy, StrategyStage};

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

/// The stages of one run being replayed.
pub struct Replayer {
    risk: RiskStage,
    strategy: StrategyStage,
    execution: ExecutionStage,
    compare: bool,
    pub summary: ReplaySummary,
}

/// Order ids of a run start at four times its first sequence number: at most
/// two intents per event, so a later run's ids never meet an earlier run's.
pub fn order_id_floor(seq_first: u64) -> u64 {
    seq_first.saturating_mul(4)
}

impl Replayer {
    /// Fresh stages for a run whose first event is `seq_first`.
    /// `compare` checks decisions against the journal (replay) or not (backtest).
    pub fn new(
        config: &Config,
        strategy: Box<dyn Strategy>,
        seq_first: u64,
        compare: bool,
    ) -> Replayer {
        let mut strategy = StrategyStage::new(config, strategy);
        strategy.set_order_id_floor(order_id_floor(seq_first).saturating_sub(1));
        Replayer {
            risk: RiskStage::new(config),
            strategy,
            execution: ExecutionStage::new(config, Box::new(NullGateway)),
            compare,
            summary: ReplaySummary::default(),
        }
    }

    /// Runs one journaled event; returns false once a divergence was found.
    pub fn step(&mut self, journaled: &Event) -> bool {
        let mut event = *journaled;
        event.clear_decisions();
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
}
