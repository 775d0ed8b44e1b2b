//! A fused run of stages after ingest, called in order per event, each timed.
//!
//! Owned by one thread. A stage that is not in this group is `None`.
//!
//! Timing costs a clock read per reading (a TSC read: tens of cycles), so a
//! chain reads the clock once per event, when the event leaves its last
//! stage: that stage's time since receipt is exact for every event, except
//! while ingest is behind (see below). On
//! about one event in [`LAP_SAMPLE_EVERY`] (chosen by ingest's countdown
//! with gaps drawn at random, `telemetry::metrics::LapSampler`, so no
//! periodic pattern in the input aliases with the sample; ingest marks the
//! event `FLAG_LAP_SAMPLE`, so every chain of a plan reads one bit and times
//! the same events) it reads
//! the clock at entry and after each stage instead, and
//! every stage records its processing time and time since receipt. On the
//! other events each stage counts the event again in the buckets of its
//! last measured values: every histogram still counts every event exactly
//! once; its distribution is that of the sample (`StageMetrics::record_repeat`).
//! The last stage counts each such event as it leaves; the stages before
//! it catch up in batches of [`REPEAT_BATCH`] (one count per batch, not
//! per event and stage), and always before a timed event, a rotation look
//! on idle, and any read of the figures (`metrics_mut`).
//!
//! While ingest is behind (its last poll came back with a full budget,
//! [`Chain::set_behind`]), the exit read is sampled too: an untimed event
//! is counted in the last stage's buckets of its last measured values, so
//! that stage's time since receipt is measured on the same 1-in-
//! [`LAP_SAMPLE_EVERY`] sample (`StageMetrics::since_recv_repeated_events`
//! counts the events counted so). Behind, an event's time since receipt is
//! mostly its wait in the backlog; a paced run, whose polls find a few
//! events each, keeps the exact figure for every event.
//! Invariants: the first event a chain processes is timed in full, so a
//! repeat always repeats a measurement; after a catch-up every stage has
//! the same `repeated_events` (the stages see the same events).

use crate::clock::EpochClock;
use crate::event::Event;
use crate::execution::ExecutionStage;
use crate::journal_stage::JournalStage;
use crate::risk::RiskStage;
use crate::strategy::StrategyStage;
use crate::telemetry::metrics::StageMetrics;
pub use crate::telemetry::metrics::LAP_SAMPLE_EVERY;
use crate::telemetry::{Board, Counter};

/// Untimed events the stages before the last count at once (a power of two).
pub const REPEAT_BATCH: u64 = 64;

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

    /// Whether ingest is behind (its last poll filled its budget): the last
    /// stage's time since receipt is then measured on the sample only (see
    /// the module header). Counts stay exact either way.
    #[inline]
    pub fn set_behind(&mut self, behind: bool) {
        if let Some(last) = self.last_metrics() {
            last.since_recv_on_sample = behind;
        }
    }

    /// The metrics of the last stage present.
    #[inline]
    fn last_metrics(&mut self) -> Option<&mut StageMetrics> {
        match (
            &mut self.risk,
            &mut self.strategy,
            &mut self.execution,
            &mut self.journal,
        ) {
            (.., Some(journal)) => Some(&mut journal.metrics),
            (.., Some(execution), None) => Some(&mut execution.metrics),
            (_, Some(strategy), None, None) => Some(&mut strategy.metrics),
            (Some(risk), None, None, None) => Some(&mut risk.metrics),
            (None, None, None, None) => None,
        }
    }

    /// Runs the group's stages on one event, timed as the module header says.
    #[inline]
    pub fn process(&mut self, ev: &mut Event) {
        if ev.on_lap_sample() || !self.measured_any() {
            self.process_lapped(ev);
        } else {
            self.process_unlapped(ev);
        }
    }

    /// True once the chain timed an event stage by stage (or has no stage):
    /// the first stage present has measured something.
    #[inline]
    fn measured_any(&self) -> bool {
        let first = match (&self.risk, &self.strategy, &self.execution, &self.journal) {
            (Some(risk), ..) => &risk.metrics,
            (None, Some(strategy), ..) => &strategy.metrics,
            (None, None, Some(execution), _) => &execution.metrics,
            (None, None, None, Some(journal)) => &journal.metrics,
            (None, None, None, None) => return true,
        };
        first.measured_any()
    }

    /// As [`Chain::process`], with every stage timed (as on the sample),
    /// returning when the event left each stage (epoch ns, in pipeline
    /// order risk, strategy, execution, journal; 0 for a stage not in this
    /// chain). For a per-event trace (`topology::trace`); the default path
    /// never calls it.
    #[inline]
    pub fn process_traced(&mut self, ev: &mut Event) -> [u64; 4] {
        let mut exits_ns = [0; 4];
        self.process_lapped_with(ev, |stage, now_ns| exits_ns[stage] = now_ns);
        exits_ns
    }

    /// Every stage timed: a clock read at entry and after each stage.
    #[inline]
    fn process_lapped(&mut self, ev: &mut Event) {
        self.process_lapped_with(ev, |_, _| {});
    }

    /// [`Chain::process_lapped`], telling `on_exit` each stage's exit
    /// (its index in pipeline order from risk = 0, and the time).
    #[inline]
    fn process_lapped_with(&mut self, ev: &mut Event, mut on_exit: impl FnMut(usize, u64)) {
        // The repeats so far go to the buckets measured before this event:
        // each stage first counts as repeats the events it has not counted
        // yet, up to the last stage's count (what `catch_up_repeats` does,
        // in the same step as the stage's record).
        let repeated_target = self.last_metrics().map_or(0, |last| last.repeated_events());
        let clock = &self.clock;
        // One conversion per reading: a stage's processing time is the
        // difference of two converted readings (within a nanosecond of the
        // converted difference), not a conversion of its own.
        let mut last_ns = clock.now_ns();
        let mut lap = |metrics: &mut StageMetrics, ts_recv_ns: u64, stage: usize| {
            let now_ns = clock.now_ns();
            metrics.record_caught_up(
                repeated_target,
                now_ns,
                now_ns.saturating_sub(ts_recv_ns),
                now_ns.saturating_sub(last_ns),
            );
            last_ns = now_ns;
            on_exit(stage, now_ns);
        };
        if let Some(risk) = &mut self.risk {
            risk.stage.on_event(ev);
            lap(&mut risk.metrics, ev.ts_recv_ns, 0);
        }
        if let Some(strategy) = &mut self.strategy {
            strategy.stage.on_event(ev);
            lap(&mut strategy.metrics, ev.ts_recv_ns, 1);
        }
        if let Some(execution) = &mut self.execution {
            execution.stage.on_event(ev);
            lap(&mut execution.metrics, ev.ts_recv_ns, 2);
        }
        if let Some(journal) = &mut self.journal {
            journal_event(journal, &mut self.fatal, ev);
            lap(&mut journal.metrics, ev.ts_recv_ns, 3);
        }
    }

    /// One clock read as the event leaves: the last stage's time since
    /// receipt is measured, every other count repeats the last measurement.
    #[inline]
    fn process_unlapped(&mut self, ev: &mut Event) {
        if let Some(risk) = &mut self.risk {
            risk.stage.on_event(ev);
        }
        if let Some(strategy) = &mut self.strategy {
            strategy.stage.on_event(ev);
        }
        if let Some(execution) = &mut self.execution {
            execution.stage.on_event(ev);
        }
        if let Some(journal) = &mut self.journal {
            journal_event(journal, &mut self.fatal, ev);
        }
        // The last stage counts the event now; the ones before it catch up
        // once a batch of repeats has gathered.
        let clock = &self.clock;
        let last = match (
            &mut self.risk,
            &mut self.strategy,
            &mut self.execution,
            &mut self.journal,
        ) {
            (.., Some(journal)) => &mut journal.metrics,
            (.., Some(execution), None) => &mut execution.metrics,
            (_, Some(strategy), None, None) => &mut strategy.metrics,
            (Some(risk), None, None, None) => &mut risk.metrics,
            (None, None, None, None) => return,
        };
        let now_ns = if last.since_recv_on_sample && !last.repeat_needs_clock() {
            last.record_repeat_unclocked();
            None
        } else {
            let now_ns = clock.now_ns();
            last.record_since_recv(now_ns, now_ns.saturating_sub(ev.ts_recv_ns));
            Some(now_ns)
        };
        if u64::from(last.events_since_check()) % REPEAT_BATCH == 0 {
            self.catch_up_repeats(now_ns);
        }
    }

    /// Brings every stage's repeat count up to the last stage's (see the
    /// module header); with `now_ns` each looks for a rotation if one is due.
    #[inline(never)]
    fn catch_up_repeats(&mut self, now_ns: Option<u64>) {
        let mut stages = [
            self.risk.as_mut().map(|s| &mut s.metrics),
            self.strategy.as_mut().map(|s| &mut s.metrics),
            self.execution.as_mut().map(|s| &mut s.metrics),
            self.journal.as_mut().map(|s| &mut s.metrics),
        ];
        let Some(target) = stages
            .iter()
            .flatten()
            .next_back()
            .map(|m| m.repeated_events())
        else {
            return;
        };
        for metrics in stages.iter_mut().flatten() {
            debug_assert!(metrics.repeated_events() <= target, "the last stage leads");
            let behind = target - metrics.repeated_events();
            if behind > 0 {
                let behind = u32::try_from(behind).expect("at most a batch behind");
                metrics.record_repeats(behind, now_ns);
            }
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

    /// The thread ran dry: flush buffers (the journal's once its oldest
    /// record waited `journal.idle_flush_us` on a spinning thread, see
    /// `JournalStage::on_idle`), hand finished intervals to the reporter.
    pub fn on_idle(&mut self) {
        let now_ns = self.clock.now_ns();
        for metrics in self.metrics_mut() {
            metrics.rotate_if_offered(now_ns);
        }
        if let Some(execution) = &mut self.execution {
            execution.stage.on_idle();
        }
        if let Some(journal) = &mut self.journal {
            if let Err(err) = journal.stage.on_idle(now_ns) {
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

    /// The metrics of the stages this chain runs, in pipeline order, every
    /// event counted in each.
    pub fn metrics_mut(&mut self) -> impl Iterator<Item = &mut StageMetrics> {
        self.catch_up_repeats(None);
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

/// Appends the event to the journal; a failure stops the engine (the first one is kept).
#[inline(always)]
fn journal_event(journal: &mut Timed<JournalStage>, fatal: &mut Option<String>, ev: &Event) {
    if let Err(err) = journal.stage.on_event(ev) {
        journal_failed(fatal, err);
    }
}

/// Keeps the first journal failure (out of line: the append is inlined in
/// every chain, its error formatting need not be).
#[cold]
#[inline(never)]
fn journal_failed(fatal: &mut Option<String>, err: genesis_journal::JournalError) {
    if fatal.is_none() {
        *fatal = Some(format!("journal write failed, stopping: {err}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::strategy::Idle;
    use crate::telemetry::metrics::{mark_lap_sample, LapSampler};

    /// Each stage's (time-since-receipt count, processing count, `third`),
    /// its pending repeats settled.
    fn stage_counts(chain: &mut Chain, third: fn(&StageMetrics) -> u64) -> Vec<(u64, u64, u64)> {
        chain
            .metrics_mut()
            .map(|m| {
                let m = m.clone();
                (m.since_recv_ns.len(), m.processing_ns.len(), third(&m))
            })
            .collect()
    }

    fn two_stage_chain() -> Chain {
        let config = Config::default();
        Chain {
            clock: EpochClock::new(),
            risk: Some(Timed::new(RiskStage::new(&config), "risk")),
            strategy: Some(Timed::new(
                StrategyStage::new(&config, Box::new(Idle)),
                "strategy",
            )),
            execution: None,
            journal: None,
            fatal: None,
        }
    }

    /// Ingest's lap sample of `events` events, the first left off so that
    /// a chain's first event is timed only as its first.
    fn lap_marks(events: usize) -> Vec<bool> {
        let mut sampler = LapSampler::new();
        let mut marks: Vec<bool> = (0..events).map(|_| sampler.take()).collect();
        marks[0] = false;
        marks
    }

    fn quote(seq: u64, sampled: bool) -> Event {
        let mut ev = Event::test_quote(seq);
        // Marked as ingest marks it when it numbers the event.
        mark_lap_sample(&mut ev, sampled);
        ev
    }

    // Every stage counts every event once, whether timed or not; the events
    // not chosen for laps are the ones counted as repeats, and the first
    // event is timed in full even when it is not on the sample.
    #[test]
    fn every_event_is_counted_once_and_only_sampled_ones_are_timed() {
        let mut chain = two_stage_chain();
        let marks = lap_marks(20_000);
        for (seq, &sampled) in (1..).zip(&marks) {
            chain.process(&mut quote(seq, sampled));
        }
        chain.metrics_mut().for_each(StageMetrics::settle);
        let timed = 1 + marks[1..].iter().filter(|&&m| m).count() as u64;
        let events = marks.len() as u64;
        for metrics in chain.metrics_mut() {
            assert_eq!(metrics.since_recv_ns.len(), events, "{}", metrics.name);
            assert_eq!(metrics.processing_ns.len(), events, "{}", metrics.name);
            assert_eq!(
                metrics.repeated_events(),
                events - timed,
                "{}",
                metrics.name
            );
        }
        assert!(
            (events / 20..events / 12).contains(&timed),
            "{timed} of {events} timed stage by stage"
        );
    }

    // The stages before the last count their repeats in batches, yet a
    // read of the figures at any point finds every event counted once in
    // every stage, with the same number of repeats.
    #[test]
    fn a_read_between_batches_counts_every_event() {
        let mut chain = two_stage_chain();
        let marks = lap_marks(1_000);
        let mut processed = 0u64;
        for read_after in [1u64, 5, 63, 64, 65, 200, 1_000] {
            for seq in processed..read_after {
                chain.process(&mut quote(seq + 1, marks[seq as usize]));
            }
            processed = read_after;
            let counts = stage_counts(&mut chain, |m| m.repeated_events());
            assert_eq!(counts.len(), 2);
            assert_eq!(counts[0], counts[1], "after {processed} events");
            assert_eq!(counts[0].0, processed, "after {processed} events");
            assert_eq!(counts[0].1, processed, "after {processed} events");
        }
    }

    // While ingest is behind, the last stage's time since receipt is
    // sampled too, yet every stage still counts every event once; once
    // ingest keeps up again, every exit is measured again.
    #[test]
    fn behind_the_exit_is_sampled_and_counts_stay_exact() {
        let mut chain = two_stage_chain();
        let behind = lap_marks(20_000);
        chain.set_behind(true);
        for (seq, &sampled) in (1..).zip(&behind) {
            chain.process(&mut quote(seq, sampled));
        }
        let timed = 1 + behind[1..].iter().filter(|&&m| m).count() as u64;
        let events = behind.len() as u64;
        let counts = stage_counts(&mut chain, |m| m.since_recv_repeated_events());
        // Both stages repeat the same events; the last one needed the clock
        // only for its rotation looks besides the sample.
        let looks = events / 1_024 + 1;
        assert_eq!(counts[0], (events, events, events - timed));
        assert_eq!((counts[1].0, counts[1].1), (events, events));
        assert!(
            (events - timed - looks..=events - timed).contains(&counts[1].2),
            "last stage repeated {} of {events} exits ({timed} timed)",
            counts[1].2
        );
        chain.set_behind(false);
        let before = chain
            .strategy
            .as_ref()
            .unwrap()
            .metrics
            .since_recv_repeated_events();
        let untimed = (events + 1..)
            .zip(lap_marks(1_000))
            .inspect(|&(seq, sampled)| chain.process(&mut quote(seq, sampled)))
            .filter(|&(_, sampled)| !sampled)
            .count();
        assert!(untimed > 0);
        let last = chain.metrics_mut().last().unwrap();
        assert_eq!(
            last.since_recv_repeated_events(),
            before,
            "every exit measured"
        );
        assert_eq!(last.clone().since_recv_ns.len(), events + 1_000);
    }

    // Two chains of a pipelined plan, the second reading the first's output
    // as a ring hands it on, time the same events: the ones ingest marked
    // (an unmarked event is timed only as a chain's first).
    #[test]
    fn the_chains_of_a_plan_time_the_events_ingest_marked() {
        let config = Config::default();
        let chain_of = |risk, strategy| Chain {
            clock: EpochClock::new(),
            risk,
            strategy,
            execution: None,
            journal: None,
            fatal: None,
        };
        let mut head = chain_of(Some(Timed::new(RiskStage::new(&config), "risk")), None);
        let mut tail = chain_of(
            None,
            Some(Timed::new(
                StrategyStage::new(&config, Box::new(Idle)),
                "strategy",
            )),
        );
        let marks = lap_marks(20_000);
        for (seq, &sampled) in (1..).zip(&marks) {
            let mut event = quote(seq, sampled);
            head.process(&mut event);
            tail.process(&mut event);
        }
        let timed = 1 + marks[1..].iter().filter(|&&m| m).count() as u64;
        let events = marks.len() as u64;
        for chain in [&mut head, &mut tail] {
            let counts = stage_counts(chain, |m| m.repeated_events());
            assert_eq!(counts, vec![(events, events, events - timed)]);
        }
        // The flag decides: unmarked events are repeats, even a run of them.
        for seq in events + 1..=events + 50 {
            head.process(&mut quote(seq, false));
        }
        let counts = stage_counts(&mut head, |m| m.repeated_events());
        assert_eq!(
            counts,
            vec![(events + 50, events + 50, events - timed + 50)]
        );
    }
}
