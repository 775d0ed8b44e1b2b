//! Genesis journal: an append-only log of fixed-size records in a folder of
//! preallocated segment files.
//!
//! The crate knows nothing about trading: it stores opaque payloads of one
//! fixed size, each framed with its length, a CRC32C over sequence and
//! payload, and its sequence number (see [`frame`] and
//! `docs/journal-format.md`). Pieces, by thread:
//!
//! - [`Writer`] (the journal stage's thread): appends into a memory map or
//!   a `pwrite` buffer (in map mode a `journal-window` thread write-faults
//!   pages ahead of it and drops written ones; optionally a `journal-write`
//!   thread makes the `pwrite`s), rolls over into segments a
//!   helper thread prepared ahead (and seals the closed ones, see
//!   [`seal`]), applies a [`Durability`] policy and publishes the durable
//!   sequence.
//!   [`Writer::open`] takes the folder lock, checks the chain of segments
//!   and every closed segment against its seal, and recovers the newest
//!   segment ([`RecoveryReport`], [`Truncation`]); damage anywhere is
//!   refused naming the file and the remedy.
//! - [`RangeReader`] and [`Tailer`] (any reader thread): a range of
//!   sequences, or a live journal followed across rollover, in bounded
//!   memory, through compressed segments too; a missing segment is a
//!   [`JournalError::Gap`], never a quiet end.
//! - [`verify()`], [`archive_bounded()`] and [`truncate()`] (operator
//!   commands): check every header, seal and record; compress and move
//!   closed segments out by age, never past what the drain loaded; cut the
//!   journal at a sequence or at its first damage.
//!
//! With the `drain-folder-feed` feature, `legacy` adds `FileWriter` and
//! `FileReader`: the version-1 single-file journal, which the drain's folder
//! feed still reads for journals written before segments.

pub mod archive;
mod boundary;
mod chain;
pub mod config;
mod crc;
mod cursor;
mod durability;
pub mod error;
pub mod frame;
pub mod layout;
#[cfg(feature = "drain-folder-feed")]
pub mod legacy;
mod lock;
pub mod naming;
pub mod open_check;
mod prealloc;
pub mod range;
pub mod record;
pub mod recovery;
mod scan;
pub mod seal;
mod segment;
pub mod segment_header;
pub mod slot;
mod source;
mod sys;
pub mod tailer;
pub mod truncate;
pub mod verify;
mod window;
mod write_thread;
pub mod writer;

pub use archive::{archive, archive_bounded, ArchivePolicy, ArchiveReport, HeldBack};
pub use config::{
    ClosedCheck, Durability, JournalConfig, Preallocate, WriteMode, WRITE_THREAD_BUFFERS_DEFAULT,
};
pub use crc::FrameCrc;
pub use error::JournalError;
pub use frame::{FRAME_OVERHEAD_BYTES, FRAME_PREFIX_BYTES};
pub use layout::Layout;
#[cfg(feature = "drain-folder-feed")]
pub use legacy::header::{FileHeader, FILE_FORMAT_VERSION, HEADER_BYTES};
#[cfg(feature = "drain-folder-feed")]
pub use legacy::reader::{FileReader, ReadOutcome};
#[cfg(feature = "drain-folder-feed")]
pub use legacy::writer::FileWriter;
pub use open_check::ClosedCheckReport;
pub use range::{OwnedRecord, RangeReader, TornTail};
pub use record::Record;
pub use recovery::{RecoveryReport, Truncation};
pub use segment_header::{SegmentHeader, FORMAT_VERSION, MAGIC, SEGMENT_HEADER_BYTES};
pub use slot::SlotDamage;
pub use tailer::Tailer;
pub use truncate::{plan_truncate, truncate, TruncateAt, TruncatePlan, TruncateReport};
pub use verify::{verify, Damage, VerifyReport};
pub use window::{WindowStats, MAP_AHEAD_BYTES_DEFAULT};
pub use write_thread::WriteThreadStats;
pub use writer::Writer;
