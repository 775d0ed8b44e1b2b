//! Market data from recorded tapes: the tape's records
//! (`genesis_io::tape::records`: Tardis CSV, ITCH 5.0 or binary tapes, told
//! from their bytes) read in order ([`TapeFeed`]), on ingest's thread or on
//! a reader thread of their own a bounded queue ahead, and turned into the
//! engine's events ([`TapeBooks`]).
//!
//! Event mapping: a level change becomes a `book_delta` (side Buy for a bid
//! level, Sell for an ask; the level's new size; the touch it leaves) and a
//! row followed by more of its message carries `FLAG_MESSAGE_CONTINUES`; a
//! trade becomes a `trade` (side: the taker's, None when the tape does not
//! say). Time comes from the tape: `ts_recv_ns` is the row's arrival
//! (local) timestamp, `ts_venue_ns` its exchange timestamp. Nothing reads a
//! clock, so the same tape makes the same events.
//!
//! Owning thread: ingest's (the reader thread owns only the file readers).
//! Invariants: books are allocated at construction and keep at most
//! `backtest.book_levels_max` levels per side (deeper levels are dropped and
//! counted); no record allocates after warm-up (the reader thread's chunks
//! are recycled); the first tape error is kept and ends the feed, every
//! record before it having been handed out.

use crate::config::Config;
use crate::event::{BookDelta, Event, EventKind, Input, Trade, FLAG_MESSAGE_CONTINUES};
use crate::units::{InstrumentId, Price, Qty, Side};
use crossbeam_channel::{Receiver, Sender};
use genesis_io::book::{self, LadderBook};
use genesis_io::tape::records::{
    RecordInstrument, RecordKind, RecordOptions, TapeRecord, TapeRecords,
};
use genesis_io::tape::TapeError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Records per chunk the reader thread hands over.
const CHUNK_RECORDS: usize = 4_096;
/// Chunks in flight between the reader thread and ingest.
const CHUNKS_IN_FLIGHT: usize = 8;

/// How the tapes of `config` are read: its instruments, and the formats' options.
pub fn record_options(config: &Config) -> RecordOptions {
    let backtest = &config.backtest;
    RecordOptions {
        instruments: config
            .instruments
            .iter()
            .map(|i| RecordInstrument {
                symbol: i.symbol.clone(),
                tick_size: i.tick_size.clone(),
                lot_size: i.lot_size.clone(),
            })
            .collect(),
        tardis_exchange: backtest.tardis_exchange.clone(),
        itch_midnight_ns: backtest.itch_midnight_ns().unwrap_or(0),
        itch_orders_max: backtest.itch_orders_max,
        itch_levels_max: backtest.book_levels_max,
    }
}

/// What the reader thread hands over.
enum Chunk {
    Records(Vec<TapeRecord>),
    /// The tape ended cleanly.
    End,
    /// The tape failed here (the records before it came in earlier chunks).
    Failed(TapeError),
}

/// The reader thread's end of the hand-over, and the thread.
struct ReadAhead {
    full: Receiver<Chunk>,
    empty: Sender<Vec<TapeRecord>>,
    current: Vec<TapeRecord>,
    next_index: usize,
    bytes_read: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

enum Reading {
    Here(TapeRecords),
    Ahead(ReadAhead),
    Done,
}

/// The records of a list of tapes, in order.
pub struct TapeFeed {
    reading: Reading,
    records: u64,
    bytes_read_at_end: u64,
    error: Option<TapeError>,
}

impl TapeFeed {
    /// Opens `paths` for `config` (format told from their bytes); with
    /// `backtest.read_ahead_thread`, a thread reads them ahead.
    pub fn open(paths: &[PathBuf], config: &Config) -> Result<TapeFeed, TapeError> {
        let records = TapeRecords::open(paths, &record_options(config))?;
        let reading = if config.backtest.read_ahead_thread {
            Reading::Ahead(ReadAhead::start(records))
        } else {
            Reading::Here(records)
        };
        Ok(TapeFeed {
            reading,
            records: 0,
            bytes_read_at_end: 0,
            error: None,
        })
    }

    /// The next record; `None` at the end of the tapes or at an error (kept
    /// for [`TapeFeed::error`]).
    #[inline]
    pub fn next_record(&mut self) -> Option<TapeRecord> {
        let next = match &mut self.reading {
            Reading::Here(records) => records.next_record(),
            Reading::Ahead(ahead) => ahead.next_record(),
            Reading::Done => Ok(None),
        };
        match next {
            Ok(Some(record)) => {
                self.records += 1;
                Some(record)
            }
            Ok(None) => {
                self.finish();
                None
            }
            Err(error) => {
                self.error = Some(error);
                self.finish();
                None
            }
        }
    }

    /// Up to `max` records, each handed to `take` in order; how many.
    /// Fewer than `max`: the tapes ended or failed (the error kept for
    /// [`TapeFeed::error`]), every record before the failure handed out.
    /// The records of `max` calls of [`TapeFeed::next_record`], for one
    /// look at the reading and the format per run, and no record returned
    /// through two results on its way.
    #[inline]
    pub fn read_run(&mut self, max: usize, take: impl FnMut(&TapeRecord)) -> usize {
        let read = match &mut self.reading {
            Reading::Here(records) => records.read_run(max, take),
            Reading::Ahead(ahead) => ahead.read_run(max, take),
            Reading::Done => Ok(0),
        };
        let read = match read {
            Ok(read) => read,
            Err((read, error)) => {
                self.error = Some(error);
                self.finish();
                self.records += read as u64;
                return read;
            }
        };
        self.records += read as u64;
        if read < max && !self.is_done() {
            self.finish();
        }
        read
    }

    /// The tapes ended (or failed): the readers (and the reader thread) go.
    fn finish(&mut self) {
        self.bytes_read_at_end = self.file_bytes_read();
        self.reading = Reading::Done;
    }

    /// Whether every record has been handed out (or the tape failed).
    pub fn is_done(&self) -> bool {
        matches!(self.reading, Reading::Done)
    }

    /// Records handed out so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes of the tape files read so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        match &self.reading {
            Reading::Here(records) => records.file_bytes_read(),
            Reading::Ahead(ahead) => ahead.bytes_read.load(Ordering::Relaxed),
            Reading::Done => self.bytes_read_at_end,
        }
    }

    /// The error that ended the tape, if one did.
    pub fn error(&self) -> Option<&TapeError> {
        self.error.as_ref()
    }

    /// Takes the error that ended the tape, if one did.
    pub fn take_error(&mut self) -> Option<TapeError> {
        self.error.take()
    }
}

impl ReadAhead {
    /// Starts the reader thread over `records`.
    fn start(mut records: TapeRecords) -> ReadAhead {
        let (full_sender, full) = crossbeam_channel::bounded(CHUNKS_IN_FLIGHT);
        let (empty, empty_receiver) = crossbeam_channel::bounded(CHUNKS_IN_FLIGHT + 2);
        let bytes_read = Arc::new(AtomicU64::new(0));
        let bytes = Arc::clone(&bytes_read);
        let thread = std::thread::Builder::new()
            .name("tape-reader".into())
            .spawn(move || {
                let empty: Receiver<Vec<TapeRecord>> = empty_receiver;
                loop {
                    let mut chunk = empty
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(CHUNK_RECORDS));
                    chunk.clear();
                    let end = fill_chunk(&mut records, &mut chunk);
                    bytes.store(records.file_bytes_read(), Ordering::Relaxed);
                    if !chunk.is_empty() && full_sender.send(Chunk::Records(chunk)).is_err() {
                        return;
                    }
                    if let Some(last) = end {
                        let _ = full_sender.send(last);
                        return;
                    }
                }
            })
            .expect("spawning the tape reader thread");
        ReadAhead {
            full,
            empty,
            current: Vec::new(),
            next_index: 0,
            bytes_read,
            thread: Some(thread),
        }
    }

    /// Up to `max` records to `take`; how many, or the error after how many.
    #[inline]
    fn read_run(
        &mut self,
        max: usize,
        mut take: impl FnMut(&TapeRecord),
    ) -> Result<usize, (usize, TapeError)> {
        for read in 0..max {
            match self.next_record() {
                Ok(Some(record)) => take(&record),
                Ok(None) => return Ok(read),
                Err(error) => return Err((read, error)),
            }
        }
        Ok(max)
    }

    #[inline]
    fn next_record(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        if let Some(record) = self.current.get(self.next_index) {
            self.next_index += 1;
            return Ok(Some(*record));
        }
        // Blocks while the reader is behind: the engine has nothing else to do.
        match self.full.recv() {
            Ok(Chunk::Records(chunk)) => {
                let used = std::mem::replace(&mut self.current, chunk);
                let _ = self.empty.try_send(used);
                self.next_index = 1;
                Ok(self.current.first().copied())
            }
            Ok(Chunk::End) | Err(_) => Ok(None),
            Ok(Chunk::Failed(error)) => Err(error),
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Dropping the receiver ends a reader blocked on a full queue.
        let (_, closed) = crossbeam_channel::bounded(0);
        drop(std::mem::replace(&mut self.full, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Fills `chunk`; the last message when the tape ended or failed.
fn fill_chunk(records: &mut TapeRecords, chunk: &mut Vec<TapeRecord>) -> Option<Chunk> {
    while chunk.len() < CHUNK_RECORDS {
        match records.next_record() {
            Ok(Some(record)) => chunk.push(record),
            Ok(None) => return Some(Chunk::End),
            Err(error) => return Some(Chunk::Failed(error)),
        }
    }
    None
}

/// The books the touch comes from, one per instrument, and the record →
/// event mapping of the module header. Each is a [`LadderBook`], the
/// backtest venue's book type at the same capacity, which answers as
/// `L2Book` does (levels, touch, truncation; property-tested in
/// `genesis_io::book::ladder`), for a slot write per level change where
/// the sorted book searches and shifts.
pub struct TapeBooks {
    books: Vec<LadderBook>,
}

impl TapeBooks {
    /// Empty books for `config`'s instruments, `backtest.book_levels_max` a side.
    pub fn new(config: &Config) -> TapeBooks {
        TapeBooks::with_levels(config.instruments.len(), config.backtest.book_levels_max)
    }

    /// Empty books for `instrument_count` instruments, `levels_max` a side.
    fn with_levels(instrument_count: usize, levels_max: usize) -> TapeBooks {
        TapeBooks {
            books: (0..instrument_count)
                .map(|_| LadderBook::with_capacity(levels_max))
                .collect(),
        }
    }

    /// The engine event of `record`, its book updated first.
    #[inline]
    pub fn event_of(&mut self, record: &TapeRecord) -> Event {
        let touch = match record.kind {
            RecordKind::Bid | RecordKind::Ask => self.apply(record),
            _ => (0, 0),
        };
        event_of_record(record, touch)
    }

    /// [`TapeBooks::event_of`] written into `event` (a slot of the
    /// backtest's read-ahead), without an event built aside and copied in.
    #[inline(always)]
    pub fn write_event_of(&mut self, record: &TapeRecord, event: &mut Event) {
        let touch = match record.kind {
            RecordKind::Bid | RecordKind::Ask => self.apply(record),
            _ => (0, 0),
        };
        write_event_of_record(record, touch, event);
    }

    /// Applies a level change; the touch (best bid, best ask; 0 for an
    /// empty side) after it.
    #[inline]
    fn apply(&mut self, record: &TapeRecord) -> (i64, i64) {
        let Some(book) = self.books.get_mut(usize::from(record.instrument)) else {
            return (0, 0);
        };
        let book_side = match record.kind {
            RecordKind::Bid => book::Side::Bid,
            _ => book::Side::Ask,
        };
        if record.starts_snapshot() {
            book.clear();
        }
        book.set_level(book_side, book::Price(record.price), book::Qty(record.qty));
        touch_of(book)
    }

    /// Levels dropped because a side was full, over all books.
    pub fn levels_truncated(&self) -> u64 {
        self.books.iter().map(LadderBook::levels_truncated).sum()
    }
}

/// A book's touch as a book delta carries it: (best bid, best ask), 0 for
/// an empty side.
#[inline]
pub fn touch_of(book: &LadderBook) -> (i64, i64) {
    (
        book.best_bid_price().map_or(0, |price| price.0),
        book.best_ask_price().map_or(0, |price| price.0),
    )
}

/// [`event_of_record`] written into `event` field by field (the same
/// event, property-tested against it): the fields [`Event::new`] leaves
/// as [`Event::EMPTY`] has them are written with those values.
#[inline(always)]
pub fn write_event_of_record(record: &TapeRecord, touch: (i64, i64), event: &mut Event) {
    let (kind, side, data) = match record.kind {
        RecordKind::Bid => (
            EventKind::BookDelta,
            Side::Buy,
            [record.price, record.qty, touch.0, touch.1],
        ),
        RecordKind::Ask => (
            EventKind::BookDelta,
            Side::Sell,
            [record.price, record.qty, touch.0, touch.1],
        ),
        RecordKind::TradeBuy | RecordKind::TradeSell | RecordKind::TradeUnknown => {
            let side = match record.kind {
                RecordKind::TradeBuy => Side::Buy,
                RecordKind::TradeSell => Side::Sell,
                _ => Side::None,
            };
            (
                EventKind::Trade,
                side,
                [record.price, record.qty, record.trade_id as i64, 0],
            )
        }
    };
    let continues = record.continues() && !record.kind.is_trade();
    *event = Event {
        seq: 0,
        ts_recv_ns: record.ts_local_ns,
        ts_venue_ns: record.ts_exchange_ns,
        kind,
        side,
        instrument: InstrumentId(record.instrument),
        flags: if continues { FLAG_MESSAGE_CONTINUES } else { 0 },
        data,
        ..Event::EMPTY
    };
}

/// The engine event of `record` (the mapping of the module header), given
/// the touch of its instrument's book once the record applied (ignored for
/// a trade). For a caller that keeps the book itself: the backtest venue's
/// book sees the same records in the same order.
#[inline]
pub fn event_of_record(record: &TapeRecord, touch: (i64, i64)) -> Event {
    let instrument = InstrumentId(record.instrument);
    let (side, input) = match record.kind {
        RecordKind::Bid | RecordKind::Ask => {
            let side = if record.kind == RecordKind::Bid {
                Side::Buy
            } else {
                Side::Sell
            };
            let delta = BookDelta {
                price: Price(record.price),
                qty: Qty(record.qty),
                bid_px: Price(touch.0),
                ask_px: Price(touch.1),
            };
            (side, Input::BookDelta(delta))
        }
        RecordKind::TradeBuy | RecordKind::TradeSell | RecordKind::TradeUnknown => {
            let side = match record.kind {
                RecordKind::TradeBuy => Side::Buy,
                RecordKind::TradeSell => Side::Sell,
                _ => Side::None,
            };
            let trade = Trade {
                price: Price(record.price),
                qty: Qty(record.qty),
                trade_id: record.trade_id,
            };
            (side, Input::Trade(trade))
        }
    };
    let mut event = Event::new(instrument, side, input);
    event.ts_recv_ns = record.ts_local_ns;
    event.ts_venue_ns = record.ts_exchange_ns;
    if record.continues() && !record.kind.is_trade() {
        event.flags |= FLAG_MESSAGE_CONTINUES;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_io::book::L2Book;
    use genesis_io::tape::records::{CONTINUES, SNAPSHOT_START};
    use proptest::prelude::*;

    fn record_of((kind, instrument, price, qty, flags): (u8, u16, i64, i64, u8)) -> TapeRecord {
        TapeRecord {
            ts_local_ns: 1,
            ts_exchange_ns: 1,
            price,
            qty,
            trade_id: 7,
            instrument,
            kind: RecordKind::from_u8(kind).expect("a kind code"),
            flags,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        // The tape's books (ladders) make the events that sorted books
        // (`L2Book`, the reference) make, row after row: level changes
        // near and far, removals, snapshots that clear, trades, and full
        // sides that truncate; the truncation counts agree too.
        #[test]
        fn the_tape_books_make_the_events_sorted_books_make(
            levels_max in 1usize..6,
            rows in proptest::collection::vec(
                (0u8..5, 0u16..2, prop_oneof![990i64..1_010, 0i64..5_000], 0i64..4,
                 prop_oneof![Just(0u8), Just(CONTINUES), Just(SNAPSHOT_START)]),
                1..300,
            ),
        ) {
            let mut books = TapeBooks::with_levels(2, levels_max);
            let mut sorted: Vec<L2Book> = (0..2).map(|_| L2Book::with_capacity(levels_max)).collect();
            for row in rows {
                let record = record_of(row);
                let touch = match record.kind {
                    RecordKind::Bid | RecordKind::Ask => {
                        let book = &mut sorted[usize::from(record.instrument)];
                        if record.starts_snapshot() {
                            book.clear();
                        }
                        let side = if record.kind == RecordKind::Bid {
                            book::Side::Bid
                        } else {
                            book::Side::Ask
                        };
                        book.set_level(side, book::Price(record.price), book::Qty(record.qty));
                        (
                            book.best_bid().map_or(0, |level| level.price.0),
                            book.best_ask().map_or(0, |level| level.price.0),
                        )
                    }
                    _ => (0, 0),
                };
                prop_assert_eq!(books.event_of(&record), event_of_record(&record, touch));
            }
            let truncated: u64 = sorted.iter().map(L2Book::levels_truncated).sum();
            prop_assert_eq!(books.levels_truncated(), truncated);
        }

        // The event written in place is the one `event_of_record` makes
        // (through `Event::new`), for every kind, flag and value, over
        // whatever the slot held before.
        #[test]
        fn the_event_written_in_place_is_the_event_made(
            kind in 0u8..5,
            flags in 0u8..8,
            words in proptest::array::uniform8(any::<i64>()),
            instrument in any::<u16>(),
            old_flags in any::<u8>(),
            rows in proptest::collection::vec(
                (0u8..5, 0u16..3, prop_oneof![990i64..1_010, 0i64..5_000], 0i64..4,
                 prop_oneof![Just(0u8), Just(CONTINUES), Just(SNAPSHOT_START)]),
                1..60,
            ),
        ) {
            let record = TapeRecord {
                ts_local_ns: words[0] as u64,
                ts_exchange_ns: words[1] as u64,
                price: words[2],
                qty: words[3],
                trade_id: words[4] as u64,
                instrument,
                kind: RecordKind::from_u8(kind).expect("a kind code"),
                flags,
            };
            let touch = (words[5], words[6]);
            let mut written = Event::new(InstrumentId(9), Side::Sell, Input::Timer(words[7] as u64));
            written.seq = words[7] as u64;
            written.flags = old_flags;
            write_event_of_record(&record, touch, &mut written);
            prop_assert_eq!(written, event_of_record(&record, touch));
            // Through the books: two copies fed the same earlier rows, so
            // the last row changes a book that has levels; one writes the
            // row's event over the stale slot, the other makes it.
            let mut writing = TapeBooks::with_levels(3, 4);
            let mut making = TapeBooks::with_levels(3, 4);
            let (last, earlier) = rows.split_last().expect("at least one row");
            for &row in earlier {
                let record = record_of(row);
                let mut slot = written;
                writing.write_event_of(&record, &mut slot);
                prop_assert_eq!(slot, making.event_of(&record));
            }
            let record = record_of(*last);
            let mut in_slot = written;
            writing.write_event_of(&record, &mut in_slot);
            prop_assert_eq!(in_slot, making.event_of(&record));
            prop_assert_eq!(writing.levels_truncated(), making.levels_truncated());
        }
    }
}
