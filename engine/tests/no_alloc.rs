//! The hot path does not allocate: after warm-up, a fused pipeline (synthetic
//! feed, simulated venue with acks and fills, market maker, journal, latency
//! intervals handed to a reporter) runs a few hundred thousand events with
//! zero heap allocations on its thread; and so does the same pipeline on
//! the defaults' sockets (ITCH over UDP or WebSocket in, FIX out and in).

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;

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
        if ingest.poll(sink) == 0 {
            ingest.on_idle();
            sink.0.on_idle();
        }
        polls += 1;
        if polls.is_multiple_of(500) {
            reporter.tick();
        }
    }
}

/// What a measured stretch did.
struct Measured {
    allocations: u64,
    fills: u64,
    orders: u64,
    market_data: u64,
}

/// Runs `config`'s parts fused on this thread: `warm_up` events, then
/// `measured` more with the allocator counting on this thread only (the
/// simulated venue's thread, when there is one, is not the engine's).
fn run_fused(config: &genesis_engine::config::Config, warm_up: u64, measured: u64) -> Measured {
    let clock = EpochClock::new();
    let (parts, _control) = Parts::from_config(config).unwrap();
    // As `engine::run` does when it starts reading.
    if let Some(sim) = &parts.venue_sim {
        sim.release_market();
    }
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

#[test]
fn fused_pipeline_allocates_nothing_per_event_after_warm_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.market_data.rate_per_sec = 0;
    config.market_data.timer_interval_ms = 1;
    config.risk.orders_per_window = 1_000_000;
    // 16 MiB segments: the measured stretch (43 MB of journal) rolls over
    // segments too, and rollover must not allocate either.
    config.journal.segment_size_mib = 16;
    // The in-process venue: this measures the engine's own path.
    config.venue.kind = "sim".into();
    config.market_data.source = "synthetic".into();
    let measured = run_fused(&config, 200_000, 300_000);
    assert!(measured.fills > 0, "the measured stretch includes fills");
    assert!(measured.orders > 0, "the measured stretch includes orders");
    assert_eq!(
        measured.allocations, 0,
        "heap allocations in 300 000 events after warm-up"
    );
}

/// The defaults' sockets: market data over UDP (ITCH) or WebSocket
/// (Binance-compatible) from the simulated venue, orders and fills over
/// FIX. Connecting and logging on happen in the warm-up.
fn over_sockets(source: &str) -> Measured {
    // One at a time: each brings a simulator thread, and a starved engine
    // could overrun its UDP receive buffer.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.market_data.source = source.into();
    config.market_data.rate_per_sec = 20_000;
    config.market_data.timer_interval_ms = 1;
    config.risk.orders_per_window = 1_000_000;
    config.venue.kind = "fix-sim".into();
    config.venue.fix.seq_file = std::path::PathBuf::new();
    run_fused(&config, 20_000, 40_000)
}

#[test]
fn itch_and_fix_over_sockets_allocate_nothing_per_event_after_warm_up() {
    let measured = over_sockets("itch-sim");
    assert!(
        measured.market_data > 10_000,
        "market data arrived over UDP"
    );
    assert!(measured.fills > 0, "fills arrived over FIX");
    assert_eq!(measured.allocations, 0, "heap allocations after warm-up");
}

#[test]
fn websocket_and_fix_over_sockets_allocate_nothing_per_event_after_warm_up() {
    let measured = over_sockets("binance-sim");
    assert!(
        measured.market_data > 10_000,
        "market data arrived over WebSocket"
    );
    assert!(measured.fills > 0, "fills arrived over FIX");
    assert_eq!(measured.allocations, 0, "heap allocations after warm-up");
}
