//! Tape records: every tape format, decoded into one compact, `Copy` record
//! per book level change or trade, in exact integers, in time order. What
//! a backtest replays, whatever the tape's format.
//!
//! - [`TapeRecord`]: a price level's new size (bid or ask) or a trade, with
//!   both timestamps, the instrument's index, and the message flags.
//! - [`TapeRecords`]: the records of a list of tape files, whose format is
//!   told from their bytes: Tardis CSV files (merged by time), ITCH 5.0 files
//!   (one after the other, turned into level changes through order-by-order
//!   books), or compact binary tapes ([`binary`], written by
//!   `genesis tape convert`).
//!
//! Owning thread: the reader's (a backtest's ingest thread, or the thread
//! that reads ahead for it). Invariants: records come out with
//! `ts_local_ns` never going backwards within a file; rows of one feed
//! message (a Tardis snapshot, an ITCH execution with its level change)
//! are consecutive, every one but the last flagged [`CONTINUES`]; nothing
//! allocates per record once open; bad input is a [`TapeError`] naming the
//! file and the line or byte offset, after every record before it was
//! handed out.

pub mod binary;
mod itch;
mod tardis;

pub use itch::{ItchRecordStats, ItchRecords};
pub use tardis::TardisRecords;

use super::error::{Location, TapeError};
use super::format::TapeFormat;
use std::path::{Path, PathBuf};

/// Flag: the instrument's book must be cleared before this row applies (a
/// snapshot starts).
pub const SNAPSHOT_START: u8 = 1;
/// Flag: more rows of the same feed message follow; the book is whole again
/// only after the row without this flag.
pub const CONTINUES: u8 = 2;
/// Flag: the row is part of a snapshot (`is_snapshot=true`).
pub const SNAPSHOT: u8 = 4;
/// Every flag a record may carry.
pub const FLAGS_ALL: u8 = SNAPSHOT_START | CONTINUES | SNAPSHOT;

/// What a record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// The bid level at `price` now holds `qty` lots (0 removes it).
    Bid = 0,
    /// The ask level at `price` now holds `qty` lots (0 removes it).
    Ask = 1,
    /// A trade whose taker bought (it lifted asks).
    TradeBuy = 2,
    /// A trade whose taker sold (it hit bids).
    TradeSell = 3,
    /// A trade whose taker's side the tape does not say.
    TradeUnknown = 4,
}

impl RecordKind {
    /// The kind a code byte names, if any.
    pub fn from_u8(code: u8) -> Option<RecordKind> {
        match code {
            0 => Some(RecordKind::Bid),
            1 => Some(RecordKind::Ask),
            2 => Some(RecordKind::TradeBuy),
            3 => Some(RecordKind::TradeSell),
            4 => Some(RecordKind::TradeUnknown),
            _ => None,
        }
    }

    /// Whether the record is a trade (else a level change).
    #[inline]
    pub fn is_trade(self) -> bool {
        !matches!(self, RecordKind::Bid | RecordKind::Ask)
    }
}

/// One level change or one trade of a tape.
///
/// Units: `price` in ticks and `qty` in lots of the instrument; timestamps
/// in nanoseconds since the Unix epoch. For a level change `qty` is the
/// level's new total, not a delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapeRecord {
    /// When the row reached the recorder (Tardis `local_timestamp`; ITCH:
    /// the message's timestamp).
    pub ts_local_ns: u64,
    /// The exchange's own time of the row (Tardis `timestamp`; ITCH: the
    /// message's timestamp).
    pub ts_exchange_ns: u64,
    /// Level or trade price, ticks.
    pub price: i64,
    /// Level size or traded size, lots.
    pub qty: i64,
    /// The exchange's trade id (numeric ids as they are, others hashed);
    /// 0 for level changes.
    pub trade_id: u64,
    /// Index of the instrument in the list the tape was opened with.
    pub instrument: u16,
    pub kind: RecordKind,
    /// [`SNAPSHOT_START`], [`CONTINUES`], [`SNAPSHOT`].
    pub flags: u8,
}

impl TapeRecord {
    /// An all-zero bid level change: what an unfilled slot holds.
    pub const BLANK: TapeRecord = TapeRecord {
        ts_local_ns: 0,
        ts_exchange_ns: 0,
        price: 0,
        qty: 0,
        trade_id: 0,
        instrument: 0,
        kind: RecordKind::Bid,
        flags: 0,
    };

    /// Whether more rows of the same message follow.
    #[inline]
    pub fn continues(&self) -> bool {
        self.flags & CONTINUES != 0
    }

    /// Whether the book must be cleared before this row.
    #[inline]
    pub fn starts_snapshot(&self) -> bool {
        self.flags & SNAPSHOT_START != 0
    }
}

/// An instrument as a backtest names it: its symbol and its grids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordInstrument {
    /// Symbol as the tape writes it ("BTCUSDT", "AAPL").
    pub symbol: String,
    /// Price of one tick, a decimal string ("0.01").
    pub tick_size: String,
    /// Size of one lot, a decimal string ("0.001", "1").
    pub lot_size: String,
}

/// How to open a list of tapes.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// The instruments, by index; a tape naming another is refused.
    pub instruments: Vec<RecordInstrument>,
    /// Tardis: the exchange id the rows name ("binance-futures").
    pub tardis_exchange: String,
    /// ITCH: Unix time of the midnight the messages' timestamps count from.
    pub itch_midnight_ns: u64,
    /// ITCH: most orders one instrument's book holds.
    pub itch_orders_max: usize,
    /// ITCH: most price levels per side of one instrument's book.
    pub itch_levels_max: usize,
}

/// The format of a list of tapes, all of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapesFormat {
    /// Tardis `incremental_book_L2` and `trades` CSV files, merged by time.
    Tardis,
    /// ITCH 5.0 files, read one after the other.
    Itch,
    /// Compact binary tapes (`genesis tape convert`), one after the other.
    Binary,
}

impl TapesFormat {
    /// The format every file of `paths` has, or an error naming the first
    /// that differs (or cannot be read).
    pub fn detect<P: AsRef<Path>>(paths: &[P]) -> Result<TapesFormat, TapeError> {
        let mut found: Option<(TapesFormat, &Path)> = None;
        for path in paths {
            let path = path.as_ref();
            let format = if binary::is_binary_tape(path)? {
                TapesFormat::Binary
            } else {
                match TapeFormat::detect(path)? {
                    TapeFormat::Itch => TapesFormat::Itch,
                    TapeFormat::TardisBook | TapeFormat::TardisTrades => TapesFormat::Tardis,
                }
            };
            match found {
                None => found = Some((format, path)),
                Some((first, _)) if first == format => {}
                Some((first, first_path)) => {
                    return Err(TapeError::new(
                        path,
                        Location::File,
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!(
                                "is {format:?}, but {} is {first:?}: the tapes of one run must be of one format",
                                first_path.display()
                            ),
                        )
                        .into(),
                    ))
                }
            }
        }
        found.map(|(format, _)| format).ok_or_else(|| {
            TapeError::new(
                Path::new("(no tape)"),
                Location::File,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "no tape file given").into(),
            )
        })
    }
}

/// The records of a list of tapes, in time order.
pub enum TapeRecords {
    Tardis(TardisRecords),
    /// Boxed: its pending pair and counters make it much the largest.
    Itch(Box<ItchRecords>),
    Binary(binary::BinaryRecords),
}

impl TapeRecords {
    /// Opens `paths` (their format told from their bytes).
    pub fn open(paths: &[PathBuf], options: &RecordOptions) -> Result<TapeRecords, TapeError> {
        Ok(match TapesFormat::detect(paths)? {
            TapesFormat::Tardis => TapeRecords::Tardis(TardisRecords::open(paths, options)?),
            TapesFormat::Itch => TapeRecords::Itch(Box::new(ItchRecords::open(paths, options)?)),
            TapesFormat::Binary => {
                TapeRecords::Binary(binary::BinaryRecords::open(paths, &options.instruments)?)
            }
        })
    }

    /// The next record, `Ok(None)` at the end of the last file (or after an
    /// error).
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        match self {
            TapeRecords::Tardis(records) => records.next_record(),
            TapeRecords::Itch(records) => records.next_record(),
            TapeRecords::Binary(records) => records.next_record(),
        }
    }

    /// Reads up to `max` records, handing each to `take` in order; how
    /// many it read. Fewer than `max`: the last file ended. On an error,
    /// the records before it have been handed to `take`, and the error
    /// comes with how many they were. The same records
    /// as `max` calls of [`TapeRecords::next_record`], for one look at the
    /// format per run: the format's reader is inlined into the loop, so a
    /// record goes from its decoding to `take` without being returned.
    #[inline]
    pub fn read_run(
        &mut self,
        max: usize,
        take: impl FnMut(&TapeRecord),
    ) -> Result<usize, (usize, TapeError)> {
        match self {
            TapeRecords::Tardis(records) => run_of(max, take, || records.next_record()),
            TapeRecords::Itch(records) => run_of(max, take, || records.next_record()),
            TapeRecords::Binary(records) => records.read_run(max, take),
        }
    }

    /// Bytes of the files read so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        match self {
            TapeRecords::Tardis(records) => records.file_bytes_read(),
            TapeRecords::Itch(records) => records.file_bytes_read(),
            TapeRecords::Binary(records) => records.file_bytes_read(),
        }
    }

    /// The format being read.
    pub fn format(&self) -> TapesFormat {
        match self {
            TapeRecords::Tardis(_) => TapesFormat::Tardis,
            TapeRecords::Itch(_) => TapesFormat::Itch,
            TapeRecords::Binary(_) => TapesFormat::Binary,
        }
    }

    /// Rows or messages of the files that made no record (book rows before
    /// their instrument's first snapshot; ITCH messages of other stocks and
    /// of types that do not change a book).
    pub fn skipped(&self) -> u64 {
        match self {
            TapeRecords::Tardis(records) => records.skipped(),
            TapeRecords::Itch(records) => records.stats().messages_skipped,
            TapeRecords::Binary(_) => 0,
        }
    }
}

/// Up to `max` records from `next`, each handed to `take`; how many.
#[inline(always)]
fn run_of(
    max: usize,
    mut take: impl FnMut(&TapeRecord),
    mut next: impl FnMut() -> Result<Option<TapeRecord>, TapeError>,
) -> Result<usize, (usize, TapeError)> {
    for count in 0..max {
        match next() {
            Ok(Some(record)) => take(&record),
            Ok(None) => return Ok(count),
            Err(error) => return Err((count, error)),
        }
    }
    Ok(max)
}

/// A trade id as a number: a numeric id as it is (if it fits), any other
/// id hashed (FNV-1a, 64 bits), an empty one 0.
pub fn trade_id_number(id: &[u8]) -> u64 {
    if !id.is_empty() && id.len() <= 19 && id.iter().all(u8::is_ascii_digit) {
        return id
            .iter()
            .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
    }
    if id.is_empty() {
        return 0;
    }
    id.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Numeric ids stay themselves; other ids hash to a stable number.
    #[test]
    fn trade_ids_become_numbers() {
        assert_eq!(trade_id_number(b"12345"), 12_345);
        assert_eq!(trade_id_number(b""), 0);
        let hashed = trade_id_number(b"a1b2-c3");
        assert_eq!(hashed, trade_id_number(b"a1b2-c3"));
        assert_ne!(hashed, trade_id_number(b"a1b2-c4"));
        // 20 digits do not fit every u64: hashed, not wrapped.
        assert_ne!(trade_id_number(b"99999999999999999999"), 0);
    }

    // Every kind round-trips through its code; other codes are refused.
    #[test]
    fn kinds_round_trip() {
        for code in 0..5u8 {
            assert_eq!(RecordKind::from_u8(code).unwrap() as u8, code);
        }
        assert_eq!(RecordKind::from_u8(5), None);
        assert!(RecordKind::TradeUnknown.is_trade());
        assert!(!RecordKind::Ask.is_trade());
    }
}
