//! The drain's operating errors. Every message names what failed and where,
//! and is built from a redacted URL and scrubbed database text: no password
//! can reach a log line through these.

use genesis_engine::event::DecodeError;
use genesis_journal::JournalError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("database URL is not valid: {reason}")]
    BadUrl { reason: String },
    #[error("postgres.password_file {path}: {reason}")]
    PasswordFile { path: PathBuf, reason: String },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("database {url}: {what}: {reason}")]
    Db {
        url: String,
        what: &'static str,
        reason: String,
    },
    #[error("database {url} holds schema version {found}; this build knows up to {known}: upgrade genesis")]
    SchemaTooNew { url: String, found: i32, known: i32 },
    #[error(
        "stream `{stream}`: the database holds events up to sequence {seq_last}, \
         but the next chunk starts at {seq_first}: the journal and the database disagree"
    )]
    WatermarkMismatch {
        stream: String,
        seq_last: u64,
        seq_first: u64,
    },
    #[error("stream `{stream}`: chunk sequences jump from {seq_before} to {seq_after}")]
    ChunkGap {
        stream: String,
        seq_before: u64,
        seq_after: u64,
    },
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("archive file {path}: {op}: {source}")]
    ArchiveIo {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("fault injected for a test: chunk {chunk_index} aborted after {rows} rows")]
    InjectedFault { chunk_index: u64, rows: usize },
}

/// A journal that cannot be read as a feed of events.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("journal {path}: record {seq}: {source}")]
    Decode {
        path: PathBuf,
        seq: u64,
        #[source]
        source: DecodeError,
    },
    #[error("journal {path}: records are {got} bytes, events are {expected}")]
    RecordSize {
        path: PathBuf,
        got: usize,
        expected: usize,
    },
    #[error("journal folder {path}: {op}: {source}")]
    Folder {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal {path}: the database holds events of this stream up to sequence {seq_last}, \
         but the file ends at {seq_end}: is this the same journal?"
    )]
    ShorterThanWatermark {
        path: PathBuf,
        seq_last: u64,
        seq_end: u64,
    },
}
