//! The per-event trace (`topology::trace`) of a two-thread run: one row
//! per journaled event on each thread, the same events in the same order,
//! each thread's stamps in the order it took them; and a run nobody armed
//! records nothing. In a test binary of its own: the trace is process-wide.
//! Counts and orders, not times.

mod common;

use genesis_engine::config::{CorePlan, MarketDataSource, VenueKind};
use genesis_engine::run::{run, NoHooks, Parts};
use genesis_engine::topology::trace::{self, TraceRow};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// ingest+risk on one thread, strategy+execution+journal on the other.
const TWO_THREADS: CorePlan = CorePlan {
    ingest: 0,
    risk: 0,
    strategy: 1,
    execution: 1,
    journal: 1,
};

/// Rows per thread: far more than a 300 ms run at 20,000 events/s makes.
const CAPACITY: usize = 200_000;

fn run_two_threads(dir: &std::path::Path) -> genesis_engine::run::RunReport {
    let mut config = common::test_config(dir);
    config.topology.cores = TWO_THREADS;
    config.market_data.source = MarketDataSource::Synthetic;
    config.market_data.rate_per_sec = 20_000;
    config.venue.kind = VenueKind::Paper;
    let (parts, _control) = Parts::from_config(&config).unwrap();
    run(
        &config,
        parts,
        &mut NoHooks,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_millis(300)),
    )
    .unwrap()
}

/// A thread's own stamps of one event, in the order it made them (0: not made).
fn stamps_in_order(row: &TraceRow) -> bool {
    let mut stamps = vec![row.taken_ns];
    stamps.extend(row.exits_ns.iter().copied().filter(|&ns| ns != 0));
    stamps.extend(
        [row.sent_ns, row.batch_end_ns]
            .into_iter()
            .filter(|&ns| ns != 0),
    );
    stamps.windows(2).all(|pair| pair[0] <= pair[1])
}

// Every journaled event has a row on both threads, the rows line up by
// sequence (consecutive from the run's first), the head stamps risk's exit
// and a hand-over to the ring, the reader the three later stages' exits,
// each in order; batches end on some rows. Then an unarmed run leaves no trace.
#[test]
fn a_traced_run_has_one_row_per_event_on_each_thread() {
    let dir = tempfile::tempdir().unwrap();
    trace::arm(CAPACITY);
    let report = run_two_threads(&dir.path().join("traced"));
    let recorded = trace::take_recorded().expect("the armed run handed back its tables");
    assert_eq!(recorded.groups.len(), 2, "one table per thread");
    let (head, reader) = (recorded.groups[0].rows(), recorded.groups[1].rows());
    let records = usize::try_from(report.journal_records).unwrap();
    assert!(records > 0, "the run journaled events");
    assert_eq!(head.len(), records, "a head row per journaled event");
    assert_eq!(reader.len(), records, "a reader row per journaled event");
    assert_eq!(recorded.groups[0].untraced + recorded.groups[1].untraced, 0);
    for (index, (h, r)) in head.iter().zip(reader).enumerate() {
        let seq = report.journal_seq_first + index as u64;
        assert_eq!((h.seq, r.seq), (seq, seq), "row {index}");
        assert!(
            h.exits_ns[0] != 0 && h.exits_ns[1..] == [0; 3],
            "row {index}: {h:?}"
        );
        assert!(
            h.sent_ns != 0,
            "row {index}: the head hands every event over"
        );
        assert!(
            r.exits_ns[0] == 0 && r.exits_ns[1..].iter().all(|&ns| ns != 0),
            "row {index}: {r:?}"
        );
        assert_eq!(r.sent_ns, 0, "row {index}: no ring after the last thread");
        assert!(
            stamps_in_order(h) && stamps_in_order(r),
            "row {index}: {h:?} {r:?}"
        );
        assert!(
            h.cpu != u32::MAX && r.cpu != u32::MAX,
            "row {index}: CPUs known"
        );
    }
    assert!(reader.iter().any(|r| r.batch_end_ns != 0), "batches ended");
    assert!(
        reader
            .windows(2)
            .all(|pair| pair[0].taken_ns <= pair[1].taken_ns),
        "the reader takes events in order"
    );

    let report = run_two_threads(&dir.path().join("untraced"));
    assert!(report.journal_records > 0);
    assert!(
        trace::take_recorded().is_none(),
        "a run nobody armed records nothing"
    );
}
