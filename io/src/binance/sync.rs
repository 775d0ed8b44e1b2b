//! The documented Binance local-book procedure for one instrument, as a
//! state machine around an [`L2Book`].
//!
//! 1. Diffs arrive first and are buffered (bounded; the oldest is dropped
//!    and counted when full).
//! 2. The caller fetches a REST snapshot when [`DepthSync::take_snapshot_request`]
//!    says so and passes it to [`DepthSync::on_snapshot`].
//! 3. Buffered diffs with `u <= lastUpdateId` are dropped. If the first one
//!    left starts after `lastUpdateId + 1` the snapshot is too old: another
//!    is requested and the buffer kept.
//! 4. The first diff applied must have `U <= lastUpdateId + 1 <= u`; every
//!    later one `U == previous u + 1`. Anything else is a gap: the book is
//!    cleared, marked [`StaleFlags::NOT_SYNCED`], a snapshot is requested and
//!    the cycle starts again (resync). A diff that cannot be parsed, or that
//!    leaves the book crossed, also forces a resync when synced.
//!
//! Owning thread: the ingest thread. Invariants: the book is usable
//! (`!is_stale()`) only while synced; applying a diff in the synced state does
//! not allocate (buffering during sync may, while the buffer pool warms up).

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
        if !self.synced {
            self.buffer_push(diff);
            return SyncOutcome::Buffered;
        }
        let outcome = self.apply_synced(diff);
        if outcome == SyncOutcome::Resync {
            self.buffer_push(diff);
        }
        outcome
    }

    /// Process one parsed snapshot (see the module docs).
    pub fn on_snapshot(&mut self, snapshot: &DepthSnapshot) -> SyncOutcome {
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
            self.resync();
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
        SyncOutcome::Synced
    }

    fn apply_synced(&mut self, diff: &DepthUpdate) -> SyncOutcome {
        if diff.final_update_id <= self.last_update_id {
            self.stats.diffs_dropped_old += 1;
            return SyncOutcome::DroppedOld;
        }
        let next = self.last_update_id.saturating_add(1);
        let continuous = if self.first_pending {
            diff.first_update_id <= next
        } else {
            diff.first_update_id == next
        };
        if !continuous {
            self.stats.gaps += 1;
            self.resync();
            return SyncOutcome::Resync;
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
