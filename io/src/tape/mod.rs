//! Recorded market-data tapes in public formats: Nasdaq TotalView-ITCH 5.0
//! files and Tardis.dev CSV files, plain or gzip, with readers, writers and
//! a seeded synthetic tape generator.
//!
//! Role: feed backtests from tapes other people recorded. Owning thread: the
//! thread that replays the tape; nothing here is shared or locked.
//!
//! - [`ItchFileReader`] / [`ItchFileWriter`]: length-prefixed ITCH 5.0
//!   messages (Nasdaq's sample-file layout), decoded by [`crate::itch`].
//! - [`tardis`]: `incremental_book_L2` and `trades` CSV readers, the
//!   time-ordered [`tardis::TapeMerger`], and [`tardis::TardisWriter`].
//! - [`synthetic`]: a seeded random-walk Tardis tape for benchmarks.
//! - [`records`]: any of the above as one stream of compact level-change
//!   and trade records, and the binary tape that stores them.
//! - [`TapeFormat::detect`]: which of the above a file is, from its bytes.
//!
//! Invariants shared by every reader:
//! - Compression is detected from the gzip magic bytes, never the name.
//! - Streaming through one fixed buffer: no allocation per record once
//!   constructed (proved by `io/tests/tape_alloc.rs`).
//! - Bad input stops the reader with a [`TapeError`] naming the file and the
//!   byte offset (ITCH) or line and column (CSV); every record before it has
//!   been handed on; nothing panics on any input (`io/fuzz`: `tape_itch`,
//!   `tape_tardis`).

mod error;
mod format;
mod input;
mod itch_reader;
mod itch_writer;
pub mod records;
pub mod synthetic;
pub mod tardis;
mod window;

pub use error::{Column, Location, TapeError, TapeErrorKind};
pub use format::TapeFormat;
pub use input::{Compression, TapeInput, TapeSink};
pub use itch_reader::{ItchFileReader, ItchFileStats, ItchRecord};
pub use itch_writer::ItchFileWriter;
