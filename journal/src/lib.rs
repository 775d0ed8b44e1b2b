//! Genesis journal: an append-only log of framed, fixed-size records.
//!
//! The crate knows nothing about trading: it stores opaque payloads of one
//! fixed size per file, each framed with its length, a CRC32C and a sequence
//! number (see [`frame`]). [`FileWriter`] appends into a buffer owned by the
//! journal thread and hands it to the page cache in large writes;
//! [`FileReader`] reads a file back and tells a torn tail (a crash mid-write)
//! from damage in the middle of the log.
//!
//! This is the minimal framed writer of the engine-core issue. Segments,
//! durability policies, recovery and tailing are the journal issue's work;
//! the on-disk frame is already the one documented in `docs/journal-format.md`.

pub mod error;
pub mod frame;
pub mod header;
pub mod reader;
pub mod writer;

pub use error::JournalError;
pub use frame::{FRAME_OVERHEAD_BYTES, FRAME_PREFIX_BYTES};
pub use header::{FileHeader, FORMAT_VERSION, HEADER_BYTES, MAGIC};
pub use reader::{FileReader, ReadOutcome, Record};
pub use writer::FileWriter;
