//! The tape's core (`backtest.tape_core`): everything about the tape that
//! does not depend on the strategy's orders, done ahead of the engine on a
//! second core — reading and decoding rows (and merging the tape's files),
//! applying each row to the tape's own books (ladders, as the venue's),
//! the touch after it, the row's venue time and its engine event — written
//! in place into the driver's read-ahead ([`super::read_ahead`]) and
//! published in batches.
//!
//! Ingest's core keeps what depends on orders: the venue's queue positions
//! and matching against its own book (it applies the same rows in the same
//! order), the merge with replies and orders, and the five stages.
//!
//! It runs as [`TapeAhead::step`]s: on the journal's thread between its
//! batches when the journal has the tape's core to itself (one busy
//! thread on that core, not two), else on a thread of its own there
//! ([`TapeThread`]), which waits by that core's wait strategy.
//!
//! Why the journal stays the same: the tape's books are the same book
//! type, capacity and rows as the venue's, so each row's touch and event
//! are the ones the driver would make itself; the driver takes the rows in
//! tape order and, when the next one is not yet published, waits (the
//! merge never moves past a row it has not seen).
//!
//! Owning thread: the tape's (journal's or its own). Invariants: at most
//! [`BATCH_ROWS`] rows per step; rows are written only in slots the driver
//! freed; nothing allocates per row.

#![allow(unsafe_code)]

use super::read_ahead::Slots;
use genesis_engine::adapters::tape_source::{TapeBooks, TapeFeed};
use genesis_engine::config::{Config, VenueTime};
use genesis_engine::topology::side_work::SideWork;
use genesis_engine::topology::wait::Wait;
use genesis_io::tape::records::TapeRecord;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Rows written per step (and per publication).
pub const BATCH_ROWS: usize = 256;
/// Rows kept ready past the driver's front: enough that the driver never
/// waits while the tape's thread sleeps, few enough to stay in cache.
const AHEAD_ROWS: usize = 8_192;

/// The producer of the read-ahead (see the module header).
pub struct TapeAhead {
    slots: Arc<Slots>,
    feed: TapeFeed,
    books: TapeBooks,
    venue_time: VenueTime,
    /// Rows written so far (absolute).
    next: usize,
    ended: bool,
}

impl TapeAhead {
    pub fn new(config: &Config, feed: TapeFeed, slots: Arc<Slots>) -> TapeAhead {
        TapeAhead {
            slots,
            feed,
            books: TapeBooks::new(config),
            venue_time: config.backtest.venue_time,
            next: 0,
            ended: false,
        }
    }

    /// Whether the tape ended (or failed) and every row is published.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Whether it has nothing more to do: the tape ended, or the driver
    /// is gone.
    pub fn is_stopped(&self) -> bool {
        self.ended || self.slots.is_closed()
    }

    /// Where this step may write up to: within the freed slots, at least
    /// to the row the driver waits for, else [`AHEAD_ROWS`] past its front.
    #[inline]
    fn step_end(&self) -> usize {
        let (released, wanted) = self.slots.released_and_wanted();
        let room_end = released + self.slots.capacity();
        let target = (released + AHEAD_ROWS).max(wanted);
        room_end.min(target).min(self.next + BATCH_ROWS)
    }

    /// Writes the rows up to `end` (absolute), read from the tape in one
    /// run, each straight into its slot; false if the tape ended first
    /// (then every row is published and the end is set).
    #[inline]
    fn write_run(&mut self, end: usize) -> bool {
        let (slots, books, venue_time) = (&self.slots, &mut self.books, self.venue_time);
        let mut next = self.next;
        let wanted = end - next;
        let read = self.feed.read_run(wanted, |record| {
            let venue_ns = venue_time_of(venue_time, record);
            // SAFETY: the one producer, and `next < end <= step_end() <=
            // released + capacity` (see `Slots::write`).
            unsafe {
                slots.write(next, |row| {
                    row.record = *record;
                    row.venue_ns = venue_ns;
                    books.write_event_of(record, &mut row.event);
                })
            };
            next += 1;
        });
        self.next = next;
        if read < wanted {
            self.slots.publish(self.next);
            self.slots.end(self.feed.take_error());
            self.ended = true;
            return false;
        }
        true
    }
}

impl SideWork for TapeAhead {
    fn name(&self) -> &'static str {
        "tape"
    }

    #[inline]
    fn step(&mut self) -> bool {
        if self.ended || self.slots.is_closed() {
            return false;
        }
        let end = self.step_end();
        if self.next >= end {
            return false;
        }
        if !self.write_run(end) {
            return true;
        }
        self.slots.publish(self.next);
        self.slots.file_bytes_read.store(
            self.feed.file_bytes_read(),
            std::sync::atomic::Ordering::Relaxed,
        );
        true
    }
}

/// When the venue would see `row`: its exchange (or local) time, never
/// after its local time (the driver holds it back to the row before).
#[inline]
pub fn venue_time_of(venue_time: VenueTime, row: &TapeRecord) -> u64 {
    match venue_time {
        VenueTime::Exchange => row.ts_exchange_ns.min(row.ts_local_ns),
        VenueTime::Local => row.ts_local_ns,
    }
}

/// The tape's work on a thread of its own (when no journal thread has
/// the tape's core): steps until the tape ends or the driver is gone,
/// waiting by the core's wait strategy when the read-ahead is full.
pub struct TapeThread {
    handle: Option<JoinHandle<()>>,
    slots: Arc<Slots>,
}

impl TapeThread {
    pub fn start(mut work: TapeAhead, core: usize, wait: Wait, pin: bool) -> TapeThread {
        let slots = Arc::clone(&work.slots);
        let handle = std::thread::Builder::new()
            .name(format!("tape-core{core}"))
            .spawn(move || {
                if pin && !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                    tracing::warn!(core, "could not pin the tape's thread to its core");
                }
                let mut idle_polls = 0u32;
                while !work.is_stopped() {
                    if work.step() {
                        idle_polls = 0;
                    } else {
                        wait.idle_after(idle_polls);
                        idle_polls = idle_polls.wrapping_add(1);
                    }
                }
            })
            .expect("spawning the tape's thread");
        TapeThread {
            handle: Some(handle),
            slots,
        }
    }

    /// Waits for the thread (it stops at the tape's end, or now if the
    /// run ended first).
    pub fn join(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.slots.close();
            let _ = handle.join();
        }
    }
}

impl Drop for TapeThread {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
