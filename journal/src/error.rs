//! Operating errors of the journal: I/O, and damage found while reading.

use std::path::PathBuf;

/// What can go wrong opening, writing or reading a journal file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The operating system refused an operation on the file.
    #[error("journal {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The file header is not a Genesis journal header this build can read.
    #[error("journal {path}: bad header: {reason}")]
    BadHeader { path: PathBuf, reason: String },
    /// A record before the end of the file is damaged: the log cannot be trusted past it.
    #[error("journal {path}: corrupt record at byte offset {offset} (expected sequence {seq_expected}): {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        seq_expected: u64,
        reason: String,
    },
    /// A payload of the wrong size was handed to the writer (a bug in the caller).
    #[error("journal {path}: payload is {got} bytes, the file holds {expected}-byte records")]
    PayloadSize {
        path: PathBuf,
        got: usize,
        expected: usize,
    },
}
