//! `incremental_book_L2` rows: the `is_snapshot` and `side` columns, and
//! Tardis's snapshot rule, kept per instrument.
//!
//! Snapshot rule (docs.tardis.dev, "incremental_book_L2"): when an
//! instrument's rows turn from `is_snapshot=false` to `true`, the book held
//! so far must be discarded; the first row of such a block carries
//! `starts_snapshot`. A snapshot row whose `timestamp` differs from the
//! previous snapshot row's also starts a new snapshot (venues that send
//! every update as a full snapshot; NautilusTrader's loader does the same).
//! Rows of an instrument before its first snapshot are skipped and counted,
//! as Tardis documents. An amount of 0 removes the level.
//!
//! Owning thread: the reader's. Invariants: one state per instrument of the
//! table, allocated at construction.

use super::fields::{FLAG_OR_ID, SIDE};
use super::records::L2Update;
use super::rows::{RowCommon, RowFault};
use crate::book::Side;

/// The columns only book rows have.
pub(crate) struct BookColumns {
    is_snapshot: bool,
    side: Side,
}

/// Parse `is_snapshot` and `side`.
#[inline]
pub(crate) fn parse_book_columns(fields: &[&[u8]; 8]) -> Result<BookColumns, RowFault> {
    let is_snapshot = match fields[FLAG_OR_ID] {
        b"true" => true,
        b"false" => false,
        other => return Err(RowFault::bad_value(FLAG_OR_ID, "true or false", other)),
    };
    let side = match fields[SIDE] {
        b"bid" => Side::Bid,
        b"ask" => Side::Ask,
        other => return Err(RowFault::bad_value(SIDE, "bid or ask", other)),
    };
    Ok(BookColumns { is_snapshot, side })
}

/// Where one instrument's book is in the snapshot cycle.
#[derive(Clone, Copy, Debug, Default)]
struct SnapshotState {
    /// A snapshot has been seen: updates apply.
    synced: bool,
    /// The last row was a snapshot row.
    in_snapshot: bool,
    /// `timestamp` of the last snapshot row.
    snapshot_ts_exchange_ns: u64,
}

/// The snapshot state of every instrument.
pub(crate) struct SnapshotTracker {
    states: Vec<SnapshotState>,
}

impl SnapshotTracker {
    pub(crate) fn new(instrument_count: usize) -> SnapshotTracker {
        SnapshotTracker {
            states: vec![SnapshotState::default(); instrument_count],
        }
    }

    /// The update a row makes, or `None` for a row before its instrument's
    /// first snapshot.
    #[inline]
    pub(crate) fn admit(&mut self, common: &RowCommon, columns: &BookColumns) -> Option<L2Update> {
        let state = &mut self.states[usize::from(common.instrument_index)];
        let starts_snapshot = columns.is_snapshot
            && (!state.in_snapshot || state.snapshot_ts_exchange_ns != common.ts_exchange_ns);
        state.in_snapshot = columns.is_snapshot;
        if columns.is_snapshot {
            state.synced = true;
            state.snapshot_ts_exchange_ns = common.ts_exchange_ns;
        } else if !state.synced {
            return None;
        }
        Some(L2Update {
            instrument_index: common.instrument_index,
            ts_exchange_ns: common.ts_exchange_ns,
            ts_local_ns: common.ts_local_ns,
            side: columns.side,
            price: common.price,
            qty: common.qty,
            is_snapshot: columns.is_snapshot,
            starts_snapshot,
            line: common.line,
        })
    }
}
