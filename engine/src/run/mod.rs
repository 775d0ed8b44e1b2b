//! A run: the stages built from config, the core plan's threads started,
//! and the report collected when they stop.
//!
//! What runs beside the engine — a simulated venue, a database follower of
//! the journal — is its caller's: the engine calls the caller's
//! [`RunHooks`] at the points where such things start and stop, and never
//! names them. The pluggable parts (sources, strategy, gateway) come in as
//! [`Parts`].
//!
//! Before any thread starts, the stages' state is rebuilt from the newest
//! valid snapshot and the journal after it ([`rebuild`]), and the venue
//! source is shown what was restored. Beside the pipeline, the snapshot
//! thread follows the journal with a replica of the stages and writes
//! snapshots (`snapshot::follower`); it ends after the pipeline, with a
//! final snapshot of the run's last record.
//!
//! Owning thread: the caller's. It spawns one thread per core group, the
//! reporter thread, the snapshot thread and, if configured, the metrics
//! endpoint's thread, and joins them all before it returns.

mod fresh_venue;
mod latency_log;
pub mod parts;
pub mod rebuild;
pub mod report;

use crate::clock::EpochClock;
use crate::config::{plan_groups, Config, Group, JournalDurability};
use crate::execution::ExecutionStage;
use crate::ingest::{Ingest, Restored};
use crate::journal_stage::JournalStage;
use crate::orders::Order;
use crate::replay::Replayer;
use crate::risk::RiskStage;
use crate::snapshot::{Follower, RestartError, SnapshotPolicy, SnapshotThread};
use crate::strategy::StrategyStage;
use crate::telemetry::alerts::Alerts;
use crate::telemetry::metrics::StageMetrics;
use crate::telemetry::reporter::{Reporter, ReporterThread, Watch};
use crate::telemetry::{Board, Gauges};
use crate::topology::chain::{Chain, Timed};
use crate::topology::runner::{run_groups, GroupPlan, GroupResult, Shared};
use crate::topology::wait::Wait;
use crate::topology::{EXECUTION, INGEST, JOURNAL, RISK, STRATEGY};
use genesis_journal::{JournalError, RecoveryReport};
use hdrhistogram::Histogram;
pub use parts::{Parts, VenueAt};
pub use rebuild::{RebuildOptions, Rebuilt, RestartReport};
pub use report::{ReportNote, RunReport, SnapshotStatus};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("core plan: {0}")]
    Plan(String),
    /// Real-time stage threads were asked for and refused.
    #[error("{0}")]
    Realtime(String),
    #[error("venue: {0}")]
    Venue(String),
    #[error("cannot record the run's config at {path}: {source}")]
    RunConfig {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The stages' state could not be rebuilt from snapshots and journal.
    #[error("restart")]
    Restart(#[from] RestartError),
    /// A caller's hook refused to start (its message says what and why).
    #[error("{0}")]
    Hook(String),
    #[error("latency log: {0}")]
    LatencyLog(#[from] genesis_histlog::HistLogError),
    #[error("latency log folder {path}: {source}")]
    LatencyLogDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a caller runs around the engine, called from the run's thread at
/// fixed points. Every method has a default that does nothing.
pub trait RunHooks {
    /// The journal in `journal_dir` is open and recovered; `seq_durable`
    /// follows the last sequence known to be on disk. Start what follows
    /// the journal here. Gauges returned are shown on the metrics
    /// endpoint; an error stops the run before any thread starts.
    fn on_journal_open(
        &mut self,
        _journal_dir: &Path,
        _seq_durable: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<dyn Gauges>>, String> {
        Ok(None)
    }

    /// Every stage is built and the journal recovered: the threads start
    /// reading their sources next.
    fn on_ready(&mut self) {}

    /// Work for the last thread of a plan with more than one (the
    /// journal's) to do between its batches; asked once, before the
    /// threads start, and only of such a plan. None: no side work.
    fn side_work(&mut self) -> Option<Box<dyn crate::topology::side_work::SideWork>> {
        None
    }

    /// Whether the first thread waits for room in its ring rather than
    /// leave an event pending, so that every event has been through its
    /// stages when the source's emit returns (a backtest's venue relies on
    /// it to take the orders right after each hand-over). False: live.
    fn head_blocks(&self) -> bool {
        false
    }

    /// The threads have stopped. Latency measured outside the engine (a
    /// venue's tick-to-trade), each written to the run's latency log under
    /// its tag.
    fn on_stopped(&mut self) -> Vec<(&'static str, Histogram<u64>)> {
        Vec::new()
    }
}

/// No hooks: nothing runs beside the engine.
pub struct NoHooks;

impl RunHooks for NoHooks {}

/// The journal as a run opens it.
struct OpenedJournal {
    stage: JournalStage,
    recovery: RecoveryReport,
    seq_first: u64,
    seq_durable: Arc<AtomicU64>,
}

/// The metrics endpoint's thread and the flag that stops it.
struct Endpoint {
    stop: Arc<AtomicBool>,
    handle: Option<crate::telemetry::metrics_http::EndpointThread>,
}

/// Runs until the sources drain, `stop` is set, or `duration` passes.
#[allow(clippy::disallowed_methods)] // wall time of the whole run, for the report
pub fn run(
    config: &Config,
    parts: Parts,
    hooks: &mut dyn RunHooks,
    stop: Arc<AtomicBool>,
    duration: Option<Duration>,
) -> Result<RunReport, EngineError> {
    let groups = plan_groups(&config.topology.cores).map_err(EngineError::Plan)?;
    check_realtime(config)?;
    let clock = EpochClock::new();
    let journal = open_journal(config)?;
    let (seq_first, seq_durable) = (journal.seq_first, Arc::clone(&journal.seq_durable));
    let truncation = journal.recovery.truncation.as_ref().map(|t| t.to_string());
    let feed_health = parts.sources.market.feed_health();
    let (stages, rebuilt) = rebuild_stages(config, parts, journal.stage, seq_first, &clock)?;
    let gauges = hooks
        .on_journal_open(&config.journal.dir, &journal.seq_durable)
        .map_err(EngineError::Hook)?;
    let (latency_log, latency_log_path) = latency_log::open(config, clock.now_ns())?;
    let board = new_board(&journal.seq_durable, seq_first, gauges);
    if let Some(health) = feed_health {
        let _ = board.feed_health.set(health);
    }
    let endpoint = Endpoint::start(config, &board, groups.len() - 1);
    let snapshots = start_snapshots(config, &stages, &rebuilt, seq_first, &seq_durable, &board);
    let mut plans = thread_plans(config, &groups, stages, &clock, &board);
    if plans.len() > 1 {
        plans[0].head_blocks = hooks.head_blocks();
        if let Some(last) = plans.last_mut() {
            last.side = hooks.side_work();
        }
    }
    let reporter = start_reporter(config, latency_log, &board, &mut plans, &clock);
    keep_helpers_off(config);
    let plan_summary = report::PlanSummary::of(&plans);
    let shared = Arc::new(Shared {
        stop,
        failed: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    let started = Instant::now();
    let started_ns = clock.now_ns();
    hooks.on_ready();
    let mut results = run_groups(
        plans,
        config.topology.ring_capacity,
        Arc::clone(&shared),
        duration,
    );
    let elapsed = started.elapsed();
    let snapshot_status = finish_snapshots(snapshots, seq_first, &results);
    let (mut reporter, stage_metrics) = finish_reporter(reporter, &mut results, &clock);
    for (tag, histogram) in hooks.on_stopped() {
        reporter.write_extra(tag, started_ns, clock.now_ns(), &histogram);
    }
    endpoint.stop();
    let error = shared
        .fatal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut report = RunReport::collect(plan_summary, results, stage_metrics, elapsed, error);
    report.journal_seq_first = seq_first;
    report.journal_seq_durable = seq_durable.load(Ordering::Acquire);
    report.journal_truncation = truncation;
    report.latency_log_path = latency_log_path;
    report.latency_intervals = reporter.intervals_written;
    report.engine_tick_to_trade = reporter.tick_to_trade_split();
    report.latency_log_error = reporter.sink_error.take();
    report.restart = Some(rebuilt.report);
    report.snapshots = Some(snapshot_status);
    Ok(report)
}

/// What start-up rebuilt, beside the stages it went into: the report, and
/// the start state the snapshot thread's replica begins from.
struct Begun {
    report: RestartReport,
    state: Vec<u8>,
    start_snapshot: Option<crate::snapshot::StartSnapshot>,
}

/// The stages with the state rebuilt from snapshots and journal, ingest
/// numbering after the journal's last record and remembering its exec ids,
/// and the venue source told what was restored.
fn rebuild_stages(
    config: &Config,
    parts: Parts,
    journal: JournalStage,
    seq_first: u64,
    clock: &EpochClock,
) -> Result<(Stages, Begun), EngineError> {
    let rebuilt = rebuild::rebuild(
        config,
        &config.journal.dir,
        seq_first,
        parts.strategy,
        parts.gateway,
        RebuildOptions::default(),
    )?;
    let mut ingest = build_ingest(config, parts.sources, clock, seq_first);
    *ingest.exec_ids_mut() = rebuilt.exec_ids;
    let mut open: Vec<Order> = rebuilt.execution.orders().iter_open().copied().collect();
    open.sort_unstable_by_key(|order| order.id.0);
    ingest.on_restored(&Restored {
        open_orders: &open,
        seq_first,
        order_id_next: rebuilt.report.order_id_next,
        lineage: rebuilt.lineage,
    });
    let stages = Stages {
        ingest: Some(ingest),
        risk: Some(Timed::new(rebuilt.risk, "risk")),
        strategy: Some(Timed::new(rebuilt.strategy, "strategy")),
        execution: Some(Timed::new(rebuilt.execution, "execution")),
        journal: Some(Timed::new(journal, "journal")),
    };
    let start = Begun {
        report: rebuilt.report,
        state: rebuilt.state,
        start_snapshot: rebuilt.start_snapshot,
    };
    Ok((stages, start))
}

/// The snapshot thread, following the journal from this run's first
/// record with a replica in the run's start state; or why there is none.
fn start_snapshots(
    config: &Config,
    stages: &Stages,
    start: &Begun,
    seq_first: u64,
    seq_durable: &Arc<AtomicU64>,
    board: &Arc<Board>,
) -> Result<SnapshotThread, String> {
    if !config.snapshot.enabled {
        return Err("off (snapshot.enabled = false)".into());
    }
    let live = &stages.strategy.as_ref().expect("the strategy stage").stage;
    let Some(strategy) = live.strategy_replica() else {
        return Err(format!(
            "off: strategy {:?} offers no replica (Strategy::replica)",
            live.strategy_name()
        ));
    };
    let mut replica = Replayer::fresh(config, strategy, true);
    replica
        .restore_state(&start.state)
        .map_err(|e| format!("off: the replica does not restore the start state: {e}"))?;
    let policy = SnapshotPolicy {
        events_between: config.snapshot.events_between,
        interval: Duration::from_millis(config.snapshot.interval_ms),
        keep: config.snapshot.keep,
    };
    let durable =
        (config.journal.durability != JournalDurability::None).then(|| Arc::clone(seq_durable));
    let fingerprint = crate::snapshot::fingerprint(config, live.strategy_name());
    let mut follower = Follower::new(
        &config.journal.dir,
        replica,
        seq_first,
        fingerprint,
        policy,
        durable,
        Some(Arc::clone(board)),
    )
    .map_err(|e| format!("off: cannot follow the journal: {e}"))?;
    follower.start_with_snapshot(start.start_snapshot.clone());
    Ok(match no_core_free(config) {
        Some(reason) => {
            tracing::info!(%reason, "snapshot thread deferred to the end of the run");
            crate::snapshot::follower::spawn_deferred(follower, reason)
        }
        None => crate::snapshot::follower::spawn(follower),
    })
}

/// Why no CPU is left for a helper that works all run long (the snapshot
/// follower), or `None`: the plan's stage threads that spin when idle
/// (`busy-spin`, `spin-hint`; a `spin-park` head, which has nobody to wake
/// it) are as many as the CPUs this process may run on.
fn no_core_free(config: &Config) -> Option<String> {
    no_core_free_of(config, crate::sys::thread_cpus().ok()?.len())
}

/// [`no_core_free`] with `cpus` CPUs for the process.
fn no_core_free_of(config: &Config, cpus: usize) -> Option<String> {
    use crate::config::WaitKind;
    let groups = plan_groups(&config.topology.cores).ok()?;
    let spinning = groups
        .iter()
        .enumerate()
        .filter(|(index, group)| match config.wait_for_core(group.core) {
            WaitKind::BusySpin | WaitKind::SpinHint => true,
            WaitKind::SpinPark => *index == 0,
            WaitKind::Yield | WaitKind::Sleep => false,
        })
        .count();
    (spinning >= cpus).then(|| {
        format!(
            "deferred to the run's end: {spinning} spinning stage thread(s) on {cpus} CPU(s) leave none free, so the follower replays the journal once the run stops"
        )
    })
}

/// Ends the snapshot thread once it has followed the journal to the run's last record.
fn finish_snapshots(
    snapshots: Result<SnapshotThread, String>,
    seq_first: u64,
    results: &[GroupResult],
) -> SnapshotStatus {
    let records: u64 = results
        .iter()
        .filter_map(|r| r.chain.journal.as_ref())
        .map(|journal| journal.stage.records)
        .sum();
    match snapshots {
        Ok(thread) => SnapshotStatus::Ran(thread.finish(seq_first + records - 1)),
        Err(reason) => {
            tracing::warn!(%reason, "no snapshots this run: a restart replays the journal from the last snapshot there is");
            SnapshotStatus::Off(reason)
        }
    }
}

/// The run's telemetry board, knowing the journal's durable sequence and
/// the gauges of what runs beside the engine.
fn new_board(
    seq_durable: &Arc<AtomicU64>,
    seq_first: u64,
    gauges: Option<Arc<dyn Gauges>>,
) -> Arc<Board> {
    let board = Arc::new(Board::new());
    let _ = board
        .journal_durable
        .set((Arc::clone(seq_durable), seq_first));
    if let Some(gauges) = gauges {
        let _ = board.gauges.set(gauges);
    }
    board
}

/// Opens (recovers) the journal and records the run's config beside it.
fn open_journal(config: &Config) -> Result<OpenedJournal, EngineError> {
    let (mut stage, recovery) = JournalStage::open(&config.journal)?;
    // Whether the journal's thread may keep records buffered over an idle
    // moment (`journal.idle_flush_us`) depends on how it waits.
    stage.set_thread_wait(config.wait_for_core(config.topology.cores.journal));
    let seq_first = recovery.seq_next;
    let closed = &recovery.closed;
    tracing::info!(
        segments_checked = closed.segments_checked,
        segments_read = closed.segments_read,
        sealed_now = closed.sealed_now,
        seal_log_rebuilt = closed.seal_log_rebuilt.as_deref().unwrap_or("no"),
        "journal closed segments checked: every one present, in sequence and matching its seal"
    );
    if let Some(truncation) = &recovery.truncation {
        tracing::warn!(%truncation, "journal recovery cut a torn tail");
    }
    if seq_first > 1 {
        tracing::info!(seq_first, journal = %stage.dir().display(), "resuming the journal after its last record");
    }
    let run_config = crate::journal_stage::run_config_path(&config.journal.dir, seq_first);
    config
        .record_to(&run_config)
        .map_err(|source| EngineError::RunConfig {
            path: run_config.clone(),
            source,
        })?;
    let seq_durable = stage.seq_durable_handle();
    Ok(OpenedJournal {
        stage,
        recovery,
        seq_first,
        seq_durable,
    })
}

/// Every stage, each taken by the group that runs it.
struct Stages {
    ingest: Option<Ingest>,
    risk: Option<Timed<RiskStage>>,
    strategy: Option<Timed<StrategyStage>>,
    execution: Option<Timed<ExecutionStage>>,
    journal: Option<Timed<JournalStage>>,
}

/// The stages handed out to the core plan's groups.
fn thread_plans(
    config: &Config,
    groups: &[Group],
    mut stages: Stages,
    clock: &EpochClock,
    board: &Arc<Board>,
) -> Vec<GroupPlan> {
    groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            let has = |stage: usize| group.stages.contains(&stage);
            GroupPlan {
                group: group.clone(),
                index,
                board: Arc::clone(board),
                wait: Wait::new(config.wait_for_core(group.core), config.topology.sleep_us)
                    .with_spin_budget_us(config.topology.spin_budget_us),
                pin: config.topology.pin_threads,
                realtime_priority: config.topology.realtime_priority,
                batch_max: config.topology.batch_max,
                ingest: stages.ingest.take_if(|_| has(INGEST)),
                chain: Chain {
                    clock: clock.clone(),
                    risk: stages.risk.take_if(|_| has(RISK)),
                    strategy: stages.strategy.take_if(|_| has(STRATEGY)),
                    execution: stages.execution.take_if(|_| has(EXECUTION)),
                    journal: stages.journal.take_if(|_| has(JOURNAL)),
                    fatal: None,
                },
                side: None,
                head_blocks: false,
            }
        })
        .collect()
}

/// Ingest as the run needs it: numbering after the journal's last record.
fn build_ingest(
    config: &Config,
    sources: crate::ingest::Sources,
    clock: &EpochClock,
    seq_first: u64,
) -> Ingest {
    let mut ingest = Ingest::new(
        sources,
        clock.clone(),
        config.instruments.len(),
        config.topology.conflate_when_full,
        config.risk.exec_id_memory,
        config.market_data.timer_interval_ms * 1_000_000,
    );
    ingest.set_seq_next(seq_first);
    ingest
}

/// The reporter, watching the board's alerts and writing the latency log,
/// with every stage's metrics attached; started on its thread.
fn start_reporter(
    config: &Config,
    latency_log: Option<Box<dyn crate::telemetry::reporter::IntervalSink>>,
    board: &Arc<Board>,
    plans: &mut [GroupPlan],
    clock: &EpochClock,
) -> ReporterThread {
    let mut reporter = Reporter::new(
        Duration::from_millis(config.metrics.interval_ms),
        latency_log,
    )
    .with_watch(Watch::new(Arc::clone(board), Alerts::new(&config.alerts)));
    let now_ns = clock.now_ns();
    for plan in plans.iter_mut() {
        if let Some(ingest) = &mut plan.ingest {
            reporter.attach(ingest.metrics_mut(), now_ns);
            if let Some(recorder) = ingest.tick_to_trade_mut() {
                reporter.attach_tick_to_trade(recorder, now_ns);
            }
        }
        for metrics in plan.chain.metrics_mut() {
            reporter.attach(metrics, now_ns);
        }
    }
    reporter.spawn(Arc::new(AtomicBool::new(false)), pinned_cores(config))
}

/// Ends the reporter's thread and folds in each stage's last interval:
/// the reporter, and the run's total per stage.
fn finish_reporter(
    running: ReporterThread,
    results: &mut [GroupResult],
    clock: &EpochClock,
) -> (Reporter, Vec<StageMetrics>) {
    let mut reporter = running.finish();
    let finals: Vec<StageMetrics> = results
        .iter_mut()
        .flat_map(|r| {
            let ingest = r.ingest.as_ref().map(|i| i.metrics().clone());
            ingest
                .into_iter()
                .chain(r.chain.metrics_mut().map(|m| m.clone()).collect::<Vec<_>>())
        })
        .collect();
    let now_ns = clock.now_ns();
    let last_t2t = results
        .iter_mut()
        .filter_map(|r| r.ingest.as_mut())
        .find_map(|ingest| ingest.tick_to_trade_mut().map(|t| t.last_interval(now_ns)));
    if let Some(last) = last_t2t {
        reporter.finish_tick_to_trade(last);
    }
    let stages = reporter.finish(finals, now_ns);
    (reporter, stages)
}

/// A plan that asks for `SCHED_FIFO` stage threads is refused before
/// anything starts when this process may not have them (no root or
/// CAP_SYS_NICE): never a silent downgrade to normal threads.
fn check_realtime(config: &Config) -> Result<(), EngineError> {
    let priority = config.topology.realtime_priority;
    if priority == 0 {
        return Ok(());
    }
    crate::sys::check_fifo_allowed(i32::from(priority)).map_err(|err| {
        EngineError::Realtime(format!(
            "topology.realtime_priority = {priority}: this process may not run threads SCHED_FIFO: {err} (needs root or CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least {priority}; set it to 0 to run without)"
        ))
    })
}

/// Moves the helper threads already running (journal sync and
/// preallocation, snapshot, reporter, metrics endpoint, a simulated venue
/// in this process) off the cores the pipeline pins, when other CPUs remain.
fn keep_helpers_off(config: &Config) {
    let cores = pinned_cores(config);
    if cores.is_empty() {
        return;
    }
    match crate::sys::keep_process_threads_off(&cores) {
        Ok(moved) => tracing::debug!(
            moved,
            ?cores,
            "helper threads kept off the pipeline's cores"
        ),
        Err(err) => tracing::warn!(%err, "could not keep helper threads off the pipeline's cores"),
    }
}

/// The cores the pipeline's threads are pinned to (none when unpinned):
/// helper threads keep off them.
fn pinned_cores(config: &Config) -> Vec<usize> {
    if !config.topology.pin_threads {
        return Vec::new();
    }
    let mut cores = config.topology.cores.as_array().to_vec();
    cores.sort_unstable();
    cores.dedup();
    cores
}

impl Endpoint {
    /// Starts the metrics endpoint if configured; a port that cannot be
    /// bound is logged, never fatal: trading does not stop over a metrics port.
    fn start(config: &Config, board: &Arc<Board>, rings: usize) -> Endpoint {
        let stop = Arc::new(AtomicBool::new(false));
        if config.metrics.listen.is_empty() {
            return Endpoint { stop, handle: None };
        }
        let served = crate::telemetry::metrics_http::serve_off(
            &config.metrics.listen,
            Arc::clone(board),
            rings,
            Arc::clone(&stop),
            pinned_cores(config),
        );
        let handle = match served {
            Ok((address, handle)) => {
                tracing::info!(%address, "metrics endpoint: GET http://{address}/metrics");
                Some(handle)
            }
            Err(err) => {
                tracing::error!(address = %config.metrics.listen, %err, "metrics endpoint not started");
                None
            }
        };
        Endpoint { stop, handle }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CorePlan, WaitKind};

    fn two_threads(wait: WaitKind) -> Config {
        let mut config = Config::builtin();
        config.topology.cores = CorePlan {
            ingest: 0,
            risk: 0,
            strategy: 1,
            execution: 1,
            journal: 1,
        };
        config.topology.wait = wait;
        config
    }

    // Two spinning stage threads on two CPUs leave none for the snapshot
    // thread; on three CPUs, or with threads that sleep, or a spin-park
    // reader (only its head spins), one is left.
    #[test]
    fn the_snapshot_thread_is_deferred_only_when_spinners_fill_the_cpus() {
        let spin = two_threads(WaitKind::SpinHint);
        assert!(no_core_free_of(&spin, 2).is_some_and(|why| why.contains("2 spinning")));
        assert_eq!(no_core_free_of(&spin, 3), None);
        assert_eq!(no_core_free_of(&two_threads(WaitKind::Sleep), 2), None);
        assert_eq!(no_core_free_of(&two_threads(WaitKind::SpinPark), 2), None);
        assert!(no_core_free_of(&two_threads(WaitKind::SpinPark), 1).is_some());
        let mut fused = Config::builtin();
        fused.topology.wait = WaitKind::BusySpin;
        assert_eq!(no_core_free_of(&fused, 2), None, "fused leaves one CPU");
    }
}
