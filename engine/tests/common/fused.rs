//! A fused pipeline driven on the test's own thread, with a fake reporter
//! that rotates latency intervals: what the allocation tests measure.
//! The caller installs the counting allocator.
#![allow(dead_code)] // each allocation test reads different figures

use crate::counting_alloc;
use genesis_engine::clock::EpochClock;
use genesis_engine::event::Event;
use genesis_engine::execution::ExecutionStage;
use genesis_engine::ingest::Restored;
use genesis_engine::ingest::{Ingest, Sink};
use genesis_engine::journal_stage::JournalStage;
use genesis_engine::orders::Order;
use genesis_engine::replay::Replayer;
use genesis_engine::risk::RiskStage;
use genesis_engine::run::rebuild::{rebuild, RebuildOptions, Rebuilt};
use genesis_engine::run::Parts;
use genesis_engine::snapshot::{
    fingerprint, Follower, FollowerReport, SnapshotPolicy, SnapshotThread,
};
use genesis_engine::strategy::StrategyStage;
use genesis_engine::telemetry::metrics::{Exchange, Interval};
use genesis_engine::telemetry::tick_to_trade::{T2tExchange, T2tInterval};
use genesis_engine::topology::chain::{Chain, Timed};
use std::time::Duration;

struct Fused(Chain);

impl Sink for Fused {
    fn offer(&mut self, event: &Event) -> bool {
        let mut copy = *event;
        self.0.process(&mut copy);
        true
    }
}

/// Plays the reporter on this thread: offers empty histogram sets and takes back full ones.
struct FakeReporter {
    exchanges: Vec<Exchange>,
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Interval>>,
    intervals_taken: u64,
    /// The venue session's tick-to-trade, when it measures it.
    t2t: Option<T2tExchange>,
    #[allow(clippy::vec_box)]
    t2t_pool: Vec<Box<T2tInterval>>,
    /// Orders in the tick-to-trade intervals taken.
    t2t_orders: u64,
}

impl FakeReporter {
    fn tick(&mut self) {
        for exchange in &self.exchanges {
            while let Some(mut full) = exchange.full.pop() {
                self.intervals_taken += 1;
                full.since_recv_ns.reset();
                full.processing_ns.reset();
                self.pool.push(full);
            }
            if exchange.fresh.is_empty() {
                if let Some(spare) = self.pool.pop() {
                    let _ = exchange.fresh.push(spare);
                }
            }
        }
        let Some(t2t) = &self.t2t else { return };
        while let Some(mut full) = t2t.full.pop() {
            self.t2t_orders += full.histograms[0].len();
            full.histograms.iter_mut().for_each(|h| h.reset());
            self.t2t_pool.push(full);
        }
        if t2t.fresh.is_empty() {
            if let Some(spare) = self.t2t_pool.pop() {
                let _ = t2t.fresh.push(spare);
            }
        }
    }
}

/// Polls until `events` more events went through, rotating latency intervals as it goes.
fn pump(ingest: &mut Ingest, sink: &mut Fused, reporter: &mut FakeReporter, events: u64) {
    let target = ingest.counters().published + events;
    let mut polls = 0u64;
    while ingest.counters().published < target {
        let idle = ingest.poll(sink) == 0;
        if idle {
            ingest.on_idle();
            sink.0.on_idle();
        }
        polls += 1;
        // Often, and on every idle round: a feed's backlog can bring
        // hundreds of events per poll on a loaded host, and intervals must
        // still rotate while counting.
        if idle || polls.is_multiple_of(16) {
            reporter.tick();
        }
    }
}

/// What a measured stretch did.
pub struct Measured {
    pub allocations: u64,
    pub fills: u64,
    pub orders: u64,
    pub market_data: u64,
    /// Latency intervals the fake reporter took while counting.
    pub intervals_rotated: u64,
    /// With snapshots on: what the snapshot thread did over the whole run.
    pub snapshots: Option<FollowerReport>,
    /// The journal's last sequence when the run stopped.
    pub seq_last: u64,
    /// Orders the venue session measured the engine's tick-to-trade of.
    pub engine_t2t_orders: u64,
}

/// How the stages begin.
pub enum Begin {
    /// Empty stages, numbering from the journal's next sequence.
    Fresh,
    /// As `run::run` begins: the state rebuilt from snapshots and journal,
    /// ingest remembering the exec ids and the venue shown the open orders,
    /// and the snapshot thread following the journal beside the pipeline.
    Restarted(SnapshotPolicy),
    /// As `Restarted`, with the snapshot thread deferred to the run's end
    /// (as a run whose stage threads spin on every CPU starts it).
    RestartedDeferred(SnapshotPolicy),
}

/// Runs `parts` fused on this thread: `warm_up` events, then `measured`
/// more with the allocator counting on this thread only (a simulated
/// venue's thread, or the snapshot thread, is not the engine's).
pub fn run_fused(
    config: &genesis_engine::config::Config,
    parts: Parts,
    warm_up: u64,
    measured: u64,
) -> Measured {
    let measured = run_fused_from(config, parts, warm_up, measured, Begin::Fresh);
    assert!(
        measured.intervals_rotated > 10,
        "latency intervals rotated while counting"
    );
    measured
}

pub fn run_fused_from(
    config: &genesis_engine::config::Config,
    parts: Parts,
    warm_up: u64,
    measured: u64,
    begin: Begin,
) -> Measured {
    let clock = EpochClock::new();
    let (journal, recovery) = JournalStage::open(&config.journal).unwrap();
    let seq_first = recovery.seq_next;
    // As a run records its config, for a restart to rebuild with.
    let config_path =
        genesis_engine::journal_stage::run_config_path(&config.journal.dir, seq_first);
    std::fs::write(config_path, toml::to_string_pretty(config).unwrap()).unwrap();
    let mut ingest = Ingest::new(
        parts.sources,
        clock.clone(),
        config.instruments.len(),
        true,
        config.risk.exec_id_memory,
        1_000_000,
    );
    ingest.set_seq_next(seq_first);
    let (chain, snapshots) = match begin {
        Begin::Fresh => (
            Chain {
                clock,
                risk: Some(Timed::new(RiskStage::new(config), "risk")),
                strategy: Some(Timed::new(
                    StrategyStage::new(config, parts.strategy),
                    "strategy",
                )),
                execution: Some(Timed::new(
                    ExecutionStage::new(config, parts.gateway),
                    "execution",
                )),
                journal: Some(Timed::new(journal, "journal")),
                fatal: None,
            },
            None,
        ),
        Begin::Restarted(policy) | Begin::RestartedDeferred(policy) => {
            let deferred = matches!(begin, Begin::RestartedDeferred(_));
            let rebuilt = rebuild(
                config,
                &config.journal.dir,
                seq_first,
                parts.strategy,
                parts.gateway,
                RebuildOptions::default(),
            )
            .unwrap();
            let thread = spawn_snapshots(config, &rebuilt, seq_first, (policy, deferred));
            *ingest.exec_ids_mut() = rebuilt.exec_ids;
            let open: Vec<Order> = rebuilt.execution.orders().iter_open().copied().collect();
            ingest.on_restored(&Restored {
                open_orders: &open,
                seq_first,
                order_id_next: rebuilt.report.order_id_next,
                lineage: rebuilt.lineage,
            });
            let chain = Chain {
                clock,
                risk: Some(Timed::new(rebuilt.risk, "risk")),
                strategy: Some(Timed::new(rebuilt.strategy, "strategy")),
                execution: Some(Timed::new(rebuilt.execution, "execution")),
                journal: Some(Timed::new(journal, "journal")),
                fatal: None,
            };
            (chain, Some(thread))
        }
    };
    let mut sink = Fused(chain);
    let mut measured = measure(&mut ingest, &mut sink, warm_up, measured);
    sink.0.finish();
    measured.seq_last = ingest.seq_next() - 1;
    // A low-priority thread on a loaded machine may trail far behind: it
    // gets all the time it needs to reach the end (the figure checked is
    // the engine thread's allocations, not the follower's pace).
    let deadline = Duration::from_secs(600);
    measured.snapshots = snapshots.map(|thread| thread.finish_within(measured.seq_last, deadline));
    measured
}

/// The snapshot thread as `run::run` starts it: its replica in the start state.
fn spawn_snapshots(
    config: &genesis_engine::config::Config,
    rebuilt: &Rebuilt,
    seq_first: u64,
    (policy, deferred): (SnapshotPolicy, bool),
) -> SnapshotThread {
    let live = &rebuilt.strategy;
    let mut replica = Replayer::fresh(config, live.strategy_replica().unwrap(), true);
    replica.restore_state(&rebuilt.state).unwrap();
    let mut follower = Follower::new(
        &config.journal.dir,
        replica,
        seq_first,
        fingerprint(config, live.strategy_name()),
        policy,
        None,
        None,
    )
    .unwrap();
    follower.start_with_snapshot(rebuilt.start_snapshot.clone());
    if deferred {
        genesis_engine::snapshot::follower::spawn_deferred(follower, "deferred (test)".into())
    } else {
        genesis_engine::snapshot::follower::spawn(follower)
    }
}

/// Warms up, then counts the allocations of `measured` events on this thread.
fn measure(ingest: &mut Ingest, sink: &mut Fused, warm_up: u64, measured: u64) -> Measured {
    let mut reporter = FakeReporter {
        exchanges: Vec::new(),
        pool: (0..20).map(|_| Box::new(Interval::new())).collect(),
        intervals_taken: 0,
        t2t: None,
        t2t_pool: (0..4).map(|_| Box::new(T2tInterval::new())).collect(),
        t2t_orders: 0,
    };
    if let Some(recorder) = ingest.tick_to_trade_mut() {
        let exchange = T2tExchange::new();
        recorder.attach(exchange.clone(), 0);
        reporter.t2t = Some(exchange);
    }
    reporter.exchanges.push(Exchange::new());
    ingest
        .metrics_mut()
        .attach(reporter.exchanges[0].clone(), 0);
    for metrics in sink.0.metrics_mut() {
        let exchange = Exchange::new();
        metrics.attach(exchange.clone(), 0);
        reporter.exchanges.push(exchange);
    }

    pump(ingest, sink, &mut reporter, warm_up);
    let execution = &sink.0.execution.as_ref().unwrap().stage.counters;
    let (fills_before, orders_before) = (
        execution.fills,
        execution.orders_sent + execution.replaces_sent,
    );
    let market_data_before = ingest.counters().market_data;
    let intervals_before = reporter.intervals_taken;
    let t2t_before = t2t_orders(ingest, &reporter);
    let allocations =
        counting_alloc::allocations_in(|| pump(ingest, sink, &mut reporter, measured));
    assert!(sink.0.fatal.is_none());
    let execution = &sink.0.execution.as_ref().unwrap().stage.counters;
    Measured {
        allocations,
        fills: execution.fills - fills_before,
        orders: execution.orders_sent + execution.replaces_sent - orders_before,
        market_data: ingest.counters().market_data - market_data_before,
        intervals_rotated: reporter.intervals_taken - intervals_before,
        snapshots: None,
        seq_last: 0,
        engine_t2t_orders: t2t_orders(ingest, &reporter) - t2t_before,
    }
}

/// Orders in the tick-to-trade so far: taken by the reporter, and pending.
fn t2t_orders(ingest: &mut Ingest, reporter: &FakeReporter) -> u64 {
    let pending = ingest
        .tick_to_trade_mut()
        .map_or(0, |t2t| t2t.histograms[0].len());
    reporter.t2t_orders + pending
}
