//! An opt-in trace of every event through a run's threads, for finding
//! where a slow event waited: when its thread took it, when it left each
//! stage, when it was handed to the next ring, and the CPU the thread was
//! on. Off unless a harness arms it; the default run compiles the stamps
//! out (the runner is generic over [`Stamps`], and [`NoTrace`] is empty).
//!
//! A harness calls [`arm`] before a run; the run's [`take_armed`] consumes
//! the request (one run per arming) and allocates one table per thread,
//! every page made resident before the first event, so a traced thread
//! neither allocates nor page-faults while it runs. Each thread owns its
//! table outright (no sharing, no atomics) and hands it back when it ends
//! ([`Stamps::end`]); [`take_recorded`] collects them after the run.
//!
//! Every thread of a plan sees every event in the same order (rings keep
//! order), so row `i` of each table is the same event, with the same
//! `seq`. A table that fills stops recording and counts the rest
//! (`untraced`); it never reallocates.
//!
//! Stamps are the engine clock's epoch nanoseconds (one TSC anchor for
//! the process, as every latency the run reports); the recorded offsets
//! to `CLOCK_MONOTONIC`, read beside it at the run's start and end, place
//! them on the timeline of `perf sched record -k CLOCK_MONOTONIC`.
//!
//! Owning thread: the harness arms and collects; each table belongs to
//! its group's thread during the run. Invariants: a table's rows are
//! written only below its capacity, in order; the trace is process-wide,
//! so only one traced run may be under way at a time.

use crate::event::Event;
use crate::sys::resident::resident_vec;
use std::sync::Mutex;

/// Stage exits a row holds, in pipeline order: risk, strategy, execution, journal.
pub const TRACED_STAGES: usize = 4;

/// One event as one thread saw it (times in the engine clock's epoch ns; 0: not this thread's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRow {
    pub seq: u64,
    /// The event's receipt (for the harness's paced source, its scheduled time).
    pub ts_recv_ns: u64,
    /// When the thread took the event: on the first thread, when ingest
    /// handed it to the thread's stages (the source released it); on a
    /// ring's reader, when the poll that returned its batch came back.
    pub taken_ns: u64,
    /// When the event left each stage this thread runs, in pipeline order
    /// (risk, strategy, execution, journal); 0 for the other threads' stages.
    pub exits_ns: [u64; TRACED_STAGES],
    /// When the thread made the event visible to the next ring (0: no ring after it).
    pub sent_ns: u64,
    /// When the thread finished the end of the batch this event was the
    /// last of (the journal's write, the ring's doorbell, the board); 0
    /// if it was not a batch's last.
    pub batch_end_ns: u64,
    /// The CPU the thread ran on when it took the event (`u32::MAX`: unknown).
    pub cpu: u32,
}

impl TraceRow {
    pub const EMPTY: TraceRow = TraceRow {
        seq: 0,
        ts_recv_ns: 0,
        taken_ns: 0,
        exits_ns: [0; TRACED_STAGES],
        sent_ns: 0,
        batch_end_ns: 0,
        cpu: u32::MAX,
    };
}

/// One thread's rows, preallocated.
#[derive(Debug)]
pub struct GroupTrace {
    /// The group's place in the plan (0: the thread that runs ingest).
    pub index: usize,
    rows: Vec<TraceRow>,
    len: usize,
    /// Whether the last event taken has a row (false once the table is full).
    open: bool,
    /// Events taken once the table was full.
    pub untraced: u64,
}

impl GroupTrace {
    /// A table for `capacity` events, every page resident.
    pub fn new(index: usize, capacity: usize) -> GroupTrace {
        GroupTrace {
            index,
            rows: resident_vec(capacity, TraceRow::EMPTY),
            len: 0,
            open: false,
            untraced: 0,
        }
    }

    /// The rows recorded, in the order the thread took the events.
    pub fn rows(&self) -> &[TraceRow] {
        &self.rows[..self.len]
    }

    pub fn capacity(&self) -> usize {
        self.rows.len()
    }

    /// The row of the event taken last, if it has one.
    #[inline]
    fn open_row(&mut self) -> Option<&mut TraceRow> {
        if !self.open {
            return None;
        }
        debug_assert!(self.len > 0, "an open row was begun");
        self.rows.get_mut(self.len - 1)
    }
}

/// What a pipeline thread stamps per event. [`NoTrace`] stamps nothing
/// (the default run: `ON` is false and every call compiles away);
/// [`GroupTrace`] records a row per event.
pub trait Stamps: Send + 'static {
    /// Whether the thread records anything (the runner skips its clock
    /// reads for the stamps when false).
    const ON: bool;
    /// The thread took `event` at `taken_ns` on `cpu`: opens its row.
    fn begin(&mut self, event: &Event, taken_ns: u64, cpu: u32);
    /// The open row's stage exits.
    fn exits(&mut self, exits_ns: [u64; TRACED_STAGES]);
    /// The open row's event is visible to the next ring's reader.
    fn sent(&mut self, sent_ns: u64);
    /// The thread finished the end of the batch the open row's event closed.
    fn batch_end(&mut self, batch_end_ns: u64);
    /// The thread ends: hands its rows to [`take_recorded`].
    fn end(self);
}

/// The default: nothing recorded, nothing read.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Stamps for NoTrace {
    const ON: bool = false;
    #[inline(always)]
    fn begin(&mut self, _: &Event, _: u64, _: u32) {}
    #[inline(always)]
    fn exits(&mut self, _: [u64; TRACED_STAGES]) {}
    #[inline(always)]
    fn sent(&mut self, _: u64) {}
    #[inline(always)]
    fn batch_end(&mut self, _: u64) {}
    #[inline(always)]
    fn end(self) {}
}

impl Stamps for GroupTrace {
    const ON: bool = true;

    #[inline]
    fn begin(&mut self, event: &Event, taken_ns: u64, cpu: u32) {
        self.open = self.len < self.rows.len();
        if !self.open {
            self.untraced += 1;
            return;
        }
        self.rows[self.len] = TraceRow {
            seq: event.seq,
            ts_recv_ns: event.ts_recv_ns,
            taken_ns,
            cpu,
            ..TraceRow::EMPTY
        };
        self.len += 1;
    }

    #[inline]
    fn exits(&mut self, exits_ns: [u64; TRACED_STAGES]) {
        if let Some(row) = self.open_row() {
            row.exits_ns = exits_ns;
        }
    }

    #[inline]
    fn sent(&mut self, sent_ns: u64) {
        if let Some(row) = self.open_row() {
            row.sent_ns = sent_ns;
        }
    }

    #[inline]
    fn batch_end(&mut self, batch_end_ns: u64) {
        if let Some(row) = self.open_row() {
            row.batch_end_ns = batch_end_ns;
        }
    }

    fn end(self) {
        lock(&STATE).recorded.push(self);
    }
}

/// A finished run's trace: one table per thread, in plan order, and the
/// engine clock's offset to `CLOCK_MONOTONIC` (epoch ns − monotonic ns)
/// read at the run's start and at collection.
#[derive(Debug)]
pub struct Recorded {
    pub groups: Vec<GroupTrace>,
    pub monotonic_offset_start_ns: i64,
    pub monotonic_offset_end_ns: i64,
}

struct State {
    /// Rows per thread the next run records (`None`: not armed).
    armed: Option<usize>,
    monotonic_offset_start_ns: i64,
    recorded: Vec<GroupTrace>,
}

static STATE: Mutex<State> = Mutex::new(State {
    armed: None,
    monotonic_offset_start_ns: 0,
    recorded: Vec::new(),
});

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asks the next run to trace up to `capacity` events per thread; drops
/// the tables of any earlier traced run not yet collected.
pub fn arm(capacity: usize) {
    let mut state = lock(&STATE);
    state.armed = Some(capacity);
    state.recorded.clear();
}

/// For the runner, at the run's start: one table per group if the run is
/// armed (consuming the request), every page resident.
pub fn take_armed(groups: usize) -> Option<Vec<GroupTrace>> {
    let capacity = {
        let mut state = lock(&STATE);
        let capacity = state.armed.take()?;
        state.monotonic_offset_start_ns = monotonic_offset_ns();
        capacity
    };
    Some(
        (0..groups)
            .map(|index| GroupTrace::new(index, capacity))
            .collect(),
    )
}

/// The tables the last traced run's threads handed back, in plan order;
/// `None` if no thread did.
pub fn take_recorded() -> Option<Recorded> {
    let mut state = lock(&STATE);
    if state.recorded.is_empty() {
        return None;
    }
    let mut groups = std::mem::take(&mut state.recorded);
    groups.sort_by_key(|group| group.index);
    Some(Recorded {
        groups,
        monotonic_offset_start_ns: state.monotonic_offset_start_ns,
        monotonic_offset_end_ns: monotonic_offset_ns(),
    })
}

/// The engine clock's epoch ns less `CLOCK_MONOTONIC`'s ns, read back to back.
fn monotonic_offset_ns() -> i64 {
    let clock = crate::clock::EpochClock::new();
    let before = crate::sys::monotonic_ns();
    let now_ns = clock.now_ns();
    let after = crate::sys::monotonic_ns();
    now_ns as i64 - (before / 2 + after / 2) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Event {
        let mut event = Event::EMPTY;
        event.seq = seq;
        event.ts_recv_ns = seq * 10;
        event
    }

    // A row per event in order, with its exits and hand-over; past its
    // capacity a table counts events instead and leaves its rows as they were.
    #[test]
    fn a_table_records_in_order_and_counts_what_it_cannot_hold() {
        let mut table = GroupTrace::new(1, 3);
        for seq in 1..=5u64 {
            table.begin(&event(seq), seq * 100, 7);
            table.exits([0, seq * 100 + 1, seq * 100 + 2, seq * 100 + 3]);
            table.sent(seq * 100 + 4);
            table.batch_end(seq * 100 + 5);
        }
        assert_eq!(table.untraced, 2);
        let rows = table.rows();
        assert_eq!(rows.len(), 3);
        for (row, seq) in rows.iter().zip(1u64..) {
            assert_eq!(
                *row,
                TraceRow {
                    seq,
                    ts_recv_ns: seq * 10,
                    taken_ns: seq * 100,
                    exits_ns: [0, seq * 100 + 1, seq * 100 + 2, seq * 100 + 3],
                    sent_ns: seq * 100 + 4,
                    batch_end_ns: seq * 100 + 5,
                    cpu: 7,
                }
            );
        }
    }

    // A table is usable from its first event: nothing before `begin` is stamped.
    #[test]
    fn stamps_before_the_first_event_are_ignored() {
        let mut table = GroupTrace::new(0, 2);
        table.exits([1; TRACED_STAGES]);
        table.sent(1);
        table.batch_end(1);
        assert!(table.rows().is_empty());
        assert_eq!(table.untraced, 0);
    }
}
