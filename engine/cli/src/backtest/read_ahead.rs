//! The backtest's read-ahead: tape rows taken off the tape and not yet
//! handed to the engine, each with the time the venue sees it and, once
//! it has, the row's engine event (with the touch it left in the venue's
//! book).
//!
//! A ring of a power-of-two number of slots, allocated once: front, push
//! and drop are a mask and an add. Rows are read and updated in their
//! slots, never copied out. Filled here, the ring uses a window of its
//! slots ([`WINDOW_SLOTS_FIRST`] at first) and doubles the window, in place,
//! only when the rows held fill it: the rows held at once are usually a
//! few dozen, and walking round all the slots `backtest.lookahead_rows_max`
//! asks for (65,536 rows of ~190 bytes by default, 12 MB) missed the cache
//! on every row (measured in `docs/performance.md`, "Fourteenth round: the
//! read-ahead's window"). Two ways to fill it:
//! - here (the driver reads the tape itself): [`ReadAhead::push_with`]
//!   writes the next slot, and the driver makes the row's event in it
//!   when the venue has seen the row (with the touch it left);
//! - ahead (`backtest.tape_core`): the tape's thread
//!   ([`super::tape_core::TapeAhead`]) writes whole rows — the record, its
//!   venue time, the touch and the engine event — into the slots past the
//!   driver's, and publishes them in batches; the driver takes them in
//!   order, every row published at once ([`ReadAhead::take_published`]),
//!   lends each row's event where it lies for its hand-over
//!   ([`ReadAhead::front_mut`]) and frees them in batches.
//!
//! Owning thread: the driver's (ingest's); the tape's thread writes only
//! slots the driver has not taken. Invariants (single producer, single
//! consumer): the producer writes only slots in `[published, released +
//! slots)` and publishes them with a release store; the driver reads (and,
//! handing a row over, writes) only slots in `[released, published)` and
//! frees them with a release store;
//! never more rows than slots; a row is dropped only once taken.

#![allow(unsafe_code)]

use genesis_engine::event::Event;
use genesis_io::tape::records::TapeRecord;
use genesis_io::tape::TapeError;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Rows the driver frees at once (one release store per batch).
const RELEASE_EVERY_ROWS: usize = 64;

/// Slots a read-ahead filled here uses at first (48 KiB of rows: it stays
/// in the core's cache); the window doubles each time it is full, up to
/// every slot.
pub const WINDOW_SLOTS_FIRST: usize = 256;

/// A row of the read-ahead: whole cache lines, the event on two of them.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub struct Row {
    /// The row's engine event, touch and all: made when the venue sees
    /// the row (read here, with the touch the row left in the venue's
    /// book) or by the tape's thread (read ahead).
    pub event: Event,
    pub record: TapeRecord,
    /// The row's own time at the venue (exchange or local, by
    /// `backtest.venue_time`), before the venue's clock holds it back.
    pub venue_ns: u64,
}

/// What an empty slot holds.
fn blank_row() -> Row {
    Row {
        record: TapeRecord::BLANK,
        venue_ns: 0,
        event: Event::EMPTY,
    }
}

/// A cursor alone on its cache lines (the two threads write one each).
#[repr(align(128))]
#[derive(Default)]
struct Cursor(AtomicUsize);

/// The slots and the cursors both threads share.
pub struct Slots {
    cells: Box<[UnsafeCell<Row>]>,
    mask: usize,
    /// Rows written (absolute count): the producer's release store.
    published: Cursor,
    /// Rows freed (absolute count): the driver's release store.
    released: Cursor,
    /// The driver found no row to take at this absolute index: the
    /// producer reads at least up to it.
    wanted: Cursor,
    /// Set (release) after the last row is published: the tape ended or failed.
    ended: AtomicBool,
    /// The driver is gone: the producer stops.
    closed: AtomicBool,
    /// The error that ended the tape, if one did (set before `ended`).
    pub error: Mutex<Option<TapeError>>,
    /// Bytes of the tape files read (for the progress bar).
    pub file_bytes_read: AtomicU64,
}

// SAFETY: the cells are shared by one producer and one consumer that touch
// disjoint ranges of slots, handed over by the release/acquire cursors
// (see the module header); everything else is atomic or behind a mutex.
unsafe impl Sync for Slots {}

impl Slots {
    /// Room for at least `rows_max` rows.
    fn with_capacity(rows_max: usize) -> Slots {
        assert!(rows_max > 0, "the read-ahead holds at least one row");
        let slot_count = rows_max.next_power_of_two();
        Slots {
            cells: (0..slot_count)
                .map(|_| UnsafeCell::new(blank_row()))
                .collect(),
            mask: slot_count - 1,
            published: Cursor::default(),
            released: Cursor::default(),
            wanted: Cursor::default(),
            ended: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            error: Mutex::new(None),
            file_bytes_read: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> usize {
        self.cells.len()
    }

    #[inline]
    fn cell(&self, index: usize) -> *mut Row {
        // SAFETY: masked by `cells.len() - 1` (a power of two): in bounds.
        unsafe { self.cells.get_unchecked(index & self.mask) }.get()
    }

    /// The producer's view: rows freed, and the index the driver waits for.
    #[inline]
    pub fn released_and_wanted(&self) -> (usize, usize) {
        (
            self.released.0.load(Ordering::Acquire),
            self.wanted.0.load(Ordering::Relaxed),
        )
    }

    /// The producer writes row `index`.
    ///
    /// # Safety
    /// Only the single producer calls it, for `index` in `[published,
    /// released + capacity)` as it last read them.
    #[inline]
    pub unsafe fn write(&self, index: usize, row: impl FnOnce(&mut Row)) {
        // SAFETY: by the caller's contract the driver reads no slot in that
        // range until it is published, and no other thread writes it.
        row(unsafe { &mut *self.cell(index) })
    }

    /// The producer publishes rows up to `index` (absolute).
    #[inline]
    pub fn publish(&self, index: usize) {
        self.published.0.store(index, Ordering::Release);
    }

    /// The producer is done: every row is published; `error` ended the tape.
    pub fn end(&self, error: Option<TapeError>) {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = error;
        self.ended.store(true, Ordering::Release);
    }

    /// The driver is gone (or the run ended): the producer stops.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether the driver is gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

// SAFETY: the only field that is not `Send` by itself is `cells`, a
// pointer into the `Arc<Slots>` the read-ahead holds (shared state that is
// `Sync`, see above); the read-ahead reaches the slots through it exactly
// as through the `Arc`, so moving it to another thread is as sound as
// moving the `Arc`.
unsafe impl Send for ReadAhead {}

/// What [`ReadAhead::take_published`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// One more row is in the read-ahead.
    Row,
    /// None published yet: the tape's thread is behind.
    Waiting,
    /// The tape ended and every row was taken.
    Ended,
}

/// Rows in tape order (see the module header).
pub struct ReadAhead {
    slots: Arc<Slots>,
    /// `slots.cells`, kept here: a slot's address without a look through
    /// the `Arc` (the driver reaches a slot several times a row).
    cells: *const UnsafeCell<Row>,
    /// The window's slot count less one: every slot's (`slots.mask`) when
    /// the tape's thread fills them; filled here, [`WINDOW_SLOTS_FIRST`]'s
    /// at first, doubled by [`ReadAhead::grow`].
    mask: usize,
    /// Absolute index of the front row.
    head: usize,
    len: usize,
    /// The producer's `published` as last read (ahead only).
    published: usize,
    /// `head` as last stored in `released` (ahead only).
    released: usize,
    ahead: bool,
}

impl ReadAhead {
    /// Room for at least `rows_max` rows, filled by the driver itself.
    pub fn with_capacity(rows_max: usize) -> ReadAhead {
        ReadAhead::over(Arc::new(Slots::with_capacity(rows_max)), false)
    }

    /// Room for at least `rows_max` rows, filled by the tape's thread
    /// through the slots returned.
    pub fn ahead(rows_max: usize) -> (ReadAhead, Arc<Slots>) {
        let slots = Arc::new(Slots::with_capacity(rows_max));
        (ReadAhead::over(Arc::clone(&slots), true), slots)
    }

    fn over(slots: Arc<Slots>, ahead: bool) -> ReadAhead {
        let mask = if ahead {
            slots.mask
        } else {
            slots.mask.min(WINDOW_SLOTS_FIRST - 1)
        };
        ReadAhead {
            cells: slots.cells.as_ptr(),
            mask,
            slots,
            head: 0,
            len: 0,
            published: 0,
            released: 0,
            ahead,
        }
    }

    /// Whether the tape's thread fills it.
    #[inline]
    pub fn is_ahead(&self) -> bool {
        self.ahead
    }

    /// The slot of absolute row `index` ([`Slots::cell`], through the
    /// pointer kept here).
    #[inline(always)]
    fn cell(&self, index: usize) -> *mut Row {
        // SAFETY: `cells` points at the slots' boxed cells, which `slots`
        // keeps alive and never moves; masked by their count less one (a
        // power of two), the index is in bounds.
        unsafe { (*self.cells.add(index & self.mask)).get() }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The row `index` places behind the front.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Row> {
        // SAFETY: a taken row's slot is in `[released, published)` (or
        // written only by this owner, here): nothing writes it while the
        // driver holds it.
        (index < self.len).then(|| unsafe { &*self.cell(self.head.wrapping_add(index)) })
    }

    /// The row `index` places behind the front; it must be there (filled
    /// here only: a row the tape's thread wrote changes only as its event
    /// is handed over, through [`ReadAhead::front_mut`]).
    #[inline]
    pub fn at_mut(&mut self, index: usize) -> &mut Row {
        debug_assert!(index < self.len, "a row of the read-ahead");
        debug_assert!(
            !self.ahead,
            "rows read ahead are the tape thread's as written"
        );
        // SAFETY: filled here, no other thread touches the slots, and
        // `&mut self` makes this the only reference.
        unsafe { &mut *self.cell(self.head.wrapping_add(index)) }
    }

    /// Appends a row written in its slot by `fill` (filled here only);
    /// there must be a free slot ([`ReadAhead::len`] below the capacity
    /// asked for).
    #[inline]
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Row)) {
        debug_assert!(!self.ahead, "the tape's thread fills this one");
        debug_assert!(self.len < self.slots.capacity(), "the read-ahead has room");
        if self.len > self.mask {
            self.grow();
        }
        // SAFETY: as `at_mut`; the slot is past the rows held, inside the
        // window (`len <= mask` here).
        fill(unsafe { &mut *self.cell(self.head.wrapping_add(self.len)) });
        self.len += 1;
    }

    /// Doubles the full window, in place: a row at absolute index `i` lies
    /// in slot `i & mask`; with the window doubled it lies in `i & (2 *
    /// mask + 1)`, the same slot or the one `mask + 1` further, in the
    /// half the window did not use. Rows move once per doubling (at most
    /// `log2(capacity / WINDOW_SLOTS_FIRST)` times a run); nothing is
    /// allocated.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let window = self.mask + 1;
        debug_assert_eq!(self.len, window, "grown only when full");
        debug_assert!(window < self.slots.capacity(), "room to grow");
        for held in 0..self.len {
            let index = self.head.wrapping_add(held);
            if index & window != 0 {
                let from = index & self.mask;
                // SAFETY: filled here (no other thread touches the slots)
                // and `&mut self`: `from` is in the window's first half and
                // `from + window` in its second, both in bounds (the window
                // doubled is at most every slot), never the same slot.
                unsafe {
                    let row = *(*self.cells.add(from)).get();
                    *(*self.cells.add(from + window)).get() = row;
                }
            }
        }
        self.mask = 2 * window - 1;
    }

    /// Takes the rows the tape's thread published and the driver has not
    /// taken, up to `rows_max` held (ahead only): one acquire for a run of
    /// rows.
    #[inline]
    pub fn take_published(&mut self, rows_max: usize) -> Taken {
        debug_assert!(self.ahead, "rows come from the tape's thread");
        let next = self.head.wrapping_add(self.len);
        if next == self.published {
            self.published = self.slots.published.0.load(Ordering::Acquire);
            if next == self.published {
                return self.nothing_published(next, rows_max);
            }
        }
        debug_assert!(self.len < rows_max, "room for a row");
        self.len = self.published.wrapping_sub(self.head).min(rows_max);
        debug_assert!(
            self.len <= self.slots.capacity(),
            "never more rows than slots"
        );
        Taken::Row
    }

    /// No row at `next`: ended, or the producer is asked for it.
    #[cold]
    fn nothing_published(&mut self, next: usize, rows_max: usize) -> Taken {
        if self.slots.ended.load(Ordering::Acquire) {
            // Published before `ended` was set: one more look.
            self.published = self.slots.published.0.load(Ordering::Acquire);
            if next != self.published {
                self.len = self.published.wrapping_sub(self.head).min(rows_max);
                return Taken::Row;
            }
            return Taken::Ended;
        }
        self.release();
        self.slots.wanted.0.store(next + 1, Ordering::Relaxed);
        Taken::Waiting
    }

    /// The front row, if any (read in place: the merge hands it over from
    /// its slot).
    #[inline]
    pub fn front(&self) -> Option<&Row> {
        self.get(0)
    }

    /// The front row, lent mutably: its event is handed over in its slot
    /// (a fused sink runs the stages on it there); the slot is the
    /// driver's until [`ReadAhead::drop_front`] frees it.
    #[inline]
    pub fn front_mut(&mut self) -> Option<&mut Row> {
        // SAFETY: as `get`: a taken row's slot is the driver's alone until
        // it is released, and `&mut self` makes this the only reference.
        (self.len > 0).then(|| unsafe { &mut *self.cell(self.head) })
    }

    /// Frees the front row's slot; there must be one.
    #[inline]
    pub fn drop_front(&mut self) {
        debug_assert!(self.len > 0, "a row to drop");
        self.head = self.head.wrapping_add(1);
        self.len -= 1;
        if self.ahead && self.head.wrapping_sub(self.released) >= RELEASE_EVERY_ROWS {
            self.release();
        }
    }

    /// Hands the freed slots back to the tape's thread.
    #[inline]
    fn release(&mut self) {
        self.released = self.head;
        self.slots.released.0.store(self.head, Ordering::Release);
    }

    /// Bytes of the tape files read by the tape's thread.
    pub fn file_bytes_read(&self) -> u64 {
        self.slots.file_bytes_read.load(Ordering::Relaxed)
    }

    /// The error that ended the tape on the tape's thread, if one did.
    pub fn take_error(&self) -> Option<TapeError> {
        self.slots
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(rows: &mut ReadAhead, ts_local_ns: u64) {
        rows.push_with(|row| row.record.ts_local_ns = ts_local_ns);
    }

    #[test]
    fn rows_come_out_in_order_across_the_wrap() {
        // Three slots asked for, four made: pushing and popping past the end
        // of the slots keeps tape order.
        let mut rows = ReadAhead::with_capacity(3);
        let mut next_out = 0;
        for ts in 0..10 {
            push(&mut rows, ts);
            if rows.len() == 3 {
                assert_eq!(rows.get(2).unwrap().record.ts_local_ns, ts);
                assert_eq!(rows.front().unwrap().record.ts_local_ns, next_out);
                rows.drop_front();
                next_out += 1;
            }
        }
        assert_eq!(rows.get(0).unwrap().record.ts_local_ns, next_out);
        assert!(rows.get(2).is_none());
        while !rows.is_empty() {
            rows.drop_front();
        }
        assert!(rows.is_empty());
    }

    #[test]
    fn the_window_doubles_in_place_keeping_tape_order() {
        // Filled here, the ring starts on a window of its slots. Rows are
        // pushed and dropped so the front sits at every offset of the
        // window when it fills and doubles (three times: 256 → 2,048
        // slots), and the rows held come out in tape order throughout.
        let mut rows = ReadAhead::with_capacity(2_000);
        assert_eq!(rows.slots.capacity(), 2_048);
        assert_eq!(rows.mask + 1, WINDOW_SLOTS_FIRST);
        let (mut next_in, mut next_out) = (0u64, 0u64);
        // First walk the front round the first window a few times.
        for _ in 0..1_000 {
            push(&mut rows, next_in);
            next_in += 1;
            if rows.len() == 10 {
                rows.drop_front();
                next_out += 1;
            }
        }
        for round in 0..40u64 {
            // Hold up to 50 rows per round more than the last, then drop
            // a few: the window fills with its front anywhere.
            let hold = (round * 50 + 7).min(2_000) as usize;
            while rows.len() < hold {
                push(&mut rows, next_in);
                next_in += 1;
            }
            for index in 0..rows.len() {
                assert_eq!(
                    rows.get(index).unwrap().record.ts_local_ns,
                    next_out + index as u64
                );
            }
            for _ in 0..(round % 5 + 1) {
                rows.drop_front();
                next_out += 1;
            }
        }
        assert_eq!(rows.mask + 1, 2_048, "doubled up to every slot");
    }

    #[test]
    fn a_window_that_never_fills_stays_small() {
        // Sixty rows held at a time, 100,000 rows through: the ring walks
        // round its first window only.
        let mut rows = ReadAhead::with_capacity(1 << 16);
        for ts in 0..100_000u64 {
            push(&mut rows, ts);
            if rows.len() == 60 {
                assert_eq!(rows.front().unwrap().record.ts_local_ns, ts - 59);
                rows.drop_front();
            }
        }
        assert_eq!(rows.mask + 1, WINDOW_SLOTS_FIRST);
    }

    #[test]
    fn rows_published_by_another_thread_come_out_in_order_and_end() {
        // A producer thread writes 5,000 rows through 8 slots, publishing
        // in uneven batches and waiting (sleeping) for freed slots; the
        // driver's side takes every row once, in order, in runs of what is
        // published (never more than it asks room for), then sees the end.
        const ROWS: usize = 5_000;
        let nap = || std::thread::sleep(std::time::Duration::from_micros(20));
        let (mut rows, slots) = ReadAhead::ahead(8);
        let producer = std::thread::spawn(move || {
            let mut next = 0usize;
            while next < ROWS {
                let (released, _) = slots.released_and_wanted();
                let end = (released + slots.capacity()).min(ROWS).min(next + 3);
                if next == end {
                    nap();
                    continue;
                }
                for index in next..end {
                    // SAFETY: the one producer, within `[published, released + capacity)`.
                    unsafe { slots.write(index, |row| row.record.ts_local_ns = index as u64) };
                }
                next = end;
                slots.publish(next);
            }
            slots.end(None);
        });
        let mut seen = 0u64;
        loop {
            let held = rows.len();
            match rows.take_published(8) {
                Taken::Row => {
                    assert!(
                        rows.len() > held && rows.len() <= 8,
                        "a run of rows, within 8"
                    );
                    for index in held..rows.len() {
                        assert_eq!(rows.get(index).unwrap().record.ts_local_ns, seen);
                        seen += 1;
                    }
                    while rows.len() > 2 {
                        rows.drop_front();
                    }
                }
                Taken::Waiting => nap(),
                Taken::Ended => break,
            }
            while rows.len() == 8 {
                rows.drop_front();
            }
        }
        producer.join().unwrap();
        assert_eq!(seen, ROWS as u64);
        assert!(rows.take_error().is_none());
    }
}
