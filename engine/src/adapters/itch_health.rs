//! The ITCH source's feed health: the receiver's recovery counters copied
//! into [`FeedHealth`] rows (one for the whole MoldUDP64 stream, one per
//! book), the books' stale state, and the log lines of recovery events
//! that are rare enough to log (snapshot failures at 1, 2, 4, ... in a
//! row, the first snapshot applied, a datagram without a kernel stamp).
//!
//! Owning thread: ingest, inside the ITCH source. No allocation per poll:
//! copies of counters into a preallocated writer, published with relaxed
//! stores at most every few milliseconds and at once when a book turns.

use crate::clock::RealtimeBridge;
use crate::telemetry::feed_health::{FeedCounter, FeedHealth, HealthWriter, RowSpec, FEED_WIDE};
use genesis_io::net::{MoldReceiver, ReceivePoll};
use std::sync::Arc;

/// The health row of book `index` (row 0 is the whole feed's).
pub fn book_row(index: usize) -> usize {
    index + 1
}

/// The rows of an ITCH feed carrying `symbols`: the stream's counters on
/// the feed row (a gap or a snapshot concerns every book), a stale gauge
/// and a last-message time per book.
pub fn feed_rows(symbols: &[&str]) -> Vec<RowSpec> {
    let mut rows = vec![RowSpec {
        instrument: FEED_WIDE.into(),
        counters: vec![
            FeedCounter::Gaps,
            FeedCounter::RecoveredRetransmit,
            FeedCounter::SnapshotsRequested,
            FeedCounter::SnapshotsApplied,
            FeedCounter::SnapshotsFailed,
            FeedCounter::Resyncs,
        ],
        is_book: false,
    }];
    rows.extend(symbols.iter().map(|symbol| RowSpec {
        instrument: (*symbol).to_string(),
        counters: Vec::new(),
        is_book: true,
    }));
    rows
}

/// The writer, and what the log lines need to remember.
pub struct ItchHealth {
    writer: HealthWriter,
    /// Snapshot failures counted when the last snapshot applied.
    failed_at_last_applied: u64,
    first_snapshot_logged: bool,
    unstamped_logged: bool,
}

impl ItchHealth {
    pub fn new(writer: HealthWriter) -> ItchHealth {
        ItchHealth {
            writer,
            failed_at_last_applied: 0,
            first_snapshot_logged: false,
            unstamped_logged: false,
        }
    }

    /// The shared side, for the metrics endpoint and the alerts.
    pub fn shared(&self) -> &Arc<FeedHealth> {
        self.writer.health()
    }

    /// Whether book `index` was stale when last seen.
    pub fn is_stale(&self, index: usize) -> bool {
        self.writer.row(book_row(index)).stale
    }

    /// Book `index` is stale or fresh now; true if that turned.
    pub fn set_stale(&mut self, index: usize, stale: bool, now_ns: u64) -> bool {
        self.writer.set_stale(book_row(index), stale, now_ns)
    }

    /// Market data for book `index` arrived (stamped `ts_recv_ns`, engine clock).
    #[inline]
    pub fn on_message(&mut self, index: usize, ts_recv_ns: u64) {
        self.writer.row_mut(book_row(index)).message_last_ns = ts_recv_ns;
    }

    /// After a poll: the recovery's counters onto the feed row, the rare
    /// events logged, and the rows published when due.
    pub fn update(
        &mut self,
        receiver: &MoldReceiver,
        result: &ReceivePoll,
        bridge: &RealtimeBridge,
        source: &'static str,
    ) {
        let stats = receiver.recovery_stats();
        let row = self.writer.row_mut(0);
        row.set(FeedCounter::Gaps, stats.gaps);
        row.set(
            FeedCounter::RecoveredRetransmit,
            stats.messages_recovered_retransmit,
        );
        row.set(FeedCounter::SnapshotsRequested, stats.snapshots_requested);
        row.set(FeedCounter::SnapshotsApplied, stats.snapshots_applied);
        row.set(FeedCounter::SnapshotsFailed, stats.snapshots_failed);
        row.set(FeedCounter::Resyncs, stats.resyncs);
        if stats.datagram_last_ns != 0 {
            row.message_last_ns = bridge.epoch_ns(stats.datagram_last_ns);
        }
        if result.snapshot_applied {
            self.on_snapshot_applied(stats.snapshots_failed, source);
        }
        let in_a_row = stats.snapshots_failed - self.failed_at_last_applied;
        self.writer.row_mut(0).snapshot_failures_in_a_row = in_a_row;
        if result.snapshot_failed && in_a_row.is_power_of_two() {
            tracing::warn!(
                source,
                failures_in_a_row = in_a_row,
                reason = ?stats.snapshot_failure_last,
                "a GLIMPSE snapshot failed; the books stay stale and it is retried after a backoff"
            );
        }
        if !self.unstamped_logged && receiver.stats().datagrams_stamped_user > 0 {
            self.unstamped_logged = true;
            tracing::info!(
                source,
                "a datagram came without a kernel receive stamp: stamped in user space after the read (logged once)"
            );
        }
        self.writer.publish(bridge.now_ns());
    }

    fn on_snapshot_applied(&mut self, failed: u64, source: &'static str) {
        let failures = failed - self.failed_at_last_applied;
        self.failed_at_last_applied = failed;
        if failures > 0 {
            tracing::info!(
                source,
                failures,
                "a GLIMPSE snapshot applied after failures"
            );
        } else if !self.first_snapshot_logged {
            tracing::info!(
                source,
                "the books were rebuilt from a GLIMPSE snapshot (logged once)"
            );
        }
        self.first_snapshot_logged = true;
    }
}
