//! The hot path does not allocate on the defaults' sockets either: after
//! warm-up, the fused pipeline with market data over UDP (ITCH) or WebSocket
//! (Binance-compatible) from the simulated venue, and orders and fills over
//! FIX, runs tens of thousands of events with zero heap allocations on its
//! thread (the simulator's thread is not the engine's), the engine's
//! tick-to-trade stamped, recorded and rotated to a reporter meanwhile.

mod common;
#[path = "../../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../tests/common/fused.rs"]
mod fused;

use fused::{run_fused, Measured};
use genesis_engine::config::{MarketDataSource, VenueKind};

/// The defaults' sockets: market data over UDP (ITCH) or WebSocket
/// (Binance-compatible) from the simulated venue, orders and fills over
/// FIX. Connecting and logging on happen in the warm-up.
fn over_sockets(source: MarketDataSource) -> Measured {
    // One at a time: each brings a simulator thread, and a starved engine
    // could overrun its UDP receive buffer.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.market_data.source = source;
    config.market_data.rate_per_sec = 20_000;
    config.market_data.timer_interval_ms = 1;
    config.risk.orders_per_window = 1_000_000;
    config.venue.kind = VenueKind::FixSim;
    config.venue.fix.seq_file = std::path::PathBuf::new();
    let assembly = genesis_cli::assemble(&config).unwrap();
    // As a run does when it starts reading; the simulator stays up until
    // `assembly.beside` is dropped, after the measurement.
    assembly.release_market();
    let genesis_cli::Assembly { parts, beside, .. } = assembly;
    let measured = run_fused(&config, parts, 20_000, 40_000);
    drop(beside);
    measured
}

#[test]
fn itch_and_fix_over_sockets_allocate_nothing_per_event_after_warm_up() {
    let measured = over_sockets(MarketDataSource::ItchSim);
    assert!(
        measured.market_data > 10_000,
        "market data arrived over UDP"
    );
    assert!(measured.fills > 0, "fills arrived over FIX");
    assert!(
        measured.engine_t2t_orders > 0,
        "the engine's tick-to-trade was recorded while counting"
    );
    assert_eq!(measured.allocations, 0, "heap allocations after warm-up");
}

#[test]
fn websocket_and_fix_over_sockets_allocate_nothing_per_event_after_warm_up() {
    let measured = over_sockets(MarketDataSource::BinanceSim);
    assert!(
        measured.market_data > 10_000,
        "market data arrived over WebSocket"
    );
    assert!(measured.fills > 0, "fills arrived over FIX");
    assert_eq!(measured.allocations, 0, "heap allocations after warm-up");
}
