//! The hot path does not allocate: after warm-up, a fused pipeline (synthetic
//! feed, the paper venue with acks and fills, market maker, journal, latency
//! intervals handed to a reporter) runs a few hundred thousand events with
//! zero heap allocations on its thread. The same pipeline on the defaults'
//! sockets is measured beside the simulated venue, in the binary's crate
//! (`engine/cli/tests/no_alloc_sockets.rs`).

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/fused.rs"]
mod fused;

use fused::run_fused;
use genesis_engine::config::{MarketDataSource, VenueKind};
use genesis_engine::run::Parts;

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
    config.venue.kind = VenueKind::Paper;
    config.market_data.source = MarketDataSource::Synthetic;
    let (parts, _control) = Parts::from_config(&config).unwrap();
    let measured = run_fused(&config, parts, 200_000, 300_000);
    assert!(measured.fills > 0, "the measured stretch includes fills");
    assert!(measured.orders > 0, "the measured stretch includes orders");
    assert_eq!(
        measured.allocations, 0,
        "heap allocations in 300 000 events after warm-up"
    );
}
