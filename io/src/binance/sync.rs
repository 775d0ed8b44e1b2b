//! The documented Binance local-book procedure for one instrument, as a
//! state machine around an [`L2Book`]. It follows Binance's spot guide
//! "How to manage a local order book correctly" (web-socket-streams.md):
//!
//! 1. Diffs arrive first and are buffered (bounded; the oldest is dropped
//!    and counted when full). The caller asks for a snapshot once the first
//!    diff is buffered ([`DepthSync::diffs_buffered_now`]; guide step 2
//!    then 3), so the snapshot is not older than the stream.
//! 2. The caller fetches a snapshot when [`DepthSync::take_snapshot_request`]
//!    says so and passes it to [`DepthSync::on_snapshot`].
//! 3. Buffered diffs with `u <= lastUpdateId` are dropped. If the first one
//!    left starts after `lastUpdateId + 1` the snapshot is older than the
//!    buffered diffs: another is requested and the buffer kept
//!    ([`SyncOutcome::SnapshotTooOld`]). The guide says to fetch again when
//!    `lastUpdateId < U` of the first diff; we refetch only when
//!    `lastUpdateId + 1 < U`, since a snapshot ending just before `U` is
//!    continued exactly by that diff.
//! 4. The book is set to the snapshot, then every buffered diff and every
//!    later one goes through the guide's update procedure: `u <=` the
//!    book's id is dropped; `U >` the book's id `+ 1` is a gap; otherwise
//!    the levels are applied and the book's id becomes `u`. So the first
//!    applied diff has `U <= lastUpdateId + 1 <= u`, and each later one
//!    normally `U == previous u + 1`; a later diff that overlaps the book
//!    (`U <= id < u`) is applied too, as the guide allows (quantities are
//!    absolute), and counted in `diffs_overlapping`.
//! 5. A gap clears the book, marks it [`StaleFlags::NOT_SYNCED`], requests a
//!    snapshot and starts again (resync). A diff that cannot be parsed, has `U > u`, or leaves the book
//!    crossed also forces a resync when synced.
//!
//! Owning thread: the ingest thread. Invariants (asserted): the book is
//! usable (`!is_stale()`) only while synced; while synced the buffer is
//! empty; applying a diff in the synced state does not allocate (buffering
//! during sync may, while the buffer pool warms up).

use super::error::BinanceError;
use super::messages::{
    parse_depth_snapshot, parse_depth_update, DepthSnapshot, DepthUpdate, InstrumentGrid,
};
use crate::book::{L2Book, Side, StaleFlags};
use std::collections::VecDeque;

/// What one diff or snapshot did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Applied to the book.
    Applied,
    /// Held until a snapshot arrives.
    Buffered,
    /// Older than the book; ignored.
    DroppedOld,
    /// A snapshot was applied and the buffered diffs after it; the book is live.
    Synced,
    /// The snapshot predates the buffered diffs; another one is needed.
    SnapshotTooOld,
    /// Continuity broke (gap, crossed book, or a diff that could not be
    /// parsed): the book was cleared and a new snapshot is needed.
    Resync,
    /// The message could not be parsed and was dropped (not synced yet, so
    /// nothing to resync; the gap check will catch a lost diff).
    Rejected(BinanceError),
}

/// Counters, per instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Diffs applied to the book.
    pub diffs_applied: u64,
    /// Diffs buffered while waiting for a snapshot.
    pub diffs_buffered: u64,
    /// Diffs older than the book, dropped.
    pub diffs_dropped_old: u64,
    /// Buffered diffs dropped because the buffer was full.
    pub buffer_overflows: u64,
    /// Gaps in update ids.
    pub gaps: u64,
    /// Resyncs started (gap, crossed, unparseable diff while synced).
    pub resyncs: u64,
    /// Snapshots applied.
    pub snapshots_applied: u64,
    /// Snapshots older than the buffered diffs.
    pub snapshots_too_old: u64,
    /// Snapshots that arrived while the book was synced, ignored.
    pub snapshots_ignored: u64,
    /// Diffs applied that overlapped the book (`U <= id < u`) instead of
    /// continuing it at `id + 1`.
    pub diffs_overlapping: u64,
    /// Messages rejected as invalid JSON or missing fields.
    pub invalid_messages: u64,
    /// Messages rejected for a price or quantity off the grid.
    pub off_grid: u64,
    /// Updates that left the book crossed.
    pub crossed: u64,
}

/// Local L2 book of one instrument kept in sync with a Binance depth stream.
#[derive(Debug)]
pub struct DepthSync {
    grid: InstrumentGrid,
    book: L2Book,
    synced: bool,
    first_pending: bool,
    last_update_id: u64,
    snapshot_wanted: bool,
    buffer: VecDeque<DepthUpdate>,
    buffer_max: usize,
    spare: Vec<DepthUpdate>,
    scratch: DepthUpdate,
    snapshot_scratch: DepthSnapshot,
    stats: SyncStats,
}

impl DepthSync {
    /// A new, unsynced instrument: `levels_max` levels per side in the book
    /// (and per side in one diff without allocating), up to `buffer_max`
    /// diffs buffered while syncing.
    pub fn new(grid: InstrumentGrid, levels_max: usize, buffer_max: usize) -> DepthSync {
        assert!(buffer_max > 0, "the diff buffer needs room for one diff");
        let mut book = L2Book::with_capacity(levels_max);
        book.mark_stale(StaleFlags::NOT_SYNCED);
        DepthSync {
            grid,
            book,
            synced: false,
            first_pending: false,
            last_update_id: 0,
            snapshot_wanted: true,
            buffer: VecDeque::with_capacity(buffer_max),
            buffer_max,
            spare: Vec::new(),
            scratch: DepthUpdate::with_capacity(levels_max),
            snapshot_scratch: DepthSnapshot::default(),
            stats: SyncStats::default(),
        }
    }

    /// The book; trade on it only when `!book().is_stale()`.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// Whether the book is synced (live).
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Update id the book reflects (last applied `u`, or the snapshot's).
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Counters.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }

    /// The instrument's grids.
    pub fn grid(&self) -> &InstrumentGrid {
        &self.grid
    }

    /// `true` once each time a snapshot should be fetched.
    pub fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.snapshot_wanted)
    }

    /// Whether a snapshot is wanted, without taking the request.
    pub fn snapshot_wanted(&self) -> bool {
        self.snapshot_wanted
    }

    /// Diffs held until a snapshot arrives.
    pub fn diffs_buffered_now(&self) -> usize {
        self.buffer.len()
    }

    /// Parse a diff event and process it.
    pub fn on_diff_bytes(&mut self, bytes: &[u8]) -> SyncOutcome {
        let mut diff = std::mem::take(&mut self.scratch);
        let outcome = match parse_depth_update(bytes, &self.grid, &mut diff) {
            Ok(()) => self.on_diff(&diff),
            Err(error) => self.on_bad_diff(error),
        };
        self.scratch = diff;
        outcome
    }

    /// Parse a REST snapshot body and process it. A body that cannot be
    /// parsed is counted and another snapshot requested.
    pub fn on_snapshot_bytes(&mut self, bytes: &[u8]) -> SyncOutcome {
        let mut snapshot = std::mem::take(&mut self.snapshot_scratch);
        let outcome = match parse_depth_snapshot(bytes, &self.grid, &mut snapshot) {
            Ok(()) => self.on_snapshot(&snapshot),
            Err(error) => {
                self.count_error(error);
                self.snapshot_wanted = true;
                SyncOutcome::Rejected(error)
            }
        };
        self.snapshot_scratch = snapshot;
        outcome
    }

    fn count_error(&mut self, error: BinanceError) {
        match error {
            BinanceError::OffGrid { .. } => self.stats.off_grid += 1,
            _ => self.stats.invalid_messages += 1,
        }
    }

    fn on_bad_diff(&mut self, error: BinanceError) -> SyncOutcome {
        self.count_error(error);
        if self.synced {
            self.resync();
            return SyncOutcome::Resync;
        }
        SyncOutcome::Rejected(error)
    }

    /// Process one parsed diff.
    pub fn on_diff(&mut self, diff: &DepthUpdate) -> SyncOutcome {
        if diff.first_update_id > diff.final_update_id {
            return self.on_bad_diff(BinanceError::Json {
                at: 0,
                expected: "U <= u in a depth diff",
            });
        }
        if !self.synced {
            self.buffer_push(diff);
            return SyncOutcome::Buffered;
        }
        debug_assert!(self.buffer.is_empty(), "a synced book buffers nothing");
        let outcome = self.apply_synced(diff);
        if outcome == SyncOutcome::Resync {
            self.buffer_push(diff);
        }
        outcome
    }

    /// Process one parsed snapshot (see the module docs).
    pub fn on_snapshot(&mut self, snapshot: &DepthSnapshot) -> SyncOutcome {
        if self.synced {
            // Nobody asked for it (a late answer): the live book is newer.
            self.stats.snapshots_ignored += 1;
            return SyncOutcome::DroppedOld;
        }
        let last = snapshot.last_update_id;
        while self
            .buffer
            .front()
            .is_some_and(|d| d.final_update_id <= last)
        {
            self.stats.diffs_dropped_old += 1;
            self.recycle_front();
        }
        if self
            .buffer
            .front()
            .is_some_and(|d| d.first_update_id > last.saturating_add(1))
        {
            self.stats.snapshots_too_old += 1;
            self.snapshot_wanted = true;
            return SyncOutcome::SnapshotTooOld;
        }
        self.book.clear();
        for level in &snapshot.bids {
            self.book.set_level(Side::Bid, level.price, level.qty);
        }
        for level in &snapshot.asks {
            self.book.set_level(Side::Ask, level.price, level.qty);
        }
        self.stats.snapshots_applied += 1;
        if !self.book.finish_update() {
            self.stats.crossed += 1;
            self.restart();
            return SyncOutcome::Resync;
        }
        // The book was rebuilt from the snapshot: earlier causes no longer apply.
        self.book.clear_stale(StaleFlags::all());
        self.synced = true;
        self.first_pending = true;
        self.last_update_id = last;
        self.snapshot_wanted = false;
        while let Some(diff) = self.buffer.pop_front() {
            let outcome = self.apply_synced(&diff);
            if outcome == SyncOutcome::Resync {
                self.buffer.push_front(diff);
                return SyncOutcome::Resync;
            }
            self.spare.push(diff);
        }
        debug_assert!(self.synced && self.buffer.is_empty() && !self.book.is_stale());
        SyncOutcome::Synced
    }

    fn apply_synced(&mut self, diff: &DepthUpdate) -> SyncOutcome {
        debug_assert!(self.synced, "diffs are applied only to a synced book");
        debug_assert!(diff.first_update_id <= diff.final_update_id);
        if diff.final_update_id <= self.last_update_id {
            self.stats.diffs_dropped_old += 1;
            return SyncOutcome::DroppedOld;
        }
        let next = self.last_update_id.saturating_add(1);
        if diff.first_update_id > next {
            // The guide: "you have missed some events". (Right after a
            // snapshot that found nothing buffered the snapshot may instead
            // predate the stream; the feed avoids that case by asking only
            // once a diff is buffered.)
            self.stats.gaps += 1;
            self.resync();
            return SyncOutcome::Resync;
        }
        if diff.first_update_id < next && !self.first_pending {
            self.stats.diffs_overlapping += 1;
        }
        for level in &diff.bids {
            self.book.set_level(Side::Bid, level.price, level.qty);
        }
        for level in &diff.asks {
            self.book.set_level(Side::Ask, level.price, level.qty);
        }
        if !self.book.finish_update() {
            self.stats.crossed += 1;
            self.resync();
            return SyncOutcome::Resync;
        }
        self.last_update_id = diff.final_update_id;
        self.first_pending = false;
        self.stats.diffs_applied += 1;
        SyncOutcome::Applied
    }

    fn resync(&mut self) {
        debug_assert!(self.synced, "only a synced book resyncs");
        self.restart();
    }

    /// Back to the start of the procedure: empty stale book, snapshot wanted.
    fn restart(&mut self) {
        self.stats.resyncs += 1;
        self.synced = false;
        self.snapshot_wanted = true;
        self.book.clear();
        self.book.mark_stale(StaleFlags::NOT_SYNCED);
    }

    fn recycle_front(&mut self) {
        if let Some(old) = self.buffer.pop_front() {
            self.spare.push(old);
        }
    }

    fn buffer_push(&mut self, diff: &DepthUpdate) {
        if self.buffer.len() == self.buffer_max {
            self.stats.buffer_overflows += 1;
            self.recycle_front();
        }
        let mut slot = self.spare.pop().unwrap_or_default();
        slot.copy_from(diff);
        self.buffer.push_back(slot);
        self.stats.diffs_buffered += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binance::DecimalGrid;

    fn sync() -> DepthSync {
        let grid = InstrumentGrid {
            price: DecimalGrid::from_step("0.01").unwrap(),
            qty: DecimalGrid::from_step("0.001").unwrap(),
        };
        DepthSync::new(grid, 16, 8)
    }

    fn diff(first: u64, last: u64, bid: &str) -> Vec<u8> {
        format!(r#"{{"U":{first},"u":{last},"b":[["{bid}","1.000"]],"a":[]}}"#).into_bytes()
    }

    fn snapshot(last: u64) -> Vec<u8> {
        format!(
            r#"{{"lastUpdateId":{last},"bids":[["10.00","1.000"]],"asks":[["20.00","1.000"]]}}"#
        )
        .into_bytes()
    }

    // A buffered diff starting exactly at lastUpdateId + 1 continues the
    // snapshot: synced, not too old (the boundary of guide step 4).
    #[test]
    fn diff_starting_right_after_snapshot_syncs() {
        let mut s = sync();
        assert_eq!(
            s.on_diff_bytes(&diff(101, 103, "11.00")),
            SyncOutcome::Buffered
        );
        assert_eq!(s.diffs_buffered_now(), 1);
        assert_eq!(s.on_snapshot_bytes(&snapshot(100)), SyncOutcome::Synced);
        assert_eq!((s.last_update_id(), s.stats().snapshots_too_old), (103, 0));
    }

    // One id further and the snapshot is older than the buffered diffs: it
    // is refused, the buffer kept, and a newer snapshot syncs.
    #[test]
    fn snapshot_older_than_buffer_is_refetched() {
        let mut s = sync();
        s.take_snapshot_request();
        s.on_diff_bytes(&diff(102, 103, "11.00"));
        assert_eq!(
            s.on_snapshot_bytes(&snapshot(100)),
            SyncOutcome::SnapshotTooOld
        );
        assert!(s.take_snapshot_request(), "another snapshot is wanted");
        assert_eq!(s.diffs_buffered_now(), 1, "the buffer is kept");
        assert_eq!(s.on_snapshot_bytes(&snapshot(102)), SyncOutcome::Synced);
        assert_eq!(s.last_update_id(), 103);
    }

    // A later diff that overlaps the book is applied and counted; one that
    // skips an id is a gap.
    #[test]
    fn overlap_applies_gap_resyncs() {
        let mut s = sync();
        s.on_snapshot_bytes(&snapshot(100));
        assert_eq!(
            s.on_diff_bytes(&diff(99, 105, "11.00")),
            SyncOutcome::Applied
        );
        assert_eq!(
            s.on_diff_bytes(&diff(104, 107, "12.00")),
            SyncOutcome::Applied
        );
        assert_eq!(s.stats().diffs_overlapping, 1);
        assert_eq!(
            s.on_diff_bytes(&diff(109, 110, "12.00")),
            SyncOutcome::Resync
        );
        assert_eq!((s.stats().gaps, s.stats().resyncs), (1, 1));
        assert!(s.book().is_stale());
    }

    // A snapshot newer than every buffered diff drops them all; a hole
    // after it is a gap (the stream was flowing), not a too-old snapshot.
    #[test]
    fn hole_after_covering_snapshot_is_a_gap() {
        let mut s = sync();
        s.on_diff_bytes(&diff(95, 98, "11.00"));
        assert_eq!(s.on_snapshot_bytes(&snapshot(100)), SyncOutcome::Synced);
        assert_eq!(
            s.on_diff_bytes(&diff(103, 104, "11.00")),
            SyncOutcome::Resync
        );
        assert_eq!((s.stats().gaps, s.stats().snapshots_too_old), (1, 0));
    }

    // U > u is malformed: rejected while syncing, a resync when synced; a
    // snapshot arriving while synced is ignored.
    #[test]
    fn malformed_ids_and_unrequested_snapshot() {
        let mut s = sync();
        assert!(matches!(
            s.on_diff_bytes(&diff(5, 4, "11.00")),
            SyncOutcome::Rejected(_)
        ));
        s.on_snapshot_bytes(&snapshot(100));
        assert_eq!(s.on_snapshot_bytes(&snapshot(90)), SyncOutcome::DroppedOld);
        assert_eq!((s.stats().snapshots_ignored, s.last_update_id()), (1, 100));
        assert_eq!(
            s.on_diff_bytes(&diff(102, 101, "11.00")),
            SyncOutcome::Resync
        );
        assert_eq!(s.stats().invalid_messages, 2);
    }
}
