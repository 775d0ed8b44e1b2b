//! Tardis.dev CSV tapes: `incremental_book_L2` and `trades`, plain or gzip.
//!
//! Role: read recorded crypto L2 tapes (the format hftbacktest's
//! `hftbacktest.data.utils.tardis` and NautilusTrader's `TardisCSVDataLoader`
//! also read) into exact integers, merge several files into one time-ordered
//! stream, and write such files. Owning thread: the replay's; readers,
//! merger and writers are plain single-threaded structs.
//!
//! Layout (docs.tardis.dev, "Downloadable CSV files" / "Data types"):
//! comma delimiter, LF line end, a header line, timestamps in microseconds
//! since the epoch (UTC), `.` decimal mark.
//! - `incremental_book_L2`: exchange, symbol, timestamp, local_timestamp,
//!   is_snapshot, side (`bid`/`ask`), price, amount (the new level amount,
//!   not a delta; 0 removes the level).
//! - `trades`: exchange, symbol, timestamp, local_timestamp, id (may be
//!   empty), side (taker: `buy`/`sell`/`unknown`), price, amount.
//!
//! Invariants: every price and amount is converted exactly through the
//! instrument's grid ([`TardisInstruments`]); a value off the grid, a bad
//! field, a truncated file or a backwards `local_timestamp` (merger) is a
//! [`crate::tape::TapeError`] naming the file, the line and the column,
//! never a silent rounding or skip. Reading does not allocate per row.

mod book_rows;
mod decimal;
mod fields;
mod instruments;
mod merge;
mod reader;
mod records;
mod rows;
mod trade_rows;
mod writer;

pub use fields::{BOOK_HEADER, TRADES_HEADER};
pub use instruments::{InstrumentError, TardisInstrument, TardisInstruments};
pub use merge::{MergedEvent, TapeMerger};
pub use reader::TardisReader;
pub use records::{Aggressor, L2Update, TapeEvent, TardisTrade, TradeId, TRADE_ID_BYTES_MAX};
pub use rows::{TardisDataset, TardisStats};
pub use writer::TardisWriter;
