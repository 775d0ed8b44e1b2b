//! A snapshot thread deferred to the run's end (what a run starts when its
//! spinning stage threads leave no CPU free) does not wake while the run
//! goes on, save its 1 s bound for a lost wake-up, then follows the whole
//! journal and writes the final snapshot at the run's last record.
//! Counts, not times.

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/fused.rs"]
mod fused;

use fused::{run_fused_from, Begin};
use genesis_engine::config::{MarketDataSource, VenueKind};
use genesis_engine::run::Parts;
use genesis_engine::snapshot::SnapshotPolicy;
use std::time::{Duration, Instant};

/// A snapshot every 5,000 events (never by time).
const POLICY: SnapshotPolicy = SnapshotPolicy {
    events_between: 5_000,
    interval: Duration::from_secs(3_600),
    keep: 3,
};

/// The in-process synthetic feed flat out on the paper venue, journaled
/// under `dir`.
fn flat_out_config(dir: &std::path::Path) -> genesis_engine::config::Config {
    let mut config = common::test_config(dir);
    config.market_data.rate_per_sec = 0;
    config.market_data.timer_interval_ms = 1;
    config.risk.orders_per_window = 1_000_000;
    config.venue.kind = VenueKind::Paper;
    config.market_data.source = MarketDataSource::Synthetic;
    config
}

// The deferred thread wakes at most once per second of the run (plus its
// first and last park), versus once per poll (about 1,000 a second) for a
// live follower; at the end it has followed every event.
#[test]
#[allow(clippy::disallowed_methods)] // the test's own clock bounds the wake-ups
fn a_deferred_snapshot_thread_sleeps_through_the_run_then_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = flat_out_config(dir.path());
    let (parts, _control) = Parts::from_config(&config).unwrap();
    let started = Instant::now();
    let run = run_fused_from(
        &config,
        parts,
        20_000,
        40_000,
        Begin::RestartedDeferred(POLICY),
    );
    let elapsed_s = started.elapsed().as_secs();
    let snapshots = run.snapshots.unwrap();
    assert!(snapshots.stopped.is_none(), "{snapshots:?}");
    assert!(
        snapshots.deferred.is_some(),
        "the report says it was deferred"
    );
    assert!(
        snapshots.wakeups_while_running <= elapsed_s + 2,
        "{} wake-ups while a {elapsed_s} s run went on",
        snapshots.wakeups_while_running
    );
    assert_eq!(
        snapshots.last_seq,
        Some(run.seq_last),
        "the final snapshot is at the run's last record"
    );
    assert!(
        snapshots.events_followed >= 60_000,
        "every event followed at the end: {snapshots:?}"
    );
}

// A live follower sleeps 1 ms each time it drains the journal, even when
// the drain applied records; only a full poll budget (it is behind) goes
// straight back. So its wake-ups are bounded by the run's milliseconds plus
// one per full budget: a follower that went back for more after every
// non-empty drain, or never slept, breaks the bound whenever it chases a
// writer faster than it. (At 100 k/s on a slow-syscall host the old loop
// read about one record per poll and kept a core 88 % busy; that speed is
// timing and is shown in docs/performance.md, not here.)
#[test]
#[allow(clippy::disallowed_methods)] // the test's own clock bounds the wake-ups
fn a_live_snapshot_thread_sleeps_whenever_it_reaches_the_journals_end() {
    use genesis_engine::snapshot::follower::POLL_RECORDS_MAX;
    let dir = tempfile::tempdir().unwrap();
    let config = flat_out_config(dir.path());
    let (parts, _control) = Parts::from_config(&config).unwrap();
    let started = Instant::now();
    let run = run_fused_from(&config, parts, 20_000, 40_000, Begin::Restarted(POLICY));
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let snapshots = run.snapshots.unwrap();
    assert!(snapshots.stopped.is_none(), "{snapshots:?}");
    assert!(
        snapshots.deferred.is_none(),
        "a live follower: {snapshots:?}"
    );
    let full_budgets = snapshots.events_followed / POLL_RECORDS_MAX as u64;
    assert!(
        snapshots.wakeups_while_running <= elapsed_ms + full_budgets + 2,
        "{} wake-ups while a {elapsed_ms} ms run went on ({} events followed)",
        snapshots.wakeups_while_running,
        snapshots.events_followed
    );
    assert_eq!(
        snapshots.last_seq,
        Some(run.seq_last),
        "the final snapshot is at the run's last record"
    );
}
