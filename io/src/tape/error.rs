//! Errors of the tape readers and writers: what was wrong, in which file,
//! and where (byte offset for binary tapes, line and column for CSV).
//!
//! Owning thread: whichever reads the tape. Errors are built only on the
//! failure path, so they may allocate (the file name, a copy of the bad
//! field); the per-record path never builds one.

use crate::itch::ItchError;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// How many bytes of a bad field an error quotes.
const QUOTE_BYTES_MAX: usize = 48;

/// One CSV column: its 1-based number and its header name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// 1-based column number.
    pub number: u8,
    /// Header name ("price", "local_timestamp", …).
    pub name: &'static str,
}

/// Where in a tape file an error was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (opening it, its first bytes).
    File,
    /// A byte offset in the file's decompressed stream: the first byte of
    /// the length prefix of the message at fault (ITCH tapes).
    Offset(u64),
    /// A 1-based line (the header is line 1), with the column at fault
    /// when one field is (CSV tapes).
    Line {
        /// 1-based line number.
        line: u64,
        /// The column at fault, if one is.
        column: Option<Column>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("file"),
            Location::Offset(offset) => write!(f, "byte {offset}"),
            Location::Line { line, column: None } => write!(f, "line {line}"),
            Location::Line {
                line,
                column: Some(column),
            } => write!(f, "line {line}, column {} ({})", column.number, column.name),
        }
    }
}

/// What was wrong.
#[derive(Debug, Error)]
pub enum TapeErrorKind {
    /// The file could not be opened or read (a corrupt or truncated gzip
    /// stream also ends up here).
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The file ends inside a message.
    #[error("file ends inside a message: {needed} bytes needed, {available} left (truncated?)")]
    Truncated {
        /// Bytes the message needs, length prefix included.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
    /// A length prefix of zero.
    #[error("zero-length message")]
    EmptyMessage,
    /// An ITCH message of a known type that is malformed.
    #[error("{0}")]
    Itch(ItchError),
    /// A type byte that is not an ASCII letter: the framing is lost.
    #[error("message type byte {0:#04x} is not an ITCH message type (garbled file?)")]
    NotAMessageType(u8),
    /// The first line is not the dataset's header.
    #[error("header is {found:?}, expected {expected:?}")]
    BadHeader {
        /// The header of the dataset.
        expected: &'static str,
        /// What the file has (quoted, shortened).
        found: String,
    },
    /// A line with too few or too many fields.
    #[error("{found} fields, expected {expected}")]
    FieldCount {
        /// Fields of the dataset.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A line that does not fit the reader's buffer.
    #[error("line longer than {max} bytes")]
    LineTooLong {
        /// The buffer size.
        max: usize,
    },
    /// The last line has no line feed.
    #[error("last line has no line feed (truncated file?)")]
    MissingLineFeed,
    /// An empty line.
    #[error("empty line")]
    EmptyLine,
    /// A field in double quotes (Tardis never quotes).
    #[error("quoted fields are not supported")]
    Quoted,
    /// A field that does not parse as its column's type.
    #[error("expected {expected}, found {found:?}")]
    BadValue {
        /// What the column holds.
        expected: &'static str,
        /// The field (quoted, shortened).
        found: String,
    },
    /// A price or amount that is not a whole number of the instrument's
    /// ticks or lots.
    #[error("{found:?} is not a multiple of the step {step}")]
    OffGrid {
        /// The field.
        found: String,
        /// The instrument's tick or lot size.
        step: String,
    },
    /// An exchange and symbol pair no configured instrument has.
    #[error("no instrument is configured for {found:?}")]
    UnknownInstrument {
        /// "exchange,symbol" from the line.
        found: String,
    },
    /// A microsecond timestamp that overflows `u64` nanoseconds.
    #[error("timestamp {found_us} µs overflows u64 nanoseconds")]
    TimestampOverflow {
        /// The timestamp in microseconds.
        found_us: u64,
    },
    /// A row whose local timestamp is before the previous row's, so the
    /// file cannot be merged by time.
    #[error("local_timestamp {found_ns} ns is before the previous row's {previous_ns} ns")]
    OutOfOrder {
        /// The previous row's local timestamp.
        previous_ns: u64,
        /// This row's local timestamp.
        found_ns: u64,
    },
}

/// A tape that cannot be read on: the file, the place and why. Boxed, so a
/// reader's `Result` stays as small as its record.
#[derive(Debug)]
pub struct TapeError(Box<TapeErrorParts>);

const _: () = assert!(std::mem::size_of::<TapeError>() == std::mem::size_of::<usize>());

#[derive(Debug)]
struct TapeErrorParts {
    file: PathBuf,
    location: Location,
    kind: TapeErrorKind,
}

impl fmt::Display for TapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = &self.0;
        write!(
            f,
            "{}: {}: {}",
            parts.file.display(),
            parts.location,
            parts.kind
        )
    }
}

impl std::error::Error for TapeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.kind)
    }
}

impl TapeError {
    /// An error at `location` in `file`.
    pub fn new(file: &Path, location: Location, kind: TapeErrorKind) -> TapeError {
        TapeError(Box::new(TapeErrorParts {
            file: file.to_path_buf(),
            location,
            kind,
        }))
    }

    /// The file (as given to the reader).
    pub fn file(&self) -> &Path {
        &self.0.file
    }

    /// Where in it.
    pub fn location(&self) -> Location {
        self.0.location
    }

    /// What was wrong.
    pub fn kind(&self) -> &TapeErrorKind {
        &self.0.kind
    }

    /// The byte offset, for an error located by offset.
    pub fn offset(&self) -> Option<u64> {
        match self.0.location {
            Location::Offset(offset) => Some(offset),
            _ => None,
        }
    }

    /// The line, for an error located by line.
    pub fn line(&self) -> Option<u64> {
        match self.0.location {
            Location::Line { line, .. } => Some(line),
            _ => None,
        }
    }

    /// The column's header name, for an error in one field.
    pub fn column_name(&self) -> Option<&'static str> {
        match self.0.location {
            Location::Line {
                column: Some(column),
                ..
            } => Some(column.name),
            _ => None,
        }
    }
}

/// A bad field, quoted for an error message (at most a few dozen bytes).
pub(crate) fn quote(bytes: &[u8]) -> String {
    let shown = bytes.get(..QUOTE_BYTES_MAX).unwrap_or(bytes);
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if shown.len() < bytes.len() {
        text.push('…');
    }
    text
}
