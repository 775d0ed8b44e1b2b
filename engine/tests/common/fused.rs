//! A fused pipeline driven on the test's own thread, with a fake reporter
//! that rotates latency intervals: what the allocation tests measure.
//! The caller installs the counting allocator.
#![allow(dead_code)] // each allocation test reads different figures

use crate::counting_alloc;
use genesis_engine::clock::EpochClock;
use genesis_engine::event::Event;
use genesis_engine::execution::ExecutionStage;
use genesis_engine::ingest::{Ingest, Sink};
use genesis_engine::journal_stage::JournalStage;
use genesis_engine::risk::RiskStage;
use genesis_engine::run::Parts;
use genesis_engine::strategy::StrategyStage;
use genesis_engine::telemetry::metrics::{Exchange, Interval};
use genesis_engine::topology::chain::{Chain, Timed};

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
}

/// Runs `parts` fused on this thread: `warm_up` events, then `measured`
/// more with the allocator counting on this thread only (a simulated
/// venue's thread, when there is one, is not the engine's).
pub fn run_fused(
    config: &genesis_engine::config::Config,
    parts: Parts,
    warm_up: u64,
    measured: u64,
) -> Measured {
    let clock = EpochClock::new();
    let mut ingest = Ingest::new(
        parts.sources,
        clock.clone(),
        config.instruments.len(),
        true,
        config.risk.exec_id_memory,
        1_000_000,
    );
    let (journal, _) = JournalStage::open(&config.journal).unwrap();
    let mut sink = Fused(Chain {
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
    });

    let mut reporter = FakeReporter {
        exchanges: Vec::new(),
        pool: (0..20).map(|_| Box::new(Interval::new())).collect(),
        intervals_taken: 0,
    };
    reporter.exchanges.push(Exchange::new());
    ingest
        .metrics_mut()
        .attach(reporter.exchanges[0].clone(), 0);
    for metrics in sink.0.metrics_mut() {
        let exchange = Exchange::new();
        metrics.attach(exchange.clone(), 0);
        reporter.exchanges.push(exchange);
    }

    pump(&mut ingest, &mut sink, &mut reporter, warm_up);
    let execution = &sink.0.execution.as_ref().unwrap().stage.counters;
    let (fills_before, orders_before) = (
        execution.fills,
        execution.orders_sent + execution.replaces_sent,
    );
    let market_data_before = ingest.counters().market_data;
    let intervals_before = reporter.intervals_taken;
    let allocations =
        counting_alloc::allocations_in(|| pump(&mut ingest, &mut sink, &mut reporter, measured));
    assert!(
        reporter.intervals_taken > intervals_before + 10,
        "latency intervals rotated while counting"
    );
    assert!(sink.0.fatal.is_none());
    let execution = &sink.0.execution.as_ref().unwrap().stage.counters;
    Measured {
        allocations,
        fills: execution.fills - fills_before,
        orders: execution.orders_sent + execution.replaces_sent - orders_before,
        market_data: ingest.counters().market_data - market_data_before,
    }
}
