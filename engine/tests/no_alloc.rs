//! The hot path does not allocate: after warm-up, a fused pipeline (synthetic
//! feed, the paper venue with acks and fills, market maker, journal, latency
//! intervals handed to a reporter) runs a few hundred thousand events with
//! zero heap allocations on its thread. The same pipeline on the defaults'
//! sockets is measured beside the simulated venue, in the binary's crate
//! (`engine/cli/tests/no_alloc_sockets.rs`). So does a restarted pipeline
//! with the snapshot thread writing snapshots beside it.

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/fused.rs"]
mod fused;

use fused::{run_fused, run_fused_from, Begin};
use genesis_engine::config::{MarketDataSource, VenueKind};
use genesis_engine::run::Parts;
use genesis_engine::snapshot::SnapshotPolicy;
use std::time::Duration;

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

// A restart as `genesis run` makes it: the state of a first run (positions,
// open orders, exec ids) rebuilt from its snapshot and journal, the venue
// shown the open orders, and the snapshot thread following the journal and
// writing snapshots beside the pipeline. The engine's thread still
// allocates nothing per event.
#[test]
fn restarted_pipeline_beside_the_snapshot_thread_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.market_data.rate_per_sec = 0;
    config.market_data.timer_interval_ms = 1;
    config.risk.orders_per_window = 1_000_000;
    config.journal.segment_size_mib = 16;
    config.venue.kind = VenueKind::Paper;
    config.market_data.source = MarketDataSource::Synthetic;
    let policy = SnapshotPolicy {
        events_between: 20_000,
        interval: Duration::from_secs(3_600),
        keep: 3,
    };
    let (parts, _control) = Parts::from_config(&config).unwrap();
    let first = run_fused_from(&config, parts, 30_000, 30_000, Begin::Restarted(policy));
    let first_snapshots = first.snapshots.unwrap();
    assert!(first_snapshots.stopped.is_none(), "{first_snapshots:?}");
    assert_eq!(
        first_snapshots.last_seq,
        Some(first.seq_last),
        "a final snapshot at the run's end"
    );

    let (parts, _control) = Parts::from_config(&config).unwrap();
    let measured = run_fused_from(&config, parts, 100_000, 300_000, Begin::Restarted(policy));
    let snapshots = measured.snapshots.unwrap();
    assert!(snapshots.stopped.is_none(), "{snapshots:?}");
    assert!(
        snapshots.snapshots_written >= 10,
        "snapshots written over the run: {snapshots:?}"
    );
    assert_eq!(snapshots.last_seq, Some(measured.seq_last));
    assert!(measured.fills > 0 && measured.orders > 0);
    assert!(
        measured.intervals_rotated > 10,
        "latency intervals rotated while counting"
    );
    assert_eq!(
        measured.allocations, 0,
        "heap allocations in 300 000 events after warm-up, with snapshots on"
    );
}
