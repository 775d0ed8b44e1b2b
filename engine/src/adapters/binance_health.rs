//! The Binance source's feed health: per instrument, the depth book's gaps,
//! resyncs and snapshots applied (summed over connections), whether it is
//! stale and when its last message came; for the whole connection, the
//! disconnects and the snapshot requests and failures. Failed snapshots
//! are logged at 1, 2, 4, ... in a row with the feed's last error.
//!
//! Owning thread: ingest, inside the Binance source. Copies into a
//! preallocated writer; published at most every few milliseconds and at
//! once when a book turns stale or fresh.

use crate::telemetry::feed_health::{FeedCounter, FeedHealth, HealthWriter, RowSpec, FEED_WIDE};
use genesis_io::binance::SyncStats;
use genesis_io::net::BinanceWsFeed;
use std::sync::Arc;

/// The rows of a Binance feed carrying `symbols`: the connection's row,
/// then one per instrument's depth book.
pub fn feed_rows(symbols: &[&str]) -> Vec<RowSpec> {
    let mut rows = vec![RowSpec {
        instrument: FEED_WIDE.into(),
        counters: vec![
            FeedCounter::SnapshotsRequested,
            FeedCounter::SnapshotsFailed,
            FeedCounter::Disconnects,
        ],
        is_book: false,
    }];
    rows.extend(symbols.iter().map(|symbol| RowSpec {
        instrument: (*symbol).to_string(),
        counters: vec![
            FeedCounter::Gaps,
            FeedCounter::SnapshotsApplied,
            FeedCounter::Resyncs,
        ],
        is_book: true,
    }));
    rows
}

/// The writer, and what the failure log remembers.
pub struct BinanceHealth {
    writer: HealthWriter,
    source: &'static str,
    /// Snapshot fetches failed when the last one was received.
    failed_at_last_received: u64,
    received_last: u64,
}

impl BinanceHealth {
    pub fn new(writer: HealthWriter, source: &'static str) -> BinanceHealth {
        BinanceHealth {
            writer,
            source,
            failed_at_last_received: 0,
            received_last: 0,
        }
    }

    /// The shared side, for the metrics endpoint and the alerts.
    pub fn shared(&self) -> &Arc<FeedHealth> {
        self.writer.health()
    }

    /// Book `index`: fresh or not, its last message, its counters.
    #[inline]
    pub fn update_book(
        &mut self,
        index: usize,
        fresh: bool,
        message_last_ns: u64,
        totals: &SyncStats,
        now_ns: u64,
    ) {
        let row = index + 1;
        self.writer.set_stale(row, !fresh, now_ns);
        let values = self.writer.row_mut(row);
        values.message_last_ns = message_last_ns;
        values.set(FeedCounter::Gaps, totals.gaps);
        values.set(FeedCounter::SnapshotsApplied, totals.snapshots_applied);
        values.set(FeedCounter::Resyncs, totals.resyncs);
    }

    /// The connection's counters; a failed snapshot logged; publish when due.
    pub fn update_feed(&mut self, feed: &BinanceWsFeed, disconnects: u64, now_ns: u64) {
        let snapshot = feed.stats().snapshot;
        if snapshot.received > self.received_last {
            self.received_last = snapshot.received;
            self.failed_at_last_received = snapshot.failed;
        }
        let in_a_row = snapshot.failed - self.failed_at_last_received;
        let values = self.writer.row_mut(0);
        let newly_failed = in_a_row > values.snapshot_failures_in_a_row;
        values.snapshot_failures_in_a_row = in_a_row;
        values.set(FeedCounter::SnapshotsRequested, snapshot.requested);
        values.set(FeedCounter::SnapshotsFailed, snapshot.failed);
        values.set(FeedCounter::Disconnects, disconnects);
        if newly_failed && in_a_row.is_power_of_two() {
            tracing::warn!(
                source = self.source,
                failures_in_a_row = in_a_row,
                error = feed.last_snapshot_error().unwrap_or("none"),
                "a depth snapshot failed; the book stays stale and it is retried after a backoff"
            );
        }
        self.writer.publish(now_ns);
    }
}
