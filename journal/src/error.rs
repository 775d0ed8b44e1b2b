//! Operating errors of the journal: I/O, damage found while reading, a lost
//! durability guarantee, and misuse by the caller. Every variant names the
//! file (or folder) it is about; damage also names the byte offset.

use std::path::PathBuf;

/// What can go wrong opening, writing, reading, verifying or archiving a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The operating system refused an operation on the file. The OS error
    /// is part of the message and deliberately not a `source`, so a printed
    /// error chain (`{:#}`) does not say it twice.
    #[error("journal {path}: {op}: {error}")]
    Io {
        path: PathBuf,
        op: &'static str,
        error: std::io::Error,
    },
    /// The file header is not a Genesis journal header this build can read.
    #[error("journal {path}: bad header: {reason}")]
    BadHeader { path: PathBuf, reason: String },
    /// A record before the end of the log is damaged: the log cannot be trusted past it.
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
    /// `fdatasync` failed (or sealing a closed segment did): records after
    /// the durable sequence may be lost, and the writer refuses every
    /// further call rather than retry over them.
    #[error("journal {path}: {reason}; the journal is stopped (records after sequence {seq_durable} may be lost; not retried)")]
    SyncFailed {
        path: PathBuf,
        seq_durable: u64,
        reason: String,
    },
    /// The folder holds segments that do not belong together, or one is missing.
    #[error("journal {path}: {reason}")]
    Layout { path: PathBuf, reason: String },
    /// The configuration cannot describe a journal (a bug or a bad config file).
    #[error("journal {path}: bad configuration: {reason}")]
    Config { path: PathBuf, reason: String },
    /// Another writer holds the folder's lock; `holder` says who, as far as
    /// the lock file tells (process id and name).
    #[error("journal {path}: another writer holds the lock on this folder ({holder}); stop it first, two writers never share a journal")]
    Locked { path: PathBuf, holder: String },
    /// The journal is damaged where no writer may go on by itself: a closed
    /// segment, a missing segment, the chain of first sequences. `remedy`
    /// tells the operator what to do about it.
    #[error("journal {path}: {reason}. Remedy: {remedy}")]
    Damaged {
        path: PathBuf,
        reason: String,
        remedy: String,
    },
    /// Sequences are missing between two segments (or before the first): a
    /// reader refuses to step over them.
    #[error("journal {dir}: sequences {seq_first_missing}..={seq_last_missing} are missing: {missing} is not in the folder (neither plain nor compressed); the next segment present is {next}")]
    Gap {
        dir: PathBuf,
        seq_first_missing: u64,
        seq_last_missing: u64,
        missing: PathBuf,
        next: PathBuf,
    },
    /// The journal's folder was removed or replaced while a writer had it open.
    #[error("journal folder {path} changed under the writer: {reason}")]
    FolderChanged { path: PathBuf, reason: String },
    /// The folder holds no journal at all (no segment, plain or compressed).
    #[error("journal {path}: no journal here: {reason}")]
    NoJournal { path: PathBuf, reason: String },
}

impl JournalError {
    /// A closure turning an `io::Error` into [`JournalError::Io`] about `path`.
    /// The path is copied only when there is an error: on the writer's hot
    /// path (every flush) building the closure must not allocate.
    pub(crate) fn io<'a>(
        path: &'a std::path::Path,
        op: &'static str,
    ) -> impl FnOnce(std::io::Error) -> JournalError + 'a {
        move |error| JournalError::Io {
            path: path.to_path_buf(),
            op,
            error,
        }
    }
}
