//! Errors of the interval-log writer and reader, and the damage the reader
//! reports for lines it could not use.

use std::{io, path::PathBuf};

/// Operating errors: writing a log, or opening one to read.
#[derive(Debug, thiserror::Error)]
pub enum HistLogError {
    #[error("interval log: writing failed: {source}")]
    Write {
        #[source]
        source: io::Error,
    },
    #[error("interval log {path}: cannot create: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("interval log {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("interval log: tag {tag:?} is empty or holds ',', ' ', '\\r' or '\\n'")]
    BadTag { tag: String },
    #[error("interval log: comment holds a line break")]
    BadComment,
    #[error("interval log: serializing the histogram for tag {tag:?} failed: {reason}")]
    Serialize { tag: String, reason: String },
    #[error("interval log: compressing the histogram for tag {tag:?} failed: {reason}")]
    Compress { tag: String, reason: String },
}

/// One line of a log that the reader could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// 1-based line number in the file.
    pub line_number: usize,
    /// The line is the last one and has no newline: the file was cut off.
    pub cut_off: bool,
    pub kind: DamageKind,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.cut_off {
            write!(
                f,
                "line {} (cut off at end of file): {}",
                self.line_number, self.kind
            )
        } else {
            write!(f, "line {}: {}", self.line_number, self.kind)
        }
    }
}

/// What was wrong with a damaged line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DamageKind {
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("`Tag=` without a non-empty tag followed by ','")]
    BadTag,
    #[error("expected 4 comma-separated fields (start, length, max, histogram), found {found}")]
    MissingFields { found: usize },
    #[error("{field} is {text:?}, not a non-negative number")]
    BadNumber { field: &'static str, text: String },
    #[error("header {header} has no readable number of seconds")]
    BadHeader { header: &'static str },
    #[error("histogram is not valid base64: {reason}")]
    BadBase64 { reason: String },
    #[error("histogram payload: {reason}")]
    BadHistogram { reason: String },
}
