//! A fused run of stages after ingest, called in order per event, each timed.
//!
//! Owned by one thread. A stage that is not in this group is `None`. The
//! clock is read once at entry and once after each stage; each reading both
//! ends one stage's processing time and gives its time since receipt.

use crate::clock::EpochClock;
use crate::event::Event;
use crate::execution::ExecutionStage;
use crate::journal_stage::JournalStage;
use crate::risk::RiskStage;
use crate::strategy::StrategyStage;
use crate::telemetry::metrics::StageMetrics;
use crate::telemetry::{Board, Counter};

pub struct Timed<S> {
    pub stage: S,
    pub metrics: StageMetrics,
}

impl<S> Timed<S> {
    pub fn new(stage: S, name: &'static str) -> Timed<S> {
        Timed {
            stage,
            metrics: StageMetrics::new(name),
        }
    }
}

pub struct Chain {
    pub clock: EpochClock,
    pub risk: Option<Timed<RiskStage>>,
    pub strategy: Option<Timed<StrategyStage>>,
    pub execution: Option<Timed<ExecutionStage>>,
    pub journal: Option<Timed<JournalStage>>,
    /// Set when a stage hit an operating error that must stop the engine.
    pub fatal: Option<String>,
}

impl Chain {
    pub fn is_empty(&self) -> bool {
        self.risk.is_none()
            && self.strategy.is_none()
            && self.execution.is_none()
            && self.journal.is_none()
    }

    /// Runs the group's stages on one event.
    #[inline]
    pub fn process(&mut self, ev: &mut Event) {
        let clock = &self.clock;
        let mut t_last = clock.raw();
        let mut lap = |metrics: &mut StageMetrics, ts_recv_ns: u64| {
            let t = clock.raw();
            let now_ns = clock.epoch_ns(t);
            metrics.record(
                now_ns,
                now_ns.saturating_sub(ts_recv_ns),
                clock.delta_ns(t_last, t),
            );
            t_last = t;
        };
        if let Some(risk) = &mut self.risk {
            risk.stage.on_event(ev);
            lap(&mut risk.metrics, ev.ts_recv_ns);
        }
        if let Some(strategy) = &mut self.strategy {
            strategy.stage.on_event(ev);
            lap(&mut strategy.metrics, ev.ts_recv_ns);
        }
        if let Some(execution) = &mut self.execution {
            execution.stage.on_event(ev);
            lap(&mut execution.metrics, ev.ts_recv_ns);
        }
        if let Some(journal) = &mut self.journal {
            if let Err(err) = journal.stage.on_event(ev) {
                if self.fatal.is_none() {
                    self.fatal = Some(format!("journal write failed, stopping: {err}"));
                }
            }
            lap(&mut journal.metrics, ev.ts_recv_ns);
        }
    }

    /// The end of a batch of events (the `batch` durability policy syncs here).
    pub fn end_of_batch(&mut self) {
        if let Some(journal) = &mut self.journal {
            if let Err(err) = journal.stage.end_of_batch() {
                if self.fatal.is_none() {
                    self.fatal = Some(format!("journal sync failed, stopping: {err}"));
                }
            }
        }
    }

    /// The thread ran dry: flush buffers, hand finished intervals to the reporter.
    pub fn on_idle(&mut self) {
        let now_ns = self.clock.now_ns();
        for metrics in self.metrics_mut() {
            metrics.rotate_if_offered(now_ns);
        }
        if let Some(execution) = &mut self.execution {
            execution.stage.on_idle();
        }
        if let Some(journal) = &mut self.journal {
            if let Err(err) = journal.stage.on_idle() {
                if self.fatal.is_none() {
                    self.fatal = Some(format!("journal write failed, stopping: {err}"));
                }
            }
        }
    }

    /// Copies the counters of the stages this chain runs to the telemetry board.
    pub fn publish(&self, board: &Board) {
        if let Some(risk) = &self.risk {
            let c = &risk.stage.counters;
            board.set(Counter::StopLossTrips, c.stop_loss_trips);
            board.set(Counter::BreakerTrips, c.breaker_trips);
            board.set(Counter::DailyLossTrips, c.daily_loss_trips);
        }
        if let Some(strategy) = &self.strategy {
            let c = &strategy.stage.counters;
            board.set(Counter::Intents, c.intents);
            board.set(Counter::IntentsAccepted, c.intents_accepted);
            board.set_rejects(&c.rejects_by_reason);
        }
        if let Some(execution) = &self.execution {
            let c = &execution.stage.counters;
            for (counter, value) in [
                (Counter::OrdersSent, c.orders_sent),
                (Counter::ReplacesSent, c.replaces_sent),
                (Counter::CancelsSent, c.cancels_sent),
                (Counter::Acks, c.acks),
                (Counter::Fills, c.fills),
                (Counter::VenueRejects, c.venue_rejects),
                (Counter::SendFailed, c.send_failed),
                (Counter::FillsUnknownOrder, c.fills_unknown_order),
                (Counter::Overfills, c.overfills),
                (Counter::LateMessages, c.late_messages),
                (Counter::InvalidTransitions, c.invalid_transitions),
                (Counter::MassCancels, c.mass_cancels),
                (Counter::ReconcileRounds, c.reconcile.rounds),
                (Counter::ReconcileRequests, c.reconcile.requests),
                (Counter::ReconcileReports, c.reconcile.reports),
                (Counter::ReconcileAdopted, c.reconcile.adopted),
                (Counter::ReconcileCancelled, c.reconcile.cancelled),
                (Counter::ReconcileClosed, c.reconcile.closed),
                (Counter::ReconcileFills, c.reconcile.fills),
                (Counter::ReconcileTimeouts, c.reconcile.timeouts),
                (Counter::ReconcileReleases, c.reconcile.releases),
            ] {
                board.set(counter, value);
            }
            board.set_reconcile_gate_held(c.reconcile.gate_held != 0);
        }
        if let Some(journal) = &self.journal {
            board.set(Counter::JournalRecords, journal.stage.records);
        }
    }

    /// The metrics of the stages this chain runs, in pipeline order.
    pub fn metrics_mut(&mut self) -> impl Iterator<Item = &mut StageMetrics> {
        let risk = self.risk.as_mut().map(|s| &mut s.metrics);
        let strategy = self.strategy.as_mut().map(|s| &mut s.metrics);
        let execution = self.execution.as_mut().map(|s| &mut s.metrics);
        let journal = self.journal.as_mut().map(|s| &mut s.metrics);
        [risk, strategy, execution, journal].into_iter().flatten()
    }

    /// The engine is stopping: make the journal durable as configured, and
    /// settle every stage's pending latency counts into its histograms.
    pub fn finish(&mut self) {
        self.on_idle();
        self.metrics_mut().for_each(StageMetrics::settle);
        if let Some(journal) = &mut self.journal {
            if let Err(err) = journal.stage.finish() {
                if self.fatal.is_none() {
                    self.fatal = Some(format!("journal sync failed: {err}"));
                }
            }
        }
    }
}
